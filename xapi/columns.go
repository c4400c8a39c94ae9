package xapi

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// columnValue returns a row's column as xapi's database stores it, which is what
// where-expressions compare (protocol.md §8.3): "_ref" is the object's ref and other
// columns are database column names (name__label).
func columnValue(c *datamodel.Class, o *store.Object, col string) (string, bool) {
	if col == "_ref" {
		return o.Ref, true
	}
	for _, f := range c.Fields {
		if f.Column == col && !f.Internal {
			return dbString(f.Type, o.Fields[f.Index]), true
		}
	}
	return "", false
}

// dbString renders a value as a database string: scalars as text, sets and maps as
// S-expressions ('a' 'b') and (('k' 'v')).
func dbString(t *datamodel.Type, v any) string {
	switch t.Kind {
	case datamodel.Set:
		set, _ := v.([]any)
		parts := make([]string, len(set))
		for i, e := range set {
			parts[i] = sexpString(dbString(t.Elem, e))
		}
		return "(" + strings.Join(parts, " ") + ")"
	case datamodel.Map:
		m, _ := v.(map[string]any)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = "(" + sexpString(k) + " " + sexpString(dbString(t.Elem, m[k])) + ")"
		}
		return "(" + strings.Join(parts, " ") + ")"
	}
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', 16, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(datamodel.DateTimeLayout)
	}
	return ""
}

// sexpString quotes an S-expression atom as xapi's SExpr does.
func sexpString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

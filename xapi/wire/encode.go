package wire

import (
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/xapisim/xapisim/xapi/datamodel"
)

// Marshaler is a value that encodes itself: cached record encodings and event batches.
// Each method appends one whole value (<value>…</value> in XML-RPC).
type Marshaler interface {
	AppendXMLRPC(buf []byte) []byte
	AppendJSON(buf []byte) []byte
}

// MismatchHook, when set, is called for a value that does not fit its type — a
// programming error that tests set this hook to catch. The encoders then write the
// type's zero value so that the reply stays well-formed.
var MismatchHook func(t *datamodel.Type, v any)

func mismatch(t *datamodel.Type, v any) any {
	if MismatchHook != nil {
		MismatchHook(t, v)
	}
	return datamodel.Zero(t)
}

// sortedKeys returns the keys of a map value in order, for deterministic bytes.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// mapEntries iterates a map value: a map[string]any in key order, or an ordered []KV.
func mapEntries(v any, f func(k string, v any)) bool {
	switch m := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(m) {
			f(k, m[k])
		}
		return true
	case []KV:
		for _, kv := range m {
			f(kv.Key, kv.Value)
		}
		return true
	}
	return false
}

func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	}
	return 0, false
}

// appendFloatG appends f as C's printf("%.16g") does; non-finite values as nan, inf, -inf.
func appendFloatG(buf []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "nan"...)
	case math.IsInf(f, 1):
		return append(buf, "inf"...)
	case math.IsInf(f, -1):
		return append(buf, "-inf"...)
	}
	return strconv.AppendFloat(buf, f, 'g', 16, 64)
}

func appendDateTime(buf []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(buf, datamodel.DateTimeLayout)
}

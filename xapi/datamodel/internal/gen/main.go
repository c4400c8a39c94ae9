// Command gen writes the project's embedded schema (schema.json) from xapi's published
// datamodel (../shared/xenapi: xenapi.json, extra-classes.json, errors.json) and from
// facts.json, which holds what the published file lacks, read from xapi's OCaml sources:
// async flags, parameter defaults, per-key map roles, database column names and relations.
//
// It keeps facts only: names, types, qualifiers, defaults, roles, error names and their
// parameters. Descriptions are never copied.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/xapisim/xapisim/xapi/datamodel/internal/format"
)

// The API version the emulated hosts report: XenServer 8 ("nile"), protocol.md §9.2.
const apiMajor, apiMinor = 2, 21

func main() {
	shared := flag.String("shared", "../../../shared", "path of the shared reference data")
	facts := flag.String("facts", "internal/gen/facts.json", "facts read from xapi's OCaml sources")
	out := flag.String("out", "schema.json", "output file")
	flag.Parse()
	data, err := Generate(*shared, *facts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// Input layouts of xenapi.json and its companions (only what we read).
type (
	inClass struct {
		Name      string      `json:"name"`
		Fields    []inField   `json:"fields"`
		Messages  []inMessage `json:"messages"`
		Enums     []inEnum    `json:"enums"`
		Lifecycle inLifecycle `json:"lifecycle"`
	}
	inField struct {
		Name      string      `json:"name"`
		Type      string      `json:"type"`
		Qualifier string      `json:"qualifier"`
		Default   *string     `json:"default"`
		Lifecycle inLifecycle `json:"lifecycle"`
	}
	inMessage struct {
		Name   string `json:"name"`
		Result []any  `json:"result"`
		Params []struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"params"`
		Errors []struct {
			Name string `json:"name"`
		} `json:"errors"`
		Roles     []string    `json:"roles"`
		Implicit  bool        `json:"implicit"`
		Lifecycle inLifecycle `json:"lifecycle"`
	}
	inEnum struct {
		Name   string `json:"name"`
		Values []struct {
			Name string `json:"name"`
		} `json:"values"`
	}
	inLifecycle struct {
		State string `json:"state"`
	}
	inError struct {
		Name   string   `json:"name"`
		Params []string `json:"params"`
	}
	factsFile struct {
		Source        string                       `json:"source"`
		NoAsync       []string                     `json:"no_async"`
		ParamDefaults map[string]map[string]string `json:"param_defaults"`
		MapKeyRoles   map[string][]format.KeyRole  `json:"map_key_roles"`
		Columns       map[string]map[string]string `json:"columns"`
		Relations     []format.Relation            `json:"relations"`
		// Additions are members newer than xenapi.json (24.16) that clients of a
		// current pool see, or messages hidden from the published docs but callable.
		Additions []addition `json:"additions"`
	}
	addition struct {
		Class    string      `json:"class"`
		Fields   []inField   `json:"fields"`
		Messages []inMessage `json:"messages"`
	}
)

// internalFields are the simulator's own bookkeeping columns, stored with objects but never
// sent: xapi keeps the same facts in internal fields of its database.
var internalFields = map[string][]format.Field{
	"task": {
		{Name: "session", Type: "session ref", Qualifier: "RO/runtime", Default: json.RawMessage(`"OpaqueRef:NULL"`), Internal: true},
		{Name: "auth_user_sid", Type: "string", Qualifier: "RO/runtime", Default: json.RawMessage(`""`), Internal: true},
	},
	// root's password once a state file has one (xapi keeps it in dom0's /etc/shadow):
	// written for a new pool and by session.change_password, so that it outlives restarts.
	// Then the coordinator's dom0 files that xapi copies to every host: the trusted CA
	// certificates (pool.install_ca_certificate) and the CRLs, PEM by file name.
	"pool": {
		{Name: "root_password", Type: "string", Qualifier: "RO/runtime", Default: json.RawMessage(`""`), Internal: true},
		{Name: "trusted_certificates", Type: "(string -> string) map", Qualifier: "RO/runtime", Default: json.RawMessage(`{}`), Internal: true},
		{Name: "crls", Type: "(string -> string) map", Qualifier: "RO/runtime", Default: json.RawMessage(`{}`), Internal: true},
	},
	// the PEM of a host's installed server certificate (xapi-ssl.pem in its dom0); empty for
	// the one generated from the host's UUID.
	"host": {
		{Name: "server_certificate", Type: "string", Qualifier: "RO/runtime", Default: json.RawMessage(`""`), Internal: true},
	},
	// the secret holding a VTPM's contents, as in xapi's database (VTPM.get_contents and
	// set_contents are internal there too).
	"VTPM": {
		{Name: "contents", Type: "secret ref", Qualifier: "RO/runtime", Default: json.RawMessage(`"OpaqueRef:NULL"`), Internal: true},
	},
}

// internalRelations mirror the internal fields in published set fields.
var internalRelations = []format.Relation{{One: "task.session", Many: "session.tasks"}}

// Generate builds the schema bytes.
func Generate(shared, factsPath string) ([]byte, error) {
	var classes []inClass
	if err := readJSON(filepath.Join(shared, "xenapi", "xenapi.json"), &classes); err != nil {
		return nil, err
	}
	var extra struct {
		Classes   []inClass  `json:"classes"`
		Additions []addition `json:"additions"`
	}
	if err := readJSON(filepath.Join(shared, "xenapi", "extra-classes.json"), &extra); err != nil {
		return nil, err
	}
	classes = mergeClasses(classes, extra.Classes)
	for _, a := range extra.Additions {
		classes = mergeClasses(classes, []inClass{{Name: a.Class, Fields: a.Fields, Messages: a.Messages}})
	}
	var errs []inError
	if err := readJSON(filepath.Join(shared, "xenapi", "errors.json"), &errs); err != nil {
		return nil, err
	}
	var facts factsFile
	if err := readJSON(factsPath, &facts); err != nil {
		return nil, err
	}
	for _, a := range facts.Additions {
		classes = mergeClasses(classes, []inClass{{Name: a.Class, Fields: a.Fields, Messages: a.Messages}})
	}
	noAsync := map[string]bool{}
	for _, m := range facts.NoAsync {
		noAsync[m] = true
	}

	f := format.File{
		Source:     "xenapi.json (xapi 24.16), extra-classes.json, errors.json; facts from " + facts.Source,
		APIVersion: [2]int64{apiMajor, apiMinor},
		Relations:  append(append([]format.Relation{}, facts.Relations...), internalRelations...),
	}
	enums := map[string][]string{}
	for _, c := range classes {
		for _, e := range c.Enums {
			if _, ok := enums[e.Name]; ok {
				continue
			}
			var vs []string
			for _, v := range e.Values {
				vs = append(vs, v.Name)
			}
			enums[e.Name] = vs
		}
	}
	for _, name := range sortedKeys(enums) {
		f.Enums = append(f.Enums, format.Enum{Name: name, Values: enums[name]})
	}
	for _, e := range errs {
		params := e.Params
		if e.Name == "SESSION_AUTHENTICATION_FAILED" && len(params) == 0 {
			// xapi sends [uname, message] although the catalogue declares none
			// (protocol.md §4.7).
			params = []string{"uname", "message"}
		}
		f.Errors = append(f.Errors, format.Error{Name: e.Name, Params: nonNil(params)})
	}

	for _, c := range classes {
		oc := format.Class{Name: c.Name, Lifecycle: lifecycle(c.Lifecycle.State), Fields: []format.Field{}, Messages: []format.Message{}}
		fieldTypes := map[string]string{}
		for _, fd := range c.Fields {
			of := format.Field{Name: fd.Name, Type: fd.Type, Qualifier: fd.Qualifier, Lifecycle: lifecycle(fd.Lifecycle.State)}
			of.Column = facts.Columns[c.Name][fd.Name]
			of.KeyRoles = facts.MapKeyRoles[c.Name+"."+fd.Name]
			if fd.Default != nil {
				v, err := convertDefault(fd.Type, *fd.Default, enums)
				if err != nil {
					return nil, fmt.Errorf("%s.%s: %w", c.Name, fd.Name, err)
				}
				of.Default = v
			}
			fieldTypes[fd.Name] = fd.Type
			oc.Fields = append(oc.Fields, of)
		}
		oc.Fields = append(oc.Fields, internalFields[c.Name]...)
		var getAllRecordsRoles []string
		have := map[string]bool{}
		for _, m := range c.Messages {
			have[m.Name] = true
			om, err := convertMessage(c.Name, m, facts.ParamDefaults, noAsync, enums)
			if err != nil {
				return nil, err
			}
			if m.Name == "get_all_records" {
				getAllRecordsRoles = m.Roles
			}
			oc.Messages = append(oc.Messages, om)
		}
		if getAllRecordsRoles != nil && !have["get_all_records_where"] {
			// Hidden from xenapi.json but callable on every class with get_all
			// (protocol.md §8.1).
			expr := format.Param{Name: "expr", Type: "string"}
			oc.Messages = append(oc.Messages,
				format.Message{Name: "get_all_records_where", Params: []format.Param{expr}, Session: true,
					Result: "(" + c.Name + " ref -> " + c.Name + " record) map", Roles: getAllRecordsRoles, Implicit: true},
				format.Message{Name: "get_all_where", Params: []format.Param{expr}, Session: true,
					Result: c.Name + " ref set", Roles: getAllRecordsRoles, Implicit: true})
		}
		f.Classes = append(f.Classes, oc)
	}
	if err := checkFacts(f, facts); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func convertMessage(class string, m inMessage, defaults map[string]map[string]string, noAsync map[string]bool, enums map[string][]string) (format.Message, error) {
	wire := class + "." + m.Name
	om := format.Message{Name: m.Name, Params: []format.Param{}, Roles: nonNil(m.Roles), Implicit: m.Implicit, Lifecycle: lifecycle(m.Lifecycle.State)}
	if len(m.Result) > 0 {
		om.Result, _ = m.Result[0].(string)
	}
	if om.Result == "" {
		om.Result = "void"
	}
	for i, p := range m.Params {
		if i == 0 && p.Name == "session_id" && p.Type == "session ref" {
			om.Session = true
			continue
		}
		op := format.Param{Name: p.Name, Type: p.Type}
		if d, ok := defaults[wire][p.Name]; ok {
			v, err := convertDefault(p.Type, d, enums)
			if err != nil {
				return om, fmt.Errorf("%s(%s): %w", wire, p.Name, err)
			}
			op.Default = v
		}
		om.Params = append(om.Params, op)
	}
	for _, e := range m.Errors {
		om.Errors = append(om.Errors, e.Name)
	}
	// Implicit messages: only create and destroy have an Async form; custom messages have
	// one unless their definition drops the flag (protocol.md §6.1).
	if m.Implicit {
		om.Async = m.Name == "create" || m.Name == "destroy"
	} else {
		om.Async = !noAsync[wire]
	}
	return om, nil
}

// checkFacts makes sure every fact names something that exists, so that a typo in
// facts.json cannot silently weaken a check.
func checkFacts(f format.File, facts factsFile) error {
	msgs := map[string]map[string]bool{}
	fields := map[string]bool{}
	for _, c := range f.Classes {
		for _, m := range c.Messages {
			ps := map[string]bool{}
			for _, p := range m.Params {
				ps[p.Name] = true
			}
			msgs[c.Name+"."+m.Name] = ps
		}
		for _, fd := range c.Fields {
			fields[c.Name+"."+fd.Name] = true
		}
	}
	for _, m := range facts.NoAsync {
		if msgs[m] == nil {
			return fmt.Errorf("facts: no_async names unknown message %s", m)
		}
	}
	for m, ps := range facts.ParamDefaults {
		if msgs[m] == nil {
			return fmt.Errorf("facts: param_defaults names unknown message %s", m)
		}
		for p := range ps {
			if !msgs[m][p] {
				return fmt.Errorf("facts: param_defaults names unknown parameter %s(%s)", m, p)
			}
		}
	}
	for fd := range facts.MapKeyRoles {
		if !fields[fd] {
			return fmt.Errorf("facts: map_key_roles names unknown field %s", fd)
		}
	}
	for _, r := range facts.Relations {
		if !fields[r.One] || !fields[r.Many] {
			return fmt.Errorf("facts: relation %s <-> %s names an unknown field", r.One, r.Many)
		}
	}
	return nil
}

// mergeClasses adds the classes, fields and messages of extra to base.
func mergeClasses(base, extra []inClass) []inClass {
	idx := map[string]int{}
	for i, c := range base {
		idx[c.Name] = i
	}
	for _, e := range extra {
		i, ok := idx[e.Name]
		if !ok {
			base = append(base, e)
			continue
		}
		c := &base[i]
		have := map[string]bool{}
		for _, fd := range c.Fields {
			have["f:"+fd.Name] = true
		}
		for _, m := range c.Messages {
			have["m:"+m.Name] = true
		}
		for _, fd := range e.Fields {
			if !have["f:"+fd.Name] {
				c.Fields = append(c.Fields, fd)
			}
		}
		for _, m := range e.Messages {
			if !have["m:"+m.Name] {
				c.Messages = append(c.Messages, m)
			}
		}
		c.Enums = append(c.Enums, e.Enums...)
	}
	return base
}

func lifecycle(state string) string {
	switch state {
	case "Prototyped_s":
		return "Prototyped"
	case "Deprecated_s":
		return "Deprecated"
	case "Removed_s":
		return "Removed"
	}
	return ""
}

// convertDefault turns xenapi.json's default notation (protocol.md §10.2) into a JSON value
// of the project's value convention.
func convertDefault(typ, text string, enums map[string][]string) (json.RawMessage, error) {
	v, err := parseDefault(strings.TrimSpace(typ), strings.TrimSpace(text), enums)
	if err != nil {
		return nil, fmt.Errorf("default %q of type %s: %w", text, typ, err)
	}
	return json.Marshal(v)
}

func parseDefault(typ, text string, enums map[string][]string) (any, error) {
	switch {
	case typ == "string":
		var s string
		if err := json.Unmarshal([]byte(text), &s); err != nil {
			return nil, err
		}
		return s, nil
	case typ == "int":
		n, err := strconv.ParseInt(text, 10, 64)
		return n, err
	case typ == "float":
		x, err := strconv.ParseFloat(strings.TrimSuffix(text, "."), 64)
		if err != nil {
			return nil, err
		}
		return json.Number(strconv.FormatFloat(x, 'f', -1, 64)), nil
	case typ == "bool":
		return strconv.ParseBool(text)
	case typ == "datetime":
		return text, nil
	case strings.HasPrefix(typ, "enum ") && !strings.Contains(typ, " set") && !strings.HasSuffix(typ, " map"):
		name := strings.TrimPrefix(typ, "enum ")
		for _, v := range enums[name] {
			if v == text {
				return text, nil
			}
		}
		return nil, fmt.Errorf("not a value of enum %s", name)
	case strings.HasSuffix(typ, " ref"):
		if text == "Null" || text == "" {
			return "OpaqueRef:NULL", nil
		}
		return text, nil
	case strings.HasSuffix(typ, " set"):
		elemType := strings.TrimSuffix(typ, " set")
		out := []any{}
		for _, item := range splitItems(text) {
			v, err := parseDefault(elemType, item, enums)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case strings.HasSuffix(typ, ") map"):
		valType := typ[strings.Index(typ, " -> ")+4 : len(typ)-len(") map")]
		out := map[string]any{}
		for _, item := range splitItems(text) {
			k, v, ok := strings.Cut(item, " -> ")
			if !ok {
				return nil, fmt.Errorf("map item %q", item)
			}
			var key string
			if err := json.Unmarshal([]byte(k), &key); err != nil {
				key = k
			}
			val, err := parseDefault(valType, v, enums)
			if err != nil {
				return nil, err
			}
			out[key] = val
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported type")
}

// splitItems splits "{a, b}" into its items, keeping quoted strings whole.
func splitItems(text string) []string {
	text = strings.TrimSpace(text)
	text = strings.TrimPrefix(text, "{")
	text = strings.TrimSuffix(text, "}")
	var items []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(text); i++ {
		ch := text[i]
		switch {
		case ch == '\\' && inQuote && i+1 < len(text):
			cur.WriteByte(ch)
			i++
			cur.WriteByte(text[i])
			continue
		case ch == '"':
			inQuote = !inQuote
		case ch == ',' && !inQuote:
			items = append(items, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteByte(ch)
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		items = append(items, s)
	}
	return items
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

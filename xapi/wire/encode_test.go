package wire

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

func typ(t *testing.T, s string) *datamodel.Type {
	t.Helper()
	ty, err := datamodel.Load().Type(s)
	require.NoError(t, err)
	return ty
}

// TestEncodeByType pins the exact bytes of every kind in both formats (protocol.md §2.3,
// §3.4).
func TestEncodeByType(t *testing.T) {
	when := time.Date(2024, 4, 20, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		typ       string
		v         any
		xml, json string
	}{
		{"string", "a<b>&\"c'", `<value>a&lt;b&gt;&amp;&quot;c'</value>`, `"a<b>&\"c'"`},
		{"string", "tab\tnl\nbell\x07", "<value>tab\tnl\nbell</value>", `"tab\tnl\nbell\u0007"`},
		{"string", "é/\\", `<value>é/\</value>`, `"é/\\"`},
		{"string", "", `<value></value>`, `""`},
		{"int", int64(8589934592), `<value>8589934592</value>`, `8589934592`},
		{"int", int64(-1), `<value>-1</value>`, `-1`},
		{"float", 1.0, `<value><double>1</double></value>`, `1.0`},
		{"float", 0.5, `<value><double>0.5</double></value>`, `0.5`},
		{"float", 0.1, `<value><double>0.1</double></value>`, `0.1`},
		{"float", 1e21, `<value><double>1e+21</double></value>`, `1e+21`},
		{"float", 1e-5, `<value><double>1e-05</double></value>`, `1e-05`},
		{"float", -3.0, `<value><double>-3</double></value>`, `-3.0`},
		{"float", math.NaN(), `<value><double>nan</double></value>`, `NaN`},
		{"float", math.Inf(1), `<value><double>inf</double></value>`, `Infinity`},
		{"float", math.Inf(-1), `<value><double>-inf</double></value>`, `-Infinity`},
		{"bool", true, `<value><boolean>1</boolean></value>`, `true`},
		{"bool", false, `<value><boolean>0</boolean></value>`, `false`},
		{"datetime", when, `<value><dateTime.iso8601>20240420T12:00:00Z</dateTime.iso8601></value>`, `"20240420T12:00:00Z"`},
		{"enum vm_power_state", "Running", `<value>Running</value>`, `"Running"`},
		{"VM ref", "OpaqueRef:NULL", `<value>OpaqueRef:NULL</value>`, `"OpaqueRef:NULL"`},
		{"string set", []any{"a", "b"}, `<value><array><data><value>a</value><value>b</value></data></array></value>`, `["a","b"]`},
		{"string set", []any{}, `<value><array><data></data></array></value>`, `[]`},
		{"(string -> string) map", map[string]any{"b": "2", "a": "1"},
			`<value><struct><member><name>a</name><value>1</value></member><member><name>b</name><value>2</value></member></struct></value>`,
			`{"a":"1","b":"2"}`},
		{"(string -> string) map", []KV{{"b", "2"}, {"a", "1"}},
			`<value><struct><member><name>b</name><value>2</value></member><member><name>a</name><value>1</value></member></struct></value>`,
			`{"b":"2","a":"1"}`},
		{"(int -> float) map", map[string]any{"0": 0.25}, `<value><struct><member><name>0</name><value><double>0.25</double></value></member></struct></value>`, `{"0":0.25}`},
		{"(string -> string) map", map[string]any{"<k>": "v"}, `<value><struct><member><name>&lt;k&gt;</name><value>v</value></member></struct></value>`, `{"<k>":"v"}`},
		{"void", nil, `<value></value>`, `""`},
		{"string option", nil, ``, `null`},
		{"string option", "x", `<value>x</value>`, `"x"`},
	} {
		ty := typ(t, tc.typ)
		assert.Equal(t, tc.xml, string(AppendXMLRPC(nil, ty, tc.v)), "XML of %s %#v", tc.typ, tc.v)
		assert.Equal(t, tc.json, string(AppendJSON(nil, ty, tc.v)), "JSON of %s %#v", tc.typ, tc.v)
	}
}

func TestEncodeRecordSkipsInternalFields(t *testing.T) {
	task := datamodel.Load().Class("task")
	fields := make([]any, len(task.Fields))
	for i, f := range task.Fields {
		fields[i] = f.Initial()
	}
	xml := string(AppendXMLRPC(nil, task.RecordType(), fields))
	js := string(AppendJSON(nil, task.RecordType(), fields))
	for _, f := range task.Fields {
		if f.Internal {
			assert.NotContains(t, xml, "<name>"+f.Name+"</name>")
			assert.NotContains(t, js, `"`+f.Name+`":`)
		} else {
			assert.Contains(t, xml, "<name>"+f.Name+"</name>")
			assert.Contains(t, js, `"`+f.Name+`":`)
		}
	}
}

// TestEveryFieldEncodes encodes the initial value of every field of every class in both
// formats without a type mismatch.
func TestEveryFieldEncodes(t *testing.T) {
	var bad []string
	MismatchHook = func(t *datamodel.Type, v any) { bad = append(bad, t.String()) }
	defer func() { MismatchHook = nil }()
	for _, c := range datamodel.Load().Classes {
		if !c.InDB() {
			continue // event's pseudo-field snapshot is not a stored value
		}
		fields := make([]any, len(c.Fields))
		for i, f := range c.Fields {
			fields[i] = f.Initial()
		}
		AppendXMLRPC(nil, c.RecordType(), fields)
		AppendJSON(nil, c.RecordType(), fields)
	}
	assert.Empty(t, bad)
}

func TestMismatchIsDetected(t *testing.T) {
	var got []string
	MismatchHook = func(t *datamodel.Type, v any) { got = append(got, t.String()) }
	defer func() { MismatchHook = nil }()
	assert.Equal(t, `<value>0</value>`, string(AppendXMLRPC(nil, typ(t, "int"), "7")))
	assert.Equal(t, []string{"int"}, got)
}

func TestReplies(t *testing.T) {
	str := typ(t, "string")
	ok := &Reply{Type: str, Value: "OpaqueRef:x"}
	fail := &Reply{Err: apierror.New("HANDLE_INVALID", "VM", "OpaqueRef:x")}
	empty := &Reply{Err: apierror.New("SESSION_NOT_REGISTERED")}
	v1 := &Request{ID: []byte(`"abc"`)}
	v2 := &Request{JSONVersion2: true, ID: []byte(`7`)}
	for _, tc := range []struct {
		name, got, want string
	}{
		{"xml success", string(AppendXMLRPCResponse(nil, ok)), `<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name><value>OpaqueRef:x</value></member></struct></value></param></params></methodResponse>`},
		{"xml failure", string(AppendXMLRPCResponse(nil, fail)), `<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name><value><array><data><value>HANDLE_INVALID</value><value>VM</value><value>OpaqueRef:x</value></data></array></value></member></struct></value></param></params></methodResponse>`},
		{"xml bare", string(AppendXMLRPCResponse(nil, &Reply{Type: typ(t, "string set"), Value: []any{"a"}, Bare: true})), `<?xml version="1.0"?><methodResponse><params><param><value><array><data><value>a</value></data></array></value></param></params></methodResponse>`},
		{"xml void", string(AppendXMLRPCResponse(nil, &Reply{})), `<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name><value></value></member></struct></value></param></params></methodResponse>`},
		{"json v1 success", string(AppendJSONRPCResponse(nil, v1, ok)), `{"result":"OpaqueRef:x","error":null,"id":"abc"}`},
		{"json v1 failure", string(AppendJSONRPCResponse(nil, v1, fail)), `{"result":null,"error":["HANDLE_INVALID","VM","OpaqueRef:x"],"id":"abc"}`},
		{"json v2 success", string(AppendJSONRPCResponse(nil, v2, ok)), `{"jsonrpc":"2.0","result":"OpaqueRef:x","id":7}`},
		{"json v2 failure", string(AppendJSONRPCResponse(nil, v2, fail)), `{"jsonrpc":"2.0","error":{"code":1,"message":"HANDLE_INVALID","data":["VM","OpaqueRef:x"]},"id":7}`},
		{"json v2 no params", string(AppendJSONRPCResponse(nil, v2, empty)), `{"jsonrpc":"2.0","error":{"code":1,"message":"SESSION_NOT_REGISTERED","data":[]},"id":7}`},
		{"json v2 void", string(AppendJSONRPCResponse(nil, v2, &Reply{})), `{"jsonrpc":"2.0","result":"","id":7}`},
	} {
		assert.Equal(t, tc.want, tc.got, tc.name)
	}
}

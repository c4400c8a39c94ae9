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

func TestConvertAccepts(t *testing.T) {
	when := time.Date(2024, 4, 20, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		typ  string
		raw  any
		want any
	}{
		{"string", "x", "x"},
		{"VM ref", "OpaqueRef:x", "OpaqueRef:x"},
		{"VM ref", "", ""},
		{"int", int64(5), int64(5)},
		{"int", "42", int64(42)},
		{"int", "-7", int64(-7)},
		{"int", "0x1F", int64(31)},
		{"int", "1_000", int64(1000)},
		{"float", 2.5, 2.5},
		{"float", int64(3), 3.0},
		{"float", "60.1", 60.1},
		{"bool", true, true},
		{"datetime", DateTime("20240420T12:00:00Z"), when},
		{"datetime", "2024-04-20T12:00:00Z", when},
		{"datetime", "2024-04-20T14:00:00+02:00", when},
		{"datetime", "20240420T12:00:00", when},
		{"datetime", "2024-04-20T12:00:00", when},
		{"enum vm_power_state", "running", "Running"},
		{"enum vm_power_state", "RUNNING", "Running"},
		{"enum bond_mode", "balance-slb", "balance-slb"},
		{"string set", []any{"a"}, []any{"a"}},
		{"(string -> string) map", Struct{{"k", "v"}}, map[string]any{"k": "v"}},
		{"(int -> float) map", Struct{{"3", int64(1)}}, map[string]any{"3": 1.0}},
		{"(enum vm_operations -> string) map", Struct{{"START", "x"}}, map[string]any{"start": "x"}},
		{"string option", nil, nil},
	} {
		got, err := Convert(typ(t, tc.typ), tc.raw)
		require.NoError(t, err, "%s %#v", tc.typ, tc.raw)
		assert.Equal(t, tc.want, got, "%s %#v", tc.typ, tc.raw)
	}
	f, err := Convert(typ(t, "float"), "nan")
	require.NoError(t, err)
	assert.True(t, math.IsNaN(f.(float64)))
}

// TestConvertRejects checks the INTERNAL_ERROR texts of rpclib's and xapi's unmarshallers.
func TestConvertRejects(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		raw  any
		text string
	}{
		{"string", int64(5), `Failure("Expected string, got 'I(5)'")`},
		{"string", true, `Failure("Expected string, got 'B(true)'")`},
		{"string", nil, `Failure("Expected string, got 'N'")`},
		{"VM ref", []any{"a"}, `Failure("Expected string, got '[S(a)]'")`},
		{"int", 5.0, `Failure("Expected int64, got 'F(5)'")`},
		{"int", "five", `Failure("Int64.of_string")`},
		{"int", "99999999999999999999", `Failure("Int64.of_string")`},
		{"float", "x", `Failure("float_of_string")`},
		{"float", true, `Failure("Expected float, got 'B(true)'")`},
		{"bool", "true", `Failure("Expected bool, got 'S(true)'")`},
		{"datetime", int64(1), `Failure("Date.t_of_rpc")`},
		{"datetime", "yesterday", `Invalid argument: Clock__Date.of_iso8601: yesterday`},
		{"enum vm_power_state", "sleeping", `Failure("Unknown tag/contents")`},
		{"enum bond_mode", "BALANCE-SLB", `Failure("Unmarshalling error in bond-mode")`},
		{"string set", "a", `Failure("Expecting Rpc.Enum, but found 'S(a)'")`},
		{"(string -> string) map", []any{}, `Failure("Expecting Rpc.Dict, but found '[]'")`},
		{"(string -> string) map", Struct{{"k", int64(1)}}, `Failure("Expected string, got 'I(1)'")`},
	} {
		_, err := Convert(typ(t, tc.typ), tc.raw)
		var e *apierror.Error
		require.ErrorAs(t, err, &e, "%s %#v", tc.typ, tc.raw)
		assert.Equal(t, apierror.InternalError, e.Code)
		assert.Equal(t, []string{tc.text}, e.Params, "%s %#v", tc.typ, tc.raw)
	}
}

func TestConvertRecord(t *testing.T) {
	net := datamodel.Load().Class("network")
	rt := net.RecordType()
	full := Struct{}
	for _, f := range net.Fields {
		if f.Qualifier != datamodel.DynamicRO && !f.HasDefault {
			full = append(full, KV{f.Name, sampleRaw(f.Type)})
		}
	}
	v, err := Convert(rt, append(full, KV{"name_label", "first wins"}, KV{"unknown", int64(1)}, KV{"uuid", "ignored"}))
	require.NoError(t, err)
	rec := v.([]any)
	require.Len(t, rec, len(net.Fields))
	assert.Equal(t, "", rec[net.Field("uuid").Index], "RO/runtime fields are ignored")
	for _, f := range net.Fields {
		if f.Qualifier != datamodel.DynamicRO && !f.HasDefault {
			_, err := Convert(rt, dropKey(full, f.Name))
			var e *apierror.Error
			require.ErrorAs(t, err, &e, f.Name)
			assert.Equal(t, []string{`Server_helpers.Dispatcher_FieldNotFound("` + f.Name + `")`}, e.Params)
			return
		}
	}
	t.Fatal("network has no required field")
}

func sampleRaw(t *datamodel.Type) any {
	switch t.Kind {
	case datamodel.Int:
		return int64(1)
	case datamodel.Float:
		return 1.5
	case datamodel.Bool:
		return true
	case datamodel.Set:
		return []any{}
	case datamodel.Map:
		return Struct{}
	case datamodel.Enum:
		return t.Enum.Values[0]
	}
	return "x"
}

func dropKey(s Struct, key string) Struct {
	var out Struct
	for _, kv := range s {
		if kv.Key != key {
			out = append(out, kv)
		}
	}
	return out
}

// TestRoundTrip encodes the initial value of every field type, parses it back as a
// request parameter and converts it: the value must survive unchanged.
func TestRoundTrip(t *testing.T) {
	for _, c := range datamodel.Load().Classes {
		if !c.InDB() {
			continue
		}
		for _, f := range c.Fields {
			v := f.Initial()
			if f.Type.Kind == datamodel.Option || f.Type.Kind == datamodel.Record {
				continue
			}
			xml := "<methodCall><methodName>m</methodName><params><param>" + string(AppendXMLRPC(nil, f.Type, v)) + "</param></params></methodCall>"
			req, err := ParseXMLRPC([]byte(xml))
			require.NoError(t, err, "%s.%s", c.Name, f.Name)
			got, err := Convert(f.Type, req.Params[0])
			require.NoError(t, err, "%s.%s %s", c.Name, f.Name, xml)
			assert.Equal(t, v, got, "%s.%s via XML", c.Name, f.Name)

			js := `{"method":"m","params":[` + string(AppendJSON(nil, f.Type, v)) + `],"id":1}`
			req, err = ParseJSONRPC([]byte(js))
			require.NoError(t, err, "%s.%s", c.Name, f.Name)
			got, err = Convert(f.Type, req.Params[0])
			require.NoError(t, err, "%s.%s %s", c.Name, f.Name, js)
			assert.Equal(t, v, got, "%s.%s via JSON", c.Name, f.Name)
		}
	}
}

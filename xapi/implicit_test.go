package xapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/datamodel"
	"github.com/xapisim/xapisim/xapi/wire"
	"github.com/xapisim/xapisim/xapi/xapitest"
)

// TestEveryImplicitMessage calls every implicit message of every stored class, generated
// from the schema: once with valid arguments, checking the result against the message's
// result type, and once with a bad ref, checking xapi's error.
func TestEveryImplicitMessage(t *testing.T) {
	srv := xapitest.NewServer(t)
	session := xapitest.Login(t, srv)
	schema := datamodel.Load()
	calls := 0
	for _, c := range schema.Classes {
		if !c.InDB() || c.Name == "session" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			obj := srv.NewObject(c.Name)
			if f := c.Field("name_label"); f != nil {
				xapi.Set(obj, "name_label", "label of "+c.Name)
			}
			_, err := srv.Store.Update(func(tx *store.Tx) error { tx.Put(obj); return nil })
			require.NoError(t, err)
			var destroy *datamodel.Message
			for _, m := range c.Messages {
				if !m.Implicit || m.Lifecycle == datamodel.Removed {
					continue
				}
				if m.Name == "destroy" {
					destroy = m
					continue
				}
				calls++
				args := validArgs(t, srv, m, obj)
				r := xapitest.Call(srv, m.WireName, append([]any{session}, args...)...)
				require.Nil(t, r.Err, "%s: %v", m.WireName, r.Err)
				checkResult(t, m, r)
				if bad, ok := badRef(m); ok {
					args[0] = bad
					r := xapitest.Call(srv, m.WireName, append([]any{session}, args...)...)
					require.NotNil(t, r.Err, m.WireName)
					want := []string{"HANDLE_INVALID", c.Name, bad}
					if m.Name == "get_by_uuid" {
						want[0] = "UUID_INVALID"
					}
					assert.Equal(t, want, append([]string{r.Err.Code}, r.Err.Params...), m.WireName)
				}
			}
			if destroy != nil {
				calls++
				r := xapitest.Call(srv, destroy.WireName, session, obj.Ref)
				require.Nil(t, r.Err, "%s: %v", destroy.WireName, r.Err)
				assert.Nil(t, srv.Store.Get(c.Name, obj.Ref))
				r = xapitest.Call(srv, destroy.WireName, session, obj.Ref)
				require.NotNil(t, r.Err)
				assert.Equal(t, []string{c.Name, obj.Ref}, r.Err.Params)
			}
		})
	}
	t.Logf("%d implicit messages called", calls)
}

// validArgs builds arguments for an implicit message on obj.
func validArgs(t *testing.T, srv *xapi.Server, m *datamodel.Message, obj *store.Object) []any {
	var args []any
	for i, p := range m.Params {
		switch {
		case i == 0 && p.Type.Kind == datamodel.Ref && p.Type.Name == m.Class.Name:
			args = append(args, obj.Ref)
		case m.Name == "get_by_uuid":
			args = append(args, xapi.Str(obj, "uuid"))
		case m.Name == "get_by_name_label":
			args = append(args, xapi.Str(obj, "name_label"))
		case strings.HasSuffix(m.Name, "_where"):
			args = append(args, `field "uuid"="`+xapi.Str(obj, "uuid")+`"`)
		case m.Name == "create":
			rec := map[string]any{}
			for _, f := range m.Class.Fields {
				if f.Qualifier != datamodel.DynamicRO && !f.Internal {
					rec[f.Name] = sample(f.Type)
				}
			}
			args = append(args, rec)
		case strings.HasPrefix(m.Name, "add_to_") && p.Name == "key" && p.Type.Kind == datamodel.String:
			args = append(args, "key-"+m.Name)
		default:
			args = append(args, sample(p.Type))
		}
	}
	return args
}

// sample is a valid value of a type.
func sample(ty *datamodel.Type) any {
	switch ty.Kind {
	case datamodel.String:
		return "sample"
	case datamodel.Int:
		return int64(7)
	case datamodel.Float:
		return 0.5
	case datamodel.Bool:
		return true
	case datamodel.DateTime:
		return time.Date(2024, 4, 20, 12, 0, 0, 0, time.UTC)
	case datamodel.Enum:
		return ty.Enum.Values[len(ty.Enum.Values)-1]
	case datamodel.Ref:
		return datamodel.NullRef
	case datamodel.Set:
		return []any{sample(ty.Elem)}
	case datamodel.Map:
		return map[string]any{wire.MapKey(sample(ty.Key)): sample(ty.Elem)}
	}
	return nil
}

func badRef(m *datamodel.Message) (string, bool) {
	if m.Name == "get_by_uuid" {
		return "not-a-uuid", true
	}
	if len(m.Params) > 0 && m.Params[0].Type.Kind == datamodel.Ref && m.Params[0].Type.Name == m.Class.Name {
		return "OpaqueRef:bad", true
	}
	return "", false
}

// checkResult encodes the reply in both formats and checks the JSON against the type.
func checkResult(t *testing.T, m *datamodel.Message, r *wire.Reply) {
	t.Helper()
	xml := wire.AppendXMLRPCResponse(nil, r)
	require.True(t, bytes.Contains(xml, []byte("<value>Success</value>")), "%s: %s", m.WireName, xml)
	js := wire.AppendJSONRPCResponse(nil, &wire.Request{Method: m.WireName, JSONVersion2: true, ID: json.RawMessage("1")}, r)
	var reply struct{ Result any }
	d := json.NewDecoder(bytes.NewReader(js))
	d.UseNumber()
	require.NoError(t, d.Decode(&reply), "%s: %s", m.WireName, js)
	require.NoError(t, conforms(m.Result, reply.Result), "%s: %s", m.WireName, js)
}

// conforms checks a decoded JSON value against a datamodel type.
func conforms(ty *datamodel.Type, v any) error {
	bad := fmt.Errorf("%v is not a %s", v, ty)
	switch ty.Kind {
	case datamodel.Void:
		if v != "" {
			return bad
		}
	case datamodel.String:
		if _, ok := v.(string); !ok {
			return bad
		}
	case datamodel.Ref:
		if s, ok := v.(string); !ok || !strings.HasPrefix(s, "OpaqueRef:") {
			return bad
		}
	case datamodel.Enum:
		if s, ok := v.(string); !ok || !ty.Enum.Has(s) {
			return bad
		}
	case datamodel.Int:
		if n, ok := v.(json.Number); !ok || strings.ContainsAny(string(n), ".eE") {
			return bad
		}
	case datamodel.Float:
		if _, ok := v.(json.Number); !ok {
			return bad
		}
	case datamodel.Bool:
		if _, ok := v.(bool); !ok {
			return bad
		}
	case datamodel.DateTime:
		s, ok := v.(string)
		if !ok {
			return bad
		}
		if _, err := time.Parse(datamodel.DateTimeLayout, s); err != nil {
			return bad
		}
	case datamodel.Set:
		a, ok := v.([]any)
		if !ok {
			return bad
		}
		for _, e := range a {
			if err := conforms(ty.Elem, e); err != nil {
				return err
			}
		}
	case datamodel.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return bad
		}
		for _, e := range m {
			if err := conforms(ty.Elem, e); err != nil {
				return err
			}
		}
	case datamodel.Record:
		m, ok := v.(map[string]any)
		if !ok {
			return bad
		}
		n := 0
		for _, f := range ty.Class.Fields {
			if f.Internal {
				continue
			}
			n++
			fv, ok := m[f.Name]
			if !ok && f.Type.Kind != datamodel.Option {
				return fmt.Errorf("record %s lacks %s", ty.Class.Name, f.Name)
			}
			if err := conforms(f.Type, fv); ok && err != nil {
				return fmt.Errorf("%s.%s: %w", ty.Class.Name, f.Name, err)
			}
		}
		if len(m) != n {
			return fmt.Errorf("record %s has %d fields, want %d", ty.Class.Name, len(m), n)
		}
	}
	return nil
}

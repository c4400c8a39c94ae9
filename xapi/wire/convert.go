package wire

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// Convert checks a raw value against a datamodel type and returns the typed value, with
// xapi's input tolerance (protocol.md §2.4, §3.4): ints accept decimal strings, floats
// accept ints and strings, datetimes accept strings in both forms, enums compare without
// case (except bond_mode and event_operation), and strings accept nothing but strings. A
// value that does not convert is INTERNAL_ERROR with the text of the exception xapi's
// unmarshaller raises.
func Convert(t *datamodel.Type, raw any) (any, error) {
	switch t.Kind {
	case datamodel.String, datamodel.Ref:
		if s, ok := raw.(string); ok {
			return s, nil
		}
		return nil, expected("string", raw)
	case datamodel.Int:
		switch x := raw.(type) {
		case int64:
			return x, nil
		case string:
			n, err := ParseInt64(x)
			if err != nil {
				return nil, failure("Int64.of_string")
			}
			return n, nil
		}
		return nil, expected("int64", raw)
	case datamodel.Float:
		switch x := raw.(type) {
		case float64:
			return x, nil
		case int64:
			return float64(x), nil
		case string:
			f, err := parseOCamlFloat(x)
			if err != nil {
				return nil, failure("float_of_string")
			}
			return f, nil
		}
		return nil, expected("float", raw)
	case datamodel.Bool:
		if b, ok := raw.(bool); ok {
			return b, nil
		}
		return nil, expected("bool", raw)
	case datamodel.DateTime:
		var s string
		switch x := raw.(type) {
		case DateTime:
			s = string(x)
		case string:
			s = x
		default:
			return nil, failure("Date.t_of_rpc")
		}
		tm, err := ParseDateTime(s)
		if err != nil {
			return nil, apierror.New(apierror.InternalError, "Invalid argument: Clock__Date.of_iso8601: "+s)
		}
		return tm, nil
	case datamodel.Enum:
		return convertEnum(t.Enum, raw)
	case datamodel.Set:
		items, ok := raw.([]any)
		if !ok {
			return nil, failure(fmt.Sprintf("Expecting Rpc.Enum, but found '%s'", rpcString(raw)))
		}
		out := make([]any, len(items))
		for i, e := range items {
			v, err := Convert(t.Elem, e)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case datamodel.Map:
		members, ok := raw.(Struct)
		if !ok {
			return nil, failure(fmt.Sprintf("Expecting Rpc.Dict, but found '%s'", rpcString(raw)))
		}
		out := make(map[string]any, len(members))
		for _, kv := range members {
			k, err := Convert(t.Key, kv.Key)
			if err != nil {
				return nil, err
			}
			v, err := Convert(t.Elem, kv.Value)
			if err != nil {
				return nil, err
			}
			out[MapKey(k)] = v
		}
		return out, nil
	case datamodel.Record:
		return convertRecord(t.Class, raw)
	case datamodel.Option:
		if raw == nil {
			return nil, nil
		}
		return Convert(t.Elem, raw)
	}
	return nil, apierror.Internal("cannot unmarshal a %s parameter", t)
}

func convertEnum(e *datamodel.EnumDef, raw any) (any, error) {
	s, ok := raw.(string)
	// bond_mode and event_operation have hand-written decoders that need the exact
	// spelling (gen_api.ml's overrides).
	switch e.Name {
	case "bond_mode":
		if ok && e.Has(s) {
			return s, nil
		}
		return nil, failure("Unmarshalling error in bond-mode")
	case "event_operation":
		if ok && e.Has(s) {
			return s, nil
		}
		return nil, failure("Unmarshalling error")
	}
	if ok {
		if v, found := e.Lookup(s); found {
			return v, nil
		}
	}
	return nil, failure("Unknown tag/contents")
}

// convertRecord reads a constructor record (X.create's argument) as xapi's generated
// dispatcher does: RW and RO/constructor fields are taken from the struct by exact name
// (the first member of that name), absent ones take their default, and an absent field
// without a default is Dispatcher_FieldNotFound. RO/runtime and unknown members are
// ignored. The result is aligned with the class's fields.
func convertRecord(c *datamodel.Class, raw any) (any, error) {
	members, ok := raw.(Struct)
	if !ok || c == nil {
		return nil, failure("bad __structure")
	}
	out := make([]any, len(c.Fields))
	for i, f := range c.Fields {
		if f.Qualifier == datamodel.DynamicRO || f.Internal {
			out[i] = f.Initial()
			continue
		}
		v, found := lookup(members, f.Name)
		if !found {
			if !f.HasDefault {
				return nil, apierror.New(apierror.InternalError,
					fmt.Sprintf("Server_helpers.Dispatcher_FieldNotFound(%q)", f.Name))
			}
			out[i] = f.Initial()
			continue
		}
		cv, err := Convert(f.Type, v)
		if err != nil {
			return nil, err
		}
		out[i] = cv
	}
	return out, nil
}

func lookup(members Struct, key string) (any, bool) {
	for _, kv := range members {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// MapKey is the wire form of a typed map key: ints in decimal, everything else as is.
func MapKey(k any) string {
	switch x := k.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'g', 16, 64)
	}
	return fmt.Sprint(k)
}

// ParseDateTime reads a datetime as xapi does (Clock.Date.of_iso8601): the database form
// 20240420T12:00:00Z, or RFC 3339 with or without dashes and with an offset; no zone
// means UTC.
func ParseDateTime(s string) (time.Time, error) {
	if t, err := time.Parse(datamodel.DateTimeLayout, s); err == nil {
		return t, nil
	}
	x := s
	// Basic form without dashes: 20240420T12:00:00[zone].
	if len(x) > 9 && x[8] == 'T' && !strings.Contains(x[:8], "-") {
		x = x[0:4] + "-" + x[4:6] + "-" + x[6:]
	}
	if len(x) == len("2006-01-02T15:04:05") {
		x += "Z"
	}
	t, err := time.Parse(time.RFC3339Nano, x)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// failure is INTERNAL_ERROR carrying an OCaml Failure exception as Printexc prints it.
func failure(msg string) *apierror.Error {
	return apierror.New(apierror.InternalError, "Failure("+strconv.Quote(msg)+")")
}

// expected is rpclib's "Expected <type>, got '<value>'" failure.
func expected(typ string, raw any) *apierror.Error {
	return failure(fmt.Sprintf("Expected %s, got '%s'", typ, rpcString(raw)))
}

// rpcString prints a raw value as rpclib's Rpc.to_string does, for error texts.
func rpcString(v any) string {
	switch x := v.(type) {
	case int64:
		return fmt.Sprintf("I(%d)", x)
	case bool:
		return fmt.Sprintf("B(%t)", x)
	case float64:
		return "F(" + strconv.FormatFloat(x, 'g', 6, 64) + ")"
	case string:
		return "S(" + x + ")"
	case DateTime:
		return "D(" + string(x) + ")"
	case Base64:
		return "B64(" + string(x) + ")"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = rpcString(e)
		}
		return "[" + strings.Join(parts, ";") + "]"
	case Struct:
		parts := make([]string, len(x))
		for i, kv := range x {
			parts[i] = kv.Key + ":" + rpcString(kv.Value)
		}
		return "{" + strings.Join(parts, ";") + "}"
	case nil:
		return "N"
	}
	return fmt.Sprint(v)
}

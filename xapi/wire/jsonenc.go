package wire

import (
	"math"
	"strconv"
	"time"

	"github.com/xapisim/xapisim/xapi/datamodel"
)

// AppendJSON appends one JSON value for v of type t (protocol.md §3.4): ints as numbers,
// floats as Yojson prints them (with ".0" on integral values and bare NaN/Infinity),
// datetimes as 20240420T12:00:00Z strings, void as "".
func AppendJSON(buf []byte, t *datamodel.Type, v any) []byte {
	if m, ok := v.(Marshaler); ok {
		return m.AppendJSON(buf)
	}
	switch t.Kind {
	case datamodel.Void:
		return append(buf, `""`...)
	case datamodel.String, datamodel.Ref, datamodel.Enum:
		s, ok := v.(string)
		if !ok {
			s = mismatch(t, v).(string)
		}
		return AppendJSONString(buf, s)
	case datamodel.Int:
		n, ok := asInt(v)
		if !ok {
			mismatch(t, v)
		}
		return strconv.AppendInt(buf, n, 10)
	case datamodel.Float:
		f, ok := v.(float64)
		if !ok {
			mismatch(t, v)
		}
		return appendJSONFloat(buf, f)
	case datamodel.Bool:
		b, ok := v.(bool)
		if !ok {
			mismatch(t, v)
		}
		return strconv.AppendBool(buf, b)
	case datamodel.DateTime:
		tm, ok := v.(time.Time)
		if !ok {
			tm = mismatch(t, v).(time.Time)
		}
		buf = append(buf, '"')
		buf = appendDateTime(buf, tm)
		return append(buf, '"')
	case datamodel.Set:
		items, ok := v.([]any)
		if !ok && v != nil {
			mismatch(t, v)
		}
		buf = append(buf, '[')
		for i, e := range items {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = AppendJSON(buf, t.Elem, e)
		}
		return append(buf, ']')
	case datamodel.Map:
		buf = append(buf, '{')
		first := true
		if !mapEntries(v, func(k string, e any) {
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = AppendJSONString(buf, k)
			buf = append(buf, ':')
			buf = AppendJSON(buf, t.Elem, e)
		}) && v != nil {
			mismatch(t, v)
		}
		return append(buf, '}')
	case datamodel.Record:
		fields, ok := v.([]any)
		if !ok || t.Class == nil || len(fields) != len(t.Class.Fields) {
			mismatch(t, v)
			return append(buf, "{}"...)
		}
		buf = append(buf, '{')
		first := true
		for i, f := range t.Class.Fields {
			if f.Internal || (f.Type.Kind == datamodel.Option && fields[i] == nil) {
				continue
			}
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = append(buf, '"')
			buf = append(buf, f.Name...)
			buf = append(buf, `":`...)
			buf = AppendJSON(buf, f.Type, fields[i])
		}
		return append(buf, '}')
	case datamodel.Option:
		if v == nil {
			return append(buf, "null"...)
		}
		return AppendJSON(buf, t.Elem, v)
	}
	mismatch(t, v)
	return append(buf, "null"...)
}

// appendJSONFloat prints a float as Yojson does: %.16g, or %.17g when that does not read
// back the same; ".0" when the result looks like an integer; NaN and ±Infinity as bare
// tokens, which the SDKs expect (protocol.md §3.7).
func appendJSONFloat(buf []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	case math.IsInf(f, 1):
		return append(buf, "Infinity"...)
	case math.IsInf(f, -1):
		return append(buf, "-Infinity"...)
	}
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, 'g', 16, 64)
	if back, err := strconv.ParseFloat(string(buf[start:]), 64); err != nil || back != f {
		buf = strconv.AppendFloat(buf[:start], f, 'g', 17, 64)
	}
	for _, c := range buf[start:] {
		if c != '-' && (c < '0' || c > '9') {
			return buf
		}
	}
	return append(buf, ".0"...)
}

// AppendJSONString appends s as a JSON string escaped as Yojson does: quote, backslash
// and control characters; non-ASCII bytes pass through; no HTML escaping.
func AppendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"':
			buf = append(buf, `\"`...)
		case '\\':
			buf = append(buf, `\\`...)
		case '\b':
			buf = append(buf, `\b`...)
		case '\f':
			buf = append(buf, `\f`...)
		case '\n':
			buf = append(buf, `\n`...)
		case '\r':
			buf = append(buf, `\r`...)
		case '\t':
			buf = append(buf, `\t`...)
		default:
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

package wire

import (
	"strconv"
	"time"

	"github.com/xapisim/xapisim/xapi/datamodel"
)

// AppendXMLRPC appends one <value>…</value> for v of type t, in xapi's compact form
// (protocol.md §2.3): strings bare, ints untagged, floats %.16g in <double>, datetimes
// 20240420T12:00:00Z, records as structs of their non-internal fields.
func AppendXMLRPC(buf []byte, t *datamodel.Type, v any) []byte {
	if m, ok := v.(Marshaler); ok {
		return m.AppendXMLRPC(buf)
	}
	switch t.Kind {
	case datamodel.Void:
		return append(buf, "<value></value>"...)
	case datamodel.String, datamodel.Ref, datamodel.Enum:
		s, ok := v.(string)
		if !ok {
			s = mismatch(t, v).(string)
		}
		buf = append(buf, "<value>"...)
		buf = appendXMLText(buf, s)
		return append(buf, "</value>"...)
	case datamodel.Int:
		n, ok := asInt(v)
		if !ok {
			mismatch(t, v)
		}
		buf = append(buf, "<value>"...)
		buf = strconv.AppendInt(buf, n, 10)
		return append(buf, "</value>"...)
	case datamodel.Float:
		f, ok := v.(float64)
		if !ok {
			mismatch(t, v)
		}
		buf = append(buf, "<value><double>"...)
		buf = appendFloatG(buf, f)
		return append(buf, "</double></value>"...)
	case datamodel.Bool:
		b, ok := v.(bool)
		if !ok {
			mismatch(t, v)
		}
		if b {
			return append(buf, "<value><boolean>1</boolean></value>"...)
		}
		return append(buf, "<value><boolean>0</boolean></value>"...)
	case datamodel.DateTime:
		tm, ok := v.(time.Time)
		if !ok {
			tm = mismatch(t, v).(time.Time)
		}
		buf = append(buf, "<value><dateTime.iso8601>"...)
		buf = appendDateTime(buf, tm)
		return append(buf, "</dateTime.iso8601></value>"...)
	case datamodel.Set:
		items, ok := v.([]any)
		if !ok && v != nil {
			mismatch(t, v)
		}
		buf = append(buf, "<value><array><data>"...)
		for _, e := range items {
			buf = AppendXMLRPC(buf, t.Elem, e)
		}
		return append(buf, "</data></array></value>"...)
	case datamodel.Map:
		buf = append(buf, "<value><struct>"...)
		if !mapEntries(v, func(k string, e any) {
			buf = append(buf, "<member><name>"...)
			buf = appendXMLText(buf, k)
			buf = append(buf, "</name>"...)
			buf = AppendXMLRPC(buf, t.Elem, e)
			buf = append(buf, "</member>"...)
		}) && v != nil {
			mismatch(t, v)
		}
		return append(buf, "</struct></value>"...)
	case datamodel.Record:
		fields, ok := v.([]any)
		if !ok || t.Class == nil || len(fields) != len(t.Class.Fields) {
			mismatch(t, v)
			return append(buf, "<value><struct></struct></value>"...)
		}
		buf = append(buf, "<value><struct>"...)
		for i, f := range t.Class.Fields {
			if f.Internal || (f.Type.Kind == datamodel.Option && fields[i] == nil) {
				continue
			}
			buf = append(buf, "<member><name>"...)
			buf = append(buf, f.Name...)
			buf = append(buf, "</name>"...)
			buf = AppendXMLRPC(buf, f.Type, fields[i])
			buf = append(buf, "</member>"...)
		}
		return append(buf, "</struct></value>"...)
	case datamodel.Option:
		if v == nil {
			return buf
		}
		return AppendXMLRPC(buf, t.Elem, v)
	}
	mismatch(t, v)
	return append(buf, "<value></value>"...)
}

// appendXMLText escapes text as xapi does: only < > & and " are escaped, and control
// characters other than TAB, LF and CR are dropped (they cannot appear in XML 1.0).
func appendXMLText(buf []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var esc string
		switch {
		case c == '<':
			esc = "&lt;"
		case c == '>':
			esc = "&gt;"
		case c == '&':
			esc = "&amp;"
		case c == '"':
			esc = "&quot;"
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r':
			esc = ""
		default:
			continue
		}
		buf = append(buf, s[start:i]...)
		buf = append(buf, esc...)
		start = i + 1
	}
	return append(buf, s[start:]...)
}

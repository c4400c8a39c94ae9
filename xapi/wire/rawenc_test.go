package wire

import (
	"math"
	"strconv"
)

// Test-only encoders of raw values, to re-encode what a parser accepted, and normalise,
// which makes raw values comparable with reflect.DeepEqual (NaN included).

func encodeRawXML(req *Request) []byte {
	b := []byte("<methodCall><methodName>")
	b = appendCharRefs(b, req.Method)
	b = append(b, "</methodName><params>"...)
	for _, p := range req.Params {
		b = append(b, "<param>"...)
		b = appendRawXML(b, p)
		b = append(b, "</param>"...)
	}
	return append(b, "</params></methodCall>"...)
}

func appendRawXML(b []byte, v any) []byte {
	tagged := func(tag, text string) []byte {
		b = append(b, "<value><"+tag+">"...)
		b = appendCharRefs(b, text)
		return append(b, "</"+tag+"></value>"...)
	}
	switch x := v.(type) {
	case string:
		return tagged("string", x)
	case int64:
		return tagged("i8", strconv.FormatInt(x, 10))
	case float64:
		switch {
		case math.IsNaN(x):
			return tagged("double", "nan")
		case math.IsInf(x, 1):
			return tagged("double", "inf")
		case math.IsInf(x, -1):
			return tagged("double", "-inf")
		}
		return tagged("double", strconv.FormatFloat(x, 'g', -1, 64))
	case bool:
		if x {
			return tagged("boolean", "1")
		}
		return tagged("boolean", "0")
	case DateTime:
		return tagged("dateTime.iso8601", string(x))
	case Base64:
		return tagged("base64", string(x))
	case []any:
		b = append(b, "<value><array><data>"...)
		for _, e := range x {
			b = appendRawXML(b, e)
		}
		return append(b, "</data></array></value>"...)
	case Struct:
		b = append(b, "<value><struct>"...)
		for _, kv := range x {
			b = append(b, "<member><name>"...)
			b = appendCharRefs(b, kv.Key)
			b = append(b, "</name>"...)
			b = appendRawXML(b, kv.Value)
			b = append(b, "</member>"...)
		}
		return append(b, "</struct></value>"...)
	}
	return append(b, "<value><nil/></value>"...)
}

// appendCharRefs escapes markup and writes every control character as a character
// reference, so that text survives a round trip exactly.
func appendCharRefs(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '<':
			b = append(b, "&lt;"...)
		case c == '&':
			b = append(b, "&amp;"...)
		case c == '>':
			b = append(b, "&gt;"...)
		case c < 0x20:
			b = append(b, "&#"+strconv.Itoa(int(c))+";"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func encodeRawJSON(req *Request) []byte {
	b := []byte(`{"method":`)
	b = AppendJSONString(b, req.Method)
	b = append(b, `,"params":`...)
	b = appendRawJSON(b, req.Params)
	b = append(b, `,"id":`...)
	b = append(b, req.ID...)
	if req.JSONVersion2 {
		b = append(b, `,"jsonrpc":"2.0"`...)
	}
	return append(b, '}')
}

func appendRawJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return AppendJSONString(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return strconv.AppendFloat(b, x, 'e', -1, 64) // always an exponent: stays a float
	case bool:
		return strconv.AppendBool(b, x)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendRawJSON(b, e)
		}
		return append(b, ']')
	case Struct:
		b = append(b, '{')
		for i, kv := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendJSONString(b, kv.Key)
			b = append(b, ':')
			b = appendRawJSON(b, kv.Value)
		}
		return append(b, '}')
	}
	return append(b, "null"...)
}

func normalise(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) {
			return "NaN"
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalise(e)
		}
		return out
	case Struct:
		out := make(Struct, len(x))
		for i, kv := range x {
			out[i] = KV{kv.Key, normalise(kv.Value)}
		}
		return out
	}
	return v
}

package wire

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// ParseJSONRPC reads a JSON-RPC request under xapi's rules (protocol.md §3.1): one object,
// no batches; "jsonrpc" absent is version 1.0 and "2.0" is version 2.0, anything else is
// refused; "method" must be a string; version 1.0 needs a "params" array, version 2.0 takes
// a missing or null "params" as [] and an object as one struct parameter; "id" must be an
// integer or a string and is echoed as sent. Any error means xapi's HTTP 500.
//
// The parser is hand-written rather than encoding/json because raw values must keep
// integers apart from floats and keep struct members in order, as rpclib does.
func ParseJSONRPC(body []byte) (*Request, error) {
	p := &jsonParser{s: body}
	p.skipSpace()
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return nil, errors.New("JSON-RPC request is not an object")
	}
	top, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return nil, p.errorf("content after the request")
	}
	members := top.(Struct)
	get := func(key string) (any, []byte, bool) {
		for _, kv := range members {
			if kv.Key == key {
				return kv.Value, p.spans[key], true
			}
		}
		return nil, nil, false
	}
	req := &Request{Protocol: JSONRPC}
	switch v, _, ok := get("jsonrpc"); {
	case !ok:
	case v == "2.0":
		req.JSONVersion2 = true
	default:
		return nil, fmt.Errorf("unsupported jsonrpc version %v", v)
	}
	m, _, ok := get("method")
	name, isString := m.(string)
	if !ok || !isString {
		return nil, errors.New("JSON-RPC request without a method name")
	}
	req.Method = name
	params, _, ok := get("params")
	switch ps := params.(type) {
	case []any:
		req.Params = ps
	case Struct:
		if !req.JSONVersion2 {
			return nil, errors.New("JSON-RPC 1.0 params must be an array")
		}
		req.Params = []any{ps}
	case nil:
		if !req.JSONVersion2 {
			return nil, errors.New("JSON-RPC 1.0 request without params")
		}
		req.Params = []any{}
	default:
		return nil, errors.New("JSON-RPC params must be an array")
	}
	id, span, ok := get("id")
	if !ok {
		return nil, errors.New("JSON-RPC request without an id")
	}
	switch id.(type) {
	case string, int64:
		req.ID = span
	default:
		return nil, errors.New("JSON-RPC id must be an integer or a string")
	}
	return req, nil
}

type jsonParser struct {
	s []byte
	i int
	// spans records the raw bytes of the top-level members, for echoing the id.
	spans map[string][]byte
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("JSON parse error at byte %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (any, error) {
	p.skipSpace()
	if p.i >= len(p.s) {
		return nil, p.errorf("unexpected end of input")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		if depth >= maxDepth {
			return nil, p.errorf("nesting too deep")
		}
		return p.object(depth + 1)
	case c == '[':
		if depth >= maxDepth {
			return nil, p.errorf("nesting too deep")
		}
		return p.array(depth + 1)
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case hasPrefixAt(p.s, p.i, "true"):
		p.i += 4
		return true, nil
	case hasPrefixAt(p.s, p.i, "false"):
		p.i += 5
		return false, nil
	case hasPrefixAt(p.s, p.i, "null"):
		p.i += 4
		return nil, nil
	}
	return nil, p.errorf("unexpected character %q", p.s[p.i])
}

func (p *jsonParser) object(depth int) (any, error) {
	p.i++ // '{'
	out := Struct{}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return out, nil
	}
	for {
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, p.errorf("expected a member name")
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errorf("expected ':'")
		}
		p.i++
		p.skipSpace()
		start := p.i
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		if depth == 1 {
			if p.spans == nil {
				p.spans = map[string][]byte{}
			}
			p.spans[key] = p.s[start:p.i]
		}
		out = append(out, KV{Key: key, Value: v})
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errorf("unterminated object")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return out, nil
		default:
			return nil, p.errorf("expected ',' or '}'")
		}
	}
}

func (p *jsonParser) array(depth int) (any, error) {
	p.i++ // '['
	out := []any{}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return out, nil
	}
	for {
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errorf("unterminated array")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return out, nil
		default:
			return nil, p.errorf("expected ',' or ']'")
		}
	}
}

// number reads a JSON number: an integer (which must fit in 64 bits) or a float.
func (p *jsonParser) number() (any, error) {
	start := p.i
	isFloat := false
	if p.s[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c >= '0' && c <= '9':
		case c == '.' || c == 'e' || c == 'E' || ((c == '+' || c == '-') && (p.s[p.i-1] == 'e' || p.s[p.i-1] == 'E')):
			isFloat = true
		default:
			goto done
		}
		p.i++
	}
done:
	text := string(p.s[start:p.i])
	if p.i == digits || (p.s[digits] == '0' && p.i > digits+1 && p.s[digits+1] >= '0' && p.s[digits+1] <= '9') {
		return nil, p.errorf("bad number %q", text)
	}
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, p.errorf("bad number %q", text)
		}
		return f, nil
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return nil, p.errorf("integer out of range %q", text)
	}
	return n, nil
}

// str reads a JSON string, decoding escapes.
func (p *jsonParser) str() (string, error) {
	p.i++ // '"'
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '"' {
			s := string(p.s[start:p.i])
			p.i++
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.i++
	}
	buf := append([]byte(nil), p.s[start:p.i]...)
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), nil
		case c < 0x20:
			return "", p.errorf("control character in string")
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.s) {
			break
		}
		e := p.s[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errorf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				if hasPrefixAt(p.s, p.i, `\u`) {
					p.i += 2
					r2, ok := p.hex4()
					if !ok {
						return "", p.errorf("bad \\u escape")
					}
					r = utf16.DecodeRune(r, r2)
				} else {
					r = utf8.RuneError
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", p.errorf("bad escape")
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p.s[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(n), true
}

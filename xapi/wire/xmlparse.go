package wire

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds the nesting of arrays and structs, so that hostile input cannot exhaust
// the stack.
const maxDepth = 64

// ParseXMLRPC reads an XML-RPC methodCall (protocol.md §2.1). Any error means xapi's
// HTTP 500. encoding/xml is not used: this hand-written scanner is several times faster
// and allocates little, which the throughput targets need.
func ParseXMLRPC(body []byte) (*Request, error) {
	p := &xmlParser{s: body}
	p.prolog()
	if err := p.open("methodCall"); err != nil {
		return nil, err
	}
	if err := p.open("methodName"); err != nil {
		return nil, err
	}
	name, err := p.text()
	if err != nil {
		return nil, err
	}
	if err := p.close("methodName"); err != nil {
		return nil, err
	}
	req := &Request{Protocol: XMLRPC, Method: name, Params: []any{}}
	t, err := p.tag()
	if err != nil {
		return nil, err
	}
	if t.name != "params" || t.end {
		return nil, p.errorf("expected <params>")
	}
	if !t.empty {
		for {
			t, err := p.tag()
			if err != nil {
				return nil, err
			}
			if t.end && t.name == "params" {
				break
			}
			if t.name != "param" || t.end || t.empty {
				return nil, p.errorf("expected <param>")
			}
			v, err := p.value(0)
			if err != nil {
				return nil, err
			}
			if err := p.close("param"); err != nil {
				return nil, err
			}
			req.Params = append(req.Params, v)
		}
	}
	if err := p.close("methodCall"); err != nil {
		return nil, err
	}
	p.misc()
	if p.i != len(p.s) {
		return nil, p.errorf("content after the document")
	}
	return req, nil
}

type xmlParser struct {
	s []byte
	i int
}

type xmlTag struct {
	name  string
	end   bool // </name>
	empty bool // <name/>
}

var errSyntax = errors.New("malformed XML")

func (p *xmlParser) errorf(format string, args ...any) error {
	return fmt.Errorf("XML-RPC parse error at byte %d: %s", p.i, fmt.Sprintf(format, args...))
}

// prolog skips an optional XML declaration and what may follow it.
func (p *xmlParser) prolog() {
	p.skipSpace()
	if strings.HasPrefix(string(p.s[p.i:min(p.i+5, len(p.s))]), "<?xml") {
		if end := indexFrom(p.s, p.i, "?>"); end >= 0 {
			p.i = end + 2
		}
	}
	p.misc()
}

// misc skips whitespace, comments and processing instructions between elements.
func (p *xmlParser) misc() {
	for {
		p.skipSpace()
		switch {
		case hasPrefixAt(p.s, p.i, "<!--"):
			end := indexFrom(p.s, p.i+4, "-->")
			if end < 0 {
				return
			}
			p.i = end + 3
		case hasPrefixAt(p.s, p.i, "<?"):
			end := indexFrom(p.s, p.i+2, "?>")
			if end < 0 {
				return
			}
			p.i = end + 2
		default:
			return
		}
	}
}

func (p *xmlParser) skipSpace() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// tag reads the next tag, skipping whitespace and comments before it.
func (p *xmlParser) tag() (xmlTag, error) {
	p.misc()
	if p.i >= len(p.s) || p.s[p.i] != '<' {
		return xmlTag{}, p.errorf("expected a tag")
	}
	p.i++
	var t xmlTag
	if p.i < len(p.s) && p.s[p.i] == '/' {
		t.end = true
		p.i++
	}
	start := p.i
	for p.i < len(p.s) && !isSpace(p.s[p.i]) && p.s[p.i] != '>' && p.s[p.i] != '/' {
		p.i++
	}
	if p.i == start {
		return xmlTag{}, p.errorf("empty tag name")
	}
	t.name = string(p.s[start:p.i])
	// Attributes are allowed and ignored, as rpclib ignores them.
	for p.i < len(p.s) && p.s[p.i] != '>' {
		switch c := p.s[p.i]; {
		case c == '/' && p.i+1 < len(p.s) && p.s[p.i+1] == '>' && !t.end:
			t.empty = true
			p.i++ // now at '>'
			continue
		case c == '"' || c == '\'':
			end := indexByteFrom(p.s, p.i+1, c)
			if end < 0 {
				return xmlTag{}, p.errorf("unterminated attribute")
			}
			p.i = end + 1
			continue
		case c == '<':
			return xmlTag{}, p.errorf("'<' inside a tag")
		}
		p.i++
	}
	if p.i >= len(p.s) {
		return xmlTag{}, p.errorf("unterminated tag")
	}
	p.i++ // '>'
	return t, nil
}

func (p *xmlParser) open(name string) error {
	t, err := p.tag()
	if err != nil {
		return err
	}
	if t.name != name || t.end || t.empty {
		return p.errorf("expected <%s>", name)
	}
	return nil
}

func (p *xmlParser) close(name string) error {
	t, err := p.tag()
	if err != nil {
		return err
	}
	if t.name != name || !t.end {
		return p.errorf("expected </%s>", name)
	}
	return nil
}

// text reads character data up to the next tag that is not a comment: entities and
// CDATA sections are decoded. It does not consume the tag.
func (p *xmlParser) text() (string, error) {
	start := p.i
	// Fast path: plain text with no markup to decode.
	for p.i < len(p.s) && p.s[p.i] != '<' && p.s[p.i] != '&' {
		p.i++
	}
	if p.i < len(p.s) && p.s[p.i] == '<' && !hasPrefixAt(p.s, p.i, "<![CDATA[") && !hasPrefixAt(p.s, p.i, "<!--") {
		return string(p.s[start:p.i]), nil
	}
	var b strings.Builder
	b.Write(p.s[start:p.i])
	for p.i < len(p.s) {
		switch {
		case hasPrefixAt(p.s, p.i, "<![CDATA["):
			end := indexFrom(p.s, p.i+9, "]]>")
			if end < 0 {
				return "", p.errorf("unterminated CDATA")
			}
			b.Write(p.s[p.i+9 : end])
			p.i = end + 3
		case hasPrefixAt(p.s, p.i, "<!--"):
			end := indexFrom(p.s, p.i+4, "-->")
			if end < 0 {
				return "", p.errorf("unterminated comment")
			}
			p.i = end + 3
		case p.s[p.i] == '<':
			return b.String(), nil
		case p.s[p.i] == '&':
			r, n, err := entity(p.s[p.i:])
			if err != nil {
				return "", p.errorf("%v", err)
			}
			b.WriteString(r)
			p.i += n
		default:
			b.WriteByte(p.s[p.i])
			p.i++
		}
	}
	return "", p.errorf("unexpected end of input")
}

// entity decodes one entity or character reference at the start of s.
func entity(s []byte) (string, int, error) {
	end := indexByteFrom(s, 1, ';')
	if end < 0 || end > 12 {
		return "", 0, errSyntax
	}
	name := string(s[1:end])
	switch name {
	case "lt":
		return "<", end + 1, nil
	case "gt":
		return ">", end + 1, nil
	case "amp":
		return "&", end + 1, nil
	case "quot":
		return `"`, end + 1, nil
	case "apos":
		return "'", end + 1, nil
	}
	if strings.HasPrefix(name, "#") {
		var n uint64
		var err error
		if strings.HasPrefix(name, "#x") {
			n, err = strconv.ParseUint(name[2:], 16, 32)
		} else {
			n, err = strconv.ParseUint(name[1:], 10, 32)
		}
		if err != nil || n > utf8.MaxRune {
			return "", 0, errSyntax
		}
		return string(rune(n)), end + 1, nil
	}
	return "", 0, errSyntax
}

// value reads a <value> element and returns its raw value. The opening tag has not been
// read yet.
func (p *xmlParser) value(depth int) (any, error) {
	t, err := p.tag()
	if err != nil {
		return nil, err
	}
	if t.name != "value" || t.end {
		return nil, p.errorf("expected <value>")
	}
	if t.empty {
		return "", nil
	}
	text, err := p.text()
	if err != nil {
		return nil, err
	}
	if hasPrefixAt(p.s, p.i, "</") {
		if err := p.close("value"); err != nil {
			return nil, err
		}
		return text, nil // an untagged string keeps its whitespace
	}
	if strings.TrimLeft(text, " \t\r\n") != "" {
		return nil, p.errorf("text beside a typed value")
	}
	v, err := p.typed(depth)
	if err != nil {
		return nil, err
	}
	if err := p.close("value"); err != nil {
		return nil, err
	}
	return v, nil
}

// typed reads the element inside a <value>.
func (p *xmlParser) typed(depth int) (any, error) {
	t, err := p.tag()
	if err != nil {
		return nil, err
	}
	if t.end {
		return nil, p.errorf("unexpected </%s>", t.name)
	}
	switch t.name {
	case "string", "int", "i4", "i8", "double", "boolean", "dateTime.iso8601", "base64":
		s := ""
		if !t.empty {
			if s, err = p.text(); err != nil {
				return nil, err
			}
			if err := p.close(t.name); err != nil {
				return nil, err
			}
		}
		return scalar(t.name, s)
	case "nil":
		if !t.empty {
			if err := p.close("nil"); err != nil {
				return nil, err
			}
		}
		return nil, nil
	case "array":
		if depth >= maxDepth {
			return nil, p.errorf("nesting too deep")
		}
		return p.array(t, depth+1)
	case "struct":
		if depth >= maxDepth {
			return nil, p.errorf("nesting too deep")
		}
		return p.structure(t, depth+1)
	}
	return nil, p.errorf("unknown tag <%s>", t.name)
}

// scalar converts the text of a scalar element as rpclib does: ints must be numbers, and a
// boolean is true only when its text is exactly "1".
func scalar(tag, s string) (any, error) {
	switch tag {
	case "int", "i4", "i8":
		n, err := ParseInt64(s)
		if err != nil {
			return nil, fmt.Errorf("bad <%s> %q", tag, s)
		}
		return n, nil
	case "double":
		f, err := parseOCamlFloat(s)
		if err != nil {
			return nil, fmt.Errorf("bad <double> %q", s)
		}
		return f, nil
	case "boolean":
		return s == "1", nil
	case "dateTime.iso8601":
		return DateTime(s), nil
	case "base64":
		return Base64(s), nil
	}
	return s, nil
}

func (p *xmlParser) array(t xmlTag, depth int) (any, error) {
	out := []any{}
	if t.empty {
		return out, nil
	}
	d, err := p.tag()
	if err != nil {
		return nil, err
	}
	if d.end && d.name == "array" {
		return out, nil
	}
	if d.name != "data" || d.end {
		return nil, p.errorf("expected <data>")
	}
	if !d.empty {
		for {
			p.misc()
			if hasPrefixAt(p.s, p.i, "</") {
				if err := p.close("data"); err != nil {
					return nil, err
				}
				break
			}
			v, err := p.value(depth)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	return out, p.close("array")
}

func (p *xmlParser) structure(t xmlTag, depth int) (any, error) {
	out := Struct{}
	if t.empty {
		return out, nil
	}
	for {
		m, err := p.tag()
		if err != nil {
			return nil, err
		}
		if m.end && m.name == "struct" {
			return out, nil
		}
		if m.name != "member" || m.end || m.empty {
			return nil, p.errorf("expected <member>")
		}
		if err := p.open("name"); err != nil {
			return nil, err
		}
		name, err := p.text()
		if err != nil {
			return nil, err
		}
		if err := p.close("name"); err != nil {
			return nil, err
		}
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		if err := p.close("member"); err != nil {
			return nil, err
		}
		out = append(out, KV{Key: name, Value: v})
	}
}

func hasPrefixAt(s []byte, i int, prefix string) bool {
	return len(s)-i >= len(prefix) && string(s[i:i+len(prefix)]) == prefix
}

func indexFrom(s []byte, i int, sub string) int {
	if i > len(s) {
		return -1
	}
	j := bytes.Index(s[i:], []byte(sub))
	if j < 0 {
		return -1
	}
	return i + j
}

func indexByteFrom(s []byte, i int, c byte) int {
	for ; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

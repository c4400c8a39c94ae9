package where

import "strings"

type tokKind uint8

const (
	tEOF tokKind = iota
	tEq
	tTrue
	tFalse
	tField
	tAnd
	tOr
	tNot
	tLParen
	tRParen
	tIdent
)

type token struct {
	kind tokKind
	text string
}

// lex splits the input like xapi's ocamllex lexer: keywords match as prefixes (the lexer
// has no identifier rule), literals are double-quoted with no escapes, and anything else
// fails.
func lex(s string) ([]token, error) {
	keywords := []struct {
		word string
		kind tokKind
	}{{"true", tTrue}, {"false", tFalse}, {"field", tField}, {"and", tAnd}, {"or", tOr}, {"not", tNot}}
	var toks []token
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case ' ', '\t', '\n':
			i++
			continue
		case '=':
			toks = append(toks, token{kind: tEq})
			i++
			continue
		case '(':
			toks = append(toks, token{kind: tLParen})
			i++
			continue
		case ')':
			toks = append(toks, token{kind: tRParen})
			i++
			continue
		case '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return nil, errLex
			}
			toks = append(toks, token{kind: tIdent, text: s[i+1 : i+1+end]})
			i += end + 2
			continue
		}
		matched := false
		for _, k := range keywords {
			if strings.HasPrefix(s[i:], k.word) {
				toks = append(toks, token{kind: k.kind})
				i += len(k.word)
				matched = true
				break
			}
		}
		if !matched {
			return nil, errLex
		}
	}
	return append(toks, token{kind: tEOF}), nil
}

// Parse reads an expression. Precedence follows xapi's yacc grammar: "and" and "or" are
// equal and group to the left, and "not" binds weakest, so it takes everything to its
// right: `not a and b` is `not (a and b)`.
func Parse(s string) (Expr, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.peek() != tEOF {
		return nil, errParse
	}
	return e, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() tokKind { return p.toks[p.pos].kind }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

// expr := operand { (and|or) operand }
func (p *parser) expr() (Expr, error) {
	left, err := p.operand()
	if err != nil {
		return nil, err
	}
	for {
		switch p.peek() {
		case tAnd, tOr:
			op := p.next().kind
			right, err := p.operand()
			if err != nil {
				return nil, err
			}
			if op == tAnd {
				left = andExpr{left, right}
			} else {
				left = orExpr{left, right}
			}
		default:
			return left, nil
		}
	}
}

// operand := not expr | true | false | ( expr ) | value = value
func (p *parser) operand() (Expr, error) {
	switch p.peek() {
	case tNot:
		p.next()
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		return notExpr{e}, nil
	case tTrue:
		p.next()
		return boolExpr(true), nil
	case tFalse:
		p.next()
		return boolExpr(false), nil
	case tLParen:
		p.next()
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.next().kind != tRParen {
			return nil, errParse
		}
		return e, nil
	}
	l, err := p.value()
	if err != nil {
		return nil, err
	}
	if p.next().kind != tEq {
		return nil, errParse
	}
	r, err := p.value()
	if err != nil {
		return nil, err
	}
	return eqExpr{l, r}, nil
}

// value := "literal" | field "column"
func (p *parser) value() (value, error) {
	t := p.next()
	switch t.kind {
	case tIdent:
		return value{text: t.text}, nil
	case tField:
		if c := p.next(); c.kind == tIdent {
			return value{field: true, text: c.text}, nil
		}
	}
	return value{}, errParse
}

// Package where is xapi's query language for get_all_records_where and get_all_where
// (protocol.md §8.3): equality of fields and literals combined with and, or, not.
//
// Values are compared as the strings xapi's database stores, so the package only needs a
// function that returns a row's column as that string.
package where

import (
	"fmt"
)

// Expr is a parsed expression.
type Expr interface {
	// Eval evaluates the expression on one row. col returns the stored string of a
	// column and whether the column exists.
	Eval(col func(name string) (string, bool)) (bool, error)
}

// MissingFieldError is raised by Eval for an unknown column; xapi reports it as
// INTERNAL_ERROR ["missing field", column, ""].
type MissingFieldError struct{ Column string }

func (e *MissingFieldError) Error() string { return "missing field " + e.Column }

// ParseError is a malformed expression. Text is what xapi prints for the OCaml exception
// (the second parameter of INVALID_VALUE [expr, text]).
type ParseError struct{ Text string }

func (e *ParseError) Error() string { return e.Text }

// xapi's lexer and parser exceptions as Printexc prints them.
var (
	errParse = &ParseError{Text: "Parsing.Parse_error"}
	errLex   = &ParseError{Text: `Failure("lexing: empty token")`}
)

type (
	boolExpr bool
	notExpr  struct{ e Expr }
	andExpr  struct{ l, r Expr }
	orExpr   struct{ l, r Expr }
	eqExpr   struct{ l, r value }
	value    struct {
		field bool
		text  string
	}
)

func (b boolExpr) Eval(func(string) (string, bool)) (bool, error) { return bool(b), nil }

func (n notExpr) Eval(col func(string) (string, bool)) (bool, error) {
	v, err := n.e.Eval(col)
	return !v, err
}

func (a andExpr) Eval(col func(string) (string, bool)) (bool, error) {
	l, err := a.l.Eval(col)
	if err != nil || !l {
		return false, err
	}
	return a.r.Eval(col)
}

func (o orExpr) Eval(col func(string) (string, bool)) (bool, error) {
	l, err := o.l.Eval(col)
	if err != nil || l {
		return l, err
	}
	return o.r.Eval(col)
}

func (e eqExpr) Eval(col func(string) (string, bool)) (bool, error) {
	l, err := e.l.get(col)
	if err != nil {
		return false, err
	}
	r, err := e.r.get(col)
	return l == r, err
}

func (v value) get(col func(string) (string, bool)) (string, error) {
	if !v.field {
		return v.text, nil
	}
	s, ok := col(v.text)
	if !ok {
		return "", &MissingFieldError{Column: v.text}
	}
	return s, nil
}

// String shows the parsed tree; used by tests.
func (v value) String() string {
	if v.field {
		return fmt.Sprintf("field %q", v.text)
	}
	return fmt.Sprintf("%q", v.text)
}

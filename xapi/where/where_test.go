package where

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEval(t *testing.T) {
	row := map[string]string{"power_state": "Running", "is_a_template": "false", "name__label": "web 1"}
	col := func(c string) (string, bool) { v, ok := row[c]; return v, ok }
	for _, tc := range []struct {
		expr string
		want bool
	}{
		{`true`, true},
		{`false`, false},
		{`field "power_state"="Running"`, true},
		{`field "power_state" = "Halted"`, false},
		{`"a"="a"`, true},
		{`field "power_state"="Running" and not (field "is_a_template"="true")`, true},
		{`field "name__label"="web 1" or false`, true},
		{`not true and false`, true}, // not (true and false): not binds weakest
		{`false and true or true`, true},
		{`(false and true) or true`, true},
		{`true and not false or false`, true},
		{"\tfield\n\"is_a_template\"=\"false\"", true},
	} {
		e, err := Parse(tc.expr)
		require.NoError(t, err, tc.expr)
		got, err := e.Eval(col)
		require.NoError(t, err, tc.expr)
		assert.Equal(t, tc.want, got, tc.expr)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ expr, text string }{
		{`field "a"`, "Parsing.Parse_error"},
		{`field "a" = `, "Parsing.Parse_error"},
		{`(true`, "Parsing.Parse_error"},
		{`true true`, "Parsing.Parse_error"},
		{``, "Parsing.Parse_error"},
		{`name_label="x"`, `Failure("lexing: empty token")`},
		{`"unterminated`, `Failure("lexing: empty token")`},
		{`field 'a'='b'`, `Failure("lexing: empty token")`},
	} {
		_, err := Parse(tc.expr)
		var pe *ParseError
		require.ErrorAs(t, err, &pe, tc.expr)
		assert.Equal(t, tc.text, pe.Text, tc.expr)
	}
}

func TestMissingField(t *testing.T) {
	e, err := Parse(`field "nope"="x"`)
	require.NoError(t, err)
	_, err = e.Eval(func(string) (string, bool) { return "", false })
	var mf *MissingFieldError
	require.ErrorAs(t, err, &mf)
	assert.Equal(t, "nope", mf.Column)
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`true`, `field "a"="b" and not (false or "x"="y")`, `((`, `"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err == nil {
			_, _ = e.Eval(func(string) (string, bool) { return "v", true })
		}
	})
}

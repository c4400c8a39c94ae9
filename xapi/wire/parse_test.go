package wire

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseXMLRPC(t *testing.T) {
	call := func(params string) string {
		return `<?xml version="1.0"?>` + "\n<methodCall>\n <methodName>VM.start</methodName>\n <params>" + params + "</params>\n</methodCall>\n"
	}
	for _, tc := range []struct {
		name, body string
		want       []any
	}{
		{"untagged string", call(`<param><value>OpaqueRef:a</value></param>`), []any{"OpaqueRef:a"}},
		{"untagged keeps whitespace", call(`<param><value>  a b </value></param>`), []any{"  a b "}},
		{"tagged string", call(`<param><value><string>x</string></value></param>`), []any{"x"}},
		{"whitespace around a tag", call("<param><value>\n  <string>x</string>\n</value></param>"), []any{"x"}},
		{"empty value", call(`<param><value/></param><param><value></value></param><param><value><string/></value></param>`), []any{"", "", ""}},
		{"ints", call(`<param><value><int>1</int></value></param><param><value><i4>-2</i4></value></param><param><value><i8>8589934592</i8></value></param>`), []any{int64(1), int64(-2), int64(8589934592)}},
		{"double", call(`<param><value><double>1.5</double></value></param>`), []any{1.5}},
		{"boolean true only for 1", call(`<param><value><boolean>1</boolean></value></param><param><value><boolean>true</boolean></value></param>`), []any{true, false}},
		{"datetime and base64", call(`<param><value><dateTime.iso8601>20240420T12:00:00Z</dateTime.iso8601></value></param><param><value><base64>eA==</base64></value></param>`), []any{DateTime("20240420T12:00:00Z"), Base64("eA==")}},
		{"nil", call(`<param><value><nil/></value></param>`), []any{nil}},
		{"array and struct", call(`<param><value><array><data><value>a</value><value><struct><member><name>k</name><value>v</value></member><member><name>k</name><value>w</value></member></struct></value></data></array></value></param>`),
			[]any{[]any{"a", Struct{{"k", "v"}, {"k", "w"}}}}},
		{"empty array and struct", call(`<param><value><array><data/></array></value></param><param><value><struct/></value></param>`), []any{[]any{}, Struct{}}},
		{"entities and CDATA", call(`<param><value>&lt;&amp;&gt;&quot;&apos;&#65;&#x42;<![CDATA[<c>]]></value></param>`), []any{`<&>"'AB<c>`}},
		{"comments", call(`<!-- c --><param><!-- c --><value>x</value></param>`), []any{"x"}},
		{"no params", `<methodCall><methodName>m</methodName><params/></methodCall>`, []any{}},
	} {
		req, err := ParseXMLRPC([]byte(tc.body))
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, req.Params, tc.name)
	}
	req, err := ParseXMLRPC([]byte(call("")))
	require.NoError(t, err)
	assert.Equal(t, "VM.start", req.Method)
}

// TestParseXMLRPCRejects lists requests that xapi answers with HTTP 500.
func TestParseXMLRPCRejects(t *testing.T) {
	for _, body := range []string{
		``,
		`<methodCall><methodName>m</methodName></methodCall>`,
		`<methodCall><methodName>m</methodName><params><param><value><foo>1</foo></value></param></params></methodCall>`,
		`<methodCall><methodName>m</methodName><params><param><value><int>x</int></value></param></params></methodCall>`,
		`<methodCall><methodName>m</methodName><params><param><value><int></int></value></param></params></methodCall>`,
		`<methodCall><methodName>m</methodName><params><param><value><double>one</double></value></param></params></methodCall>`,
		`<methodCall><methodName>m</methodName><params><param><value>x</value>`,
		`<methodCall><methodName>m</methodName><params><param><value>&bogus;</value></param></params></methodCall>`,
		`<methodCall><methodName>m</methodName><params></params></methodCall><extra/>`,
		`{"method":"m"}`,
		`<methodCall><methodName>m</methodName><params><param><value>text<string>x</string></value></param></params></methodCall>`,
		`<methodCall><methodName>m</methodName><params><param><value>` + strings.Repeat("<array><data><value>", 100) + `x` + strings.Repeat("</value></data></array>", 100) + `</value></param></params></methodCall>`,
	} {
		_, err := ParseXMLRPC([]byte(body))
		assert.Error(t, err, body)
	}
}

func TestParseJSONRPC(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		v2         bool
		id         string
		params     []any
	}{
		{"v2", `{"jsonrpc":"2.0","method":"m","params":["a",1,2.5,true,null],"id":0}`, true, `0`, []any{"a", int64(1), 2.5, true, nil}},
		{"v1", `{"method":"m","params":[],"id":"abc"}`, false, `"abc"`, []any{}},
		{"v2 without params", `{"jsonrpc":"2.0","method":"m","id":1}`, true, `1`, []any{}},
		{"v2 null params", `{"jsonrpc":"2.0","method":"m","params":null,"id":1}`, true, `1`, []any{}},
		{"v2 object params", `{"jsonrpc":"2.0","method":"m","params":{"a":1},"id":1}`, true, `1`, []any{Struct{{"a", int64(1)}}}},
		{"escapes", `{"method":"m","params":["\u00e9\n\"\\\/\ud83d\ude00"],"id":1}`, false, `1`, []any{"é\n\"\\/😀"}},
		{"order kept", `{"method":"m","params":[{"b":1,"a":2}],"id":-5}`, false, `-5`, []any{Struct{{"b", int64(1)}, {"a", int64(2)}}}},
		{"exponent is a float", `{"method":"m","params":[1e2],"id":1}`, false, `1`, []any{100.0}},
	} {
		req, err := ParseJSONRPC([]byte(tc.body))
		require.NoError(t, err, tc.name)
		assert.Equal(t, "m", req.Method, tc.name)
		assert.Equal(t, tc.v2, req.JSONVersion2, tc.name)
		assert.Equal(t, tc.id, string(req.ID), tc.name)
		assert.Equal(t, tc.params, req.Params, tc.name)
	}
}

// TestParseJSONRPCRejects lists requests that xapi answers with HTTP 500 (protocol.md §3.6).
func TestParseJSONRPCRejects(t *testing.T) {
	for _, body := range []string{
		``,
		`[{"method":"m","params":[],"id":1}]`,
		`{"jsonrpc":"1.0","method":"m","params":[],"id":1}`,
		`{"jsonrpc":2,"method":"m","params":[],"id":1}`,
		`{"params":[],"id":1}`,
		`{"method":5,"params":[],"id":1}`,
		`{"method":"m","id":1}`,
		`{"method":"m","params":{},"id":1}`,
		`{"method":"m","params":[]}`,
		`{"method":"m","params":[],"id":null}`,
		`{"method":"m","params":[],"id":1.5}`,
		`{"method":"m","params":[],"id":[1]}`,
		`{"method":"m","params":[99999999999999999999],"id":1}`,
		`{"method":"m","params":[01],"id":1}`,
		`{"method":"m","params":["a],"id":1}`,
		`{"method":"m","params":[],"id":1} x`,
		`{"method":"m","params":["` + "\x01" + `"],"id":1}`,
	} {
		_, err := ParseJSONRPC([]byte(body))
		assert.Error(t, err, body)
	}
}

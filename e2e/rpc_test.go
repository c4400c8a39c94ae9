package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// APIError is a XenAPI error as a client sees it: the code and its parameters.
type APIError []string

func (e APIError) Error() string { return strings.Join(e, " ") }

// JSONRPC is a minimal JSON-RPC 2.0 client, like the Go SDK's (id 0, POST /jsonrpc).
type JSONRPC struct {
	URL     string
	Session string
}

// Post sends one raw body and returns the reply's status, content type and body.
func Post(t testing.TB, url, body string) (int, string, []byte) {
	t.Helper()
	resp, err := http.Post(url, "", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), data
}

// Call sends a method with raw params (the session is not added). Transport failures and
// malformed replies fail the test; API errors are returned as APIError.
func (c *JSONRPC) Call(t testing.TB, method string, params ...any) (any, error) {
	t.Helper()
	v, err := c.Try(method, params...)
	if _, api := err.(APIError); err != nil && !api {
		t.Fatalf("%s: %v", method, err)
	}
	return v, err
}

// Try is Call without the test: usable from any goroutine, it returns transport and
// protocol failures as plain errors.
func (c *JSONRPC) Try(method string, params ...any) (any, error) {
	if params == nil {
		params = []any{}
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 0, "method": method, "params": params})
	resp, err := http.Post(c.URL+"/jsonrpc", "", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if ctype := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ctype != "application/json" {
		return nil, fmt.Errorf("HTTP %d %q: %s", resp.StatusCode, ctype, data)
	}
	var reply struct {
		Result any `json:"result"`
		Error  *struct {
			Code    int      `json:"code"`
			Message string   `json:"message"`
			Data    []string `json:"data"`
		} `json:"error"`
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&reply); err != nil {
		return nil, fmt.Errorf("bad reply %s: %v", data, err)
	}
	if reply.Error != nil {
		if reply.Error.Code != 1 {
			return nil, fmt.Errorf("error code %d in %s", reply.Error.Code, data)
		}
		return nil, append(APIError{reply.Error.Message}, reply.Error.Data...)
	}
	return reply.Result, nil
}

// S calls a method with the session prepended and fails the test on an API error.
func (c *JSONRPC) S(t testing.TB, method string, params ...any) any {
	t.Helper()
	v, err := c.Call(t, method, append([]any{c.Session}, params...)...)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return v
}

// Err calls a method with the session prepended and returns its API error (nil if none).
func (c *JSONRPC) Err(t testing.TB, method string, params ...any) APIError {
	t.Helper()
	_, err := c.Call(t, method, append([]any{c.Session}, params...)...)
	if err == nil {
		return nil
	}
	return err.(APIError)
}

// Login logs in as the server's root.
func Login(t testing.TB, s *Server) *JSONRPC {
	t.Helper()
	c := &JSONRPC{URL: s.URL}
	v, err := c.Call(t, "session.login_with_password", s.User, s.Password)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	c.Session = v.(string)
	return c
}

// XMLCall posts an XML-RPC methodCall with string params to path and returns the body.
func XMLCall(t testing.TB, url, path, method string, params ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "<?xml version='1.0'?><methodCall><methodName>%s</methodName><params>", method)
	for _, p := range params {
		fmt.Fprintf(&b, "<param><value><string>%s</string></value></param>", p)
	}
	b.WriteString("</params></methodCall>")
	status, ctype, data := Post(t, url+path, b.String())
	if status != 200 || ctype != "text/xml" {
		t.Fatalf("%s: HTTP %d %q: %s", method, status, ctype, data)
	}
	return string(data)
}

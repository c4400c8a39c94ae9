package xapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/wire"
	"github.com/xapisim/xapisim/xapi/xapitest"
)

func errOf(r *wire.Reply) []string {
	if r.Err == nil {
		return nil
	}
	return append([]string{r.Err.Code}, r.Err.Params...)
}

// TestOrderOfChecks walks xapi's order of checks (protocol.md §0, §4): each row has
// several problems and expects the error of the earliest check.
func TestOrderOfChecks(t *testing.T) {
	srv := xapitest.NewServer(t)
	s := xapitest.Login(t, srv)
	vm := srv.NewObject("VM")
	_, err := srv.Store.Update(func(tx *store.Tx) error { tx.Put(vm); return nil })
	require.NoError(t, err)
	raw := func(method string, params ...any) []string {
		return errOf(srv.Dispatch(context.Background(), &wire.Request{Method: method, Params: params}, nil))
	}
	for _, tc := range []struct {
		name   string
		method string
		params []any
		want   []string
	}{
		{"unknown without params", "VM.bogus", nil, []string{"MESSAGE_METHOD_UNKNOWN", "VM.bogus"}},
		{"unknown, Async. stripped", "Async.VM.bogus", nil, []string{"MESSAGE_METHOD_UNKNOWN", "VM.bogus"}},
		{"unknown with a junk session", "VM.bogus", []any{"junk"}, []string{"SESSION_INVALID", "junk"}},
		{"unknown with a good session", "VM.bogus", []any{s}, []string{"MESSAGE_METHOD_UNKNOWN", "VM.bogus"}},
		{"method names are case-sensitive", "vm.get_record", []any{s, vm.Ref}, []string{"MESSAGE_METHOD_UNKNOWN", "vm.get_record"}},
		{"count before types", "VM.start", []any{int64(5), int64(6)}, []string{"MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start", "3", "1"}},
		{"no params at all", "VM.start", nil, []string{"MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start", "3", "-1"}},
		{"too many without defaults", "VM.get_record", []any{s, vm.Ref, "x"}, []string{"MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.get_record", "1", "2"}},
		{"types before the session", "VM.get_record", []any{"junk", int64(5)}, []string{"INTERNAL_ERROR", `Failure("Expected string, got 'I(5)'")`}},
		{"a non-string session", "VM.get_record", []any{int64(1), vm.Ref}, []string{"INTERNAL_ERROR", `Failure("Expected string, got 'I(1)'")`}},
		{"session before the handler", "VM.get_record", []any{"junk", "OpaqueRef:x"}, []string{"SESSION_INVALID", "junk"}},
		{"session before removed", "VM.snapshot_with_quiesce", []any{"junk", vm.Ref, "x"}, []string{"SESSION_INVALID", "junk"}},
		{"removed", "VM.snapshot_with_quiesce", []any{s, vm.Ref, "x"}, []string{"MESSAGE_REMOVED"}},
		{"no async form", "Async.VM.get_record", []any{s, vm.Ref}, []string{"Fault", "No async mode for this operation (rpc: VM.get_record)"}},
		{"handler errors last", "VM.get_record", []any{s, "OpaqueRef:x"}, []string{"HANDLE_INVALID", "VM", "OpaqueRef:x"}},
		{"a ref of another class", "host.get_record", []any{s, vm.Ref}, []string{"HANDLE_INVALID", "host", vm.Ref}},
		{"Async of the alias is unknown", "Async.VM_get_record", []any{s, vm.Ref}, []string{"MESSAGE_METHOD_UNKNOWN", "VM_get_record"}},
		{"invalid UTF-8", "VM.get_record", []any{s, "\xff"}, []string{"INVALID_VALUE", "Invalid UTF-8 string in parameter", "\xff"}},
		{"empty map key", "VM.add_to_other_config", []any{s, vm.Ref, "", "v"}, []string{"INTERNAL_ERROR", "Db_exn.Empty_key_in_map"}},
	} {
		assert.Equal(t, tc.want, raw(tc.method, tc.params...), tc.name)
	}
}

func TestDispatchAccepts(t *testing.T) {
	srv := xapitest.NewServer(t)
	s := xapitest.Login(t, srv)
	vm := srv.NewObject("VM")
	_, err := srv.Store.Update(func(tx *store.Tx) error { tx.Put(vm); return nil })
	require.NoError(t, err)
	call := func(method string, params ...any) *wire.Reply {
		return srv.Dispatch(context.Background(), &wire.Request{Method: method, Params: params}, nil)
	}
	for _, n := range []int{2, 3, 4, 5} {
		params := []any{"root", xapitest.Password, "1.0", "orig", "extra"}[:n]
		r := call("session.login_with_password", params...)
		assert.Nil(t, r.Err, "login with %d params", n)
	}
	assert.Nil(t, call("VM.set_user_version", s, vm.Ref, "4").Err, "an int sent as a string")
	assert.Equal(t, int64(4), call("VM.get_user_version", s, vm.Ref).Value)
	assert.Nil(t, call("VM.set_actions_after_reboot", s, vm.Ref, "RESTART").Err, "enums ignore case")
	r := call("VM.get_actions_after_reboot", s, vm.Ref)
	assert.Equal(t, "restart", r.Value)
	r = call("VM_get_name_label", s, vm.Ref)
	assert.Nil(t, r.Err, "the Class_msg alias")
	r = call("system.listMethods")
	names := r.Value.([]any)
	assert.True(t, r.Bare)
	assert.Contains(t, names, "VM.get_all_records")
	for _, n := range names {
		assert.False(t, strings.HasPrefix(n.(string), "Async."))
	}
	assert.Equal(t, "hello", call("system.isAlive:x", "hello").Value)
	assert.Equal(t, []string{"SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"}, errOf(call("session.login_with_password", "root", "bad")))
	assert.Equal(t, []string{"SESSION_AUTHENTICATION_FAILED", "alice", "Authentication failure"}, errOf(call("session.login_with_password", "alice", "x")))
}

func TestAsyncCallRunsInATask(t *testing.T) {
	srv := xapitest.NewServer(t)
	s := xapitest.Login(t, srv)
	r := xapitest.Call(srv, "Async.VM.create", s, map[string]any{})
	require.NotNil(t, r.Err, "the constructor record is checked before the task")
	assert.Equal(t, "INTERNAL_ERROR", r.Err.Code)

	srv.Handle("VM.clean_reboot", func(c *xapi.Call) (any, error) { return nil, nil })
	vm := srv.NewObject("VM")
	_, err := srv.Store.Update(func(tx *store.Tx) error { tx.Put(vm); return nil })
	require.NoError(t, err)
	r = xapitest.Call(srv, "Async.VM.clean_reboot", s, vm.Ref)
	require.Nil(t, r.Err)
	task := r.Value.(string)
	require.Eventually(t, func() bool {
		return xapi.Str(srv.Store.Get("task", task), "status") != "pending"
	}, 5*time.Second, 10*time.Millisecond)
	o := srv.Store.Get("task", task)
	assert.Equal(t, "success", xapi.Str(o, "status"))
	assert.Equal(t, "Async.VM.clean_reboot", xapi.Str(o, "name_label"))
	assert.Equal(t, "<value></value>", xapi.Str(o, "result"))
	assert.Equal(t, 1.0, xapi.Float(o, "progress"))

	r = xapitest.Call(srv, "Async.VM.destroy", s, "OpaqueRef:bogus")
	require.Nil(t, r.Err)
	task = r.Value.(string)
	require.Eventually(t, func() bool {
		return xapi.Str(srv.Store.Get("task", task), "status") != "pending"
	}, 5*time.Second, 10*time.Millisecond)
	o = srv.Store.Get("task", task)
	assert.Equal(t, "failure", xapi.Str(o, "status"))
	assert.Equal(t, []string{"HANDLE_INVALID", "VM", "OpaqueRef:bogus"}, xapi.Refs(o, "error_info"))
}

func TestPanicBecomesInternalError(t *testing.T) {
	srv := xapitest.NewServer(t)
	s := xapitest.Login(t, srv)
	srv.Handle("VM.clean_reboot", func(c *xapi.Call) (any, error) { panic("boom") })
	r := xapitest.Call(srv, "VM.clean_reboot", s, "OpaqueRef:x")
	assert.Equal(t, []string{"INTERNAL_ERROR", "boom"}, errOf(r))
	assert.Nil(t, xapitest.Call(srv, "pool.get_all", s).Err, "the server keeps serving")
}

func TestHTTPRouting(t *testing.T) {
	srv := xapitest.NewServer(t)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	jsonBody := `{"jsonrpc":"2.0","id":1,"method":"session.login_with_password","params":["root","bad"]}`
	xmlBody := `<methodCall><methodName>session.login_with_password</methodName><params><param><value>root</value></param><param><value>bad</value></param></params></methodCall>`
	for _, tc := range []struct {
		method, path, body string
		status             int
		ctype              string
	}{
		{"POST", "/jsonrpc", jsonBody, 200, "application/json"},
		{"POST", "/jsonrpc/x?y", jsonBody, 200, "application/json"},
		{"POST", "/", xmlBody, 200, "text/xml"},
		{"POST", "/RPC2", xmlBody, 200, "text/xml"},
		{"POST", "/jsonx", xmlBody, 200, "text/xml"},
		{"POST", "/json", xmlBody, 200, "text/xml"},
		{"POST", "/", jsonBody, 500, "text/html"},
		{"GET", "/", "", 403, "text/html"},
		{"DELETE", "/", "", 501, "text/html"},
		{"OPTIONS", "/jsonrpc", "", 200, ""},
	} {
		req, _ := http.NewRequest(tc.method, hs.URL+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // never read
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, tc.status, resp.StatusCode, "%s %s", tc.method, tc.path)
		assert.Equal(t, tc.ctype, resp.Header.Get("Content-Type"), "%s %s", tc.method, tc.path)
	}
}

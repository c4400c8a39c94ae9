package cluster_test

import (
	"testing"

	"github.com/xapisim/xapisim/cluster"
)

func TestHostCallExtension(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	host := p.first("host", "true")
	other := p.otherHost(host)
	malformed := func(reason string) []string {
		return []string{"INTERNAL_ERROR", `Jsonrpc.Malformed_method_request("` + reason + `")`}
	}
	call := func(name, body string, want []string) errorCase {
		return errorCase{name, "host.call_extension", []any{host, body}, want}
	}
	p.ok("host.disable", other)
	p.ok("host.shutdown", other)
	p.expectErrors([]errorCase{
		call("v1 call", `{"method": "Test.test", "params": [], "id": 1}`, []string{"MESSAGE_METHOD_UNKNOWN", "Test.test"}),
		call("v2 call without params", `{"jsonrpc": "2.0", "method": "Test.test", "id": "a"}`, []string{"MESSAGE_METHOD_UNKNOWN", "Test.test"}),
		call("v2 call with named params", `{"jsonrpc": "2.0", "method": "Test.test", "params": {"x": 1}, "id": 2}`, []string{"MESSAGE_METHOD_UNKNOWN", "Test.test"}),
		call("blank", " ", []string{"INTERNAL_ERROR", `Yojson.Json_error("Blank input data")`}),
		call("not JSON", `Test.test`, []string{"INTERNAL_ERROR", `Yojson.Json_error("Invalid token")`}),
		call("null", `null`, malformed("Invalid request body")),
		call("not an object", `["Test.test"]`, malformed("Invalid request body")),
		call("no method", `{"params": [], "id": 1}`, malformed("Required field method is missing")),
		call("method not a string", `{"method": 1, "params": [], "id": 1}`, malformed("Invalid field 'method' in request body")),
		call("bad version", `{"jsonrpc": "1.0", "method": "m", "params": [], "id": 1}`, malformed("Invalid field 'jsonrpc' in request body")),
		call("v1 without params", `{"method": "m", "id": 1}`, malformed("Required field params is missing")),
		call("v1 named params", `{"method": "m", "params": {}, "id": 1}`, malformed("Invalid field 'params' in request body")),
		call("v2 scalar params", `{"jsonrpc": "2.0", "method": "m", "params": 3, "id": 1}`, malformed("Invalid field 'params' in request body")),
		call("no id", `{"method": "m", "params": []}`, malformed("Invalid field 'id' in request body")),
		call("float id", `{"method": "m", "params": [], "id": 1.5}`, malformed("Invalid field 'id' in request body")),
		{"bogus host", "host.call_extension", []any{bogus, "{}"}, []string{"HANDLE_INVALID", "host", bogus}},
		{"host down", "host.call_extension", []any{other, "{}"}, []string{"HOST_OFFLINE", other}},
	})
}

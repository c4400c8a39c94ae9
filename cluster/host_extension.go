package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Host extensions (xapi_host.ml, xapi_extensions.ml): a call is a JSON-RPC request naming
// a script of dom0's extensions directory. The simulated hosts have none, so every
// well-formed call names an unknown method.

// malformedExtensionCall is the INTERNAL_ERROR xapi gives when rpclib rejects the call.
func malformedExtensionCall(reason string) error {
	return apierror.New(apierror.InternalError, fmt.Sprintf("Jsonrpc.Malformed_method_request(%q)", reason))
}

// extensionMethod parses a JSON-RPC call as rpclib does and returns its method. Yojson's
// syntax errors (uncaught, so INTERNAL_ERROR) name the line and bytes of the bad token;
// the simulation gives blank input its exact error and any other syntax error a shorter
// text.
func extensionMethod(call string) (string, error) {
	if strings.TrimSpace(call) == "" {
		return "", apierror.New(apierror.InternalError, `Yojson.Json_error("Blank input data")`)
	}
	if !json.Valid([]byte(call)) {
		return "", apierror.New(apierror.InternalError, `Yojson.Json_error("Invalid token")`)
	}
	var body map[string]json.RawMessage
	if json.Unmarshal([]byte(call), &body) != nil || body == nil {
		return "", malformedExtensionCall("Invalid request body")
	}
	field := func(name string) (any, bool) {
		raw, ok := body[name]
		if !ok {
			return nil, false
		}
		var v any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		_ = d.Decode(&v)
		return v, true
	}
	m, ok := field("method")
	if !ok {
		return "", malformedExtensionCall("Required field method is missing")
	}
	method, isString := m.(string)
	if !isString {
		return "", malformedExtensionCall("Invalid field 'method' in request body")
	}
	v2 := false
	if version, ok := field("jsonrpc"); ok {
		if version != "2.0" {
			return "", malformedExtensionCall("Invalid field 'jsonrpc' in request body")
		}
		v2 = true
	}
	params, ok := field("params")
	switch _, isList := params.([]any); {
	case v2 && !isList && params != nil:
		if _, isDict := params.(map[string]any); !isDict {
			return "", malformedExtensionCall("Invalid field 'params' in request body")
		}
	case !v2 && !ok:
		return "", malformedExtensionCall("Required field params is missing")
	case !v2 && !isList:
		return "", malformedExtensionCall("Invalid field 'params' in request body")
	}
	switch id, _ := field("id"); id.(type) {
	case string:
	case json.Number:
		if _, err := id.(json.Number).Int64(); err != nil {
			return "", malformedExtensionCall("Invalid field 'id' in request body")
		}
	default:
		return "", malformedExtensionCall("Invalid field 'id' in request body")
	}
	return method, nil
}

func (p *Sim) registerHostExtension() {
	s := p.srv
	s.Handle("host.call_extension", func(c *xapi.Call) (any, error) {
		if _, err := liveHost(s.Store, c.StringArg(0)); err != nil {
			return nil, err
		}
		method, err := extensionMethod(c.StringArg(1))
		if err != nil {
			return nil, err
		}
		return nil, apierror.New(apierror.MessageMethodUnknown, method)
	})
}

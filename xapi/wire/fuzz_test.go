package wire

import (
	"reflect"
	"testing"
)

var xmlSeeds = []string{
	`<?xml version='1.0'?><methodCall><methodName>VM.get_record</methodName><params><param><value><string>OpaqueRef:S</string></value></param><param><value>OpaqueRef:V</value></param></params></methodCall>`,
	`<methodCall><methodName>x</methodName><params/></methodCall>`,
	`<methodCall><methodName>x</methodName><params><param><value><struct><member><name>a</name><value><array><data><value><i4>5</i4></value><value><double>1.5</double></value><value><boolean>1</boolean></value></data></array></value></member></struct></value></param></params></methodCall>`,
	`<methodCall><methodName>x</methodName><params><param><value><dateTime.iso8601>20240420T12:00:00Z</dateTime.iso8601></value></param><param><value><nil/></value></param><param><value>a &amp; &#60; <![CDATA[<b>]]></value></param></params></methodCall>`,
}

var jsonSeeds = []string{
	`{"jsonrpc":"2.0","id":0,"method":"session.login_with_password","params":["root","pw"]}`,
	`{"id":"abc","method":"VM.get_record","params":["OpaqueRef:S",{"a":[1,2.5,true,null,"x\u00e9"]}]}`,
	`{"jsonrpc":"2.0","id":7,"method":"m","params":{"k":"v"}}`,
	`{"jsonrpc":"2.0","id":7,"method":"m"}`,
}

// FuzzParseXMLRPC: the parser never panics or hangs, and a request it accepts, encoded
// again, parses back to the same raw values.
func FuzzParseXMLRPC(f *testing.F) {
	for _, s := range xmlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseXMLRPC(body)
		if err != nil {
			return
		}
		again, err := ParseXMLRPC(encodeRawXML(req))
		if err != nil {
			t.Fatalf("re-encoded request does not parse: %v", err)
		}
		if !reflect.DeepEqual(normalise(req.Params), normalise(again.Params)) {
			t.Fatalf("round trip changed the params: %#v != %#v", req.Params, again.Params)
		}
	})
}

// FuzzParseJSONRPC: the same property for JSON-RPC.
func FuzzParseJSONRPC(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseJSONRPC(body)
		if err != nil {
			return
		}
		again, err := ParseJSONRPC(encodeRawJSON(req))
		if err != nil {
			t.Fatalf("re-encoded request does not parse: %v", err)
		}
		if req.Method != again.Method || !reflect.DeepEqual(normalise(req.Params), normalise(again.Params)) {
			t.Fatalf("round trip changed the request: %#v != %#v", req, again)
		}
	})
}

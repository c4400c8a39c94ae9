// Package wire is the XenAPI's two wire formats, XML-RPC and JSON-RPC, exactly as xapi
// speaks them (protocol.md §1–3): request parsers producing raw values, Convert to check
// raw values against datamodel types with xapi's input tolerance, encoders by datamodel
// type, whole replies, and the gorilla/rpc codecs that read HTTP bodies under xapi's rules.
package wire

// Raw values are what the decoders produce before types are known, like rpclib's Rpc.t:
//
//	string    untagged <value>x</value>, <value/>, <string>; a JSON string
//	int64     <int>, <i4>, <i8>; a JSON integer
//	float64   <double>; a JSON number with a fraction or exponent
//	bool      <boolean>; JSON true and false
//	DateTime  <dateTime.iso8601>
//	Base64    <base64>
//	[]any     <array>; a JSON array
//	Struct    <struct>; a JSON object
//	nil       <nil/>; JSON null

// DateTime is the text of an XML-RPC <dateTime.iso8601>.
type DateTime string

// Base64 is the text of an XML-RPC <base64>.
type Base64 string

// KV is one member of a struct, or one entry of an ordered map value.
type KV struct {
	Key   string
	Value any
}

// Struct is a raw struct: its members in order, duplicates kept.
type Struct []KV

// Protocol is a wire format.
type Protocol uint8

const (
	XMLRPC Protocol = iota
	JSONRPC
)

// Request is one decoded call.
type Request struct {
	Protocol Protocol
	Method   string
	Params   []any // raw values
	// JSONVersion2 is set for JSON-RPC 2.0 requests; ID is the request's id as sent,
	// echoed verbatim in the reply.
	JSONVersion2 bool
	ID           []byte
}

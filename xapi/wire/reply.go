package wire

import (
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// Reply is the outcome of one call: a value of a type, or an API error.
type Reply struct {
	Type  *datamodel.Type
	Value any
	Err   *apierror.Error
	// Bare replies carry the value alone, without the Status wrapper, in XML-RPC: only
	// system.listMethods answers so (protocol.md §2.2).
	Bare bool
}

// AppendXMLRPCResponse appends a whole methodResponse, on one line as xapi writes it:
// {Status: Success, Value} or {Status: Failure, ErrorDescription: [code, params…]}.
func AppendXMLRPCResponse(buf []byte, r *Reply) []byte {
	buf = append(buf, `<?xml version="1.0"?><methodResponse><params><param>`...)
	switch {
	case r.Err != nil:
		buf = append(buf, "<value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name><value><array><data>"...)
		buf = appendXMLString(buf, r.Err.Code)
		for _, p := range r.Err.Params {
			buf = appendXMLString(buf, p)
		}
		buf = append(buf, "</data></array></value></member></struct></value>"...)
	case r.Bare:
		buf = AppendXMLRPC(buf, r.Type, r.Value)
	default:
		buf = append(buf, "<value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name>"...)
		buf = AppendXMLRPC(buf, replyType(r), r.Value)
		buf = append(buf, "</member></struct></value>"...)
	}
	return append(buf, "</param></params></methodResponse>"...)
}

// AppendJSONRPCResponse appends a whole JSON-RPC reply in the request's version
// (protocol.md §3.2–3.3). Error data is always an array of strings; version 2.0 has no
// "error":null on success and its error code is always 1.
func AppendJSONRPCResponse(buf []byte, req *Request, r *Reply) []byte {
	id := req.ID
	if len(id) == 0 {
		id = []byte("null")
	}
	if req.JSONVersion2 {
		buf = append(buf, `{"jsonrpc":"2.0",`...)
		if r.Err != nil {
			buf = append(buf, `"error":{"code":1,"message":`...)
			buf = AppendJSONString(buf, r.Err.Code)
			buf = append(buf, `,"data":`...)
			buf = appendJSONStrings(buf, r.Err.Params)
			buf = append(buf, '}')
		} else {
			buf = append(buf, `"result":`...)
			buf = AppendJSON(buf, replyType(r), r.Value)
		}
	} else {
		if r.Err != nil {
			buf = append(buf, `{"result":null,"error":`...)
			buf = appendJSONStrings(buf, append([]string{r.Err.Code}, r.Err.Params...))
		} else {
			buf = append(buf, `{"result":`...)
			buf = AppendJSON(buf, replyType(r), r.Value)
			buf = append(buf, `,"error":null`...)
		}
	}
	buf = append(buf, `,"id":`...)
	buf = append(buf, id...)
	return append(buf, '}')
}

var voidType = &datamodel.Type{Kind: datamodel.Void}

func replyType(r *Reply) *datamodel.Type {
	if r.Type == nil {
		return voidType
	}
	return r.Type
}

func appendXMLString(buf []byte, s string) []byte {
	buf = append(buf, "<value>"...)
	buf = appendXMLText(buf, s)
	return append(buf, "</value>"...)
}

func appendJSONStrings(buf []byte, ss []string) []byte {
	buf = append(buf, '[')
	for i, s := range ss {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = AppendJSONString(buf, s)
	}
	return append(buf, ']')
}

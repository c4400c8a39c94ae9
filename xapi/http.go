package xapi

import (
	"net/http"
	"strings"

	rpc "github.com/gorilla/rpc/v2"

	"github.com/xapisim/xapisim/xapi/wire"
)

var (
	jsonCodec rpc.Codec = wire.JSONRPCCodec{}
	xmlCodec  rpc.Codec = wire.XMLRPCCodec{}
)

// ServeHTTP routes as xapi does (protocol.md §1.1): the protocol is chosen by the path
// alone — POST /jsonrpc… is JSON-RPC and every other POST path is XML-RPC — and never by
// Content-Type.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		codec := xmlCodec
		if strings.HasPrefix(r.URL.Path, "/jsonrpc") {
			codec = jsonCodec
		}
		s.serveRPC(codec, w, r)
	case http.MethodOptions:
		// CORS preflight (protocol.md §1.3).
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		allow := "X-Requested-With"
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			allow = req + ", " + allow
		}
		h.Set("Access-Control-Allow-Headers", allow)
		h.Set("Access-Control-Allow-Methods", "PUT")
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
	case http.MethodGet, http.MethodPut:
		// xapi has GET and PUT handlers, but none on the paths we do not serve.
		xmlCodec.NewRequest(r).WriteError(w, http.StatusForbidden, errForbidden)
	default:
		xmlCodec.NewRequest(r).WriteError(w, http.StatusNotImplemented, errNotImplemented)
	}
}

func (s *Server) serveRPC(codec rpc.Codec, w http.ResponseWriter, r *http.Request) {
	cr := codec.NewRequest(r)
	if _, err := cr.Method(); err != nil {
		cr.WriteError(w, http.StatusInternalServerError, err)
		return
	}
	var req wire.Request
	if err := cr.ReadRequest(&req); err != nil {
		cr.WriteError(w, http.StatusInternalServerError, err)
		return
	}
	cr.WriteResponse(w, s.Dispatch(r.Context(), &req, r.Header))
}

type httpError string

func (e httpError) Error() string { return string(e) }

const (
	errForbidden      httpError = "Forbidden"
	errNotImplemented httpError = "Not Implemented"
)

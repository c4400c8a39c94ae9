package wire

import (
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"strconv"
	"sync"

	rpc "github.com/gorilla/rpc/v2"
)

// MaxBody is the largest RPC body xapi reads: 300 KiB (protocol.md §1.2).
const MaxBody = 300 * 1024

// XMLRPCCodec and JSONRPCCodec are gorilla/rpc v2 codecs for xapi's two protocols. The
// server picks one by path and drives the CodecRequest itself: gorilla's rpc.Server would
// pick by Content-Type, which xapi never reads.
type (
	XMLRPCCodec  struct{}
	JSONRPCCodec struct{}
)

// NewRequest implements rpc.Codec.
func (XMLRPCCodec) NewRequest(r *http.Request) rpc.CodecRequest {
	return &codecRequest{r: r, proto: XMLRPC}
}

// NewRequest implements rpc.Codec.
func (JSONRPCCodec) NewRequest(r *http.Request) rpc.CodecRequest {
	return &codecRequest{r: r, proto: JSONRPC}
}

type codecRequest struct {
	r     *http.Request
	proto Protocol
	req   *Request
	err   error
	read  bool
}

var (
	errNoLength = errors.New("Failure(\"Content-length not specified\")")
	errTooLarge = errors.New("Failure(\"Content-length exceeds the limit\")")
)

// parse reads the body under xapi's rules once: a Content-Length is required (chunked
// bodies are not supported) and may not exceed MaxBody.
func (c *codecRequest) parse() {
	if c.read {
		return
	}
	c.read = true
	n := c.r.ContentLength
	switch {
	case n < 0 || len(c.r.TransferEncoding) > 0:
		c.err = errNoLength
		return
	case n > MaxBody:
		c.err = errTooLarge
		return
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r.Body, body); err != nil {
		c.err = err
		return
	}
	if c.proto == JSONRPC {
		c.req, c.err = ParseJSONRPC(body)
	} else {
		c.req, c.err = ParseXMLRPC(body)
	}
}

// Method implements rpc.CodecRequest: it reads and parses the body.
func (c *codecRequest) Method() (string, error) {
	c.parse()
	if c.err != nil {
		return "", c.err
	}
	return c.req.Method, nil
}

// ReadRequest implements rpc.CodecRequest: args must be a *Request.
func (c *codecRequest) ReadRequest(args any) error {
	c.parse()
	if c.err != nil {
		return c.err
	}
	p, ok := args.(*Request)
	if !ok {
		return fmt.Errorf("wire: ReadRequest wants a *Request, not %T", args)
	}
	*p = *c.req
	return nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// WriteResponse implements rpc.CodecRequest: reply must be a *Reply. API errors are HTTP
// 200, as in xapi.
func (c *codecRequest) WriteResponse(w http.ResponseWriter, reply any) {
	r, ok := reply.(*Reply)
	if !ok {
		c.WriteError(w, http.StatusInternalServerError, fmt.Errorf("wire: WriteResponse wants a *Reply, not %T", reply))
		return
	}
	bp := bufPool.Get().(*[]byte)
	buf := (*bp)[:0]
	ctype := "text/xml"
	if c.proto == JSONRPC {
		ctype = "application/json"
		buf = AppendJSONRPCResponse(buf, c.req, r)
	} else {
		buf = AppendXMLRPCResponse(buf, r)
	}
	h := w.Header()
	h["Content-Type"] = []string{ctype}
	h["Access-Control-Allow-Origin"] = []string{"*"}
	h["Access-Control-Allow-Headers"] = []string{"X-Requested-With"}
	h["Cache-Control"] = []string{"no-cache, no-store"}
	h["Content-Length"] = []string{strconv.Itoa(len(buf))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf)
	if cap(buf) <= 1<<20 { // do not keep huge buffers alive
		*bp = buf
		bufPool.Put(bp)
	}
}

// WriteError implements rpc.CodecRequest with xapi's HTML error pages (protocol.md §1.3),
// closing the connection as xapi does.
func (c *codecRequest) WriteError(w http.ResponseWriter, status int, err error) {
	WriteErrorPage(w, status, err)
}

// WriteErrorPage writes one of xapi's HTML error pages.
func WriteErrorPage(w http.ResponseWriter, status int, err error) {
	var body string
	switch status {
	case http.StatusForbidden:
		body = "<html><body><h1>HTTP 403 forbidden</h1>Access to the requested resource is forbidden.</body></html>"
	case http.StatusNotImplemented:
		body = "<html><body><h1>HTTP 501 Not Implemented</h1>The requested method is not implemented.</body></html>"
	default:
		status = http.StatusInternalServerError
		body = "<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; please wait a while and try again. If the problem persists, please contact your support representative.<h1> Additional information </h1>" +
			html.EscapeString(err.Error()) + "</body></html>"
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/html"}
	h["Connection"] = []string{"close"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

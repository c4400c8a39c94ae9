package wire

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echo serves the codec of the path, answering every call with its method name.
func echoServer(t *testing.T) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr := XMLRPCCodec{}.NewRequest(r)
		if strings.HasPrefix(r.URL.Path, "/jsonrpc") {
			cr = JSONRPCCodec{}.NewRequest(r)
		}
		if _, err := cr.Method(); err != nil {
			cr.WriteError(w, 500, err)
			return
		}
		var req Request
		require.NoError(t, cr.ReadRequest(&req))
		cr.WriteResponse(w, &Reply{Type: typ(t, "string"), Value: req.Method})
	}))
}

func TestCodecHeaders(t *testing.T) {
	srv := echoServer(t)
	defer srv.Close()
	for _, tc := range []struct{ path, body, ctype, reply string }{
		{"/jsonrpc", `{"jsonrpc":"2.0","method":"m","params":[],"id":1}`, "application/json", `{"jsonrpc":"2.0","result":"m","id":1}`},
		{"/", `<methodCall><methodName>m</methodName><params/></methodCall>`, "text/xml", `<value>m</value>`},
	} {
		resp, err := http.Post(srv.URL+tc.path, "", strings.NewReader(tc.body))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, []string{tc.ctype}, resp.Header.Values("Content-Type"))
		assert.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
		assert.Equal(t, "X-Requested-With", resp.Header.Get("Access-Control-Allow-Headers"))
		assert.Equal(t, "no-cache, no-store", resp.Header.Get("Cache-Control"))
		assert.Contains(t, string(body), tc.reply)
	}
}

func TestCodecRefusesBodies(t *testing.T) {
	srv := echoServer(t)
	defer srv.Close()
	// No Content-Length: a chunked body.
	pr, pw := io.Pipe()
	go func() { _, _ = pw.Write([]byte(`{"method":"m","params":[],"id":1}`)); pw.Close() }()
	req, _ := http.NewRequest("POST", srv.URL+"/jsonrpc", pr)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 500, resp.StatusCode)
	assert.Contains(t, string(body), "HTTP 500 internal server error")

	big := bytes.Repeat([]byte("x"), MaxBody+1)
	resp, err = http.Post(srv.URL+"/", "", bytes.NewReader(big))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 500, resp.StatusCode)

	resp, err = http.Post(srv.URL+"/", "", strings.NewReader("<not xml"))
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 500, resp.StatusCode)
	assert.True(t, strings.HasPrefix(string(body), "<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; please wait a while and try again. If the problem persists, please contact your support representative.<h1> Additional information </h1>"))
	assert.True(t, resp.Close, "the connection is closed after an error page")
}

// Package xapitest helps tests drive an xapi.Server in process: a server over a store in
// a temporary directory, a root session, and calls with typed arguments.
package xapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/datamodel"
	"github.com/xapisim/xapisim/xapi/wire"
)

// Password is root's password on test servers.
const Password = "pw"

// NewServer returns a server over an empty, fsync-free store that is closed when the test
// ends. Options may change its configuration.
func NewServer(t testing.TB, options ...func(*xapi.Config)) *xapi.Server {
	t.Helper()
	st, err := store.Open(xapi.StoreSchema(datamodel.Load()), store.Options{
		Path: filepath.Join(t.TempDir(), "state.db"), NoSync: true, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	cfg := xapi.Config{Store: st, Log: zerolog.Nop(), RootPassword: Password, IDs: xapi.NewIDs(1)}
	for _, o := range options {
		o(&cfg)
	}
	srv, err := xapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// Login returns a root session on srv.
func Login(t testing.TB, srv *xapi.Server) string {
	t.Helper()
	r := Call(srv, "session.login_with_password", "root", Password)
	if r.Err != nil {
		t.Fatalf("login: %v", r.Err)
	}
	return r.Value.(string)
}

// Call dispatches a call whose arguments are typed values (the project's value
// convention); they are turned into the raw values a decoder would produce.
func Call(srv *xapi.Server, method string, args ...any) *wire.Reply {
	raw := make([]any, len(args))
	for i, a := range args {
		raw[i] = Raw(a)
	}
	return srv.Dispatch(context.Background(), &wire.Request{Method: method, Params: raw}, nil)
}

// Raw turns a typed value into the raw value a wire decoder produces for it.
func Raw(v any) any {
	switch x := v.(type) {
	case time.Time:
		return wire.DateTime(x.UTC().Format(datamodel.DateTimeLayout))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Raw(e)
		}
		return out
	case map[string]any:
		out := wire.Struct{}
		for k, e := range x {
			out = append(out, wire.KV{Key: k, Value: Raw(e)})
		}
		return out
	}
	return v
}

// JSON encodes a reply as a JSON-RPC 2.0 client receives it and decodes its result (or
// its error as []string), numbers as json.Number.
func JSON(r *wire.Reply) (result any, apiErr []string) {
	if r.Err != nil {
		return nil, append([]string{r.Err.Code}, r.Err.Params...)
	}
	body := wire.AppendJSONRPCResponse(nil, &wire.Request{JSONVersion2: true, ID: []byte("1")}, r)
	var reply struct{ Result any }
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&reply); err != nil {
		panic(fmt.Sprintf("reply is not JSON: %v: %s", err, body))
	}
	return reply.Result, nil
}

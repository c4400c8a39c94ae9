package xapi

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
	"github.com/xapisim/xapisim/xapi/wire"
)

// Dispatch answers one decoded call, with xapi's order of checks (protocol.md §0): UTF-8,
// method lookup, parameter count, parameter types, session, removed, async, then (inside
// the task for Async calls) RBAC and the handler. It never panics: a handler's panic
// becomes INTERNAL_ERROR.
func (s *Server) Dispatch(ctx context.Context, req *wire.Request, header http.Header) *wire.Reply {
	start := time.Now()
	reply := s.dispatch(ctx, req, header)
	if ev := s.log.Debug(); ev.Enabled() {
		ev = ev.Str("method", req.Method).Dur("took", time.Since(start))
		if reply.Err != nil {
			ev = ev.Str("error", reply.Err.Code)
		}
		ev.Msg("call")
	}
	return reply
}

func (s *Server) dispatch(ctx context.Context, req *wire.Request, header http.Header) (reply *wire.Reply) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error().Str("method", req.Method).Interface("panic", r).Bytes("stack", debug.Stack()).Msg("handler panicked")
			reply = failure(apierror.Internal("%v", r))
		}
	}()
	for _, p := range req.Params {
		if bad, ok := invalidUTF8(p); ok {
			return failure(apierror.New(apierror.InvalidValue, "Invalid UTF-8 string in parameter", bad))
		}
	}
	name, async := req.Method, false
	if rest, ok := strings.CutPrefix(name, "Async."); ok {
		name, async = rest, true
	} else if rest, ok := strings.CutPrefix(name, "InternalAsync."); ok {
		name, async = rest, true
	}
	if name == "system.listMethods" {
		return &wire.Reply{Type: stringSetType, Value: s.listMethods, Bare: true}
	}
	if strings.HasPrefix(name, "system.isAlive:") {
		return isAlive(req.Params)
	}
	m := s.methods[name]
	if m == nil || (async && m.alias) {
		return s.unknownMethod(name, req.Params)
	}
	msg := m.msg

	// Parameter count: the session is not counted; trailing parameters with defaults may
	// be left out and extra ones beyond them are ignored (protocol.md §4.2).
	params := req.Params
	sessionOffset := 0
	if msg.Session {
		sessionOffset = 1
	}
	received := len(params) - sessionOffset
	hasDefaults := msg.Required < len(msg.Params)
	if received < msg.Required || (!hasDefaults && received != len(msg.Params)) {
		return failure(apierror.New(apierror.MessageParameterCountMismatch,
			msg.WireName, strconv.Itoa(msg.Required), strconv.Itoa(received)))
	}

	c := &Call{Server: s, Ctx: ctx, Msg: msg, Name: name, Header: header, alias: m.alias}
	removed := msg.Lifecycle == datamodel.Removed
	if msg.Session {
		ref, ok := params[0].(string)
		if !ok {
			return failure(typeError(sessionRefType, params[0]))
		}
		c.SessionRef = ref
	}
	// Parameter types, in order; a removed message only reads its session.
	if !removed {
		c.Args = make([]any, len(msg.Params))
		for i, p := range msg.Params {
			if i >= received {
				c.Args[i] = p.Default
				continue
			}
			v, err := wire.Convert(p.Type, params[i+sessionOffset])
			if err != nil {
				return failure(apierror.From(err))
			}
			c.Args[i] = v
		}
	}
	if msg.Session {
		sess, err := s.checkSession(c.SessionRef)
		if err != nil {
			return failure(err)
		}
		c.Session = sess
	}
	if removed {
		return failure(apierror.New(apierror.MessageRemoved))
	}
	if async {
		if !msg.Async {
			return failure(apierror.New(apierror.Fault, "No async mode for this operation (rpc: "+name+")"))
		}
		task, err := s.startTask(c, req.Method, m.handler)
		if err != nil {
			return failure(apierror.From(err))
		}
		return &wire.Reply{Type: taskRefType, Value: task}
	}
	v, err := s.run(c, m.handler)
	if err != nil {
		return failure(apierror.From(err))
	}
	return &wire.Reply{Type: msg.Result, Value: v}
}

// run does what follows the dispatcher's checks, for sync calls and inside tasks: the
// RBAC check, then the handler.
func (s *Server) run(c *Call, h Handler) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error().Str("method", c.Name).Interface("panic", r).Bytes("stack", debug.Stack()).Msg("handler panicked")
			v, err = nil, apierror.Internal("%v", r)
		}
	}()
	if err := s.authorize(c); err != nil {
		return nil, err
	}
	return h(c)
}

// unknownMethod follows xapi's catch-all branch (protocol.md §4.1): with parameters the
// call is treated as a host extension, which needs a valid session and the
// host.call_extension permission before MESSAGE_METHOD_UNKNOWN.
func (s *Server) unknownMethod(name string, params []any) *wire.Reply {
	if len(params) == 0 {
		return failure(apierror.New(apierror.MessageMethodUnknown, name))
	}
	ref, ok := params[0].(string)
	if !ok {
		return failure(typeError(sessionRefType, params[0]))
	}
	sess, err := s.checkSession(ref)
	if err != nil {
		return failure(err)
	}
	ext := s.Schema.Message("host.call_extension")
	c := &Call{Server: s, Ctx: context.Background(), Msg: ext, Name: ext.WireName, SessionRef: ref, Session: sess}
	if err := s.authorize(c); err != nil {
		return failure(apierror.From(err))
	}
	return failure(apierror.New(apierror.MessageMethodUnknown, name))
}

// checkSession finds the caller's session or fails with SESSION_INVALID [ref].
func (s *Server) checkSession(ref string) (*store.Object, *apierror.Error) {
	sess := s.Store.Get("session", ref)
	if sess == nil {
		return nil, apierror.New(apierror.SessionInvalid, ref)
	}
	s.touchSession(sess)
	return sess, nil
}

// isAlive echoes its first parameter, as xapi does for "system.isAlive:<anything>".
func isAlive(params []any) *wire.Reply {
	if len(params) == 0 {
		return failure(apierror.Internal(`Failure("hd")`))
	}
	switch v := params[0].(type) {
	case string:
		return &wire.Reply{Type: stringType, Value: v}
	case int64:
		return &wire.Reply{Type: intType, Value: v}
	}
	return failure(typeError(stringType, params[0]))
}

func failure(e *apierror.Error) *wire.Reply { return &wire.Reply{Err: e} }

// typeError is the INTERNAL_ERROR of a parameter that does not convert.
func typeError(t *datamodel.Type, raw any) *apierror.Error {
	_, err := wire.Convert(t, raw)
	if err == nil {
		return apierror.Internal("Failure(%q)", fmt.Sprintf("Expected %s", t))
	}
	return apierror.From(err)
}

// invalidUTF8 finds a string inside a parameter that is not valid UTF-8.
func invalidUTF8(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		if !utf8.ValidString(x) {
			return x, true
		}
	case []any:
		for _, e := range x {
			if s, ok := invalidUTF8(e); ok {
				return s, true
			}
		}
	case wire.Struct:
		for _, kv := range x {
			if !utf8.ValidString(kv.Key) {
				return kv.Key, true
			}
			if s, ok := invalidUTF8(kv.Value); ok {
				return s, true
			}
		}
	}
	return "", false
}

var (
	stringType     = mustType("string")
	intType        = mustType("int")
	stringSetType  = mustType("string set")
	sessionRefType = mustType("session ref")
	taskRefType    = mustType("task ref")
)

func mustType(s string) *datamodel.Type {
	t, err := datamodel.Load().Type(s)
	if err != nil {
		panic(err)
	}
	return t
}

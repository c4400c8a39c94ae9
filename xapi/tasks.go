package xapi

import (
	"context"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
	"github.com/xapisim/xapisim/xapi/wire"
)

// startTask runs an Async call: it stores a pending task, returns its ref at once and
// runs the RBAC check and the handler in the background (protocol.md §6).
func (s *Server) startTask(c *Call, label string, h Handler) (string, error) {
	t := s.NewObject("task")
	Set(t, "name_label", label)
	Set(t, "created", s.Clock.Now())
	Set(t, "status", "pending")
	Set(t, "type", "<none/>")
	Set(t, "backtrace", "()")
	Set(t, "resident_on", s.MasterHost())
	Set(t, "session", c.SessionRef)
	Set(t, "auth_user_sid", Str(c.Session, "auth_user_sid"))
	Set(t, "other_config", httpOtherConfig(c.Header))
	if _, err := s.Store.Update(func(tx *store.Tx) error { tx.Put(t); return nil }); err != nil {
		return "", err
	}
	c.Task = t.Ref
	c.Ctx = context.Background() // the task outlives the HTTP request
	c.cancel = s.cancels.register(t.Ref)
	go func() {
		v, err := s.run(c, h)
		s.cancels.done(t.Ref)
		s.finishTask(t.Ref, c.Msg.Result, v, err)
	}()
	return t.Ref, nil
}

// finishTask records a task's outcome: the result as an XML-RPC <value> string even for
// JSON-RPC clients, or error_info [code, params…] (status cancelled for TASK_CANCELLED).
func (s *Server) finishTask(ref string, result *datamodel.Type, v any, err error) {
	now := s.Clock.Now()
	_, uerr := s.Store.Update(func(tx *store.Tx) error {
		t := tx.Get("task", ref)
		if t == nil {
			return nil // destroyed meanwhile
		}
		t = t.Clone()
		Set(t, "progress", 1.0)
		Set(t, "finished", now)
		Set(t, "allowed_operations", []any{})
		if err != nil {
			e := apierror.From(err)
			status := "failure"
			if e.Code == apierror.TaskCancelled {
				status = "cancelled"
			}
			Set(t, "status", status)
			Set(t, "error_info", StringSet(append([]string{e.Code}, e.Params...)...))
		} else {
			Set(t, "status", "success")
			Set(t, "result", string(wire.AppendXMLRPC(nil, result, v)))
		}
		tx.Put(t)
		return nil
	})
	if uerr != nil {
		s.log.Error().Err(uerr).Str("task", ref).Msg("cannot record task outcome")
	}
}

// httpOtherConfig copies X-Http-Other-Config-<k> headers as http:<k> (protocol.md §1.5).
func httpOtherConfig(h map[string][]string) map[string]any {
	out := map[string]any{}
	for k, vs := range h {
		lk := strings.ToLower(k)
		if key, ok := strings.CutPrefix(lk, "x-http-other-config-"); ok && len(vs) > 0 {
			out["http:"+key] = vs[0]
		}
	}
	return out
}

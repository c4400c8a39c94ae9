package xapi

import (
	"context"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
	"github.com/xapisim/xapisim/xapi/wire"
)

// Tasks as xapi keeps them (protocol.md §6, semantics.md §5): an Async call stores a
// pending task and returns its ref at once; the task ends success (result as an XML-RPC
// <value> string, even for JSON-RPC clients), failure (error_info [code, params…]) or
// cancelled. Everyone may read every task; only its owner, or a session with
// task.destroy/any, may change it.

func (s *Server) registerTasks() {
	s.Handle("task.create", s.taskCreate)
	s.Handle("task.cancel", s.taskCancel)
	s.Handle("task.destroy", s.taskDestroy)
	for _, name := range []string{"set_status", "set_progress", "set_result", "set_error_info"} {
		s.Handle("task."+name, s.ownedTaskSetter(s.Schema.Class("task").Field(strings.TrimPrefix(name, "set_"))))
	}
	// The other_config messages are generic, but only on one's own tasks.
	for _, name := range []string{"set_other_config", "add_to_other_config", "remove_from_other_config"} {
		generic := s.implicitHandler(s.Schema.Message("task." + name))
		s.Handle("task."+name, s.ownedTask(generic))
	}
}

// newTask builds a pending task owned by the caller's session.
func (s *Server) newTask(c *Call, label, description string) *store.Object {
	t := s.NewObject("task")
	Set(t, "name_label", label)
	Set(t, "name_description", description)
	Set(t, "created", s.Clock.Now())
	Set(t, "status", "pending")
	Set(t, "type", "<none/>")
	Set(t, "backtrace", "()")
	Set(t, "resident_on", s.MasterHost())
	if c.Session != nil {
		Set(t, "session", c.SessionRef)
		Set(t, "auth_user_sid", Str(c.Session, "auth_user_sid"))
	}
	Set(t, "other_config", httpOtherConfig(c.Header))
	return t
}

// startTask runs an Async call: it stores a pending task, returns its ref at once and
// runs the RBAC check and the handler in the background.
func (s *Server) startTask(c *Call, label string, h Handler) (string, error) {
	t := s.newTask(c, label, "")
	Set(t, "allowed_operations", StringSet("cancel"))
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

// finishTask records a task's outcome. A task whose destruction was requested while it
// ran is deleted instead.
func (s *Server) finishTask(ref string, result *datamodel.Type, v any, err error) {
	now := s.Clock.Now()
	_, uerr := s.Store.Update(func(tx *store.Tx) error {
		t := tx.Get("task", ref)
		if t == nil {
			return nil
		}
		if Map(t, "current_operations")["task"] == "destroy" {
			tx.Delete("task", ref)
			return nil
		}
		t = t.Clone()
		Set(t, "progress", 1.0)
		Set(t, "finished", now)
		Set(t, "allowed_operations", []any{})
		Set(t, "current_operations", map[string]any{})
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

func (s *Server) taskCreate(c *Call) (any, error) {
	t := s.newTask(c, c.StringArg(0), c.StringArg(1))
	if _, err := s.Store.Update(func(tx *store.Tx) error { tx.Put(t); return nil }); err != nil {
		return nil, err
	}
	return t.Ref, nil
}

// taskCancel records the cancellation in current_operations and signals the running
// operation, which stops with TASK_CANCELLED at its next check. Cancelling a finished
// task is not an error.
func (s *Server) taskCancel(c *Call) (any, error) {
	ref := c.StringArg(0)
	t, err := c.Get("task", ref)
	if err != nil {
		return nil, err
	}
	if err := s.MayChangeTask(c, t); err != nil {
		return nil, err
	}
	if Str(t, "status") != "pending" {
		return nil, nil
	}
	key := c.OperationKey()
	if err := s.UpdateField("task", ref, "current_operations", func(any) (any, error) {
		return map[string]any{key: "cancel"}, nil
	}); err != nil {
		return nil, err
	}
	s.CancelTask(ref)
	return nil, nil
}

// taskDestroy deletes a finished task; a pending one is marked and deleted when it ends.
func (s *Server) taskDestroy(c *Call) (any, error) {
	ref := c.StringArg(0)
	_, err := s.Store.Update(func(tx *store.Tx) error {
		t, err := GetObject(tx, "task", ref)
		if err != nil {
			return err
		}
		if err := s.MayChangeTask(c, t); err != nil {
			return err
		}
		if Str(t, "status") != "pending" {
			tx.Delete("task", ref)
			return nil
		}
		t = t.Clone()
		ops := CopyMap(Map(t, "current_operations"))
		ops["task"] = "destroy"
		Set(t, "current_operations", ops)
		tx.Put(t)
		return nil
	})
	return nil, err
}

// ownedTaskSetter sets one task field, on one's own tasks only.
func (s *Server) ownedTaskSetter(f *datamodel.Field) Handler {
	return s.ownedTask(func(c *Call) (any, error) {
		return nil, s.UpdateField("task", c.StringArg(0), f.Name, func(any) (any, error) { return c.Arg(1), nil })
	})
}

// ownedTask wraps a handler whose first argument is a task with the ownership check.
func (s *Server) ownedTask(h Handler) Handler {
	return func(c *Call) (any, error) {
		t, err := c.Get("task", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		if err := s.MayChangeTask(c, t); err != nil {
			return nil, err
		}
		return h(c)
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

package xapi

import (
	"context"
	"net/http"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// Call is one XenAPI call on its way through the dispatcher to a handler.
type Call struct {
	Server *Server
	Ctx    context.Context
	// Msg is the message called; Name the wire name as sent (without Async.).
	Msg  *datamodel.Message
	Name string
	// Args are the typed parameters after the session, defaults filled in.
	Args []any
	// SessionRef and Session identify the caller (empty/nil for login calls).
	SessionRef string
	Session    *store.Object
	// Task is the task ref of an Async call, or "".
	Task string
	// Header is the HTTP request's header.
	Header http.Header
	// alias is set when the call used the Class_msg spelling.
	alias bool
	// cancel is closed when the Async task is cancelled.
	cancel chan struct{}
	// syncTask is set when Task stands for a sync call (no task object exists).
	syncTask bool
}

// Store is the object store.
func (c *Call) Store() *store.Store { return c.Server.Store }

// Arg returns parameter i (after the session).
func (c *Call) Arg(i int) any { return c.Args[i] }

// StringArg returns parameter i of a string, ref or enum type.
func (c *Call) StringArg(i int) string { return c.Args[i].(string) }

// Get returns the object of the class, or HANDLE_INVALID [class, ref] as xapi's database
// does for a missing row (or a ref of another class).
func (c *Call) Get(class, ref string) (*store.Object, error) {
	return GetObject(c.Server.Store, class, ref)
}

// GetObject reads an object through r or fails with HANDLE_INVALID [class, ref].
func GetObject(r store.Reader, class, ref string) (*store.Object, error) {
	if o := r.Get(class, ref); o != nil {
		return o, nil
	}
	return nil, apierror.New(apierror.HandleInvalid, class, ref)
}

// IsSuperuser reports whether the caller is the local superuser (root), who bypasses RBAC.
func (c *Call) IsSuperuser() bool {
	if c.Session == nil {
		return false
	}
	return Bool(c.Session, "is_local_superuser")
}

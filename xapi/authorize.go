package xapi

import (
	"strings"
	"sync"

	"github.com/xapisim/xapisim/rbac"
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
	"github.com/xapisim/xapisim/xapi/wire"
)

// authorize is xapi's RBAC check (protocol.md §4.8), run after the session check, and
// inside the task for Async calls: the local superuser passes; anyone else needs the
// call's permission in the session's rbac_permissions. The permission is the lower-cased
// name as called (so the Class_msg alias needs a permission no role holds); add_to_ and
// remove_from_ with a protected map key need the key's permission instead; the setters
// of VM.other_config, VM.platform and task.other_config need the key permissions of the
// protected keys they add, change or remove.
func (s *Server) authorize(c *Call) error {
	if c.Session == nil || c.IsSuperuser() {
		return nil
	}
	for _, perm := range s.permissionsNeeded(c) {
		if !s.sessionHas(c.Session, perm) {
			return PermissionDenied(s.policy, perm)
		}
	}
	return nil
}

// permissionsNeeded lists the permissions a call needs, the plain one first.
func (s *Server) permissionsNeeded(c *Call) []string {
	perm := strings.ToLower(c.Name)
	m := c.Msg
	if c.alias || len(c.Args) < 2 {
		return []string{perm}
	}
	for _, op := range []string{"add_to_", "remove_from_"} {
		if field, ok := strings.CutPrefix(m.Name, op); ok && m.Implicit && s.policy.Protected(m.Class.Name+"."+field) {
			key := wire.MapKey(c.Args[1])
			if pattern := s.policy.ProtectedKey(m.Class.Name+"."+field, key); pattern != "" {
				return []string{rbac.KeyPermission(m.WireName, pattern)}
			}
			return []string{perm}
		}
	}
	if field, ok := strings.CutPrefix(m.Name, "set_"); ok && setWithKeyRBAC[m.WireName] {
		return append([]string{perm}, s.mapKeyPermissions(c, m, field)...)
	}
	return []string{perm}
}

// setWithKeyRBAC are the map setters xapi checks key by key (helpers.ml
// set_map_with_rbac), so that lower roles may change the entries they may change.
var setWithKeyRBAC = map[string]bool{"VM.set_other_config": true, "VM.set_platform": true, "task.set_other_config": true}

// mapKeyPermissions lists the key permissions for the protected keys a map setter adds,
// changes or removes.
func (s *Server) mapKeyPermissions(c *Call, m *datamodel.Message, field string) []string {
	obj := s.Store.Get(m.Class.Name, c.StringArg(0))
	if obj == nil {
		return nil // the handler answers HANDLE_INVALID
	}
	before := Map(obj, field)
	after, _ := c.Args[1].(map[string]any)
	name := m.Class.Name + "." + field
	var out []string
	seen := map[string]bool{}
	need := func(op, key string) {
		if pattern := s.policy.ProtectedKey(name, key); pattern != "" {
			perm := rbac.KeyPermission(m.Class.Name+"."+op+field, pattern)
			if !seen[perm] {
				seen[perm] = true
				out = append(out, perm)
			}
		}
	}
	for k, v := range after {
		if old, ok := before[k]; !ok || old != v {
			need("add_to_", k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			need("remove_from_", k)
		}
	}
	return out
}

// sessionHas reports whether a session holds a permission. A session's permissions are
// fixed at login, so their set is built once per session.
func (s *Server) sessionHas(sess *store.Object, perm string) bool {
	if v, ok := s.permCache.Load(sess.Ref); ok {
		return v.(map[string]bool)[perm]
	}
	set := map[string]bool{}
	for _, p := range Refs(sess, "rbac_permissions") {
		set[p] = true
	}
	s.permCache.Store(sess.Ref, set)
	return set[perm]
}

// permissionCache maps session refs to their permission sets.
type permissionCache = sync.Map

// PermissionDenied is RBAC_PERMISSION_DENIED [permission, message] with xapi's text.
func PermissionDenied(p *rbac.Policy, perm string) *apierror.Error {
	return apierror.New(apierror.RBACPermissionDenied, perm, p.DeniedMessage(perm))
}

// MayChangeTask is xapi's ownership rule for task.cancel, task.destroy and the task
// setters (protocol.md §6.2): a session may change tasks of its own user (the same
// auth_user_sid; every root session counts as one user), or any task with the
// task.destroy/any permission.
func (s *Server) MayChangeTask(c *Call, task *store.Object) error {
	if c.Session == nil || c.IsSuperuser() {
		return nil
	}
	if Str(task, "auth_user_sid") == Str(c.Session, "auth_user_sid") {
		return nil
	}
	if s.sessionHas(c.Session, rbac.TaskDestroyAny) {
		return nil
	}
	return PermissionDenied(s.policy, rbac.TaskDestroyAny)
}

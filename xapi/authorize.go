package xapi

import (
	"slices"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// authorize is xapi's RBAC check (protocol.md §4.8): the local superuser passes; anyone
// else needs the call's permission, the lower-cased sync wire name, in the session's
// rbac_permissions.
func (s *Server) authorize(c *Call) error {
	if c.Session == nil || c.IsSuperuser() {
		return nil
	}
	perm := strings.ToLower(c.Name)
	if slices.Contains(Refs(c.Session, "rbac_permissions"), perm) {
		return nil
	}
	return PermissionDenied(perm, c.Msg.Roles)
}

// PermissionDenied is RBAC_PERMISSION_DENIED [permission, message] with xapi's text.
func PermissionDenied(perm string, roles []string) *apierror.Error {
	return apierror.New(apierror.RBACPermissionDenied, perm,
		"No permission in user session. (Roles with this permission: "+strings.Join(roles, ", ")+")")
}

// taskDestroyAny is the extra permission that lets a session change other users' tasks.
const taskDestroyAny = "task.destroy/any"

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
	if slices.Contains(Refs(c.Session, "rbac_permissions"), taskDestroyAny) {
		return nil
	}
	return PermissionDenied(taskDestroyAny, []string{"pool-admin", "pool-operator"})
}

package xapi

import (
	"slices"
	"strings"

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

package xapi

import (
	"slices"

	"github.com/xapisim/xapisim/rbac"
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Role objects are static in xapi: every role and every permission is a role object
// with a fixed ref and uuid (semantics.md §7.1). They are written at start-up when the
// store lacks them or the datamodel gained permissions.

// roleDescriptions are short descriptions of the roles, ours.
var roleDescriptions = map[string]string{
	"pool-admin":     "Full access to the pool, including its users and roles",
	"pool-operator":  "Manages the pool's hosts, storage and networks, and every VM",
	"vm-power-admin": "Creates and manages VMs, and chooses where they run",
	"vm-admin":       "Creates and manages VMs and their disks and networks",
	"vm-operator":    "Starts, stops and uses existing VMs",
	"client-cert":    "Logins authenticated by a client certificate",
	"read-only":      "Reads everything, changes nothing",
}

// ensureRoles writes the role and permission objects that are missing or out of date.
func (s *Server) ensureRoles() error {
	_, err := s.Store.Update(func(tx *store.Tx) error {
		put := func(name, description string, subroles []any, internal bool) {
			ref := rbac.Ref(name)
			if o := tx.Get("role", ref); o != nil && Str(o, "name_label") == name &&
				len(Refs(o, "subroles")) == len(subroles) && Bool(o, "is_internal") == internal {
				return
			}
			o := s.NewObject("role")
			o.Ref = ref
			Set(o, "uuid", rbac.UUID(name))
			Set(o, "name_label", name)
			Set(o, "name_description", description)
			Set(o, "subroles", subroles)
			Set(o, "is_internal", internal)
			tx.Put(o)
		}
		for _, perm := range s.policy.AllPermissions() {
			put(perm, "A basic permission", []any{}, true)
		}
		for _, role := range rbac.Roles {
			var subroles []any
			for _, perm := range s.policy.Permissions(role) {
				subroles = append(subroles, rbac.Ref(perm))
			}
			put(role, roleDescriptions[role], subroles, role == "client-cert")
		}
		return nil
	})
	return err
}

func (s *Server) registerRoles() {
	s.Handle("role.get_permissions", func(c *Call) (any, error) {
		role, err := c.Get("role", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		return Get(role, "subroles"), nil
	})
	s.Handle("role.get_permissions_name_label", func(c *Call) (any, error) {
		role, err := c.Get("role", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		return StringSet(s.policy.Permissions(Str(role, "name_label"))...), nil
	})
	s.Handle("role.get_by_permission", func(c *Call) (any, error) {
		perm, err := c.Get("role", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		return s.rolesHolding(Str(perm, "name_label")), nil
	})
	s.Handle("role.get_by_permission_name_label", func(c *Call) (any, error) {
		return s.rolesHolding(c.StringArg(0)), nil
	})
}

// rolesHolding lists the refs of the roles that hold a permission.
func (s *Server) rolesHolding(perm string) []any {
	var out []any
	for _, r := range s.policy.Holders(perm) {
		out = append(out, rbac.Ref(r))
	}
	if out == nil {
		out = []any{}
	}
	return out
}

// validRole reports whether ref names one of the roles a subject can have.
func validRole(ref string) bool {
	return slices.ContainsFunc(rbac.UserRoles, func(r string) bool { return rbac.Ref(r) == ref })
}

func roleNotFound() error { return apierror.New("ROLE_NOT_FOUND") }

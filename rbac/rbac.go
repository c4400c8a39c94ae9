// Package rbac is xapi's role-based access control, derived from the datamodel
// (semantics.md §7, protocol.md §4.8): the roles, the permission each call needs, which
// roles hold it, and the facts of the role objects xapi exposes.
//
// A permission is a lower-cased wire name ("vm.start"); add_to_/remove_from_ on a
// protected map key needs "<message>/key:<pattern>" instead; "task.destroy/any" lets a
// session change other users' tasks. A role holds a message's permission when the
// datamodel lists the role for the message.
package rbac

import (
	"crypto/md5"
	"encoding/hex"
	"slices"
	"sort"
	"strings"

	"github.com/xapisim/xapisim/xapi/datamodel"
)

// The roles, most privileged first, as xapi orders them (datamodel_roles.ml).
// client-cert is internal: it is given to client-certificate logins only.
var Roles = []string{"pool-admin", "pool-operator", "vm-power-admin", "vm-admin", "vm-operator", "client-cert", "read-only"}

// UserRoles are the six roles a subject can be given.
var UserRoles = []string{"pool-admin", "pool-operator", "vm-power-admin", "vm-admin", "vm-operator", "read-only"}

// TaskDestroyAny lets a session cancel, destroy and change the tasks of other users.
const TaskDestroyAny = "task.destroy/any"

// taskDestroyAnyRoles hold TaskDestroyAny: pool-operator and above.
var taskDestroyAnyRoles = []string{"pool-admin", "pool-operator"}

// Policy is every permission and the roles that hold it.
type Policy struct {
	holders map[string][]string        // permission -> roles, in role order
	byRole  map[string]map[string]bool // role -> permissions
	keys    map[string][]datamodel.KeyRole
}

// New derives the policy from the schema: one permission per message (held by the
// message's roles), per-key permissions of protected map keys, and task.destroy/any.
func New(s *datamodel.Schema) *Policy {
	p := &Policy{holders: map[string][]string{}, byRole: map[string]map[string]bool{}, keys: map[string][]datamodel.KeyRole{}}
	for _, r := range Roles {
		p.byRole[r] = map[string]bool{}
	}
	for _, m := range s.Messages() {
		p.grant(strings.ToLower(m.WireName), m.Roles)
	}
	for _, c := range s.Classes {
		for _, f := range c.Fields {
			if len(f.KeyRoles) == 0 {
				continue
			}
			p.keys[c.Name+"."+f.Name] = f.KeyRoles
			for _, op := range []string{"add_to_", "remove_from_"} {
				msg := strings.ToLower(c.Name + "." + op + f.Name)
				for _, kr := range f.KeyRoles {
					p.grant(KeyPermission(msg, kr.Pattern), kr.Roles)
				}
			}
		}
	}
	p.grant(TaskDestroyAny, taskDestroyAnyRoles)
	return p
}

// grant gives a permission to roles. Messages reserved to the local superuser (an empty
// role list, e.g. Cluster_host.forget) are held by no role at all.
func (p *Policy) grant(perm string, roles []string) {
	have := map[string]bool{}
	for _, r := range roles {
		have[r] = true
	}
	var ordered []string
	for _, r := range Roles {
		if have[r] {
			ordered = append(ordered, r)
			p.byRole[r][perm] = true
		}
	}
	p.holders[perm] = ordered
}

// KeyPermission is the permission of a protected map key: "<message>/key:<pattern>",
// lower-cased as xapi stores every permission.
func KeyPermission(message, pattern string) string {
	return strings.ToLower(message) + "/key:" + strings.ToLower(pattern)
}

// Holders returns the roles that hold a permission, most privileged first.
func (p *Policy) Holders(perm string) []string { return p.holders[perm] }

// Has reports whether a role holds a permission.
func (p *Policy) Has(role, perm string) bool { return p.byRole[role][perm] }

// Permissions returns a role's permissions, sorted.
func (p *Policy) Permissions(role string) []string {
	out := make([]string, 0, len(p.byRole[role]))
	for perm := range p.byRole[role] {
		out = append(out, perm)
	}
	sort.Strings(out)
	return out
}

// AllPermissions returns every permission, sorted.
func (p *Policy) AllPermissions() []string {
	out := make([]string, 0, len(p.holders))
	for perm := range p.holders {
		out = append(out, perm)
	}
	sort.Strings(out)
	return out
}

// ProtectedKey returns the pattern of a protected key of a map field ("VM.other_config")
// that key matches (exactly, or by prefix for a pattern ending in "*"), or "".
func (p *Policy) ProtectedKey(field, key string) string {
	for _, kr := range p.keys[field] {
		if prefix, wild := strings.CutSuffix(kr.Pattern, "*"); wild && strings.HasPrefix(key, prefix) || kr.Pattern == key {
			return kr.Pattern
		}
	}
	return ""
}

// Protected reports whether a map field has protected keys.
func (p *Policy) Protected(field string) bool { return len(p.keys[field]) > 0 }

// DeniedMessage is xapi's text for RBAC_PERMISSION_DENIED.
func (p *Policy) DeniedMessage(perm string) string {
	return "No permission in user session. (Roles with this permission: " + strings.Join(p.holders[perm], ", ") + ")"
}

// UUID is the uuid of a role or permission object: pool-admin's is fixed, every other is
// the MD5 of its name formatted as a UUID (xapi_role.ml).
func UUID(name string) string {
	if name == "pool-admin" {
		return "0165f154-ba3e-034e-6b27-5d271af109ba"
	}
	sum := md5.Sum([]byte(name))
	h := hex.EncodeToString(sum[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Ref is the ref of a role or permission object.
func Ref(name string) string { return "OpaqueRef:" + UUID(name) }

// IsUserRole reports whether name is one of the six roles a subject can be given.
func IsUserRole(name string) bool { return slices.Contains(UserRoles, name) }

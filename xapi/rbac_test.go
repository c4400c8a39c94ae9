package xapi_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/rbac"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/xapitest"
)

func TestRoleObjects(t *testing.T) {
	srv := xapitest.NewServer(t)
	root := xapitest.Login(t, srv)
	role := srv.Store.Get("role", rbac.Ref("vm-operator"))
	require.NotNil(t, role)
	assert.Equal(t, "fb8d4ff9-310c-a959-0613-54101535d3d5", xapi.Str(role, "uuid"))
	assert.False(t, xapi.Bool(role, "is_internal"))
	perm := srv.Store.Get("role", rbac.Ref("vm.start"))
	require.NotNil(t, perm)
	assert.True(t, xapi.Bool(perm, "is_internal"))
	assert.Contains(t, xapi.Refs(role, "subroles"), perm.Ref)

	got, _ := xapitest.JSON(xapitest.Call(srv, "role.get_by_permission", root, perm.Ref))
	assert.Len(t, got, 5)
	got, _ = xapitest.JSON(xapitest.Call(srv, "role.get_permissions", root, role.Ref))
	assert.Len(t, got, len(xapi.Refs(role, "subroles")))
	_, err := xapitest.JSON(xapitest.Call(srv, "role.get_permissions", root, "OpaqueRef:x"))
	assert.Equal(t, []string{"HANDLE_INVALID", "role", "OpaqueRef:x"}, err)
}

func TestSubjects(t *testing.T) {
	srv := xapitest.NewServer(t)
	root := xapitest.Login(t, srv)
	call := func(method string, args ...any) (any, []string) {
		return xapitest.JSON(xapitest.Call(srv, method, append([]any{root}, args...)...))
	}
	ref, err := call("subject.create", map[string]any{"subject_identifier": "S-1", "other_config": map[string]any{}})
	require.Nil(t, err)
	_, err = call("subject.create", map[string]any{"subject_identifier": "S-1", "other_config": map[string]any{}})
	assert.Equal(t, []string{"SUBJECT_ALREADY_EXISTS"}, err)
	roles, _ := call("subject.get_roles", ref)
	assert.Equal(t, []any{}, roles, "a new subject has no role")
	_, err = call("subject.add_to_roles", ref, rbac.Ref("vm.start"))
	assert.Equal(t, []string{"ROLE_NOT_FOUND"}, err, "a permission is not a role")
	_, err = call("subject.add_to_roles", ref, rbac.Ref("vm-admin"))
	assert.Nil(t, err)
	_, err = call("subject.add_to_roles", ref, rbac.Ref("vm-admin"))
	assert.Equal(t, []string{"ROLE_ALREADY_EXISTS"}, err)
	perms, _ := call("subject.get_permissions_name_label", ref)
	assert.Contains(t, perms, "vm.create")
	_, err = call("subject.remove_from_roles", ref, rbac.Ref("pool-admin"))
	assert.Equal(t, []string{"ROLE_NOT_FOUND"}, err)
	_, err = call("subject.remove_from_roles", ref, rbac.Ref("vm-admin"))
	assert.Nil(t, err)
}

func TestUsersFile(t *testing.T) {
	srv := xapitest.NewServer(t)
	require.NoError(t, srv.AddUsers([]xapi.User{
		{Name: "bob", Password: "pw", Roles: []string{"vm-operator"}},
		{Name: "nobody", Password: "pw"},
	}))
	_, err := xapitest.JSON(xapitest.Call(srv, "session.login_with_password", "bob", "bad"))
	assert.Equal(t, []string{"SESSION_AUTHENTICATION_FAILED", "bob", "Authentication failure"}, err)
	_, err = xapitest.JSON(xapitest.Call(srv, "session.login_with_password", "nobody", "pw"))
	require.NotNil(t, err)
	assert.Equal(t, []string{"RBAC_PERMISSION_DENIED", "session.login_with_password",
		"Subject nobody (identifier " + xapi.SubjectID("nobody") + ") has no roles in this pool"}, err)
	bob, err := xapitest.JSON(xapitest.Call(srv, "session.login_with_password", "bob", "pw"))
	require.Nil(t, err)

	// task.set_other_config is checked key by key: bob may set applies_to on his task.
	task, err := xapitest.JSON(xapitest.Call(srv, "task.create", bob, "t", ""))
	require.Nil(t, err)
	_, err = xapitest.JSON(xapitest.Call(srv, "task.set_other_config", bob, task, map[string]any{"applies_to": "x"}))
	assert.Equal(t, "task.set_other_config", err[1], "the setter itself is pool-operator's")

	_, err = xapitest.JSON(xapitest.Call(srv, "task.add_to_other_config", bob, task, "applies_to", "x"))
	assert.Nil(t, err, "a protected key a vm-operator holds")

	for _, bad := range []string{`[{"name":"root","password":"x","roles":[]}]`, `[{"name":"a","password":"x","roles":["god"]}]`, `{`} {
		path := t.TempDir() + "/users.json"
		require.NoError(t, writeFile(path, bad))
		_, err := xapi.LoadUsers(path)
		assert.Error(t, err, bad)
	}
}

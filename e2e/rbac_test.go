package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startWithUsers runs xapisim with a users file of one account per role.
func startWithUsers(t *testing.T) *Server {
	t.Helper()
	users := []map[string]any{
		{"name": "reader", "password": "r-pw", "roles": []string{"read-only"}},
		{"name": "operator", "password": "o-pw", "roles": []string{"vm-operator"}},
		{"name": "vmadmin", "password": "a-pw", "roles": []string{"vm-admin"}},
		{"name": "pooladmin", "password": "p-pw", "roles": []string{"pool-admin"}},
	}
	data, _ := json.Marshal(users)
	path := filepath.Join(t.TempDir(), "users.json")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return Start(t, "--users", path, "--hosts", "1")
}

func loginAs(t *testing.T, s *Server, user, password string) *JSONRPC {
	t.Helper()
	c := &JSONRPC{URL: s.URL}
	v, err := c.Call(t, "session.login_with_password", user, password)
	require.NoError(t, err, "login as %s", user)
	c.Session = v.(string)
	return c
}

func TestRBACOverTheWire(t *testing.T) {
	s := startWithUsers(t)
	root := Login(t, s)
	vm := root.S(t, "VM.get_all").([]any)[0].(string)

	reader := loginAs(t, s, "reader", "r-pw")
	sess := reader.S(t, "session.get_record", reader.Session).(map[string]any)
	assert.Equal(t, false, sess["is_local_superuser"])
	assert.Equal(t, "reader", sess["auth_user_name"])
	assert.True(t, strings.HasPrefix(sess["auth_user_sid"].(string), "S-1-5-21-"))
	assert.NotEqual(t, "OpaqueRef:NULL", sess["subject"])
	assert.Contains(t, sess["rbac_permissions"], "vm.get_record")
	assert.NotContains(t, sess["rbac_permissions"], "vm.start")
	for _, read := range []string{"pool.get_all_records", "host.get_all_records", "VM.get_all_records", "role.get_all_records", "task.get_all_records"} {
		_, err := reader.Call(t, read, reader.Session)
		assert.NoError(t, err, "a read-only user reads %s", read)
	}
	denied := reader.Err(t, "VM.start", vm, false, false)
	require.Len(t, denied, 3)
	assert.Equal(t, APIError{"RBAC_PERMISSION_DENIED", "vm.start",
		"No permission in user session. (Roles with this permission: pool-admin, pool-operator, vm-power-admin, vm-admin, vm-operator)"}, denied)

	// Async: the check runs inside the task.
	task := reader.S(t, "Async.VM.start", vm, false, false).(string)
	require.Eventually(t, func() bool { return reader.S(t, "task.get_status", task) != "pending" }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, "failure", reader.S(t, "task.get_status", task))
	info := reader.S(t, "task.get_error_info", task).([]any)
	assert.Equal(t, []any{"RBAC_PERMISSION_DENIED", "vm.start"}, info[:2])

	operator := loginAs(t, s, "operator", "o-pw")
	if err := operator.Err(t, "VM.start", vm, false, false); err != nil {
		assert.NotEqual(t, "RBAC_PERMISSION_DENIED", err[0], "a vm-operator may start VMs")
	}
	assert.Equal(t, "RBAC_PERMISSION_DENIED", operator.Err(t, "VM.destroy", vm)[0])
	assert.Equal(t, "vm.destroy", operator.Err(t, "VM.destroy", vm)[1])
	operator.S(t, "VM.add_to_other_config", vm, "folder", "/ci") // a key a vm-operator may set
	assert.Equal(t, "vm.add_to_other_config", operator.Err(t, "VM.add_to_other_config", vm, "ordinary", "x")[1])

	vmadmin := loginAs(t, s, "vmadmin", "a-pw")
	vmadmin.S(t, "VM.add_to_other_config", vm, "ordinary", "x")
	err := vmadmin.Err(t, "VM.add_to_other_config", vm, "pci", "0/0000:00:01.0")
	assert.Equal(t, APIError{"RBAC_PERMISSION_DENIED", "vm.add_to_other_config/key:pci",
		"No permission in user session. (Roles with this permission: pool-admin)"}, err)
	assert.Equal(t, "RBAC_PERMISSION_DENIED", vmadmin.Err(t, "VM.set_other_config", vm, map[string]string{"pci": "x"})[0])
	assert.Equal(t, "RBAC_PERMISSION_DENIED", vmadmin.Err(t, "VM_get_record", vm)[0], "the Class_msg alias needs a permission no role holds")

	// Root bypasses everything.
	root.S(t, "VM.add_to_other_config", vm, "pci", "0/0000:00:01.0")
	root.S(t, "VM_get_record", vm)

	_, loginErr := (&JSONRPC{URL: s.URL}).Call(t, "session.login_with_password", "reader", "wrong")
	assert.Equal(t, APIError{"SESSION_AUTHENTICATION_FAILED", "reader", "Authentication failure"}, loginErr)

	// Subjects and roles.
	subjects := root.S(t, "subject.get_all_records").(map[string]any)
	assert.Len(t, subjects, 4)
	ids := root.S(t, "session.get_all_subject_identifiers").([]any)
	assert.Len(t, ids, 3)
	readOnly := root.S(t, "role.get_by_name_label", "read-only").([]any)
	require.Len(t, readOnly, 1)
	perms := root.S(t, "role.get_permissions_name_label", readOnly[0]).([]any)
	assert.Contains(t, perms, "vm.get_record")
	holders := root.S(t, "role.get_by_permission_name_label", "vm.start").([]any)
	assert.Len(t, holders, 5)

	// Over XML-RPC too.
	body := XMLCall(t, s.URL, "/", "VM.destroy", reader.Session, vm)
	assert.Contains(t, body, "<value>RBAC_PERMISSION_DENIED</value><value>vm.destroy</value>")
}

// TestExternalAuthFlow is the client's way to grant a directory user rights:
// auth.get_subject_identifier → subject.create → subject.add_to_roles.
func TestExternalAuthFlow(t *testing.T) {
	s := startWithUsers(t)
	root := Login(t, s)
	subjects := root.S(t, "subject.get_all").([]any)
	root.S(t, "subject.destroy", subjects[0]) // one account loses its subject…
	// …find which, through the directory, and grant it pool-admin anew.
	created := 0
	for _, name := range []string{"reader", "operator", "vmadmin", "pooladmin"} {
		sid := root.S(t, "auth.get_subject_identifier", name).(string)
		if len(root.S(t, "subject.get_all_records_where", `field "subject_identifier" = "`+sid+`"`).(map[string]any)) > 0 {
			continue
		}
		info := root.S(t, "auth.get_subject_information_from_identifier", sid).(map[string]any)
		assert.Equal(t, name, info["subject-name"])
		assert.Equal(t, []any{}, root.S(t, "auth.get_group_membership", sid))
		created++
		subj := root.S(t, "subject.create", map[string]any{"subject_identifier": sid, "other_config": info}).(string)
		root.S(t, "subject.add_to_roles", subj, root.S(t, "role.get_by_name_label", "pool-admin").([]any)[0])
		user := loginAs(t, s, name, map[string]string{"reader": "r-pw", "operator": "o-pw", "vmadmin": "a-pw", "pooladmin": "p-pw"}[name])
		assert.Contains(t, user.S(t, "session.get_record", user.Session).(map[string]any)["rbac_permissions"], "pool.enable_external_auth")
	}
	assert.Equal(t, 1, created)
	assert.Equal(t, "SUBJECT_CANNOT_BE_RESOLVED", root.Err(t, "auth.get_subject_identifier", "mallory")[0])

	// Without external authentication only root logs in.
	pool := root.S(t, "pool.get_all").([]any)[0]
	root.S(t, "pool.disable_external_auth", pool, map[string]any{})
	_, err := (&JSONRPC{URL: s.URL}).Call(t, "session.login_with_password", "reader", "r-pw")
	assert.Equal(t, APIError{"SESSION_AUTHENTICATION_FAILED", "reader", "Authentication failure"}, err)
	assert.Equal(t, APIError{"AUTH_IS_DISABLED"}, root.Err(t, "auth.get_subject_identifier", "reader"))
}

package xapi_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/xapitest"
)

func TestLocalSessions(t *testing.T) {
	srv := xapitest.NewServer(t)
	require.NoError(t, srv.AddUsers([]xapi.User{{Name: "admin", Password: "pw", Roles: []string{"pool-admin"}}}))
	admin, err := xapitest.JSON(xapitest.Call(srv, "session.login_with_password", "admin", "pw"))
	require.Nil(t, err)
	cases := []struct {
		name string
		msg  string
		args []any
		err  []string
	}{
		{"db file: root gets the error of a missing file", "session.create_from_db_file", []any{xapitest.Login(t, srv), "/var/db.xml"},
			[]string{"INTERNAL_ERROR", `Sys_error("/var/db.xml: No such file or directory")`}},
		{"db file: RBAC refuses anyone else", "session.create_from_db_file", []any{admin, "/var/db.xml"},
			[]string{"RBAC_PERMISSION_DENIED", "session.create_from_db_file", "No permission in user session. (Roles with this permission: )"}},
		{"local login: root", "session.slave_local_login_with_password", []any{"root", xapitest.Password}, nil},
		{"local login: wrong password", "session.slave_local_login_with_password", []any{"root", "nope"},
			[]string{"SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"}},
		{"local login: only the local superuser", "session.slave_local_login_with_password", []any{"admin", "pw"},
			[]string{"SESSION_AUTHENTICATION_FAILED", "admin", "Authentication failure"}},
	}
	for _, tc := range cases {
		got, err := xapitest.JSON(xapitest.Call(srv, tc.msg, tc.args...))
		assert.Equal(t, tc.err, err, tc.name)
		if tc.err == nil {
			sess := srv.Store.Get("session", got.(string))
			require.NotNil(t, sess, tc.name)
			assert.True(t, xapi.Bool(sess, "is_local_superuser"))
		}
	}
}

package xapi_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/xapitest"
)

func login(srv *xapi.Server, pwd string) []string {
	_, err := xapitest.JSON(xapitest.Call(srv, "session.login_with_password", "root", pwd))
	return err
}

var authFailed = []string{"SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"}

func TestChangePassword(t *testing.T) {
	for _, withPool := range []bool{false, true} {
		srv := xapitest.NewServer(t)
		var pool string
		if withPool {
			p := srv.NewObject("pool")
			_, err := srv.Store.Update(func(tx *store.Tx) error { tx.Put(p); return nil })
			require.NoError(t, err)
			pool = p.Ref
			require.NoError(t, srv.KeepRootPassword())
			assert.Equal(t, xapitest.Password, xapi.Str(srv.Store.Get("pool", pool), "root_password"),
				"a new pool keeps the configured password")
		}
		root := xapitest.Login(t, srv)
		_, err := xapitest.JSON(xapitest.Call(srv, "session.change_password", root, "ignored", "new-pw"))
		require.Nil(t, err)
		assert.Equal(t, authFailed, login(srv, xapitest.Password), "pool %v: the old password", withPool)
		assert.Nil(t, login(srv, "new-pw"), "pool %v: the new password", withPool)
		assert.Equal(t, "new-pw", srv.RootPassword())
		if withPool {
			assert.Equal(t, "new-pw", xapi.Str(srv.Store.Get("pool", pool), "root_password"))
			rec, err := xapitest.JSON(xapitest.Call(srv, "pool.get_record", root, pool))
			require.Nil(t, err)
			assert.NotContains(t, rec, "root_password", "the field is internal")
			require.NoError(t, srv.KeepRootPassword())
			assert.Equal(t, "new-pw", srv.RootPassword(), "a kept password wins over the configured one")
		}
	}
}

func TestChangePasswordErrors(t *testing.T) {
	srv := xapitest.NewServer(t)
	require.NoError(t, srv.AddUsers([]xapi.User{{Name: "admin", Password: "pw", Roles: []string{"pool-admin"}}}))
	admin, err := xapitest.JSON(xapitest.Call(srv, "session.login_with_password", "admin", "pw"))
	require.Nil(t, err)

	// A session that holds the permission without being the local superuser gets past
	// RBAC to xapi's own check (no role holds it, so the session is made by hand).
	odd := srv.NewObject("session")
	xapi.Set(odd, "auth_user_name", "odd")
	xapi.Set(odd, "rbac_permissions", xapi.StringSet("session.change_password"))
	_, serr := srv.Store.Update(func(tx *store.Tx) error { tx.Put(odd); return nil })
	require.NoError(t, serr)

	cases := []struct {
		name    string
		session any
		want    []string
	}{
		{"a pool admin: RBAC refuses, only root may", admin, []string{"RBAC_PERMISSION_DENIED", "session.change_password"}},
		{"not the local superuser", odd.Ref, []string{"USER_IS_NOT_LOCAL_SUPERUSER", "Failed to change password for user root"}},
		{"no session", "OpaqueRef:nope", []string{"SESSION_INVALID", "OpaqueRef:nope"}},
	}
	for _, tc := range cases {
		_, err := xapitest.JSON(xapitest.Call(srv, "session.change_password", tc.session, "", "x"))
		require.NotNil(t, err, tc.name)
		assert.Equal(t, tc.want, err[:min(len(err), len(tc.want))], tc.name)
	}
	assert.Nil(t, login(srv, xapitest.Password), "the password is unchanged")
}

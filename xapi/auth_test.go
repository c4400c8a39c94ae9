package xapi_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/xapitest"
)

// withCoordinator gives a bare server a pool whose coordinator has external_auth_type
// authType.
func withCoordinator(t *testing.T, srv *xapi.Server, authType string) {
	t.Helper()
	h, p := srv.NewObject("host"), srv.NewObject("pool")
	xapi.Set(h, "external_auth_type", authType)
	xapi.Set(p, "master", h.Ref)
	_, err := srv.Store.Update(func(tx *store.Tx) error { tx.Put(h); tx.Put(p); return nil })
	require.NoError(t, err)
}

func TestAuthClass(t *testing.T) {
	alice := xapi.SubjectID("alice")
	cases := []struct {
		name     string
		authType string
		msg      string
		arg      string
		want     any
		err      []string
	}{
		{"a user's SID", "AD", "auth.get_subject_identifier", "alice", alice, nil},
		{"an unknown name", "AD", "auth.get_subject_identifier", "mallory", nil, []string{"SUBJECT_CANNOT_BE_RESOLVED"}},
		{"PAM answers from the same directory", "PAM", "auth.get_subject_identifier", "alice", alice, nil},
		{"disabled", "", "auth.get_subject_identifier", "alice", nil, []string{"AUTH_IS_DISABLED"}},
		{"a user's groups", "AD", "auth.get_group_membership", alice, []any{}, nil},
		{"groups of an unknown SID", "AD", "auth.get_group_membership", "S-1-5-21-1", nil, []string{"SUBJECT_CANNOT_BE_RESOLVED"}},
		{"groups, disabled", "", "auth.get_group_membership", alice, nil, []string{"AUTH_IS_DISABLED"}},
		{"information of an unknown SID", "AD", "auth.get_subject_information_from_identifier", "S-1-5-21-1", nil, []string{"SUBJECT_CANNOT_BE_RESOLVED"}},
		{"information, disabled", "", "auth.get_subject_information_from_identifier", alice, nil, []string{"AUTH_IS_DISABLED"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := xapitest.NewServer(t)
			require.NoError(t, srv.AddUsers([]xapi.User{{Name: "alice", Password: "pw", Roles: []string{"read-only"}}}))
			withCoordinator(t, srv, tc.authType)
			got, err := xapitest.JSON(xapitest.Call(srv, tc.msg, xapitest.Login(t, srv), tc.arg))
			assert.Equal(t, tc.err, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestSubjectInformation(t *testing.T) {
	srv := xapitest.NewServer(t)
	withCoordinator(t, srv, "AD")
	root := xapitest.Login(t, srv)
	users := []xapi.User{{Name: "alice", Password: "pw"}, {Name: "bob", Password: "pw"}}
	// AddUsers makes a subject for each account: information comes from it first.
	require.NoError(t, srv.AddUsers(users[:1]))
	got, err := xapitest.JSON(xapitest.Call(srv, "auth.get_subject_information_from_identifier", root, xapi.SubjectID("alice")))
	require.Nil(t, err)
	assert.Equal(t, "alice", got.(map[string]any)["subject-name"])

	// A directory user with no subject: the directory answers.
	_, serr := srv.Store.Update(func(tx *store.Tx) error {
		for _, o := range tx.All("subject") {
			tx.Delete("subject", o.Ref)
		}
		return nil
	})
	require.NoError(t, serr)
	got, err = xapitest.JSON(xapitest.Call(srv, "auth.get_subject_information_from_identifier", root, xapi.SubjectID("alice")))
	require.Nil(t, err)
	want := map[string]any{}
	for k, v := range xapi.DirectoryInformation(users[0]) {
		want[k] = v
	}
	assert.Equal(t, want, got)
	for _, k := range []string{"subject-name", "subject-uid", "subject-gid", "subject-upn", "subject-sid", "subject-account-disabled", "subject-is-group"} {
		assert.Contains(t, want, k)
	}
	assert.Equal(t, "alice@xapisim.local", want["subject-upn"])
}

func TestLoginNeedsExternalAuth(t *testing.T) {
	for _, tc := range []struct {
		authType string
		err      []string
	}{
		{"AD", nil},
		{"", []string{"SESSION_AUTHENTICATION_FAILED", "alice", "Authentication failure"}},
	} {
		srv := xapitest.NewServer(t)
		withCoordinator(t, srv, tc.authType)
		require.NoError(t, srv.AddUsers([]xapi.User{{Name: "alice", Password: "pw", Roles: []string{"read-only"}}}))
		_, err := xapitest.JSON(xapitest.Call(srv, "session.login_with_password", "alice", "pw"))
		assert.Equal(t, tc.err, err, "external_auth_type %q", tc.authType)
		_, err = xapitest.JSON(xapitest.Call(srv, "session.login_with_password", "root", xapitest.Password))
		assert.Nil(t, err, "root logs in whatever external_auth_type says")
	}
}

func TestEnableDirectory(t *testing.T) {
	srv := xapitest.NewServer(t)
	withCoordinator(t, srv, "")
	require.NoError(t, srv.EnableDirectory())
	h := srv.Store.Get("host", srv.MasterHost())
	assert.Equal(t, "AD", xapi.Str(h, "external_auth_type"))
	assert.Equal(t, xapi.DirectoryDomain, xapi.Str(h, "external_auth_service_name"))
	assert.True(t, srv.ExternalAuthEnabled())
}

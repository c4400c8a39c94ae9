package e2e

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestChangedPasswordSurvivesRestart changes root's password, kills the server (an
// acknowledged change must survive even a crash) and restarts it on the same --db with
// the old --password: the new password logs in, the old one and the flag's do not.
func TestChangedPasswordSurvivesRestart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "state.db")
	s := Start(t, "--db", db, "--hosts", "1", "--password", "first")
	root := Login(t, s)
	// xapi ignores old_pwd.
	root.S(t, "session.change_password", "not-the-old-one", "second")

	anon := &JSONRPC{URL: s.URL}
	_, err := anon.Call(t, "session.login_with_password", "root", "first")
	assert.Equal(t, APIError{"SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"}, err)
	_, err = anon.Call(t, "session.login_with_password", "root", "second")
	require.NoError(t, err)
	s.Kill()

	s2 := Start(t, "--db", db, "--hosts", "1", "--password", "first")
	assert.Equal(t, "second", s2.Password, "the ready line prints the state file's password")
	anon = &JSONRPC{URL: s2.URL}
	_, err = anon.Call(t, "session.login_with_password", "root", "first")
	assert.Equal(t, APIError{"SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"}, err)
	v, err := anon.Call(t, "session.login_with_password", "root", "second")
	require.NoError(t, err)
	anon.Session = v.(string)
	assert.Equal(t, true, anon.S(t, "session.get_is_local_superuser", anon.Session))
}

// TestPasswordFlagOnlySeedsANewStateFile: a second start with another --password keeps
// the state file's password.
func TestPasswordFlagOnlySeedsANewStateFile(t *testing.T) {
	db := filepath.Join(t.TempDir(), "state.db")
	s := Start(t, "--db", db, "--hosts", "1", "--password", "first")
	Login(t, s)
	s.Stop()

	s2 := Start(t, "--db", db, "--hosts", "1", "--password", "other")
	assert.Equal(t, "first", s2.Password)
	anon := &JSONRPC{URL: s2.URL}
	_, err := anon.Call(t, "session.login_with_password", "root", "other")
	assert.Equal(t, APIError{"SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"}, err)
	Login(t, s2)
}

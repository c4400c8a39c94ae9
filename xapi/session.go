package xapi

import (
	"time"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// Identity is who a login authenticated.
type Identity struct {
	// Superuser sessions (root) bypass RBAC.
	Superuser bool
	// SID is the session's auth_user_sid ("" for root); Subject its subject ref.
	SID     string
	Subject string
	// Permissions are the session's rbac_permissions (empty for the superuser).
	Permissions []string
}

// Authenticator checks the credentials of users other than root (the users file of the
// RBAC feature).
type Authenticator interface {
	// Authenticate returns known=false when uname is not one of its users; otherwise the
	// user's identity, or the error to send (SESSION_AUTHENTICATION_FAILED, …).
	Authenticate(uname, pwd string) (id Identity, known bool, err error)
}

// AddAuthenticator makes logins try a for names other than root.
func (s *Server) AddAuthenticator(a Authenticator) {
	s.mu.Lock()
	s.authenticators = append(s.authenticators, a)
	s.mu.Unlock()
}

// lastActiveThreshold is how stale session.last_active may get before a call refreshes
// it; xapi writes it at most every 10 minutes (session_check.ml).
const lastActiveThreshold = 10 * time.Minute

func (s *Server) registerSession() {
	s.Handle("session.login_with_password", s.loginWithPassword)
	s.Handle("session.logout", s.logout)
	s.Handle("session.local_logout", s.logout)
	s.Handle("session.change_password", s.changePassword)
}

// AuthFailed is xapi's answer to bad credentials: two parameters although the catalogue
// declares none (protocol.md §4.7). xapi also sleeps before some of these replies; the
// emulator answers at once so that CI stays fast.
func AuthFailed(uname string) *apierror.Error {
	return apierror.New(apierror.SessionAuthenticationFailed, uname, "Authentication failure")
}

func (s *Server) loginWithPassword(c *Call) (any, error) {
	uname, pwd, originator := c.StringArg(0), c.StringArg(1), c.StringArg(3)
	id, err := s.authenticate(uname, pwd)
	if err != nil {
		return nil, err
	}
	return s.NewSession(uname, originator, id)
}

func (s *Server) authenticate(uname, pwd string) (Identity, error) {
	if uname == "root" {
		if pwd != s.RootPassword() {
			return Identity{}, AuthFailed(uname)
		}
		return Identity{Superuser: true, Subject: datamodel.NullRef}, nil
	}
	s.mu.RLock()
	auths := s.authenticators
	s.mu.RUnlock()
	for _, a := range auths {
		if id, known, err := a.Authenticate(uname, pwd); known {
			return id, err
		}
	}
	return Identity{}, AuthFailed(uname)
}

// NewSession stores a session for an authenticated user, with the fields of protocol.md
// §5.2.
func (s *Server) NewSession(uname, originator string, id Identity) (string, error) {
	now := s.Clock.Now()
	o := s.NewObject("session")
	Set(o, "this_host", s.MasterHost())
	Set(o, "last_active", now)
	Set(o, "validation_time", now)
	Set(o, "auth_user_name", uname)
	Set(o, "auth_user_sid", id.SID)
	Set(o, "is_local_superuser", id.Superuser)
	Set(o, "originator", originator)
	if id.Subject != "" {
		Set(o, "subject", id.Subject)
	}
	Set(o, "rbac_permissions", StringSet(id.Permissions...))
	if _, err := s.Store.Update(func(tx *store.Tx) error { tx.Put(o); return nil }); err != nil {
		return "", err
	}
	return o.Ref, nil
}

// RootPassword is root's password: the one the state file keeps (in an internal field of
// the pool), or the configured one while there is none.
func (s *Server) RootPassword() string {
	for _, p := range s.Store.All("pool") {
		if pwd := Str(p, "root_password"); pwd != "" {
			return pwd
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rootPassword
}

// KeepRootPassword writes the configured password into a pool that keeps none yet (a new
// state file, or one from before passwords were kept), so that from then on the state
// file, not the configuration, says what root's password is.
func (s *Server) KeepRootPassword() error {
	s.mu.RLock()
	pwd := s.rootPassword
	s.mu.RUnlock()
	_, err := s.Store.Update(func(tx *store.Tx) error {
		for _, p := range tx.All("pool") {
			if Str(p, "root_password") == "" {
				p = p.Clone()
				Set(p, "root_password", pwd)
				tx.Put(p)
			}
		}
		return nil
	})
	return err
}

// changePassword is session.change_password: only the local superuser may change root's
// password (RBAC already refuses everyone else; xapi checks again), and xapi ignores
// old_pwd. The new password is durable before the call returns.
func (s *Server) changePassword(c *Call) (any, error) {
	if !c.IsSuperuser() {
		return nil, apierror.New("USER_IS_NOT_LOCAL_SUPERUSER", "Failed to change password for user root")
	}
	pwd := c.StringArg(1)
	pools := 0
	_, err := s.Store.Update(func(tx *store.Tx) error {
		for _, p := range tx.All("pool") {
			pools++
			p = p.Clone()
			Set(p, "root_password", pwd)
			tx.Put(p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if pools == 0 {
		// No pool to keep it in (a bare server in tests): remember it until exit.
		s.mu.Lock()
		s.rootPassword = pwd
		s.mu.Unlock()
	}
	return nil, nil
}

func (s *Server) logout(c *Call) (any, error) {
	_, err := s.Store.Update(func(tx *store.Tx) error {
		tx.Delete("session", c.SessionRef)
		return nil
	})
	return nil, err
}

// touchSession refreshes last_active when it is stale, so that a busy session costs no
// write per call.
func (s *Server) touchSession(sess *store.Object) {
	now := s.Clock.Now()
	if now.Sub(Time(sess, "last_active")) < lastActiveThreshold {
		return
	}
	_ = s.UpdateField("session", sess.Ref, "last_active", func(any) (any, error) { return now, nil })
}

// MasterHost returns the pool master's ref, or the null ref before a pool exists.
func (s *Server) MasterHost() string {
	for _, p := range s.Store.All("pool") {
		return Str(p, "master")
	}
	return datamodel.NullRef
}

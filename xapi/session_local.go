package xapi

import (
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// Sessions xapi makes outside login_with_password (xapi_session.ml).

func (s *Server) registerLocalSessions() {
	// A read-only session over a database file of the host's filesystem: the simulated
	// hosts have no files, so every path answers as a missing one does (open_in's
	// Sys_error, which xapi sends as INTERNAL_ERROR). RBAC lets only root call it.
	s.Handle("session.create_from_db_file", func(c *Call) (any, error) {
		return nil, apierror.Internal("Sys_error(%q)", c.StringArg(0)+": No such file or directory")
	})
	// The emergency login to one host: only the local superuser's credentials count,
	// whatever external authentication says. Its session is stored like a pool one so
	// that later calls find it.
	s.Handle("session.slave_local_login_with_password", func(c *Call) (any, error) {
		uname, pwd := c.StringArg(0), c.StringArg(1)
		if uname != "root" || pwd != s.RootPassword() {
			return nil, AuthFailed(uname)
		}
		return s.NewSession(uname, "", Identity{Superuser: true, Subject: datamodel.NullRef})
	})
}

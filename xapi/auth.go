package xapi

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// External authentication (xapi_auth.ml, extauth.ml): the directory behind it is the users
// file. A host's external_auth_type says whether logins of directory users and the auth
// class reach it; xapi asks the coordinator's. "AD" and "PAM" are the plugins xapi knows;
// both are answered from the users file.

// DirectoryDomain is the service name (the AD domain) of the users-file directory.
const DirectoryDomain = "xapisim.local"

// Plugins xapi knows (Ext_auth.nd).
const (
	AuthTypeAD  = "AD"
	AuthTypePAM = "PAM"
)

func (s *Server) registerAuth() {
	s.Handle("auth.get_subject_identifier", func(c *Call) (any, error) {
		u, err := s.directoryUser(func(u User) bool { return u.Name == c.StringArg(0) })
		if err != nil {
			return nil, err
		}
		return SubjectID(u.Name), nil
	})
	s.Handle("auth.get_subject_information_from_identifier", s.subjectInformation)
	s.Handle("auth.get_group_membership", func(c *Call) (any, error) {
		// The users file has no groups: a user belongs to none.
		if _, err := s.directoryUser(bySID(c.StringArg(0))); err != nil {
			return nil, err
		}
		return StringSet(), nil
	})
}

func bySID(sid string) func(User) bool { return func(u User) bool { return SubjectID(u.Name) == sid } }

// ExternalAuthEnabled says whether the coordinator's external_auth_type is set. A server
// without a pool (the unit tests of this package) has no host to disable it on: its
// directory is always enabled.
func (s *Server) ExternalAuthEnabled() bool {
	if h := s.Store.Get("host", s.MasterHost()); h != nil {
		return Str(h, "external_auth_type") != ""
	}
	return true
}

// directoryUser finds a users-file account through the external authentication plugin:
// AUTH_IS_DISABLED while it is disabled, SUBJECT_CANNOT_BE_RESOLVED when no account
// matches (xapi's Extauth.call_with_exception_handler).
func (s *Server) directoryUser(match func(User) bool) (User, error) {
	if !s.ExternalAuthEnabled() {
		return User{}, apierror.New("AUTH_IS_DISABLED")
	}
	s.mu.RLock()
	users := s.users
	s.mu.RUnlock()
	for _, u := range users {
		if match(u) {
			return u, nil
		}
	}
	return User{}, apierror.New("SUBJECT_CANNOT_BE_RESOLVED")
}

// subjectInformation answers from a subject's other_config when the pool has one for the
// SID (as xapi queries its database first), else from the directory.
func (s *Server) subjectInformation(c *Call) (any, error) {
	sid := c.StringArg(0)
	if !s.ExternalAuthEnabled() {
		return nil, apierror.New("AUTH_IS_DISABLED")
	}
	for _, o := range s.Store.All("subject") {
		if Str(o, "subject_identifier") == sid {
			return CopyMap(Map(o, "other_config")), nil
		}
	}
	u, err := s.directoryUser(bySID(sid))
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for k, v := range DirectoryInformation(u) {
		out[k] = v
	}
	return out, nil
}

// DirectoryInformation is the record the AD plugin returns for a user
// (query_subject_information_user): uid and gid are made up from the SID's last part.
func DirectoryInformation(u User) map[string]string {
	sid := SubjectID(u.Name)
	rid := sid[len(sid)-4:]
	uid, _ := strconv.Atoi(rid)
	return map[string]string{
		"subject-name":             u.Name,
		"subject-gecos":            u.Name,
		"subject-displayname":      u.Name,
		"subject-uid":              strconv.Itoa(3000000 + uid),
		"subject-gid":              "3000513", // Domain Users
		"subject-upn":              fmt.Sprintf("%s@%s", u.Name, DirectoryDomain),
		"subject-sid":              sid,
		"subject-account-disabled": "false",
		"subject-account-locked":   "false",
		"subject-account-expired":  "false",
		"subject-password-expired": "false",
		"subject-is-group":         "false",
	}
}

// EnableDirectory turns external authentication on, against the users file, in every
// host that has it off: the state with which --users starts a pool, so that restarting
// with --users enables it again after a disable_external_auth.
func (s *Server) EnableDirectory() error {
	_, err := s.Store.Update(func(tx *store.Tx) error {
		hosts := tx.All("host")
		sort.Slice(hosts, func(i, j int) bool { return hosts[i].Ref < hosts[j].Ref })
		for _, h := range hosts {
			if Str(h, "external_auth_type") != "" {
				continue
			}
			h = h.Clone()
			Set(h, "external_auth_type", AuthTypeAD)
			Set(h, "external_auth_service_name", DirectoryDomain)
			Set(h, "external_auth_configuration", map[string]any{"domain": DirectoryDomain, "user": "administrator"})
			tx.Put(h)
		}
		return nil
	})
	return err
}

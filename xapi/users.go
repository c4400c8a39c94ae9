package xapi

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"

	"github.com/xapisim/xapisim/rbac"
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// User is an account of the users file (--users): CI logs in with it to test what a
// role may and may not do. Each user is an externally authenticated subject of xapi.
type User struct {
	Name     string   `json:"name"`
	Password string   `json:"password"`
	Roles    []string `json:"roles"`
}

// LoadUsers reads a users file: a JSON array of {name, password, roles}.
func LoadUsers(path string) ([]User, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var users []User
	if err := json.Unmarshal(data, &users); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	seen := map[string]bool{}
	for _, u := range users {
		switch {
		case u.Name == "" || u.Name == "root":
			return nil, fmt.Errorf("%s: user name %q is not allowed", path, u.Name)
		case seen[u.Name]:
			return nil, fmt.Errorf("%s: user %q appears twice", path, u.Name)
		}
		seen[u.Name] = true
		for _, r := range u.Roles {
			if !rbac.IsUserRole(r) {
				return nil, fmt.Errorf("%s: user %q: unknown role %q (roles: %v)", path, u.Name, r, rbac.UserRoles)
			}
		}
	}
	return users, nil
}

// SubjectID is the made-up, stable security identifier of a users-file account, in the
// shape of an Active Directory SID.
func SubjectID(name string) string {
	sum := md5.Sum([]byte(name))
	return fmt.Sprintf("S-1-5-21-%d-%d-%d-%d", binary.BigEndian.Uint32(sum[0:4]), binary.BigEndian.Uint32(sum[4:8]),
		binary.BigEndian.Uint32(sum[8:12]), 1000+binary.BigEndian.Uint16(sum[12:14])%9000)
}

// AddUsers makes the accounts able to log in: each gets a subject object with the roles
// the file gives it (the file wins over roles changed through the API in an earlier run).
func (s *Server) AddUsers(users []User) error {
	_, err := s.Store.Update(func(tx *store.Tx) error {
		for _, u := range users {
			sid := SubjectID(u.Name)
			var subj *store.Object
			for _, o := range tx.All("subject") {
				if Str(o, "subject_identifier") == sid {
					subj = o.Clone()
				}
			}
			if subj == nil {
				subj = s.NewObject("subject")
				Set(subj, "subject_identifier", sid)
			}
			Set(subj, "other_config", map[string]any{
				"subject-name": u.Name, "subject-displayname": u.Name, "subject-sid": sid,
				"subject-is-group": "false", "subject-account-disabled": "false", "subject-account-locked": "false",
			})
			roles := []any{}
			for _, r := range u.Roles {
				roles = append(roles, rbac.Ref(r))
			}
			Set(subj, "roles", roles)
			tx.Put(subj)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.users = append(s.users, users...)
	s.mu.Unlock()
	s.AddAuthenticator(&usersFile{srv: s, users: users})
	return nil
}

// usersFile authenticates the accounts of the users file like external subjects.
type usersFile struct {
	srv   *Server
	users []User
}

func (f *usersFile) Authenticate(uname, pwd string) (Identity, bool, error) {
	for _, u := range f.users {
		if u.Name != uname {
			continue
		}
		if u.Password != pwd || !f.srv.ExternalAuthEnabled() {
			// With external authentication disabled only root may log in.
			return Identity{}, true, AuthFailed(uname)
		}
		sid := SubjectID(u.Name)
		var subj *store.Object
		for _, o := range f.srv.Store.All("subject") {
			if Str(o, "subject_identifier") == sid {
				subj = o
			}
		}
		if subj == nil {
			return Identity{}, true, apierror.New("SESSION_AUTHORIZATION_FAILED", uname, "the subject of this user was destroyed")
		}
		perms := f.srv.subjectPermissions(subj)
		if len(perms) == 0 {
			return Identity{}, true, apierror.New(apierror.RBACPermissionDenied, "session.login_with_password",
				fmt.Sprintf("Subject %s (identifier %s) has no roles in this pool", uname, sid))
		}
		return Identity{SID: sid, Subject: subj.Ref, Permissions: perms}, true, nil
	}
	return Identity{}, false, nil
}

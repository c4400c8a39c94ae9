package xapi

import (
	"slices"
	"sort"

	"github.com/xapisim/xapisim/rbac"
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Subjects are the users and groups of an external directory that may log in, each with
// roles (semantics.md §7.4). The RBAC licence is taken as present, so a new subject has
// no role until one is added.

func (s *Server) registerSubjects() {
	s.Handle("subject.create", s.subjectCreate)
	s.Handle("subject.destroy", s.subjectDestroy)
	s.Handle("subject.add_to_roles", s.subjectAddToRoles)
	s.Handle("subject.remove_from_roles", s.subjectRemoveFromRoles)
	s.Handle("subject.get_permissions_name_label", func(c *Call) (any, error) {
		subj, err := c.Get("subject", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		return StringSet(s.subjectPermissions(subj)...), nil
	})
	s.Handle("session.get_all_subject_identifiers", func(c *Call) (any, error) {
		seen := map[string]bool{}
		var sids []string
		for _, o := range s.Store.All("session") {
			if sid := Str(o, "auth_user_sid"); sid != "" && !seen[sid] {
				seen[sid] = true
				sids = append(sids, sid)
			}
		}
		sort.Strings(sids)
		return StringSet(sids...), nil
	})
	s.Handle("session.logout_subject_identifier", func(c *Call) (any, error) {
		return nil, s.logoutSubject(c.StringArg(0), c.SessionRef)
	})
}

func (s *Server) subjectCreate(c *Call) (any, error) {
	rec := c.Arg(0).([]any)
	o := s.NewObject("subject")
	cls := s.Schema.Class("subject")
	sid, _ := rec[cls.Field("subject_identifier").Index].(string)
	Set(o, "subject_identifier", sid)
	Set(o, "other_config", rec[cls.Field("other_config").Index])
	Set(o, "roles", []any{})
	_, err := s.Store.Update(func(tx *store.Tx) error {
		for _, other := range tx.All("subject") {
			if Str(other, "subject_identifier") == sid {
				return apierror.New("SUBJECT_ALREADY_EXISTS")
			}
		}
		tx.Put(o)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o.Ref, nil
}

// subjectDestroy removes a subject and logs out its sessions.
func (s *Server) subjectDestroy(c *Call) (any, error) {
	subj, err := c.Get("subject", c.StringArg(0))
	if err != nil {
		return nil, err
	}
	if sid := Str(subj, "subject_identifier"); sid != "" {
		if err := s.logoutSubject(sid, c.SessionRef); err != nil {
			return nil, err
		}
	}
	_, err = s.Store.Update(func(tx *store.Tx) error { tx.Delete("subject", subj.Ref); return nil })
	return nil, err
}

func (s *Server) subjectAddToRoles(c *Call) (any, error) {
	role := c.StringArg(1)
	return nil, s.UpdateField("subject", c.StringArg(0), "roles", func(old any) (any, error) {
		roles, _ := old.([]any)
		if !validRole(role) {
			return nil, roleNotFound()
		}
		if slices.Contains(roles, any(role)) {
			return nil, apierror.New("ROLE_ALREADY_EXISTS")
		}
		return append(slices.Clip(roles), role), nil
	})
}

func (s *Server) subjectRemoveFromRoles(c *Call) (any, error) {
	role := c.StringArg(1)
	return nil, s.UpdateField("subject", c.StringArg(0), "roles", func(old any) (any, error) {
		roles, _ := old.([]any)
		if !slices.Contains(roles, any(role)) {
			return nil, roleNotFound()
		}
		return slices.DeleteFunc(slices.Clone(roles), func(r any) bool { return r == role }), nil
	})
}

// subjectPermissions is the union of the permissions of a subject's roles, sorted.
func (s *Server) subjectPermissions(subj *store.Object) []string {
	set := map[string]bool{}
	for _, ref := range Refs(subj, "roles") {
		for _, role := range rbac.Roles {
			if rbac.Ref(role) == ref {
				for _, p := range s.policy.Permissions(role) {
					set[p] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// logoutSubject deletes every session of a subject identifier but the caller's own, as
// xapi's session.logout_subject_identifier does.
func (s *Server) logoutSubject(sid, caller string) error {
	_, err := s.Store.Update(func(tx *store.Tx) error {
		for _, o := range tx.All("session") {
			if Str(o, "auth_user_sid") == sid && o.Ref != caller {
				tx.Delete("session", o.Ref)
			}
		}
		return nil
	})
	return err
}

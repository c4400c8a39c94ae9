package cluster

import (
	"errors"
	"fmt"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// External authentication per host and per pool (xapi_host.ml, xapi_pool.ml). The
// directory behind both known plugins is the users file (xapi/auth.go); the AD plugin
// only checks that the join credentials are given. Pool-wide calls change every host in
// one transaction, so a failure leaves nothing to roll back. The non-homogeneity check,
// asynchronous in xapi, runs when the call's changes are made.

func (p *Sim) registerExternalAuth() {
	p.srv.Handle("host.enable_external_auth", func(c *xapi.Call) (any, error) {
		return nil, p.extAuthUpdate(func(tx *store.Tx) error {
			if _, err := liveHost(tx, c.StringArg(0)); err != nil {
				return err
			}
			return enableExtAuth(tx, c.StringArg(0), c.Arg(1), c.StringArg(2), c.StringArg(3))
		}, c.StringArg(0))
	})
	p.srv.Handle("host.disable_external_auth", func(c *xapi.Call) (any, error) {
		return nil, p.extAuthUpdate(func(tx *store.Tx) error {
			if _, err := liveHost(tx, c.StringArg(0)); err != nil {
				return err
			}
			disableExtAuth(tx, c.StringArg(0))
			return nil
		}, c.StringArg(0))
	})
	p.srv.Handle("pool.enable_external_auth", func(c *xapi.Call) (any, error) {
		return nil, p.extAuthUpdate(func(tx *store.Tx) error {
			if _, err := xapi.GetObject(tx, "pool", c.StringArg(0)); err != nil {
				return err
			}
			return enablePoolExtAuth(tx, c.Arg(1), c.StringArg(2), c.StringArg(3))
		}, "")
	})
	p.srv.Handle("pool.disable_external_auth", func(c *xapi.Call) (any, error) {
		// Every host it reaches is disabled; the first failure is the pool's.
		var failed error
		err := p.extAuthUpdate(func(tx *store.Tx) error {
			if _, err := xapi.GetObject(tx, "pool", c.StringArg(0)); err != nil {
				return err
			}
			for _, h := range masterFirst(tx) {
				var e *apierror.Error
				if err := forwardTo(tx, h); errors.As(err, &e) {
					if failed == nil {
						failed = apierror.New("POOL_AUTH_DISABLE_FAILED", h, xapi.Str(tx.Get("host", h), "name_label")+": "+e.Params[0])
					}
					continue
				}
				disableExtAuth(tx, h)
			}
			// Sessions of directory users end with external authentication.
			for _, s := range tx.All("session") {
				if !xapi.Bool(s, "is_local_superuser") && xapi.Str(s, "auth_user_sid") != "" {
					tx.Delete("session", s.Ref)
				}
			}
			return nil
		}, "")
		if err != nil {
			return nil, err
		}
		return nil, failed
	})
	p.srv.Handle("pool.detect_nonhomogeneous_external_auth", func(c *xapi.Call) (any, error) {
		return nil, p.extAuthUpdate(func(tx *store.Tx) error {
			_, err := xapi.GetObject(tx, "pool", c.StringArg(0))
			return err
		}, xapi.Str(firstPool(p.srv.Store), "master"))
	})
}

// extAuthUpdate runs fn, then (when fn succeeds) the non-homogeneity check for host, in
// one transaction.
func (p *Sim) extAuthUpdate(fn func(tx *store.Tx) error, host string) error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if host != "" {
			p.detectNonhomogeneous(tx, host)
		}
		return nil
	})
	return err
}

// masterFirst is xapi's get_master_slaves_list.
func masterFirst(r store.Reader) []string {
	master := xapi.Str(firstPool(r), "master")
	out := []string{master}
	for _, h := range sortedHosts(r) {
		if h != master {
			out = append(out, h)
		}
	}
	return out
}

// enableExtAuth is Host.enable_external_auth on one host, in xapi's order of checks.
func enableExtAuth(tx *store.Tx, ref string, config any, service, authType string) error {
	h := tx.Get("host", ref)
	if cur := xapi.Str(h, "external_auth_type"); cur != "" {
		return apierror.New("AUTH_ALREADY_ENABLED", cur, xapi.Str(h, "external_auth_service_name"))
	}
	cfg, _ := config.(map[string]any)
	stored := map[string]any{}
	switch authType {
	case xapi.AuthTypeAD:
		for _, key := range []string{"user", "pass"} {
			if _, ok := cfg[key]; !ok {
				return apierror.New("AUTH_ENABLE_FAILED", "enable requires "+key)
			}
		}
		// The plugin keeps what it needs, not the one-time password.
		stored = map[string]any{"domain": service, "user": cfg["user"]}
	case xapi.AuthTypePAM:
	default:
		return apierror.New("AUTH_UNKNOWN_TYPE", authType)
	}
	h = h.Clone()
	xapi.Set(h, "external_auth_type", authType)
	xapi.Set(h, "external_auth_service_name", service)
	xapi.Set(h, "external_auth_configuration", stored)
	tx.Put(h)
	return nil
}

// disableExtAuth is Host.disable_external_auth: nothing to do when it is off.
func disableExtAuth(tx *store.Tx, ref string) {
	h := tx.Get("host", ref)
	if xapi.Str(h, "external_auth_type") == "" {
		return
	}
	h = h.Clone()
	xapi.Set(h, "external_auth_type", "")
	xapi.Set(h, "external_auth_service_name", "")
	tx.Put(h)
}

// enablePoolExtAuth is Pool.enable_external_auth: refused when a host has it on or two
// hosts share a hostname; a host's failure is the pool's, with the host's ref.
func enablePoolExtAuth(tx *store.Tx, config any, service, authType string) error {
	hosts := masterFirst(tx)
	names := map[string]bool{}
	for _, h := range hosts {
		if xapi.Str(tx.Get("host", h), "external_auth_type") != "" {
			return apierror.New("POOL_AUTH_ALREADY_ENABLED", h)
		}
		names[xapi.Str(tx.Get("host", h), "hostname")] = true
	}
	if len(names) != len(hosts) {
		return apierror.New("POOL_AUTH_ENABLE_FAILED_DUPLICATE_HOSTNAME", hosts[0], "At least two hosts in the pool have the same hostname")
	}
	for _, h := range hosts {
		err := forwardTo(tx, h)
		if err == nil {
			err = enableExtAuth(tx, h, config, service, authType)
		}
		var e *apierror.Error
		switch {
		case err == nil:
		case errors.As(err, &e) && e.Code == "AUTH_UNKNOWN_TYPE":
			return err
		case errors.As(err, &e) && e.Code == "AUTH_ENABLE_FAILED":
			return apierror.New("POOL_AUTH_ENABLE_FAILED", h, e.Params[0])
		default: // HOST_OFFLINE, as xapi prints it
			return apierror.New("POOL_AUTH_ENABLE_FAILED", h, fmt.Sprintf("%s: [ %s ]", e.Code, strings.Join(e.Params, "; ")))
		}
	}
	return nil
}

// detectNonhomogeneous raises EXTAUTH_IN_POOL_IS_NON_HOMOGENEOUS about a slave whose
// external authentication differs from the coordinator's; for the coordinator, about
// every such slave.
func (p *Sim) detectNonhomogeneous(tx *store.Tx, host string) {
	master := tx.Get("host", xapi.Str(firstPool(tx), "master"))
	if master == nil {
		return
	}
	hosts := []string{host}
	if host == master.Ref {
		hosts = masterFirst(tx)[1:]
	}
	for _, ref := range hosts {
		h := tx.Get("host", ref)
		if h == nil {
			continue
		}
		ht, hs := xapi.Str(h, "external_auth_type"), xapi.Str(h, "external_auth_service_name")
		mt, ms := xapi.Str(master, "external_auth_type"), xapi.Str(master, "external_auth_service_name")
		if ht == mt && hs == ms {
			continue
		}
		tx.Put(p.srv.NewMessage(xapi.Alert{Name: "EXTAUTH_IN_POOL_IS_NON_HOMOGENEOUS", Priority: xapi.PriorityMajor, Class: "Host",
			ObjUUID: xapi.Str(h, "uuid"),
			Body: fmt.Sprintf("host_external_auth_type=%s, host_external_auth_service_name=%s, master_external_auth_type=%s, master_external_auth_service_name=%s",
				ht, hs, mt, ms)}))
	}
}

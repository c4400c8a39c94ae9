package cluster

import (
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// TLS between the hosts and towards clients (xapi_pool.ml enable_tls_verification,
// message_forwarding.ml, xapi_host.ml emergency_*_tls_verification). Stunnel is not
// simulated: the calls check what xapi checks and set the fields. The pool's CA bundle
// exists once the hosts have exchanged their certificates, that is once verification was
// enabled for the pool.

func (p *Sim) registerTLS() {
	s := p.srv
	s.Handle("pool.enable_tls_verification", p.enableTLSVerification)
	// Both emergency calls run on the host they reach: the coordinator.
	s.Handle("host.emergency_disable_tls_verification", func(*xapi.Call) (any, error) {
		return nil, p.setMasterTLSVerification(nil)
	})
	s.Handle("host.emergency_reenable_tls_verification", func(*xapi.Call) (any, error) {
		return nil, p.setMasterTLSVerification(func(tx *store.Tx) error {
			if !xapi.Bool(firstPool(tx), "tls_verification_enabled") {
				return apierror.New("TLS_VERIFICATION_NOT_ENABLED_IN_POOL")
			}
			return nil
		})
	})
	// xapi records the setting and restarts its management interface; the simulated
	// server does not ask clients for certificates.
	clientAuth := func(enabled bool) xapi.Handler {
		return func(c *xapi.Call) (any, error) {
			name := ""
			if enabled {
				name = c.StringArg(1)
			}
			_, err := s.Store.Update(func(tx *store.Tx) error {
				pool, err := xapi.GetObject(tx, "pool", c.StringArg(0))
				if err != nil {
					return err
				}
				pool = pool.Clone()
				xapi.Set(pool, "client_certificate_auth_enabled", enabled)
				xapi.Set(pool, "client_certificate_auth_name", name)
				tx.Put(pool)
				return nil
			})
			return nil, err
		}
	}
	s.Handle("pool.enable_client_certificate_auth", clientAuth(true))
	s.Handle("pool.disable_client_certificate_auth", clientAuth(false))
}

// setMasterTLSVerification sets the coordinator's tls_verification_enabled: on when check
// is given and passes, off without one.
func (p *Sim) setMasterTLSVerification(check func(tx *store.Tx) error) error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		if check != nil {
			if err := check(tx); err != nil {
				return err
			}
		}
		h := tx.Get("host", xapi.Str(firstPool(tx), "master")).Clone()
		xapi.Set(h, "tls_verification_enabled", check != nil)
		tx.Put(h)
		return nil
	})
	return err
}

// enableTLSVerification is pool.enable_tls_verification under the pool's
// tls_verification_enable operation: the hosts exchange certificates, each turns
// verification on after reaching every other, then the pool records it (and WLB's
// certificate check). Every host must answer, the coordinator first.
func (p *Sim) enableTLSVerification(c *xapi.Call) (any, error) {
	return nil, p.withOp(c, poolOp(firstPool(p.srv.Store).Ref, "tls_verification_enable"), func() error {
		if err := c.Work(); err != nil {
			return err
		}
		_, err := p.srv.Store.Update(func(tx *store.Tx) error {
			master := xapi.Str(firstPool(tx), "master")
			hosts := []string{master}
			for _, h := range sortedHosts(tx) {
				if h != master {
					hosts = append(hosts, h)
				}
			}
			for _, h := range hosts {
				if err := forwardTo(tx, h); err != nil {
					return err
				}
			}
			for _, ref := range hosts {
				h := tx.Get("host", ref).Clone()
				xapi.Set(h, "tls_verification_enabled", true)
				tx.Put(h)
			}
			pool := firstPool(tx).Clone()
			xapi.Set(pool, "tls_verification_enabled", true)
			xapi.Set(pool, "wlb_verify_cert", true)
			tx.Put(pool)
			return nil
		})
		return err
	})
}

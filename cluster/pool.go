package cluster

import (
	"slices"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// The pool (semantics.md §3.4): a new master among the emulated hosts, and ejecting a
// host. Eject hooks run first, in the same transaction (clustering leaves the cluster).

// EjectHook runs when a host is ejected, before its records go.
type EjectHook func(tx *store.Tx, host string) error

// OnEject registers an eject hook.
func (p *Sim) OnEject(h EjectHook) {
	p.mu.Lock()
	p.ejects = append(p.ejects, h)
	p.mu.Unlock()
}

func (p *Sim) registerPool() {
	s := p.srv
	s.Handle("pool.designate_new_master", func(c *xapi.Call) (any, error) {
		host := c.StringArg(0)
		_, err := s.Store.Update(func(tx *store.Tx) error {
			if _, err := xapi.GetObject(tx, "host", host); err != nil {
				return err
			}
			if !hostLive(tx, host) {
				return apierror.New("HOST_OFFLINE", host)
			}
			pool := firstPool(tx).Clone()
			xapi.Set(pool, "master", host)
			tx.Put(pool)
			return nil
		})
		return nil, err
	})
	s.Handle("pool.eject", p.eject)
}

// eject removes a host from the pool: not the master, not with running guests, not with
// HA on.
func (p *Sim) eject(c *xapi.Call) (any, error) {
	host := c.StringArg(0)
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		h, err := xapi.GetObject(tx, "host", host)
		if err != nil {
			return err
		}
		pool := firstPool(tx)
		if xapi.Bool(pool, "ha_enabled") {
			return apierror.New("HA_IS_ENABLED")
		}
		if xapi.Str(pool, "master") == host {
			return apierror.Internal("Xapi_pool.Cannot_eject_master")
		}
		for _, vm := range xapi.Refs(h, "resident_VMs") {
			if o := tx.Get("VM", vm); o != nil && !xapi.Bool(o, "is_control_domain") && xapi.Str(o, "power_state") != "Halted" {
				return apierror.New(apierror.OperationNotAllowed, "VM resident on host")
			}
		}
		p.mu.Lock()
		hooks := slices.Clone(p.ejects)
		p.mu.Unlock()
		for _, hook := range hooks {
			if err := hook(tx, host); err != nil {
				return err
			}
		}
		p.forgetHost(tx, h)
		return nil
	})
	return nil, err
}

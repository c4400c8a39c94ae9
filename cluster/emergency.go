package cluster

import (
	"net"
	"slices"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// The emergency calls (xapi_ha.ml, xapi_host.ml, xapi_pool.ml, xapi_pool_transition.ml)
// answer from the coordinator, which is where the simulation takes every call. Each host
// keeps a local "HA armed" flag: armed while the database says HA is on, except on the
// coordinator after host.emergency_ha_disable (not soft), until HA is enabled again.
// xHA's daemon being stopped by emergency_ha_disable is not otherwise visible: the
// simulated monitor goes on. The coordinator is never in emergency mode (it reaches its
// own database), and becoming master again restarts nothing.

func (p *Sim) registerEmergency() {
	s := p.srv
	s.Handle("host.local_management_reconfigure", func(*xapi.Call) (any, error) {
		return nil, apierror.New("NOT_IN_EMERGENCY_MODE")
	})
	s.Handle("host.emergency_ha_disable", func(c *xapi.Call) (any, error) {
		soft := c.Arg(0).(bool)
		if !p.haArmed(s.Store) {
			if soft {
				return nil, nil
			}
			return nil, apierror.New("HA_NOT_ENABLED")
		}
		if !soft {
			p.ha.disarmed.Store(true)
		}
		return nil, nil
	})
	s.Handle("pool.emergency_transition_to_master", func(*xapi.Call) (any, error) {
		if p.haArmed(s.Store) {
			return nil, apierror.New("HA_IS_ENABLED")
		}
		return nil, nil
	})
	s.Handle("pool.emergency_reset_master", func(c *xapi.Call) (any, error) {
		address := c.StringArg(0)
		if p.haArmed(s.Store) {
			return nil, apierror.New("HA_IS_ENABLED")
		}
		if !resolves(address) {
			return nil, apierror.Internal("Couldn't resolve hostname: %s", address)
		}
		// The coordinator would become a slave of that address: not simulated.
		return nil, apierror.New(apierror.NotImplemented, "pool.emergency_reset_master")
	})
	s.Handle("pool.recover_slaves", func(*xapi.Call) (any, error) {
		return xapi.StringSet(p.recoverSlaves(s.Store)...), nil
	})
}

// haArmed is the coordinator's local ha_armed flag.
func (p *Sim) haArmed(r store.Reader) bool {
	return xapi.Bool(firstPool(r), "ha_enabled") && !p.ha.disarmed.Load()
}

// resolves says whether dom0's resolver finds an address: IP literals and localhost
// only, as the simulated network has no DNS.
func resolves(address string) bool {
	return net.ParseIP(address) != nil || address == "localhost"
}

// recoverSlaves is pool.recover_slaves: every other host reached (live) accepts
// emergency_reset_master with the coordinator's address unless its HA is armed, and is
// already its slave; xapi gathers them by prepending.
func (p *Sim) recoverSlaves(r store.Reader) []string {
	master := xapi.Str(firstPool(r), "master")
	haOn := xapi.Bool(firstPool(r), "ha_enabled")
	recovered := []string{}
	for _, h := range r.All("host") {
		if h.Ref == master || !hostLive(r, h.Ref) || haOn {
			continue
		}
		recovered = append(recovered, h.Ref)
	}
	slices.Reverse(recovered)
	return recovered
}

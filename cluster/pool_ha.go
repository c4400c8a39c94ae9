package cluster

import (
	"sort"
	"strconv"
	"time"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// The pool's licence state and the HA settings that need no failover planner
// (xapi_pool.ml, xapi_ha.ml). HA cannot be enabled in the simulation, so no VM is
// protected by it unless a client created one with ha_always_run and restart priority
// "restart"; planning for those is not simulated.

// simEditions are the editions the simulated licensing daemon knows: XCP-ng's one.
var simEditions = []string{"xcp-ng"}

// licenseExpiryLayout is xapi's ISO 8601 date as stored in license_params.
const licenseExpiryLayout = "20060102T15:04:05Z"

func (p *Sim) registerPoolHA() {
	s := p.srv
	s.Handle("pool.get_license_state", func(c *xapi.Call) (any, error) {
		if _, err := c.Get("pool", c.StringArg(0)); err != nil {
			return nil, err
		}
		return licenseState(s.Store)
	})
	s.Handle("pool.disable_ha", func(c *xapi.Call) (any, error) {
		if !xapi.Bool(firstPool(s.Store), "ha_enabled") {
			return nil, apierror.New("HA_NOT_ENABLED")
		}
		return nil, apierror.New(apierror.NotImplemented, "pool.disable_ha")
	})
	s.Handle("pool.set_ha_host_failures_to_tolerate", func(c *xapi.Call) (any, error) {
		value := c.Arg(1).(int64)
		_, err := s.Store.Update(func(tx *store.Tx) error {
			if value < 0 {
				return apierror.New("INVALID_VALUE", "ha_host_failures_to_tolerate", strconv.FormatInt(value, 10))
			}
			pool, err := xapi.GetObject(tx, "pool", c.StringArg(0))
			if err != nil {
				return err
			}
			for _, vm := range tx.All("VM") {
				if xapi.Bool(vm, "ha_always_run") && xapi.Str(vm, "ha_restart_priority") == "restart" {
					return apierror.New(apierror.NotImplemented, "pool.set_ha_host_failures_to_tolerate")
				}
			}
			// With nothing to protect, a plan exists for any number of failures.
			pool = pool.Clone()
			xapi.Set(pool, "ha_host_failures_to_tolerate", value)
			xapi.Set(pool, "ha_plan_exists_for", value)
			xapi.Set(pool, "ha_overcommitted", false)
			tx.Put(pool)
			return nil
		})
		return nil, err
	})
}

// licenseState is the pool's lowest edition among its hosts and the earliest expiry of
// the hosts with that edition ("never" for none or the year 2100).
func licenseState(r store.Reader) (any, error) {
	order := map[string]int{}
	for i, e := range simEditions {
		order[e] = i
	}
	hosts := r.All("host")
	edition, best := "", -1
	for _, h := range hosts {
		if o, ok := order[xapi.Str(h, "edition")]; ok && (best < 0 || o < best) {
			edition, best = xapi.Str(h, "edition"), o
		}
	}
	if best < 0 {
		return nil, apierror.Internal("Failure(%q)", "hd")
	}
	var expiries []time.Time
	for _, h := range hosts {
		if xapi.Str(h, "edition") != edition {
			continue
		}
		e, ok := xapi.StringMap(h, "license_params")["expiry"]
		if !ok || e == "never" {
			continue
		}
		if t, err := time.Parse(licenseExpiryLayout, e); err == nil {
			expiries = append(expiries, t)
		}
	}
	expiry := "never"
	if len(expiries) > 0 {
		sort.Slice(expiries, func(i, j int) bool { return expiries[i].Before(expiries[j]) })
		if !expiries[0].Equal(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)) {
			expiry = expiries[0].UTC().Format(licenseExpiryLayout)
		}
	}
	return map[string]any{"edition": edition, "expiry": expiry}, nil
}

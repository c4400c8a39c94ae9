package cluster

import (
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// The pool's licence state and pool HA (xapi_pool.ml, xapi_ha.ml): enabling and
// disabling it, and the planner's answers (ha.go, ha_plan.go).

// simEditions are the editions the simulated licensing daemon knows: XCP-ng's one.
var simEditions = []string{"xcp-ng"}

// licenseExpiryLayout is xapi's ISO 8601 date as stored in license_params.
const licenseExpiryLayout = "20060102T15:04:05Z"

func (p *Sim) registerPoolHA() {
	s := p.srv
	p.OnLiveness(p.haLiveness)
	s.Handle("pool.get_license_state", func(c *xapi.Call) (any, error) {
		if _, err := c.Get("pool", c.StringArg(0)); err != nil {
			return nil, err
		}
		return licenseState(s.Store)
	})
	s.Handle("pool.enable_ha", p.enableHA)
	s.Handle("pool.disable_ha", p.disableHA)
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
			if xapi.Int(firstPool(tx), "ha_plan_exists_for") > 0 {
				n := int(value)
				if err := assertPlanKept(tx, haChange{numFailures: &n}); err != nil {
					return err
				}
			}
			pool = pool.Clone()
			xapi.Set(pool, "ha_host_failures_to_tolerate", value)
			tx.Put(pool)
			p.updatePoolStatus(tx)
			return nil
		})
		return nil, err
	})
	s.Handle("pool.ha_failover_plan_exists", func(c *xapi.Call) (any, error) {
		var ok bool
		s.Store.View(func(r store.Reader) {
			ok = planFor(r, protectedVMs(r), haChange{}, int(c.Arg(0).(int64))) == planForAll
		})
		return ok, nil
	})
	s.Handle("pool.ha_compute_max_host_failures_to_tolerate", func(c *xapi.Call) (any, error) {
		var n int64
		_, err := s.Store.Update(func(tx *store.Tx) error {
			n = maxFailures(tx, protectedVMs(tx))
			pool := firstPool(tx)
			if !xapi.Bool(pool, "ha_enabled") {
				return nil
			}
			toTolerate, planned := xapi.Int(pool, "ha_host_failures_to_tolerate"), xapi.Int(pool, "ha_plan_exists_for")
			setPoolFields(tx, map[string]any{"ha_overcommitted": toTolerate > n})
			if planned != n {
				setPoolFields(tx, map[string]any{"ha_plan_exists_for": min(toTolerate, n)})
				if n < planned {
					p.poolAlert(tx, alertPlanDropped, strconv.FormatInt(n, 10))
				}
			}
			return nil
		})
		return n, err
	})
	s.Handle("pool.ha_compute_hypothetical_max_host_failures_to_tolerate", func(c *xapi.Call) (any, error) {
		config := c.Arg(0).(map[string]any)
		vms := make([]string, 0, len(config))
		for vm := range config {
			vms = append(vms, vm)
		}
		sort.Strings(vms)
		for _, vm := range vms {
			if pri, _ := config[vm].(string); !slices.Contains(haValidRestartPriorities, pri) {
				return nil, apierror.New(apierror.InvalidValue, "ha_restart_priority", pri)
			}
		}
		var n int64
		var err error
		s.Store.View(func(r store.Reader) {
			var protected []*store.Object
			for _, ref := range vms {
				if config[ref] != haRestart {
					continue
				}
				vm, e := xapi.GetObject(r, "VM", ref)
				if e != nil {
					err = e
					return
				}
				protected = append(protected, vm)
			}
			n = maxFailures(r, protected)
		})
		return n, err
	})
	s.Handle("pool.ha_compute_vm_failover_plan", p.failoverPlan)
	s.Handle("pool.ha_prevent_restarts_for", func(c *xapi.Call) (any, error) {
		seconds := c.Arg(0).(int64)
		_, err := s.Store.Update(func(*store.Tx) error { // serialised with the monitor
			p.ha.holdUntil = s.Clock.Now().Add(time.Duration(seconds) * time.Second)
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

package cluster

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Pool settings (xapi_pool.ml, xapi_psr.ml, xapi_sdn_controller.ml): the calls that
// validate a value and record it, or only check, since what they drive (networkd, the
// guest agents, the update sync timer, the authentication thread pools, the redo log's
// block device) is not simulated.

// featureEnabled is Pool_features.is_enabled for a feature whose restrictions key is
// negative (restrict_x = "false" enables it): a missing or unparsable key disables it
// unless the feature counts as enabled when unknown.
func featureEnabled(r store.Reader, key string, whenUnknown bool) bool {
	switch xapi.StringMap(firstPool(r), "restrictions")[key] {
	case "false":
		return true
	case "true":
		return false
	}
	return whenUnknown
}

// licenceRestriction is Pool_features.assert_enabled.
func licenceRestriction(r store.Reader, key, feature string, whenUnknown bool) error {
	if !featureEnabled(r, key, whenUnknown) {
		return apierror.New("LICENCE_RESTRICTION", feature)
	}
	return nil
}

// usingVSwitch says whether the coordinator's network backend (what networkd reports and
// what xapi copies into software_version) is Open vSwitch.
func usingVSwitch(r store.Reader) bool {
	master := r.Get("host", xapi.Str(firstPool(r), "master"))
	return master != nil && xapi.StringMap(master, "software_version")["network_backend"] == "openvswitch"
}

// isIPv4 is Helpers.is_valid_ip `ipv4: a dotted quad.
func isIPv4(s string) bool {
	ip := net.ParseIP(s)
	return ip != nil && ip.To4() != nil && !strings.Contains(s, ":")
}

// redoLogVDISize is Redo_log.minimum_vdi_size: 4 GB in 4 MiB units, less two.
const redoLogVDISize = (4_000_000_000/(4<<20) - 2) * (4 << 20)

// guestAgentConfigKeys are the keys pool.guest_agent_config accepts, with their check.
var guestAgentConfigKeys = map[string]func(string) bool{
	"auto_update_enabled": func(v string) bool { return v == "true" || v == "false" },
	"auto_update_url": func(v string) bool {
		scheme, _, ok := strings.Cut(v, ":")
		return ok && (scheme == "http" || scheme == "https")
	},
}

func (p *Sim) registerPoolSettings() {
	s := p.srv
	// setPool runs fn on the pool named by the call's first argument.
	setPool := func(c *xapi.Call, fn func(tx *store.Tx, pool *store.Object) error) error {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			pool, err := xapi.GetObject(tx, "pool", c.StringArg(0))
			if err != nil {
				return err
			}
			pool = pool.Clone()
			if err := fn(tx, pool); err != nil {
				return err
			}
			tx.Put(pool)
			return nil
		})
		return err
	}
	// checkPool answers HANDLE_INVALID for a bogus pool, as xapi's forwarding layer does
	// when it logs the pool's UUID.
	checkPool := func(c *xapi.Call) error {
		_, err := c.Get("pool", c.StringArg(0))
		return err
	}

	s.Handle("pool.set_igmp_snooping_enabled", func(c *xapi.Call) (any, error) {
		value := c.Arg(1).(bool)
		// Network.attach on every host reapplies the setting; the simulated one never fails.
		return nil, setPool(c, func(tx *store.Tx, pool *store.Object) error {
			if value {
				if err := licenceRestriction(tx, "restrict_igmp_snooping", "IGMP_snooping", false); err != nil {
					return err
				}
			}
			if !usingVSwitch(tx) {
				return apierror.New("OPENVSWITCH_NOT_ACTIVE")
			}
			xapi.Set(pool, "igmp_snooping_enabled", value)
			return nil
		})
	})
	s.Handle("pool.set_vswitch_controller", p.setVSwitchController)

	s.Handle("pool.add_to_guest_agent_config", func(c *xapi.Call) (any, error) {
		key, value := c.StringArg(1), c.StringArg(2)
		return nil, setPool(c, func(_ *store.Tx, pool *store.Object) error {
			if valid, ok := guestAgentConfigKeys[key]; !ok || !valid(value) {
				return apierror.New("INVALID_VALUE", "guest_agent_config", key+" = "+value)
			}
			cfg := xapi.Map(pool, "guest_agent_config")
			if _, dup := cfg[key]; dup {
				return apierror.New(apierror.MapDuplicateKey, "pool", "guest_agent_config", pool.Ref, key)
			}
			cfg = xapi.CopyMap(cfg)
			cfg[key] = value
			xapi.Set(pool, "guest_agent_config", cfg)
			return nil
		})
	})
	s.Handle("pool.remove_from_guest_agent_config", func(c *xapi.Call) (any, error) {
		key := c.StringArg(1)
		return nil, setPool(c, func(_ *store.Tx, pool *store.Object) error {
			cfg := xapi.CopyMap(xapi.Map(pool, "guest_agent_config"))
			delete(cfg, key)
			xapi.Set(pool, "guest_agent_config", cfg)
			return nil
		})
	})

	// xapi resizes its authentication thread pools and does not write the pool's fields,
	// which it reads only at start-up.
	authThreads := func(name string) xapi.Handler {
		return func(c *xapi.Call) (any, error) {
			if err := checkPool(c); err != nil {
				return nil, err
			}
			if n := c.Arg(1).(int64); n < 1 {
				return nil, apierror.Internal("Invalid argument: The semaphore '%s' must have at least 1 resource available, requested: %d", name, n)
			}
			return nil, nil
		}
	}
	s.Handle("pool.set_local_auth_max_threads", authThreads("Internal auth"))
	s.Handle("pool.set_ext_auth_max_threads", authThreads("External auth"))

	s.Handle("pool.configure_update_sync", func(c *xapi.Call) (any, error) {
		freq, day := c.StringArg(1), c.Arg(2).(int64)
		return nil, setPool(c, func(_ *store.Tx, pool *store.Object) error {
			switch {
			case freq == "weekly" && (day < 0 || day > 6):
				return apierror.New("INVALID_UPDATE_SYNC_DAY", strconv.FormatInt(day, 10))
			case freq == "daily":
				day = 0
			}
			xapi.Set(pool, "update_sync_frequency", freq)
			xapi.Set(pool, "update_sync_day", day)
			return nil
		})
	})
	s.Handle("pool.set_update_sync_enabled", func(c *xapi.Call) (any, error) {
		value := c.Arg(1).(bool)
		return nil, setPool(c, func(_ *store.Tx, pool *store.Object) error {
			// Every repository this schema can hold is remote, so periodic syncing can use them.
			if value && len(xapi.Refs(pool, "repositories")) == 0 {
				return apierror.New("NO_REPOSITORIES_CONFIGURED")
			}
			xapi.Set(pool, "update_sync_enabled", value)
			return nil
		})
	})

	s.Handle("pool.set_telemetry_next_collection", func(c *xapi.Call) (any, error) {
		value := c.Arg(1).(time.Time)
		return nil, setPool(c, func(_ *store.Tx, pool *store.Object) error {
			days := map[string]int{"daily": 2, "weekly": 14, "monthly": 62}[xapi.Str(pool, "telemetry_frequency")]
			if value.After(s.Clock.Now().Add(time.Duration(days) * 24 * time.Hour)) {
				return apierror.New("TELEMETRY_NEXT_COLLECTION_TOO_LATE", value.UTC().Format(time.RFC3339))
			}
			xapi.Set(pool, "telemetry_next_collection", value)
			return nil
		})
	})
	s.Handle("pool.reset_telemetry_uuid", func(c *xapi.Call) (any, error) {
		return nil, setPool(c, func(tx *store.Tx, pool *store.Object) error {
			secret := s.NewObject("secret")
			xapi.Set(secret, "value", s.IDs.UUID())
			tx.Put(secret)
			if old := xapi.Str(pool, "telemetry_uuid"); tx.Get("secret", old) != nil {
				tx.Delete("secret", old)
			}
			xapi.Set(pool, "telemetry_uuid", secret.Ref)
			return nil
		})
	})

	s.Handle("pool.rotate_secret", func(c *xapi.Call) (any, error) {
		// The simulated hosts share no secret; a rotation that passes xapi's checks
		// succeeds and leaves is_psr_pending as it was.
		return nil, rotateSecretChecks(s.Store)
	})
	// The database is durable on every commit: there is nothing to flush.
	s.Handle("pool.sync_database", func(*xapi.Call) (any, error) { return nil, nil })

	// The pool's trusted CA certificates are the Certificate objects of type ca.
	s.Handle("pool.certificate_list", func(*xapi.Call) (any, error) {
		names := []string{}
		for _, cert := range s.Store.All("Certificate") {
			if xapi.Str(cert, "type") == "ca" {
				names = append(names, xapi.Str(cert, "name"))
			}
		}
		sort.Strings(names)
		return xapi.StringSet(names...), nil
	})

	s.Handle("pool.enable_redo_log", p.enableRedoLog)
	s.Handle("pool.disable_redo_log", func(c *xapi.Call) (any, error) {
		// The redo log VDI stays recorded; detaching it from the hosts has no visible effect.
		_, err := s.Store.Update(func(tx *store.Tx) error {
			pool := firstPool(tx).Clone()
			xapi.Set(pool, "redo_log_enabled", false)
			tx.Put(pool)
			return nil
		})
		return nil, err
	})
	s.Handle("pool.check_update_readiness", p.checkUpdateReadiness)
}

// rotateSecretChecks are Xapi_psr.start's checks, in order.
func rotateSecretChecks(r store.Reader) error {
	if err := licenceRestriction(r, "restrict_pool_secret_rotation", "Pool_secret_rotation", false); err != nil {
		return err
	}
	pool := firstPool(r)
	var offline []string
	for _, h := range r.All("host") {
		if !hostLive(r, h.Ref) {
			offline = append(offline, h.Ref)
		}
	}
	if len(offline) > 0 {
		sort.Strings(offline)
		return apierror.New("CANNOT_CONTACT_HOST", offline[0])
	}
	if xapi.Bool(pool, "ha_enabled") {
		return apierror.New("HA_IS_ENABLED")
	}
	if _, ok := xapi.StringMap(pool, "other_config")["rolling_upgrade_in_progress"]; ok {
		return apierror.New("NOT_SUPPORTED_DURING_UPGRADE")
	}
	if ops := xapi.Map(pool, "current_operations"); len(ops) > 0 {
		var names []string
		for _, op := range ops {
			names = append(names, fmt.Sprint(op))
		}
		sort.Strings(names)
		return apierror.Internal("pool operations in progress: [ %s ]", strings.Join(names, "; "))
	}
	return nil
}

// setVSwitchController is pool.set_vswitch_controller: with Open vSwitch, a new address
// (an IPv4 address, or "" for none) replaces the pool's SDN controller by one on port
// 6632 over SSL. The steps are separate writes in xapi, so a failure after the first
// keeps what was done.
func (p *Sim) setVSwitchController(c *xapi.Call) (any, error) {
	address := c.StringArg(0)
	var late error
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		if !usingVSwitch(tx) {
			return apierror.New(apierror.OperationNotAllowed, "host not configured for vswitch operation")
		}
		pool := firstPool(tx)
		if xapi.Str(pool, "vswitch_controller") == address {
			return nil
		}
		if address != "" && !isIPv4(address) {
			return apierror.New("INVALID_IP_ADDRESS_SPECIFIED", "address")
		}
		pool = pool.Clone()
		xapi.Set(pool, "vswitch_controller", address)
		tx.Put(pool)
		controllers := tx.All("SDN_controller")
		if len(controllers) > 0 {
			tx.Delete("SDN_controller", controllers[0].Ref)
		}
		if address == "" {
			return nil
		}
		if len(controllers) > 1 {
			late = apierror.New(apierror.OperationNotAllowed, "SDN controller has been configured. Please forget it first.")
			return nil
		}
		ctl := p.srv.NewObject("SDN_controller")
		xapi.Set(ctl, "protocol", "ssl")
		xapi.Set(ctl, "address", address)
		xapi.Set(ctl, "port", int64(defaultSDNPort))
		tx.Put(ctl)
		return nil
	})
	if err == nil {
		err = late
	}
	return nil, err
}

// enableRedoLog is pool.enable_redo_log: reuse a redo_log VDI of the SR big enough for
// the database or create one, make it static on every host (which needs the SR plugged
// there), then record it. Each failure is CANNOT_ENABLE_REDO_LOG; a VDI created before a
// failure stays, as in xapi.
func (p *Sim) enableRedoLog(c *xapi.Call) (any, error) {
	s := p.srv
	srRef := c.StringArg(0)
	sr, err := c.Get("SR", srRef)
	if err != nil {
		return nil, err
	}
	var vdi string
	for _, ref := range xapi.Refs(sr, "VDIs") {
		if v := s.Store.Get("VDI", ref); v != nil && xapi.Str(v, "type") == "redo_log" && xapi.Int(v, "virtual_size") >= redoLogVDISize {
			vdi = ref
			break
		}
	}
	if vdi == "" {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			sr, err := xapi.GetObject(tx, "SR", srRef)
			if err != nil {
				return err
			}
			if err := srOpError(tx, sr, "vdi_create"); err != nil {
				return err
			}
			v, err := newVDI(s, tx, vdiSpec{sr: srRef, name: "Metadata redo-log",
				description: "Used when HA is disabled, while extra security is still desired",
				size:        redoLogVDISize, typ: "redo_log", sharable: true,
				otherConfig: map[string]any{}, smConfig: map[string]any{"type": "raw"}, xenstoreData: map[string]any{}, tags: []any{}})
			if err != nil {
				return err
			}
			setVDIAllowedOps(tx, v.Ref)
			vdi = v.Ref
			return nil
		})
		if err != nil {
			return nil, apierror.New("CANNOT_ENABLE_REDO_LOG", "failed to create a VDI for the redo log on the SR with the given UUID.")
		}
	}
	_, err = s.Store.Update(func(tx *store.Tx) error {
		plugged := map[string]bool{}
		for _, ref := range xapi.Refs(tx.Get("SR", srRef), "PBDs") {
			if pbd := tx.Get("PBD", ref); pbd != nil && xapi.Bool(pbd, "currently_attached") {
				plugged[xapi.Str(pbd, "host")] = true
			}
		}
		for _, h := range tx.All("host") {
			if !plugged[h.Ref] || forwardTo(tx, h.Ref) != nil {
				return apierror.New("CANNOT_ENABLE_REDO_LOG", "failed to make VDI static.")
			}
		}
		pool := firstPool(tx).Clone()
		xapi.Set(pool, "redo_log_vdi", vdi)
		xapi.Set(pool, "redo_log_enabled", true)
		tx.Put(pool)
		return nil
	})
	return nil, err
}

// checkUpdateReadiness is pool.check_update_readiness: the problems that would stop
// applying updates, each as [code, params…] — HA on, hosts offline and, when the update
// needs a reboot, the VMs that keep each host from being evacuated.
func (p *Sim) checkUpdateReadiness(c *xapi.Call) (any, error) {
	r := p.srv.Store
	if _, err := c.Get("pool", c.StringArg(0)); err != nil {
		return nil, err
	}
	reboot := c.Arg(1).(bool)
	if err := licenceRestriction(r, "restrict_updates", "Updates", true); err != nil {
		return nil, err
	}
	out := []any{}
	if xapi.Bool(firstPool(r), "ha_enabled") {
		out = append(out, xapi.StringSet("HA_IS_ENABLED"))
	}
	for _, h := range r.All("host") {
		if !hostLive(r, h.Ref) {
			out = append(out, xapi.StringSet("HOST_OFFLINE", h.Ref))
			continue
		}
		if !reboot {
			continue
		}
		plan, err := p.evacuationPlan(r, h.Ref)
		if err != nil {
			return nil, err
		}
		for _, vm := range plan.order {
			if e := plan.errs[vm]; e != nil {
				out = append(out, xapi.StringSet(append([]string{e.Code}, e.Params...)...))
			}
		}
	}
	return out, nil
}

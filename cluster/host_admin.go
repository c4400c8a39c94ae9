package cluster

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/wire"
)

// Host administration (xapi_host.ml): settings a host applies to its dom0 (hostname,
// iSCSI IQN, multipathing, HTTPS, NUMA, display), and diagnostics. Most are forwarded to
// the host (HANDLE_INVALID, then HOST_OFFLINE for a host that is down); the dom0 scripts
// they run have nothing to do in the simulation.

func (p *Sim) registerHostAdmin() {
	p.registerManagement()
	p.registerHostSettings()
	p.registerHostDiagnostics()
	p.registerLicensing()
}

// liveHost is a host that a forwarded call reaches: HANDLE_INVALID for a missing one,
// HOST_OFFLINE for a slave that is down.
func liveHost(r store.Reader, ref string) (*store.Object, error) {
	h, err := xapi.GetObject(r, "host", ref)
	if err != nil {
		return nil, err
	}
	return h, forwardTo(r, ref)
}

// updateHost is a forwarded host call that changes the host's record: fn gets a clone to
// change, stored when fn succeeds and changed something.
func (p *Sim) updateHost(ref string, fn func(tx *store.Tx, h *store.Object) error) error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		h, err := liveHost(tx, ref)
		if err != nil {
			return err
		}
		changed := h.Clone()
		if err := fn(tx, changed); err != nil {
			return err
		}
		if !reflect.DeepEqual(changed.Fields, h.Fields) {
			tx.Put(changed)
		}
		return nil
	})
	return err
}

// hostNoop is a forwarded host call with no effect in the simulation.
func hostNoop(s *xapi.Server) xapi.Handler {
	return func(c *xapi.Call) (any, error) {
		_, err := liveHost(s.Store, c.StringArg(0))
		return nil, err
	}
}

// setOtherConfigKey sets one other_config key, as xapi's remove then add does.
func setOtherConfigKey(h *store.Object, key, value string) {
	oc := xapi.CopyMap(xapi.Map(h, "other_config"))
	oc[key] = value
	xapi.Set(h, "other_config", oc)
}

func (p *Sim) registerHostSettings() {
	s := p.srv
	s.Handle("host.set_hostname_live", func(c *xapi.Call) (any, error) {
		name := c.StringArg(1)
		return nil, p.updateHost(c.StringArg(0), func(tx *store.Tx, h *store.Object) error {
			if err := checkHostname(name); err != nil {
				return err
			}
			xapi.Set(h, "hostname", name)
			// Helpers.update_domain_zero_name: only a default dom0 name follows.
			const stem = "Control domain on host: "
			if dom0 := tx.Get("VM", xapi.Str(h, "control_domain")); dom0 != nil && xapi.Str(dom0, "resident_on") == h.Ref &&
				strings.HasPrefix(xapi.Str(dom0, "name_label"), stem) && xapi.Str(dom0, "name_label") != stem+name {
				dom0 = dom0.Clone()
				xapi.Set(dom0, "name_label", stem+name)
				tx.Put(dom0)
			}
			return nil
		})
	})
	// The syslog destination is host.logging's; the simulated dom0 has no syslog to restart.
	s.Handle("host.syslog_reconfigure", hostNoop(s))
	s.Handle("host.set_iscsi_iqn", func(c *xapi.Call) (any, error) {
		value := c.StringArg(1)
		return nil, p.updateHost(c.StringArg(0), func(_ *store.Tx, h *store.Object) error {
			if value == "" {
				return apierror.New("INVALID_VALUE", "value", value)
			}
			// The field and the legacy other_config key are kept in step.
			xapi.Set(h, "iscsi_iqn", value)
			setOtherConfigKey(h, "iscsi_iqn", value)
			return nil
		})
	})
	s.Handle("host.set_multipathing", func(c *xapi.Call) (any, error) {
		value := c.Arg(1).(bool)
		return nil, p.updateHost(c.StringArg(0), func(_ *store.Tx, h *store.Object) error {
			xapi.Set(h, "multipathing", value)
			setOtherConfigKey(h, "multipathing", fmt.Sprint(value))
			return nil
		})
	})
	// Legacy SSL is gone: turning it off does nothing, turning it on is refused. Neither
	// call is forwarded nor reads the host.
	s.Handle("host.set_ssl_legacy", func(c *xapi.Call) (any, error) {
		if c.Arg(1).(bool) {
			return nil, apierror.New("VALUE_NOT_SUPPORTED", "value", "true", "Legacy SSL support has been removed")
		}
		return nil, nil
	})
	s.Handle("pool.disable_ssl_legacy", func(*xapi.Call) (any, error) { return nil, nil })
	// The simulated hosts are not prepared for Common Criteria, so the firewall may open
	// or close port 80.
	s.Handle("host.set_https_only", func(c *xapi.Call) (any, error) {
		value := c.Arg(1).(bool)
		return nil, p.updateHost(c.StringArg(0), func(_ *store.Tx, h *store.Object) error {
			xapi.Set(h, "https_only", value)
			return nil
		})
	})
	// pool.set_https_only ignores its pool and calls host.set_https_only on every host in
	// turn: a host that is down stops the rest.
	s.Handle("pool.set_https_only", func(c *xapi.Call) (any, error) {
		value := c.Arg(1).(bool)
		for _, h := range s.Store.All("host") {
			if err := p.updateHost(h.Ref, func(_ *store.Tx, h *store.Object) error {
				xapi.Set(h, "https_only", value)
				return nil
			}); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	s.Handle("host.set_numa_affinity_policy", func(c *xapi.Call) (any, error) {
		value := c.StringArg(1)
		return nil, p.updateHost(c.StringArg(0), func(_ *store.Tx, h *store.Object) error {
			xapi.Set(h, "numa_affinity_policy", value)
			return nil
		})
	})
	// Xen's command line has no sched-gran, so the granularity is the default, cpu; xapi
	// refuses to change it unless xapi.conf allows it, which it does not by default.
	s.Handle("host.get_sched_gran", func(c *xapi.Call) (any, error) {
		if _, err := liveHost(s.Store, c.StringArg(0)); err != nil {
			return nil, err
		}
		return "cpu", nil
	})
	s.Handle("host.set_sched_gran", func(c *xapi.Call) (any, error) {
		if _, err := liveHost(s.Store, c.StringArg(0)); err != nil {
			return nil, err
		}
		return nil, apierror.New(apierror.OperationNotAllowed, "Disabled by xapi.conf")
	})
	s.Handle("host.enable_display", func(c *xapi.Call) (any, error) { return p.updateDisplay(c, true) })
	s.Handle("host.disable_display", func(c *xapi.Call) (any, error) { return p.updateDisplay(c, false) })
}

// checkHostname is set_hostname_live's validation: not empty, at most 255 characters,
// letters, digits, '-' and '.' only, not starting or ending with '-'.
func checkHostname(name string) error {
	switch {
	case name == "":
		return apierror.New("HOST_NAME_INVALID", "hostname empty")
	case len(name) > 255:
		return apierror.New("HOST_NAME_INVALID", "hostname is too long")
	case name[0] == '-' || name[len(name)-1] == '-' || strings.IndexFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.')
	}) >= 0:
		return apierror.New("HOST_NAME_INVALID", "hostname contains invalid characters")
	}
	return nil
}

// displayNext is xapi's table of display transitions: the state after enabling or
// disabling the host console from each state. The change in dom0 takes effect at once
// when it reverts a pending change, else on the next boot.
var displayNext = map[bool]map[string]string{
	true:  {"enabled": "enabled", "disable_on_reboot": "enabled", "disabled": "enable_on_reboot", "enable_on_reboot": "enable_on_reboot"},
	false: {"enabled": "disable_on_reboot", "disable_on_reboot": "disable_on_reboot", "disabled": "disabled", "enable_on_reboot": "disabled"},
}

// updateDisplay is host.enable_display and host.disable_display; disabling needs the
// integrated GPU feature. It answers the new state.
func (p *Sim) updateDisplay(c *xapi.Call, enable bool) (any, error) {
	var state string
	err := p.updateHost(c.StringArg(0), func(tx *store.Tx, h *store.Object) error {
		if !enable && !poolFeature(tx, "restrict_integrated_gpu_passthrough", false) {
			return apierror.New("FEATURE_RESTRICTED")
		}
		state = displayNext[enable][xapi.Str(h, "display")]
		if state == "" {
			state = xapi.Str(h, "display")
		}
		xapi.Set(h, "display", state)
		return nil
	})
	return state, err
}

// poolFeature is Pool_features.is_enabled for a restriction flag (enabled when the flag
// is "false"); a missing or unreadable flag gives unknown.
func poolFeature(r store.Reader, flag string, unknown bool) bool {
	switch xapi.StringMap(firstPool(r), "restrictions")[flag] {
	case "false":
		return true
	case "true":
		return false
	}
	return unknown
}

func (p *Sim) registerHostDiagnostics() {
	s := p.srv
	s.Handle("host.dmesg", func(c *xapi.Call) (any, error) {
		h, err := liveHost(s.Store, c.StringArg(0))
		if err != nil {
			return nil, err
		}
		return xenConsole(s.Store, h), nil
	})
	// xapi has never implemented these two; the host answers after forwarding.
	for msg, param := range map[string]string{"host.dmesg_clear": "dmesg_clear", "host.get_log": "get_log"} {
		s.Handle(msg, func(c *xapi.Call) (any, error) {
			if _, err := liveHost(s.Store, c.StringArg(0)); err != nil {
				return nil, err
			}
			return nil, apierror.New(apierror.NotImplemented, param)
		})
	}
	// Not implemented either, and not forwarded; xapi names it without its final "s".
	s.Handle("host.list_methods", func(*xapi.Call) (any, error) {
		return nil, apierror.New(apierror.NotImplemented, "list_method")
	})
	// Xen takes any keys; the simulated hypervisor has nothing to dump.
	s.Handle("host.send_debug_keys", hostNoop(s))
	// The RRD backup is scheduled after the delay and its failures only logged.
	s.Handle("host.backup_rrds", hostNoop(s))
	// Deprecated, and xapi answers an empty list for any ref.
	s.Handle("host.get_uncooperative_resident_VMs", func(*xapi.Call) (any, error) { return []any{}, nil })
	s.Handle("host.sync_data", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			h, err := xapi.GetObject(tx, "host", c.StringArg(0))
			if err != nil {
				return err
			}
			// The master syncs its blobs to a slave with local storage; a slave that is
			// down makes rsync fail, which xapi only logs.
			if h.Ref == xapi.Str(firstPool(tx), "master") || !hostLive(tx, h.Ref) {
				return nil
			}
			if _, ok := xapi.StringMap(h, "other_config")["no_local_storage"]; ok {
				return nil
			}
			h = h.Clone()
			now := s.Clock.Now()
			setOtherConfigKey(h, "last_blob_sync_time", wire.FormatOCamlFloat(float64(now.UnixNano())/1e9))
			tx.Put(h)
			return nil
		})
		return nil, err
	})
}

// xenConsole is the simulated Xen console ring that host.dmesg reads (xl dmesg): the
// hypervisor's boot messages for the host's CPUs and memory, up to dom0's start.
func xenConsole(r store.Reader, h *store.Object) string {
	cpu := xapi.StringMap(h, "cpu_info")
	mem := xapi.Int(r.Get("host_metrics", xapi.Str(h, "metrics")), "memory_total")
	xen := xapi.StringMap(h, "software_version")["xen"]
	lines := []string{
		fmt.Sprintf(" Xen %s", xen),
		fmt.Sprintf("(XEN) Xen version %s (mockbuild@xcp-ng.org) (gcc (GCC) 11.2.1) debug=n", xen),
		"(XEN) Bootloader: GRUB 2.06",
		fmt.Sprintf("(XEN) Command line: dom0_mem=%dM,max:%dM watchdog ucode=scan dom0_max_vcpus=1-%s crashkernel=256M,below=4G console=vga vga=mode-0x0311",
			dom0Memory>>20, dom0Memory>>20, cpu["cpu_count"]),
		"(XEN) Video information:",
		"(XEN)  VGA is graphics mode 1024x768, 16 bpp",
		"(XEN) Disc information:",
		"(XEN)  Found 1 MBR signatures",
		"(XEN)  Found 1 EDD information structures",
		fmt.Sprintf("(XEN) System RAM: %dMB (%dkB)", mem>>20, mem>>10),
		"(XEN) ACPI: RSDP 000F0510, 0024 (r2 XSIMAC)",
		fmt.Sprintf("(XEN) CPU Vendor: Intel, Family %s (%#x), Model %s (%#x), Stepping %s (raw 00050657)",
			cpu["family"], atoiOr(cpu["family"]), cpu["model"], atoiOr(cpu["model"]), cpu["stepping"]),
		"(XEN) Using scheduler: SMP Credit Scheduler (credit)",
		"(XEN) Scheduling granularity: cpu, 1 CPU per sched-resource",
		fmt.Sprintf("(XEN) Brought up %s CPUs", cpu["cpu_count"]),
		"(XEN) HVM: VMX enabled",
		"(XEN) HVM: Hardware Assisted Paging (HAP) detected",
		"(XEN) *** LOADING DOMAIN 0 ***",
		fmt.Sprintf("(XEN)  Dom0 alloc.:   %dMB", dom0Memory>>20),
		"(XEN) Initial low memory virq threshold set at 0x4000 pages.",
		"(XEN) Scrubbing Free RAM in background",
		"(XEN) Std. Loglevel: Errors, warnings and info",
		"(XEN) Guest Loglevel: Nothing (Rate-limited: Errors and warnings)",
		"(XEN) *** Serial input to DOM0 (type 'CTRL-a' three times to switch input)",
		"(XEN) Freed 2048kB init memory",
	}
	return strings.Join(lines, "\n") + "\n"
}

// atoiOr is a decimal string's value, 0 when it is not one.
func atoiOr(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

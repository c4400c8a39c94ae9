package cluster

import (
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// Host odds and ends (xapi_host.ml, xapi_pool.ml): the status report's capabilities,
// extensions (none are installed), local storage caching, and calls whose dom0 work has
// no effect in the simulation.

// statusCapabilities are the capabilities xen-bugtool --capabilities lists on the
// simulated hosts: key, content type, default checked, min/max size, min/max time, pii.
var statusCapabilities = [][8]string{
	{"blobs", "text/plain", "yes", "-1", "-1", "-1", "-1", "no"},
	{"boot-loader", "text/plain", "yes", "-1", "16384", "-1", "-1", "maybe"},
	{"disk-info", "text/plain", "yes", "-1", "-1", "-1", "-1", "maybe"},
	{"firstboot", "text/plain", "yes", "-1", "-1", "-1", "-1", "yes"},
	{"hardware-info", "text/plain", "yes", "-1", "-1", "-1", "-1", "maybe"},
	{"high-availability", "text/plain", "yes", "-1", "-1", "-1", "-1", "maybe"},
	{"host-crashdump-logs", "text/plain", "no", "-1", "-1", "-1", "-1", "no"},
	{"kernel-info", "text/plain", "yes", "-1", "-1", "-1", "-1", "maybe"},
	{"loopback-devices", "text/plain", "yes", "-1", "-1", "-1", "-1", "maybe"},
	{"multipath", "text/plain", "yes", "-1", "-1", "-1", "-1", "maybe"},
	{"network-config", "text/plain", "yes", "-1", "-1", "-1", "-1", "customized"},
	{"network-status", "text/plain", "yes", "-1", "-1", "-1", "-1", "yes"},
	{"pam", "text/plain", "no", "-1", "-1", "-1", "-1", "no"},
	{"process-list", "text/plain", "yes", "-1", "-1", "-1", "-1", "yes"},
	{"persistent-stats", "text/plain", "no", "-1", "-1", "-1", "-1", "maybe"},
	{"system-logs", "text/plain", "yes", "-1", "-1", "-1", "-1", "maybe"},
	{"system-services", "text/plain", "yes", "-1", "-1", "-1", "-1", "no"},
	{"tapdisk-logs", "text/plain", "no", "-1", "-1", "-1", "-1", "no"},
	{"xapi-debug", "text/plain", "yes", "-1", "-1", "-1", "-1", "no"},
	{"xen-info", "text/plain", "yes", "-1", "-1", "-1", "-1", "maybe"},
	{"xenserver-config", "text/plain", "yes", "-1", "-1", "-1", "-1", "maybe"},
	{"xenserver-databases", "text/plain", "yes", "-1", "-1", "-1", "-1", "yes"},
	{"xenserver-install", "text/plain", "yes", "-1", "-1", "-1", "-1", "maybe"},
	{"xenserver-logs", "text/plain", "yes", "-1", "-1", "-1", "-1", "maybe"},
	{"xha-liveset", "text/plain", "yes", "-1", "-1", "-1", "-1", "maybe"},
	{"yum", "text/plain", "yes", "-1", "-1", "-1", "-1", "no"},
}

// systemStatusCapabilities is the XML document xen-bugtool prints for --capabilities.
func systemStatusCapabilities() string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" ?><system-status-capabilities version="1">`)
	for _, c := range statusCapabilities {
		b.WriteString(`<capability content-type="` + c[1] + `" default-checked="` + c[2] + `" key="` + c[0] +
			`" max-size="` + c[4] + `" max-time="` + c[6] + `" min-size="` + c[3] + `" min-time="` + c[5] + `" pii="` + c[7] + `"/>`)
	}
	b.WriteString(`</system-status-capabilities>`)
	return b.String()
}

func (p *Sim) registerHostMisc() {
	s := p.srv
	s.Handle("host.get_system_status_capabilities", func(c *xapi.Call) (any, error) {
		if _, err := liveHost(s.Store, c.StringArg(0)); err != nil {
			return nil, err
		}
		return systemStatusCapabilities(), nil
	})
	// No extension is installed in dom0's extensions directory.
	s.Handle("host.has_extension", func(c *xapi.Call) (any, error) {
		if _, err := liveHost(s.Store, c.StringArg(0)); err != nil {
			return nil, err
		}
		return false, nil
	})
	// pool.has_extension asks every host and stops at the first that has none.
	s.Handle("pool.has_extension", func(*xapi.Call) (any, error) {
		for _, h := range s.Store.All("host") {
			if _, err := liveHost(s.Store, h.Ref); err != nil {
				return nil, err
			}
			return false, nil
		}
		return true, nil
	})
	// The agent would stop itself a second later (xapi's fuse); the simulated agent
	// keeps serving, so nothing in the process stops.
	s.Handle("host.shutdown_agent", func(*xapi.Call) (any, error) { return nil, nil })
	// The upload's curl always succeeds.
	s.Handle("host.bugreport_upload", func(c *xapi.Call) (any, error) {
		if _, err := liveHost(s.Store, c.StringArg(0)); err != nil {
			return nil, err
		}
		if c.StringArg(1) == "" {
			return nil, apierror.New(apierror.InvalidValue, "url", "")
		}
		return nil, nil
	})
	// No supplemental pack is installed: software_version stays as it is.
	s.Handle("host.refresh_pack_info", hostNoop(s))
	s.Handle("host.enable_local_storage_caching", func(c *xapi.Call) (any, error) {
		return nil, p.updateHost(c.StringArg(0), func(tx *store.Tx, h *store.Object) error {
			return enableLocalCache(tx, h, c.StringArg(1))
		})
	})
	s.Handle("host.disable_local_storage_caching", func(c *xapi.Call) (any, error) {
		return nil, p.updateHost(c.StringArg(0), disableLocalCache)
	})
	// The pool versions run the host call on every host and name the hosts that failed.
	s.Handle("pool.enable_local_storage_caching", func(*xapi.Call) (any, error) {
		var failed []string
		for _, h := range s.Store.All("host") {
			ok := false
			for _, sr := range localCacheCandidates(s.Store, h.Ref) {
				if p.updateHost(h.Ref, func(tx *store.Tx, h *store.Object) error { return enableLocalCache(tx, h, sr) }) == nil {
					ok = true
				}
			}
			if !ok {
				failed = append(failed, h.Ref)
			}
		}
		if failed != nil {
			return nil, apierror.New("HOSTS_FAILED_TO_ENABLE_CACHING", failed...)
		}
		return nil, nil
	})
	s.Handle("pool.disable_local_storage_caching", func(*xapi.Call) (any, error) {
		var failed []string
		for _, h := range s.Store.All("host") {
			if p.updateHost(h.Ref, disableLocalCache) != nil {
				failed = append(failed, h.Ref)
			}
		}
		if failed != nil {
			return nil, apierror.New("HOSTS_FAILED_TO_DISABLE_CACHING", failed...)
		}
		return nil, nil
	})
}

// baconError is xapi's assert_bacon_mode: the host is disabled, runs no guest, and dom0
// has no VBD attached.
func baconError(r store.Reader, h *store.Object) error {
	if xapi.Bool(h, "enabled") {
		return apierror.New("HOST_NOT_DISABLED")
	}
	var dom0VBDs []string
	for _, vm := range r.All("VM") {
		if xapi.Str(vm, "resident_on") != h.Ref {
			continue
		}
		if !xapi.Bool(vm, "is_control_domain") && xapi.Str(vm, "power_state") == "Running" {
			return apierror.New("HOST_IN_USE", h.Ref, "vm", vm.Ref)
		}
		if xapi.Bool(vm, "is_control_domain") {
			for _, vbd := range xapi.Refs(vm, "VBDs") {
				if o := r.Get("VBD", vbd); o != nil && xapi.Bool(o, "currently_attached") {
					dom0VBDs = append(dom0VBDs, vbd)
				}
			}
		}
	}
	if len(dom0VBDs) > 0 {
		return apierror.New("HOST_IN_USE", h.Ref, "vbd", dom0VBDs[0])
	}
	return nil
}

// cachingSR says whether an SR can hold a local cache: not shared, one PBD, a driver
// with the SR_SUPPORTS_LOCAL_CACHING feature.
func cachingSR(r store.Reader, sr *store.Object) bool {
	if xapi.Bool(sr, "shared") || len(xapi.Refs(sr, "PBDs")) != 1 {
		return false
	}
	for _, sm := range r.All("SM") {
		if xapi.Str(sm, "type") == xapi.Str(sr, "type") {
			_, ok := xapi.Map(sm, "features")["SR_SUPPORTS_LOCAL_CACHING"]
			return ok
		}
	}
	return false
}

// localCacheCandidates are the SRs pool.enable_local_storage_caching tries on a host.
func localCacheCandidates(r store.Reader, host string) []string {
	var out []string
	for _, pbd := range r.All("PBD") {
		sr := r.Get("SR", xapi.Str(pbd, "SR"))
		if xapi.Str(pbd, "host") == host && sr != nil && cachingSR(r, sr) {
			out = append(out, sr.Ref)
		}
	}
	return out
}

func enableLocalCache(tx *store.Tx, h *store.Object, ref string) error {
	if err := baconError(tx, h); err != nil {
		return err
	}
	sr, err := xapi.GetObject(tx, "SR", ref)
	if err != nil {
		return err
	}
	if !cachingSR(tx, sr) {
		return apierror.New("SR_OPERATION_NOT_SUPPORTED")
	}
	if pbd := tx.Get("PBD", xapi.Refs(sr, "PBDs")[0]); pbd == nil || xapi.Str(pbd, "host") != h.Ref {
		return apierror.New("HOST_CANNOT_SEE_SR", h.Ref, sr.Ref)
	}
	setLocalCacheEnabled(tx, xapi.Str(h, "local_cache_sr"), false)
	xapi.Set(h, "local_cache_sr", sr.Ref)
	setLocalCacheEnabled(tx, sr.Ref, true)
	return nil
}

func disableLocalCache(tx *store.Tx, h *store.Object) error {
	if err := baconError(tx, h); err != nil {
		return err
	}
	sr := xapi.Str(h, "local_cache_sr")
	xapi.Set(h, "local_cache_sr", datamodel.NullRef)
	setLocalCacheEnabled(tx, sr, false)
	return nil
}

// setLocalCacheEnabled sets an SR's local_cache_enabled; a missing SR is ignored.
func setLocalCacheEnabled(tx *store.Tx, ref string, value bool) {
	sr := tx.Get("SR", ref)
	if sr == nil || xapi.Bool(sr, "local_cache_enabled") == value {
		return
	}
	sr = sr.Clone()
	xapi.Set(sr, "local_cache_enabled", value)
	tx.Put(sr)
}

package cluster

import (
	"fmt"
	"slices"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Hosts (semantics.md §3.1–3.2). The model of a host's life: a live host answers; a
// disabled host takes no new VMs; host.shutdown (of a disabled host) shuts its VMs down
// and makes it not live until host.power_on (which needs a power-on mode); host.reboot
// brings it back after its simulated duration, enabled again. Liveness changes run the
// liveness hooks in the same transaction.

func (p *Sim) registerHost() {
	s := p.srv
	s.Handle("host.disable", func(c *xapi.Call) (any, error) { return nil, p.setEnabled(c, false) })
	s.Handle("host.enable", func(c *xapi.Call) (any, error) { return nil, p.setEnabled(c, true) })
	s.Handle("host.shutdown", func(c *xapi.Call) (any, error) { return nil, p.hostDown(c, "shutdown") })
	s.Handle("host.reboot", func(c *xapi.Call) (any, error) { return nil, p.hostDown(c, "reboot") })
	s.Handle("host.power_on", p.powerOnHost)
	s.Handle("host.evacuate", p.evacuate)
	s.Handle("host.assert_can_evacuate", func(c *xapi.Call) (any, error) {
		plan, err := p.evacuationPlan(s.Store, c.StringArg(0))
		if err != nil {
			return nil, err
		}
		var failures []string
		for _, vm := range plan.order {
			if e := plan.errs[vm]; e != nil {
				failures = append(failures, strings.Join(append([]string{e.Code}, e.Params...), ","))
			}
		}
		if len(failures) > 0 {
			return nil, apierror.New("CANNOT_EVACUATE_HOST", strings.Join(failures, "|"))
		}
		return nil, nil
	})
	s.Handle("host.get_vms_which_prevent_evacuation", func(c *xapi.Call) (any, error) {
		plan, err := p.evacuationPlan(s.Store, c.StringArg(0))
		if err != nil {
			return nil, err
		}
		out := map[string]any{}
		for vm, e := range plan.errs {
			out[vm] = xapi.StringSet(append([]string{e.Code}, e.Params...)...)
		}
		return out, nil
	})
	servertime := func(c *xapi.Call) (any, error) {
		if _, err := c.Get("host", c.StringArg(0)); err != nil {
			return nil, err
		}
		return s.Clock.Now(), nil
	}
	s.Handle("host.get_servertime", servertime)
	s.Handle("host.get_server_localtime", servertime)
	s.Handle("host.get_management_interface", func(c *xapi.Call) (any, error) {
		h, err := c.Get("host", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		for _, ref := range xapi.Refs(h, "PIFs") {
			if pif := s.Store.Get("PIF", ref); pif != nil && xapi.Bool(pif, "management") {
				return ref, nil
			}
		}
		return nil, apierror.Internal("Failure(%q)", "No management interface found")
	})
	s.Handle("host.compute_free_memory", func(c *xapi.Call) (any, error) {
		if _, err := c.Get("host", c.StringArg(0)); err != nil {
			return nil, err
		}
		return hostFree(s.Store, c.StringArg(0)), nil
	})
	s.Handle("host.compute_memory_overhead", func(c *xapi.Call) (any, error) {
		h, err := c.Get("host", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		return xapi.Int(h, "memory_overhead"), nil
	})
	s.Handle("host.set_power_on_mode", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			h, err := xapi.GetObject(tx, "host", c.StringArg(0))
			if err != nil {
				return err
			}
			h = h.Clone()
			xapi.Set(h, "power_on_mode", c.StringArg(1))
			xapi.Set(h, "power_on_config", c.Arg(2))
			tx.Put(h)
			setHostAllowedOps(tx, h.Ref)
			return nil
		})
		return nil, err
	})
	s.Handle("host.destroy", p.destroyHost)
	s.Handle("host.declare_dead", p.declareDead)
}

// hostLive reports whether a host's metrics say it is live.
func hostLive(r store.Reader, host string) bool {
	h := r.Get("host", host)
	if h == nil {
		return false
	}
	m := r.Get("host_metrics", xapi.Str(h, "metrics"))
	return m != nil && xapi.Bool(m, "live")
}

// hostOperation reports whether an operation is in a host's current_operations.
func hostOperation(h *store.Object, op string) bool {
	if h == nil {
		return false
	}
	for _, v := range xapi.Map(h, "current_operations") {
		if v == op {
			return true
		}
	}
	return false
}

// setHostAllowedOps is xapi_host_helpers' valid operations: an enabled host cannot be
// rebooted or shut down; power_on needs a dead host with a power-on mode.
func setHostAllowedOps(tx *store.Tx, ref string) {
	h := tx.Get("host", ref)
	if h == nil {
		return
	}
	live, enabled := hostLive(tx, ref), xapi.Bool(h, "enabled")
	current := slices.Collect(func(yield func(string) bool) {
		for _, v := range xapi.Map(h, "current_operations") {
			if !yield(v.(string)) {
				return
			}
		}
	})
	var allowed []any
	for _, op := range []string{"provision", "evacuate", "shutdown", "reboot", "power_on", "vm_start", "vm_resume", "vm_migrate", "apply_updates", "enable"} {
		if hostOpError(h, op, live, enabled, current) == nil {
			allowed = append(allowed, op)
		}
	}
	putAllowedOps(tx, h, allowed)
}

// hostOpError is the first reason a host operation is not allowed now.
func hostOpError(h *store.Object, op string, live, enabled bool, current []string) error {
	creating := []string{"provision", "vm_resume", "vm_migrate"}
	removing := []string{"evacuate", "reboot", "shutdown"}
	conflict := func(set []string) bool {
		return slices.ContainsFunc(current, func(c string) bool { return slices.Contains(set, c) })
	}
	switch {
	case op == "power_on":
		if live {
			return apierror.New("HOST_IS_LIVE", h.Ref)
		}
		if xapi.Str(h, "power_on_mode") == "" {
			return apierror.New("HOST_POWER_ON_MODE_DISABLED")
		}
		return nil
	case !live:
		return apierror.New("HOST_NOT_LIVE")
	case slices.Contains(creating, op) && conflict(removing), slices.Contains(removing, op) && conflict(creating),
		slices.Contains([]string{"reboot", "shutdown", "apply_updates"}, op) && conflict([]string{"reboot", "shutdown", "apply_updates"}),
		op == "provision" && conflict([]string{"provision"}):
		tasks, ops := sortedOps(xapi.Map(h, "current_operations"))
		return apierror.New("OTHER_OPERATION_IN_PROGRESS", "host", h.Ref, ops[0], tasks[0])
	case enabled && (op == "reboot" || op == "shutdown" || op == "apply_updates"):
		return apierror.New("HOST_NOT_DISABLED")
	}
	return nil
}

func (p *Sim) setEnabled(c *xapi.Call, enabled bool) error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		h, err := xapi.GetObject(tx, "host", c.StringArg(0))
		if err != nil {
			return err
		}
		if !enabled {
			if err := assertPlanKept(tx, haChange{hostsToDisable: []string{h.Ref}}); err != nil {
				return err
			}
		}
		if enabled && !hostLive(tx, h.Ref) {
			return apierror.New("HOST_NOT_LIVE")
		}
		if xapi.Bool(h, "enabled") == enabled {
			return nil
		}
		h = h.Clone()
		xapi.Set(h, "enabled", enabled)
		tx.Put(h)
		setHostAllowedOps(tx, h.Ref)
		return nil
	})
	return err
}

// hostDown is host.shutdown and host.reboot: the host must be disabled; its guests are
// shut down and its PBDs unplugged; it stops being live (liveness hooks run), and a
// rebooted host comes back after the simulated time, enabled.
func (p *Sim) hostDown(c *xapi.Call, op string) error {
	ref := c.StringArg(0)
	err := p.runOp(c, "host", ref, op, func(tx *store.Tx, h *store.Object) error {
		current := []string{}
		for _, v := range xapi.Map(h, "current_operations") {
			current = append(current, v.(string))
		}
		if e := hostOpError(h, op, hostLive(tx, ref), xapi.Bool(h, "enabled"), current); e != nil {
			return e
		}
		return nil
	}, func(tx *store.Tx, h *store.Object) error {
		return p.setHostLive(tx, ref, false)
	}, setHostAllowedOps)
	if err != nil || op != "reboot" {
		return err
	}
	_, err = p.srv.Store.Update(func(tx *store.Tx) error { return p.bootHost(tx, ref) })
	return err
}

// setHostLive changes a host's liveness. Going down, its guests are halted (their
// records reset, as a clean host shutdown would leave them) and its PBDs unplugged.
func (p *Sim) setHostLive(tx *store.Tx, ref string, live bool) error {
	h := tx.Get("host", ref)
	haOn := xapi.Bool(firstPool(tx), "ha_enabled")
	if !live {
		for _, vm := range xapi.Refs(h, "resident_VMs") {
			o := tx.Get("VM", vm)
			if o == nil || xapi.Bool(o, "is_control_domain") {
				continue
			}
			powerOff(tx, vm, "Halted")
			if haOn && isProtected(o) {
				// xenopsd keeps a protected VM's ha_always_run when its host takes it
				// down, so that HA restarts it elsewhere.
				o = tx.Get("VM", vm).Clone()
				xapi.Set(o, "ha_always_run", true)
				tx.Put(o)
			}
			setAllowedOps(tx, o)
			p.vmAlert(tx, o, "VM_SHUTDOWN", fmt.Sprintf("VM '%s' shutdown", xapi.Str(o, "name_label")))
		}
		for _, pbd := range xapi.Refs(h, "PBDs") {
			if o := tx.Get("PBD", pbd); o != nil && xapi.Bool(o, "currently_attached") {
				o = o.Clone()
				xapi.Set(o, "currently_attached", false)
				tx.Put(o)
			}
		}
	}
	m := tx.Get("host_metrics", xapi.Str(h, "metrics")).Clone()
	xapi.Set(m, "live", live)
	xapi.Set(m, "last_updated", p.srv.Clock.Now())
	tx.Put(m)
	setHostAllowedOps(tx, ref)
	p.mu.Lock()
	hooks := slices.Clone(p.liveness)
	p.mu.Unlock()
	for _, hook := range hooks {
		if err := hook(tx, ref, live); err != nil {
			return err
		}
	}
	return nil
}

// bootHost brings a host back: live, its PBDs plugged, enabled.
func (p *Sim) bootHost(tx *store.Tx, ref string) error {
	h := tx.Get("host", ref)
	for _, pbd := range xapi.Refs(h, "PBDs") {
		if o := tx.Get("PBD", pbd); o != nil && !xapi.Bool(o, "currently_attached") {
			o = o.Clone()
			xapi.Set(o, "currently_attached", true)
			tx.Put(o)
		}
	}
	h = tx.Get("host", ref).Clone()
	xapi.Set(h, "enabled", true)
	oc := xapi.CopyMap(xapi.Map(h, "other_config"))
	oc["boot_time"] = fmt.Sprint(p.srv.Clock.Now().Unix())
	xapi.Set(h, "other_config", oc)
	tx.Put(h)
	refreshHostMemory(tx, ref)
	return p.setHostLive(tx, ref, true)
}

// powerOnHost is host.power_on: a dead host with a power-on mode boots.
func (p *Sim) powerOnHost(c *xapi.Call) (any, error) {
	ref := c.StringArg(0)
	return nil, p.runOp(c, "host", ref, "power_on", func(tx *store.Tx, h *store.Object) error {
		if e := hostOpError(h, "power_on", hostLive(tx, ref), xapi.Bool(h, "enabled"), nil); e != nil {
			return e
		}
		return nil
	}, func(tx *store.Tx, h *store.Object) error { return p.bootHost(tx, ref) }, setHostAllowedOps)
}

// destroyHost removes a dead host with no guests, and everything that belonged to it.
func (p *Sim) destroyHost(c *xapi.Call) (any, error) {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		h, guests, err := deadHost(tx, c.StringArg(0))
		if err != nil {
			return err
		}
		if xapi.Bool(firstPool(tx), "ha_enabled") {
			return apierror.New("HA_IS_ENABLED")
		}
		if len(guests) > 0 {
			return apierror.New("HOST_HAS_RESIDENT_VMS", h.Ref)
		}
		p.mu.Lock()
		hooks := slices.Clone(p.destroys)
		p.mu.Unlock()
		for _, hook := range hooks {
			if err := hook(tx, h.Ref); err != nil {
				return err
			}
		}
		p.forgetHost(tx, tx.Get("host", h.Ref))
		return nil
	})
	return nil, err
}

// HostDestroyHook runs inside host.destroy, before the host's records go.
type HostDestroyHook func(tx *store.Tx, host string) error

// OnHostDestroy registers a host.destroy hook.
func (p *Sim) OnHostDestroy(h HostDestroyHook) {
	p.mu.Lock()
	p.destroys = append(p.destroys, h)
	p.mu.Unlock()
}

// forgetHost deletes a host's records: its control domain, metrics, CPUs, PIFs, PBDs and
// local SRs.
func (p *Sim) forgetHost(tx *store.Tx, h *store.Object) {
	for _, vm := range xapi.Refs(h, "resident_VMs") {
		if o := tx.Get("VM", vm); o != nil && xapi.Bool(o, "is_control_domain") {
			tx.Delete("VM_metrics", xapi.Str(o, "metrics"))
			for _, con := range xapi.Refs(o, "consoles") {
				tx.Delete("console", con)
			}
			tx.Delete("VM", vm)
		}
	}
	for _, ref := range xapi.Refs(h, "host_CPUs") {
		tx.Delete("host_cpu", ref)
	}
	for _, ref := range xapi.Refs(h, "PIFs") {
		if pif := tx.Get("PIF", ref); pif != nil {
			tx.Delete("PIF_metrics", xapi.Str(pif, "metrics"))
		}
		tx.Delete("PIF", ref)
	}
	for _, ref := range xapi.Refs(h, "PBDs") {
		pbd := tx.Get("PBD", ref)
		tx.Delete("PBD", ref)
		if sr := tx.Get("SR", xapi.Str(pbd, "SR")); sr != nil && !xapi.Bool(sr, "shared") && len(xapi.Refs(sr, "PBDs")) == 0 {
			for _, vdi := range xapi.Refs(sr, "VDIs") {
				tx.Delete("VDI", vdi)
			}
			tx.Delete("SR", sr.Ref)
		}
	}
	tx.Delete("host_metrics", xapi.Str(h, "metrics"))
	tx.Delete("host", h.Ref)
}

// deadHost returns a host that is not live and not the coordinator (else HOST_IS_LIVE)
// and its guests: the VMs resident on it other than its control domain.
func deadHost(tx *store.Tx, ref string) (*store.Object, []*store.Object, error) {
	h, err := xapi.GetObject(tx, "host", ref)
	if err != nil {
		return nil, nil, err
	}
	// xapi refuses to forget its own host, the coordinator, even when it looks dead.
	if hostLive(tx, h.Ref) || h.Ref == xapi.Str(firstPool(tx), "master") {
		return nil, nil, apierror.New("HOST_IS_LIVE", h.Ref)
	}
	var guests []*store.Object
	for _, vm := range xapi.Refs(h, "resident_VMs") {
		if o := tx.Get("VM", vm); o != nil && !xapi.Bool(o, "is_control_domain") {
			guests = append(guests, o)
		}
	}
	return h, guests, nil
}

// declareDead resets the VMs of a host that is not live, and disables it.
func (p *Sim) declareDead(c *xapi.Call) (any, error) {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		h, guests, err := deadHost(tx, c.StringArg(0))
		if err != nil {
			return err
		}
		for _, vm := range guests {
			powerOff(tx, vm.Ref, "Halted")
			setAllowedOps(tx, vm)
		}
		h = tx.Get("host", h.Ref).Clone()
		xapi.Set(h, "enabled", false)
		tx.Put(h)
		setHostAllowedOps(tx, h.Ref)
		return nil
	})
	return nil, err
}

// evacuation is where each guest of a host would go, or why it cannot.
type evacuation struct {
	order  []string
	target map[string]string
	errs   map[string]*apierror.Error
}

// evacuationPlan places every guest of a host on the other enabled hosts, accounting for
// the memory each placement takes.
func (p *Sim) evacuationPlan(r store.Reader, host string) (*evacuation, error) {
	h, err := xapi.GetObject(r, "host", host)
	if err != nil {
		return nil, err
	}
	plan := &evacuation{target: map[string]string{}, errs: map[string]*apierror.Error{}}
	taken := map[string]int64{}
	for _, ref := range xapi.Refs(h, "resident_VMs") {
		vm := r.Get("VM", ref)
		if vm == nil || xapi.Bool(vm, "is_control_domain") || xapi.Str(vm, "power_state") == "Halted" {
			continue
		}
		plan.order = append(plan.order, ref)
		if e := operationError(r, vm, "pool_migrate", true); e != nil {
			plan.errs[ref] = apierror.From(e)
			continue
		}
		need := xapi.Int(vm, "memory_dynamic_min") + overhead(vm)
		placed := false
		for _, cand := range candidates(r, vm) {
			if cand.Ref == host || !xapi.Bool(cand, "enabled") || hostFree(r, cand.Ref)-taken[cand.Ref] < need {
				continue
			}
			if bootCheck(r, vm, cand) == nil {
				plan.target[ref] = cand.Ref
				taken[cand.Ref] += need
				placed = true
				break
			}
		}
		if !placed {
			plan.errs[ref] = apierror.New("NO_HOSTS_AVAILABLE", ref)
		}
	}
	return plan, nil
}

// evacuate migrates every guest of a host to the other hosts; it fails with the first
// guest that cannot go.
func (p *Sim) evacuate(c *xapi.Call) (any, error) {
	ref := c.StringArg(0)
	return nil, p.runOp(c, "host", ref, "evacuate", func(tx *store.Tx, h *store.Object) error {
		plan, err := p.evacuationPlan(tx, ref)
		if err != nil {
			return err
		}
		for _, vm := range plan.order {
			if e := plan.errs[vm]; e != nil {
				return e
			}
		}
		return nil
	}, func(tx *store.Tx, h *store.Object) error {
		plan, err := p.evacuationPlan(tx, ref)
		if err != nil {
			return err
		}
		for _, vm := range plan.order {
			if e := plan.errs[vm]; e != nil {
				return e
			}
			o := tx.Get("VM", vm).Clone()
			xapi.Set(o, "resident_on", plan.target[vm])
			xapi.Set(o, "domid", nextDomid(tx, plan.target[vm]))
			tx.Put(o)
			refreshHostMemory(tx, plan.target[vm])
			p.vmAlert(tx, o, "VM_MIGRATED", fmt.Sprintf("VM '%s' migrated", xapi.Str(o, "name_label")))
		}
		refreshHostMemory(tx, ref)
		return nil
	}, setHostAllowedOps)
}

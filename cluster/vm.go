package cluster

import (
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// VM: creation, destruction, templates, groups and the setters xapi implements by hand.
// The power-state machine is in vm_lifecycle.go, copies in vm_clone.go, memory and VCPUs
// in vm_memory.go.

func (p *Sim) registerVM() {
	s := p.srv
	p.registerLifecycle()
	p.registerClone()
	p.registerMemory()
	s.Handle("VM.create", p.vmCreate)
	s.Handle("VM.destroy", p.vmDestroy)
	s.Handle("VM.set_is_a_template", p.setIsATemplate)
	s.Handle("VM.set_groups", p.setGroups)
	// Blocked operations change what is allowed.
	for _, name := range []string{"set_blocked_operations", "add_to_blocked_operations", "remove_from_blocked_operations"} {
		generic := s.GenericHandler(s.Schema.Message("VM." + name))
		s.Handle("VM."+name, func(c *xapi.Call) (any, error) {
			if _, err := generic(c); err != nil {
				return nil, err
			}
			return nil, p.refreshVM(c.StringArg(0))
		})
	}
}

// refreshVM recomputes a VM's allowed_operations in a transaction of its own.
func (p *Sim) refreshVM(ref string) error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		if vm := tx.Get("VM", ref); vm != nil {
			setAllowedOps(tx, vm)
		}
		return nil
	})
	return err
}

// vmCreate is VM.create (semantics.md §2.12): the record as given, plus a mac_seed, a
// VM_metrics record and the fields xapi decides itself. A VM is created Halted unless it
// asks to be Suspended with its suspend image and boot records.
func (p *Sim) vmCreate(c *xapi.Call) (any, error) {
	rec := c.Arg(0).([]any)
	vm := p.srv.NewObject("VM")
	cls := p.srv.Schema.Class("VM")
	for i, f := range cls.Fields {
		if f.Qualifier != datamodel.DynamicRO && !f.Internal {
			vm.Fields[i] = rec[i]
		}
	}
	state := xapi.Str(vm, "power_state")
	if state == "Suspended" && (isNull(xapi.Str(vm, "suspend_VDI")) || xapi.Str(vm, "last_booted_record") == "" ||
		len(xapi.Map(vm, "last_boot_CPU_flags")) == 0) {
		return nil, apierror.New("VM_BAD_POWER_STATE", vm.Ref, "halted", strings.ToLower(state))
	}
	if state != "Suspended" {
		xapi.Set(vm, "power_state", "Halted")
	}
	oc := xapi.CopyMap(xapi.Map(vm, "other_config"))
	if _, ok := oc["mac_seed"]; !ok {
		oc["mac_seed"] = p.srv.IDs.UUID()
	}
	xapi.Set(vm, "other_config", oc)
	if xapi.Str(vm, "domain_type") == "unspecified" {
		if xapi.Str(vm, "HVM_boot_policy") == "" {
			xapi.Set(vm, "domain_type", "pv")
		} else {
			xapi.Set(vm, "domain_type", "hvm")
		}
	}
	xapi.Set(vm, "is_control_domain", false)
	xapi.Set(vm, "is_default_template", false)
	xapi.Set(vm, "domid", int64(-1))
	xapi.Set(vm, "resident_on", datamodel.NullRef)
	setMemoryOverhead(vm)
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		xapi.Set(vm, "metrics", newVMMetrics(p.srv, tx, vm).Ref)
		tx.Put(vm)
		setAllowedOps(tx, vm)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return vm.Ref, nil
}

// newVMMetrics creates the metrics record of a halted VM.
func newVMMetrics(srv *xapi.Server, tx *store.Tx, vm *store.Object) *store.Object {
	now := srv.Clock.Now()
	m := srv.NewObject("VM_metrics")
	for k, v := range map[string]any{
		"VCPUs_number": xapi.Int(vm, "VCPUs_at_startup"), "VCPUs_CPU": map[string]any{}, "VCPUs_params": map[string]any{},
		"VCPUs_flags": map[string]any{}, "state": []any{}, "install_time": now, "last_updated": now,
	} {
		xapi.Set(m, k, v)
	}
	tx.Put(m)
	return m
}

// vmDestroy deletes a halted or suspended VM with its devices and records; its VDIs stay
// (semantics.md §2.8). Its children get its parent.
func (p *Sim) vmDestroy(c *xapi.Call) (any, error) {
	return nil, p.runVMOp(c, c.StringArg(0), vmOp{op: "destroy", strict: true,
		apply: func(tx *store.Tx, vm *store.Object) error {
			deleteVM(tx, vm)
			return nil
		},
	})
}

// deleteVM deletes a VM record with its devices and metrics; its children take its
// parent. Its disks stay.
func deleteVM(tx *store.Tx, vm *store.Object) {
	for _, ref := range xapi.Refs(vm, "VBDs") {
		deleteVBD(tx, ref)
	}
	for _, ref := range xapi.Refs(vm, "VIFs") {
		deleteVIF(tx, ref)
	}
	for _, ref := range xapi.Refs(vm, "consoles") {
		tx.Delete("console", ref)
	}
	for _, ref := range xapi.Refs(vm, "VUSBs") {
		tx.Delete("VUSB", ref)
	}
	for _, ref := range xapi.Refs(vm, "VTPMs") {
		deleteVTPM(tx, ref)
	}
	for _, class := range []string{"VM_metrics", "VM_guest_metrics"} {
		field := map[string]string{"VM_metrics": "metrics", "VM_guest_metrics": "guest_metrics"}[class]
		if ref := xapi.Str(vm, field); !isNull(ref) {
			tx.Delete(class, ref)
		}
	}
	for _, child := range xapi.Refs(vm, "children") {
		if o := tx.Get("VM", child); o != nil {
			o = o.Clone()
			xapi.Set(o, "parent", xapi.Str(vm, "parent"))
			tx.Put(o)
		}
	}
	tx.Delete("VM", vm.Ref)
}

// setIsATemplate turns a halted VM into a template (op make_into_template: it leaves its
// groups, loses ha_always_run and its metrics) or back (its install time is set).
func (p *Sim) setIsATemplate(c *xapi.Call) (any, error) {
	value := c.Arg(1).(bool)
	apply := func(tx *store.Tx, vm *store.Object) error {
		vm = vm.Clone()
		metrics := xapi.Str(vm, "metrics")
		if value {
			xapi.Set(vm, "ha_always_run", false)
			xapi.Set(vm, "groups", []any{})
			if !isNull(metrics) {
				tx.Delete("VM_metrics", metrics)
			}
			xapi.Set(vm, "metrics", datamodel.NullRef)
			for _, ref := range xapi.Refs(vm, "VUSBs") {
				tx.Delete("VUSB", ref)
			}
		} else if m := tx.Get("VM_metrics", metrics); m != nil {
			m = m.Clone()
			xapi.Set(m, "install_time", p.srv.Clock.Now())
			tx.Put(m)
		}
		xapi.Set(vm, "is_a_template", value)
		tx.Put(vm)
		return nil
	}
	if !value {
		_, err := p.srv.Store.Update(func(tx *store.Tx) error {
			vm, err := xapi.GetObject(tx, "VM", c.StringArg(0))
			if err != nil {
				return err
			}
			if err := apply(tx, vm); err != nil {
				return err
			}
			setAllowedOps(tx, vm)
			return nil
		})
		return nil, err
	}
	return nil, p.runVMOp(c, c.StringArg(0), vmOp{op: "make_into_template", strict: true, apply: apply})
}

// setGroups puts a VM in at most one VM_group.
func (p *Sim) setGroups(c *xapi.Call) (any, error) {
	groups, _ := c.Arg(1).([]any)
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		vm, err := xapi.GetObject(tx, "VM", c.StringArg(0))
		if err != nil {
			return err
		}
		if xapi.Bool(vm, "is_control_domain") || xapi.Bool(vm, "is_a_template") || xapi.Bool(vm, "is_a_snapshot") {
			return apierror.New(apierror.OperationNotAllowed, "Control domains, templates, and snapshots cannot be added to VM groups.")
		}
		if len(groups) > 1 {
			return apierror.New("TOO_MANY_GROUPS")
		}
		for _, g := range groups {
			if _, err := xapi.GetObject(tx, "VM_group", g.(string)); err != nil {
				return err
			}
		}
		vm = vm.Clone()
		xapi.Set(vm, "groups", groups)
		tx.Put(vm)
		return nil
	})
	return nil, err
}

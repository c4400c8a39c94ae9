package cluster

import (
	"fmt"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// The VM power-state machine (semantics.md §2.1, §2.5, §2.7): each call checks its
// operation as xapi does, takes its simulated time, then changes the records and raises
// xapi's alert.

func (p *Sim) registerLifecycle() {
	s := p.srv
	s.Handle("VM.start", func(c *xapi.Call) (any, error) {
		return nil, p.start(c, c.StringArg(0), "", c.Arg(1).(bool))
	})
	s.Handle("VM.start_on", func(c *xapi.Call) (any, error) {
		if _, err := c.Get("host", c.StringArg(1)); err != nil {
			return nil, err
		}
		return nil, p.start(c, c.StringArg(0), c.StringArg(1), c.Arg(2).(bool))
	})
	s.Handle("VM.clean_shutdown", func(c *xapi.Call) (any, error) { return nil, p.shutdown(c, "clean_shutdown") })
	s.Handle("VM.hard_shutdown", func(c *xapi.Call) (any, error) { return nil, p.shutdown(c, "hard_shutdown") })
	s.Handle("VM.shutdown", func(c *xapi.Call) (any, error) {
		// shutdown is a clean shutdown that falls back to a hard one (xapi_vm.ml).
		if err := p.shutdown(c, "clean_shutdown"); err != nil {
			return nil, p.shutdown(c, "hard_shutdown")
		}
		return nil, nil
	})
	s.Handle("VM.clean_reboot", func(c *xapi.Call) (any, error) { return nil, p.reboot(c, "clean_reboot") })
	s.Handle("VM.hard_reboot", func(c *xapi.Call) (any, error) { return nil, p.reboot(c, "hard_reboot") })
	s.Handle("VM.pause", func(c *xapi.Call) (any, error) { return nil, p.pause(c, "pause", "Paused", "VM_PAUSED", "paused") })
	s.Handle("VM.unpause", func(c *xapi.Call) (any, error) {
		return nil, p.pause(c, "unpause", "Running", "VM_UNPAUSED", "unpaused")
	})
	s.Handle("VM.suspend", p.suspend)
	s.Handle("VM.resume", func(c *xapi.Call) (any, error) { return nil, p.resume(c, "", c.Arg(1).(bool)) })
	s.Handle("VM.resume_on", func(c *xapi.Call) (any, error) {
		if _, err := c.Get("host", c.StringArg(1)); err != nil {
			return nil, err
		}
		return nil, p.resume(c, c.StringArg(1), c.Arg(2).(bool))
	})
	s.Handle("VM.pool_migrate", p.poolMigrate)
	p.registerMigration()
	s.Handle("VM.power_state_reset", p.powerStateReset)
	s.Handle("VM.assert_operation_valid", func(c *xapi.Call) (any, error) {
		vm, err := c.Get("VM", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		if e := operationError(s.Store, vm, c.StringArg(1), false); e != nil {
			return nil, e
		}
		return nil, nil
	})
	s.Handle("VM.update_allowed_operations", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			vm, err := xapi.GetObject(tx, "VM", c.StringArg(0))
			if err != nil {
				return err
			}
			setAllowedOps(tx, vm)
			return nil
		})
		return nil, err
	})
	s.Handle("VM.assert_can_boot_here", func(c *xapi.Call) (any, error) {
		vm, err := c.Get("VM", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		host, err := c.Get("host", c.StringArg(1))
		if err != nil {
			return nil, err
		}
		return nil, bootCheck(s.Store, vm, host)
	})
	s.Handle("VM.get_possible_hosts", func(c *xapi.Call) (any, error) {
		vm, err := c.Get("VM", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		out := []any{}
		for _, h := range s.Store.All("host") {
			if bootCheck(s.Store, vm, h) == nil {
				out = append(out, h.Ref)
			}
		}
		return out, nil
	})
}

// startedAlert is the VM_STARTED alert for a VM booted on a host.
func (p *Sim) startedAlert(tx *store.Tx, vm, host *store.Object) {
	p.vmAlert(tx, vm, "VM_STARTED", fmt.Sprintf("VM '%s' (uuid: %s) started on host: %s (uuid: %s)",
		xapi.Str(vm, "name_label"), xapi.Str(vm, "uuid"), xapi.Str(host, "name_label"), xapi.Str(host, "uuid")))
}

// start boots a halted VM, on host or on the host placement chooses.
func (p *Sim) start(c *xapi.Call, ref, host string, paused bool) error {
	op := "start"
	if host != "" {
		op = "start_on"
	}
	var target *store.Object
	state := "Running"
	if paused {
		state = "Paused"
	}
	return p.runVMOp(c, ref, vmOp{op: op, strict: true,
		prepare: func(tx *store.Tx, vm *store.Object) error {
			if host == "" {
				h, err := chooseHost(tx, vm)
				if err != nil {
					return err
				}
				target = h
			} else {
				h := tx.Get("host", host)
				if xapi.Bool(vm, "is_control_domain") && xapi.Str(vm, "affinity") != host {
					return apierror.New(apierror.OperationNotAllowed, "Cannot boot a control domain on a host different from its affinity")
				}
				if hostOperation(h, "evacuate") {
					return apierror.New("HOST_EVACUATE_IN_PROGRESS", host)
				}
				if err := bootCheck(tx, vm, h); err != nil {
					return err
				}
				target = h
			}
			vm = vm.Clone()
			xapi.Set(vm, "scheduled_to_be_resident_on", target.Ref)
			tx.Put(vm)
			return nil
		},
		apply: func(tx *store.Tx, vm *store.Object) error {
			powerOn(p.srv, tx, vm.Ref, target.Ref, state, "")
			p.startedAlert(tx, vm, target)
			return nil
		},
	})
}

func (p *Sim) shutdown(c *xapi.Call, op string) error {
	return p.runVMOp(c, c.StringArg(0), vmOp{op: op, strict: op == "clean_shutdown",
		apply: func(tx *store.Tx, vm *store.Object) error {
			if xapi.Str(vm, "power_state") == "Suspended" {
				destroySuspendVDI(tx, vm)
			}
			powerOff(tx, vm.Ref, "Halted")
			p.vmAlert(tx, vm, "VM_SHUTDOWN", fmt.Sprintf("VM '%s' shutdown", xapi.Str(vm, "name_label")))
			return nil
		},
	})
}

func (p *Sim) reboot(c *xapi.Call, op string) error {
	return p.runVMOp(c, c.StringArg(0), vmOp{op: op, strict: op == "clean_reboot",
		apply: func(tx *store.Tx, vm *store.Object) error {
			rebootDomain(p.srv, tx, vm.Ref)
			p.vmAlert(tx, vm, "VM_REBOOTED", fmt.Sprintf("VM '%s' rebooted", xapi.Str(vm, "name_label")))
			return nil
		},
	})
}

func (p *Sim) pause(c *xapi.Call, op, state, alert, word string) error {
	return p.runVMOp(c, c.StringArg(0), vmOp{op: op, strict: true,
		apply: func(tx *store.Tx, vm *store.Object) error {
			vm = vm.Clone()
			xapi.Set(vm, "power_state", state)
			tx.Put(vm)
			p.vmAlert(tx, vm, alert, fmt.Sprintf("VM '%s' %s", xapi.Str(vm, "name_label"), word))
			return nil
		},
	})
}

// suspend saves a running VM's memory to a suspend VDI and destroys its domain.
func (p *Sim) suspend(c *xapi.Call) (any, error) {
	var sr string
	return nil, p.runVMOp(c, c.StringArg(0), vmOp{op: "suspend", strict: true,
		prepare: func(tx *store.Tx, vm *store.Object) error {
			sr = suspendSR(tx, vm)
			if sr == "" {
				return apierror.New("VM_NO_SUSPEND_SR", vm.Ref)
			}
			return nil
		},
		apply: func(tx *store.Tx, vm *store.Object) error {
			size := xapi.Int(vm, "memory_static_max") + 100*mib
			vdi, err := newVDI(p.srv, tx, vdiSpec{sr: sr, name: "Suspend image", description: "Suspend image", size: size, typ: "suspend", written: size})
			if err != nil {
				return err
			}
			vm = vm.Clone()
			xapi.Set(vm, "suspend_VDI", vdi.Ref)
			xapi.Set(vm, "last_booted_record", "")
			tx.Put(vm)
			powerOff(tx, vm.Ref, "Suspended")
			p.vmAlert(tx, vm, "VM_SUSPENDED", fmt.Sprintf("VM '%s' suspended", xapi.Str(vm, "name_label")))
			return nil
		},
	})
}

// suspendSR is where a VM's suspend image goes: VM.suspend_SR, else the pool's
// suspend_image_SR, else its host's suspend_image_sr.
func suspendSR(r store.Reader, vm *store.Object) string {
	for _, ref := range []string{xapi.Str(vm, "suspend_SR"), poolField(r, "suspend_image_SR")} {
		if r.Get("SR", ref) != nil {
			return ref
		}
	}
	if h := r.Get("host", xapi.Str(vm, "resident_on")); h != nil && r.Get("SR", xapi.Str(h, "suspend_image_sr")) != nil {
		return xapi.Str(h, "suspend_image_sr")
	}
	return ""
}

func destroySuspendVDI(tx *store.Tx, vm *store.Object) {
	if vdi := xapi.Str(vm, "suspend_VDI"); !isNull(vdi) {
		destroyVDI(tx, vdi)
		vm = tx.Get("VM", vm.Ref).Clone()
		xapi.Set(vm, "suspend_VDI", datamodel.NullRef)
		tx.Put(vm)
	}
}

func (p *Sim) resume(c *xapi.Call, host string, paused bool) error {
	op := "resume"
	if host != "" {
		op = "resume_on"
	}
	var target *store.Object
	state := "Running"
	if paused {
		state = "Paused"
	}
	return p.runVMOp(c, c.StringArg(0), vmOp{op: op, strict: true,
		prepare: func(tx *store.Tx, vm *store.Object) error {
			var err error
			if host == "" {
				target, err = chooseHost(tx, vm)
			} else {
				target = tx.Get("host", host)
				err = bootCheck(tx, vm, target)
			}
			return err
		},
		apply: func(tx *store.Tx, vm *store.Object) error {
			destroySuspendVDI(tx, vm)
			powerOn(p.srv, tx, vm.Ref, target.Ref, state, xapi.Str(vm, "guest_metrics"))
			p.vmAlert(tx, vm, "VM_RESUMED", fmt.Sprintf("VM '%s' resumed", xapi.Str(vm, "name_label")))
			return nil
		},
	})
}

// poolMigrate moves a running VM to another host of the pool.
func (p *Sim) poolMigrate(c *xapi.Call) (any, error) {
	host := c.StringArg(1)
	if _, err := c.Get("host", host); err != nil {
		return nil, err
	}
	options, _ := c.Arg(2).(map[string]any)
	force := options["force"] == "true"
	return nil, p.runVMOp(c, c.StringArg(0), vmOp{op: "pool_migrate", strict: !force,
		prepare: func(tx *store.Tx, vm *store.Object) error {
			from := xapi.Str(vm, "resident_on")
			h := tx.Get("host", host)
			if hostOperation(h, "evacuate") && from != host {
				return apierror.New("HOST_EVACUATE_IN_PROGRESS", host)
			}
			return bootCheck(tx, vm, h)
		},
		apply: func(tx *store.Tx, vm *store.Object) error {
			vm = moveDomain(tx, vm, host)
			p.vmAlert(tx, vm, "VM_MIGRATED", fmt.Sprintf("VM '%s' migrated", xapi.Str(vm, "name_label")))
			return nil
		},
	})
}

// moveDomain moves a running VM's domain to another host (a new domid there) and
// refreshes both hosts' memory; it returns the VM as stored.
func moveDomain(tx *store.Tx, vm *store.Object, host string) *store.Object {
	from := xapi.Str(vm, "resident_on")
	vm = vm.Clone()
	xapi.Set(vm, "resident_on", host)
	xapi.Set(vm, "domid", nextDomid(tx, host))
	tx.Put(vm)
	refreshHostMemory(tx, from)
	refreshHostMemory(tx, host)
	return vm
}

// powerStateReset forces a VM's records to Halted, for a VM whose host died.
func (p *Sim) powerStateReset(c *xapi.Call) (any, error) {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		vm, err := xapi.GetObject(tx, "VM", c.StringArg(0))
		if err != nil {
			return err
		}
		if xapi.Bool(vm, "is_control_domain") {
			return apierror.New("CANNOT_RESET_CONTROL_DOMAIN", vm.Ref)
		}
		switch xapi.Str(vm, "power_state") {
		case "Running", "Paused":
			if host := xapi.Str(vm, "resident_on"); hostLive(tx, host) {
				return apierror.New("HOST_IS_LIVE", host)
			}
		case "Halted":
			return nil
		}
		if xapi.Str(vm, "power_state") == "Suspended" {
			destroySuspendVDI(tx, vm)
		}
		powerOff(tx, vm.Ref, "Halted")
		vm = tx.Get("VM", vm.Ref).Clone()
		xapi.Set(vm, "current_operations", map[string]any{})
		tx.Put(vm)
		setAllowedOps(tx, vm)
		return nil
	})
	return nil, err
}

func poolField(r store.Reader, field string) string {
	if pool := firstPool(r); pool != nil {
		return xapi.Str(pool, field)
	}
	return datamodel.NullRef
}

package cluster

import (
	"math"
	"strconv"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
	"github.com/xapisim/xapisim/xapi/wire"
)

// VM tuning (xapi_vm.ml, xapi_vm_helpers.ml, message_forwarding.ml): the vendor device,
// shadow memory, live VCPU parameters, waiting for the balloon, restarting the device
// models, service queries and the snapshot schedule.
//
// Shadow memory is a model: the shadow allocation at multiplier 1 is the VM's overhead
// (memory.go), and a multiplier m allocates m times that; raising it on a running VM
// needs the difference free on its host. The host accounting does not count shadow
// memory beyond the overhead.

// hasVendorDevicePlatformVersion is the virtual hardware platform version a VM with the
// vendor device needs (xapi's Xapi_globs.has_vendor_device).
const hasVendorDevicePlatformVersion = 2

func (p *Sim) registerVMTuning() {
	s := p.srv
	s.Handle("VM.set_has_vendor_device", func(c *xapi.Call) (any, error) {
		value := c.Arg(1).(bool)
		return nil, p.editVM(c.StringArg(0), func(_ *store.Tx, vm *store.Object) error {
			if err := initialPowerState(vm, "Halted"); err != nil {
				return err
			}
			xapi.Set(vm, "has_vendor_device", value)
			if value && xapi.Int(vm, "hardware_platform_version") < hasVendorDevicePlatformVersion {
				xapi.Set(vm, "hardware_platform_version", int64(hasVendorDevicePlatformVersion))
			}
			return nil
		})
	})
	// The multiplier is checked once the changing_shadow_memory operation (Halted VMs and
	// templates) is marked.
	s.Handle("VM.set_HVM_shadow_multiplier", func(c *xapi.Call) (any, error) {
		value := c.Arg(1).(float64)
		return nil, p.runVMOp(c, c.StringArg(0), vmOp{op: "changing_shadow_memory", strict: true,
			prepare: func(*store.Tx, *store.Object) error { return shadowMultiplierError(value) },
			apply: func(tx *store.Tx, vm *store.Object) error {
				vm = vm.Clone()
				xapi.Set(vm, "HVM_shadow_multiplier", value)
				setMemoryOverhead(vm)
				tx.Put(vm)
				return nil
			}})
	})
	s.Handle("VM.set_shadow_multiplier_live", p.setShadowMultiplierLive)
	// xapi checks the operation, forwards the call to the VM's host, and there answers
	// NOT_IMPLEMENTED with the bare message name.
	s.Handle("VM.add_to_VCPUs_params_live", func(c *xapi.Call) (any, error) {
		return nil, p.withOp(c, forwardedVMOp(c.StringArg(0), "changing_VCPUs_live"), func() error {
			return apierror.New(apierror.NotImplemented, "add_to_VCPUs_params_live")
		})
	})
	s.Handle("VM.wait_memory_target_live", p.waitMemoryTargetLive)
	// A restart of the device models is a live migration to the VM's own host: the
	// operation checks of pool_migrate and the boot checks there, then nothing visible.
	s.Handle("VM.restart_device_models", func(c *xapi.Call) (any, error) {
		vm, err := c.Get("VM", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		if ps := xapi.Str(vm, "power_state"); ps != "Running" {
			return nil, apierror.New("VM_BAD_POWER_STATE", vm.Ref, "Running", ps)
		}
		return nil, p.runVMOp(c, vm.Ref, vmOp{op: "pool_migrate", strict: true,
			prepare: func(tx *store.Tx, vm *store.Object) error {
				host, err := xapi.GetObject(tx, "host", xapi.Str(vm, "resident_on"))
				if err != nil {
					return err
				}
				return bootCheck(tx, vm, host)
			}})
	})
	// xapi marks the query_services operation and answers NOT_IMPLEMENTED.
	s.Handle("VM.query_services", func(c *xapi.Call) (any, error) {
		return nil, p.runVMOp(c, c.StringArg(0), vmOp{op: "query_services", strict: true,
			apply: func(*store.Tx, *store.Object) error {
				return apierror.New(apierror.NotImplemented, "query_services")
			}})
	})
	s.Handle("VM.set_snapshot_schedule", p.setSnapshotSchedule)
}

// initialPowerState is xapi's assert_initial_power_state_is.
func initialPowerState(vm *store.Object, want string) error {
	if ps := xapi.Str(vm, "power_state"); ps != want {
		return apierror.New("VM_BAD_POWER_STATE", vm.Ref, strings.ToLower(want), strings.ToLower(ps))
	}
	return nil
}

// shadowMultiplierError is xapi's validate_HVM_shadow_multiplier.
func shadowMultiplierError(m float64) error {
	if m < 1 || math.IsNaN(m) {
		return apierror.New(apierror.InvalidValue, "multiplier", wire.FormatOCamlFloat(m))
	}
	return nil
}

// setShadowMultiplierLive changes a running VM's shadow multiplier on its host. xenopsd
// ignores the change for a PV domain; for an HVM one it needs the larger allocation
// free on the host (HOST_NOT_ENOUGH_FREE_MEMORY: bytes needed, bytes free).
func (p *Sim) setShadowMultiplierLive(c *xapi.Call) (any, error) {
	value := c.Arg(1).(float64)
	return nil, p.withOp(c, forwardedVMOp(c.StringArg(0), "changing_shadow_memory_live"), func() error {
		if err := c.Work(); err != nil {
			return err
		}
		_, err := p.srv.Store.Update(func(tx *store.Tx) error {
			vm, err := xapi.GetObject(tx, "VM", c.StringArg(0))
			if err != nil {
				return err
			}
			if err := initialPowerState(vm, "Running"); err != nil {
				return err
			}
			if err := shadowMultiplierError(value); err != nil {
				return err
			}
			if bootedPV(tx, vm) {
				return nil
			}
			shadow := func(m float64) int64 { return int64(math.Ceil(m*float64(overhead(vm)/mib))) * mib }
			need := shadow(value) - shadow(xapi.Float(vm, "HVM_shadow_multiplier"))
			if free := hostFree(tx, xapi.Str(vm, "resident_on")); need > free {
				return apierror.New("HOST_NOT_ENOUGH_FREE_MEMORY", strconv.FormatInt(need, 10), strconv.FormatInt(free, 10))
			}
			vm = vm.Clone()
			xapi.Set(vm, "HVM_shadow_multiplier", value)
			setMemoryOverhead(vm)
			tx.Put(vm)
			return nil
		})
		return err
	})
}

// waitMemoryTargetLive waits, as the awaiting_memory_live operation, for a running VM's
// balloon to reach its target (within a MiB). The simulated balloon reaches it at once:
// memory_actual takes the target and the host's memory is accounted again; so xapi's
// VM_MEMORY_TARGET_WAIT_TIMEOUT never happens.
func (p *Sim) waitMemoryTargetLive(c *xapi.Call) (any, error) {
	return nil, p.withOp(c, forwardedVMOp(c.StringArg(0), "awaiting_memory_live"), func() error {
		_, err := p.srv.Store.Update(func(tx *store.Tx) error {
			vm, err := xapi.GetObject(tx, "VM", c.StringArg(0))
			if err != nil {
				return err
			}
			m := tx.Get("VM_metrics", xapi.Str(vm, "metrics"))
			if m == nil {
				return apierror.New(apierror.HandleInvalid, "VM_metrics", xapi.Str(vm, "metrics"))
			}
			target, actual := xapi.Int(vm, "memory_target"), xapi.Int(m, "memory_actual")
			if actual-target <= mib && target-actual <= mib {
				return nil
			}
			m = m.Clone()
			xapi.Set(m, "memory_actual", target)
			tx.Put(m)
			refreshHostMemory(tx, xapi.Str(vm, "resident_on"))
			return nil
		})
		return err
	})
}

// setSnapshotSchedule assigns a VM to a snapshot schedule (VMSS) or, with the null ref,
// to none. xapi accepts a ref of any class as valid here and only fails when it reads
// the schedule's type.
func (p *Sim) setSnapshotSchedule(c *xapi.Call) (any, error) {
	value, r := c.StringArg(1), p.srv.Store
	if err := licenceRestriction(r, "restrict_vmss", "VMSS", false); err != nil {
		return nil, err
	}
	valid := anyObject(r, value)
	if !valid && !isNull(value) {
		return nil, apierror.New(apierror.InvalidValue, value)
	}
	return nil, p.editVM(c.StringArg(0), func(tx *store.Tx, vm *store.Object) error {
		if valid {
			if xapi.Bool(vm, "is_control_domain") {
				return apierror.New(apierror.InvalidValue, value)
			}
			if xapi.Bool(vm, "is_a_template") {
				return apierror.New("VM_IS_TEMPLATE", vm.Ref)
			}
			vmss, err := xapi.GetObject(tx, "VMSS", value)
			if err != nil {
				return err
			}
			if xapi.Str(vmss, "type") == "snapshot_with_quiesce" {
				if err := licenceRestriction(tx, "restrict_vss", "VSS", false); err != nil {
					return err
				}
				if err := quiesceSnapshotError(tx, vm); err != nil {
					return err
				}
			}
		}
		xapi.Set(vm, "snapshot_schedule", value)
		return nil
	})
}

// anyObject is xapi's Db.is_valid_ref: whether ref names an object of any class.
func anyObject(r store.Reader, ref string) bool {
	if isNull(ref) {
		return false
	}
	for _, class := range datamodel.Load().Classes {
		if r.Get(class.Name, ref) != nil {
			return true
		}
	}
	return false
}

// quiesceSnapshotError is xapi's assert_vm_supports_quiesce_snapshot: no disk resets on
// boot, and the guest agent offers quiesced snapshots.
func quiesceSnapshotError(r store.Reader, vm *store.Object) error {
	for _, ref := range xapi.Refs(vm, "VBDs") {
		vbd := r.Get("VBD", ref)
		if vbd == nil {
			continue
		}
		if vdi := r.Get("VDI", xapi.Str(vbd, "VDI")); vdi != nil && xapi.StringMap(vdi, "sm_config")["on_boot"] == "reset" {
			return apierror.New("VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION")
		}
	}
	if guestFeature(r, vm, "feature-snapshot") != "1" && guestFeature(r, vm, "feature-quiesce") != "1" {
		return apierror.New("VM_SNAPSHOT_WITH_QUIESCE_NOT_SUPPORTED", vm.Ref)
	}
	return nil
}

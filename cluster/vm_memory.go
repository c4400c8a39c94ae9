package cluster

import (
	"strconv"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Memory and VCPU setters (semantics.md §2.10). Each runs as a VM operation
// (changing_memory_limits, changing_static_range, changing_dynamic_range, changing_VCPUs)
// so power states are checked as xapi checks them.

func (p *Sim) registerMemory() {
	s := p.srv
	type limits struct{ smin, smax, dmin, dmax *int64 }
	memory := func(name, op string, set func(c *xapi.Call, l limits)) {
		s.Handle("VM."+name, func(c *xapi.Call) (any, error) {
			return nil, p.runVMOp(c, c.StringArg(0), vmOp{op: op, strict: true,
				apply: func(tx *store.Tx, vm *store.Object) error {
					smin, smax := xapi.Int(vm, "memory_static_min"), xapi.Int(vm, "memory_static_max")
					dmin, dmax := xapi.Int(vm, "memory_dynamic_min"), xapi.Int(vm, "memory_dynamic_max")
					set(c, limits{&smin, &smax, &dmin, &dmax})
					if err := memoryConstraints(vm, smin, smax, dmin, dmax); err != nil {
						return err
					}
					if xapi.Str(vm, "power_state") == "Running" && dmin > xapi.Int(vm, "memory_dynamic_min") {
						need, free := (dmin-xapi.Int(vm, "memory_dynamic_min"))/1024, hostFree(tx, xapi.Str(vm, "resident_on"))/1024
						if need > free {
							return apierror.New("HOST_NOT_ENOUGH_FREE_MEMORY", strconv.FormatInt(need, 10), strconv.FormatInt(free, 10))
						}
					}
					vm = vm.Clone()
					xapi.Set(vm, "memory_static_min", smin)
					xapi.Set(vm, "memory_static_max", smax)
					xapi.Set(vm, "memory_dynamic_min", dmin)
					xapi.Set(vm, "memory_dynamic_max", dmax)
					xapi.Set(vm, "memory_target", dmin)
					setMemoryOverhead(vm)
					tx.Put(vm)
					return nil
				},
			})
		})
	}
	arg := func(c *xapi.Call, i int) int64 { return c.Arg(i).(int64) }
	memory("set_memory", "changing_memory_limits", func(c *xapi.Call, l limits) {
		v := arg(c, 1)
		*l.smax, *l.dmin, *l.dmax = v, v, v
	})
	memory("set_memory_limits", "changing_memory_limits", func(c *xapi.Call, l limits) {
		*l.smin, *l.smax, *l.dmin, *l.dmax = arg(c, 1), arg(c, 2), arg(c, 3), arg(c, 4)
	})
	memory("set_memory_static_range", "changing_static_range", func(c *xapi.Call, l limits) { *l.smin, *l.smax = arg(c, 1), arg(c, 2) })
	memory("set_memory_static_min", "changing_static_range", func(c *xapi.Call, l limits) { *l.smin = arg(c, 1) })
	memory("set_memory_static_max", "changing_static_range", func(c *xapi.Call, l limits) { *l.smax = arg(c, 1) })
	memory("set_memory_dynamic_range", "changing_dynamic_range", func(c *xapi.Call, l limits) { *l.dmin, *l.dmax = arg(c, 1), arg(c, 2) })
	memory("set_memory_dynamic_min", "changing_dynamic_range", func(c *xapi.Call, l limits) { *l.dmin = arg(c, 1) })
	memory("set_memory_dynamic_max", "changing_dynamic_range", func(c *xapi.Call, l limits) { *l.dmax = arg(c, 1) })
	s.Handle("VM.set_memory_target_live", func(c *xapi.Call) (any, error) { // deprecated: a no-op
		_, err := c.Get("VM", c.StringArg(0))
		return nil, err
	})
	s.Handle("VM.set_VCPUs_max", func(c *xapi.Call) (any, error) {
		n := arg(c, 1)
		return nil, p.runVMOp(c, c.StringArg(0), vmOp{op: "changing_VCPUs", strict: true,
			apply: func(tx *store.Tx, vm *store.Object) error {
				if n < 1 || n < xapi.Int(vm, "VCPUs_at_startup") {
					return vcpuError(n)
				}
				vm = vm.Clone()
				xapi.Set(vm, "VCPUs_max", n)
				setMemoryOverhead(vm)
				tx.Put(vm)
				return nil
			},
		})
	})
	s.Handle("VM.set_VCPUs_at_startup", func(c *xapi.Call) (any, error) {
		n := arg(c, 1)
		_, err := s.Store.Update(func(tx *store.Tx) error {
			vm, err := xapi.GetObject(tx, "VM", c.StringArg(0))
			if err != nil {
				return err
			}
			if n < 1 || n > xapi.Int(vm, "VCPUs_max") {
				return vcpuError(n)
			}
			if xapi.Bool(vm, "is_control_domain") && xapi.Int(vm, "domid") == 0 {
				return apierror.New(apierror.OperationNotAllowed, "set_VCPUs_at_startup is not allowed on dom0")
			}
			vm = vm.Clone()
			xapi.Set(vm, "VCPUs_at_startup", n)
			tx.Put(vm)
			return nil
		})
		return nil, err
	})
	s.Handle("VM.set_VCPUs_number_live", func(c *xapi.Call) (any, error) {
		n := arg(c, 1)
		return nil, p.runVMOp(c, c.StringArg(0), vmOp{op: "changing_VCPUs_live", strict: true,
			apply: func(tx *store.Tx, vm *store.Object) error {
				if n < 1 || n > xapi.Int(vm, "VCPUs_max") {
					return vcpuError(n)
				}
				if m := tx.Get("VM_metrics", xapi.Str(vm, "metrics")); m != nil {
					m = m.Clone()
					xapi.Set(m, "VCPUs_number", n)
					tx.Put(m)
				}
				return nil
			},
		})
	})
}

// memoryConstraints is xapi's check of the four memory limits: control domains (no
// ballooning) need static_min <= dynamic_min = dynamic_max = static_max; others need them
// in order.
func memoryConstraints(vm *store.Object, smin, smax, dmin, dmax int64) error {
	if xapi.Bool(vm, "is_control_domain") {
		if !(smin <= dmin && dmin == dmax && dmax == smax) {
			return apierror.New("MEMORY_CONSTRAINT_VIOLATION_MAXPIN", "control domain")
		}
		return nil
	}
	if isTrue(xapi.StringMap(vm, "platform")["nested-virt"]) {
		if !(smin <= dmin && dmin == dmax && dmax == smax) {
			return apierror.New("MEMORY_CONSTRAINT_VIOLATION_MAXPIN", "nested virt")
		}
		return nil
	}
	if !(smin <= dmin && dmin <= dmax && dmax <= smax) {
		return apierror.New("MEMORY_CONSTRAINT_VIOLATION_ORDER")
	}
	return nil
}

func vcpuError(n int64) error {
	return apierror.New(apierror.InvalidValue, "VCPU values must satisfy: 0 < VCPUs_at_startup ≤ VCPUs_max", strconv.FormatInt(n, 10))
}

package cluster

import (
	"sort"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// VM appliances: a set of VMs started in ascending VM.order and shut down in the reverse
// order, each VM through its own lifecycle call.

func (p *Sim) registerVMAppliance() {
	s := p.srv
	s.Handle("VM_appliance.start", func(c *xapi.Call) (any, error) {
		paused := c.Arg(1).(bool)
		return nil, p.applianceEach(c, false, func(vm *store.Object) error {
			if xapi.Str(vm, "power_state") != "Halted" {
				return nil
			}
			return p.start(c, vm.Ref, "", paused)
		})
	})
	for _, op := range []string{"clean_shutdown", "hard_shutdown", "shutdown"} {
		op := op
		s.Handle("VM_appliance."+op, func(c *xapi.Call) (any, error) {
			return nil, p.applianceEach(c, true, func(vm *store.Object) error {
				if xapi.Str(vm, "power_state") == "Halted" {
					return nil
				}
				sub := *c
				sub.Args = []any{vm.Ref}
				if op == "shutdown" {
					if err := p.shutdown(&sub, "clean_shutdown"); err == nil {
						return nil
					}
					return p.shutdown(&sub, "hard_shutdown")
				}
				return p.shutdown(&sub, op)
			})
		})
	}
}

// applianceEach runs f on the appliance's VMs in start order (or its reverse), stopping
// at the first error.
func (p *Sim) applianceEach(c *xapi.Call, reverse bool, f func(vm *store.Object) error) error {
	a, err := c.Get("VM_appliance", c.StringArg(0))
	if err != nil {
		return err
	}
	var vms []*store.Object
	for _, ref := range xapi.Refs(a, "VMs") {
		if vm := p.srv.Store.Get("VM", ref); vm != nil {
			vms = append(vms, vm)
		}
	}
	sort.SliceStable(vms, func(i, j int) bool {
		if reverse {
			return xapi.Int(vms[i], "order") > xapi.Int(vms[j], "order")
		}
		return xapi.Int(vms[i], "order") < xapi.Int(vms[j], "order")
	})
	if len(vms) == 0 {
		return apierror.New(apierror.OperationNotAllowed, "The appliance has no VM")
	}
	for _, vm := range vms {
		if err := f(vm); err != nil {
			return err
		}
	}
	return nil
}

package cluster

import (
	"slices"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
)

// VM groups (semantics.md §2.6): an anti-affinity group spreads its VMs over the hosts
// (placement.go). Destroying a group takes it out of its VMs' groups.

func (p *Sim) registerVMGroup() {
	p.srv.Handle("VM_group.destroy", func(c *xapi.Call) (any, error) {
		ref := c.StringArg(0)
		_, err := p.srv.Store.Update(func(tx *store.Tx) error {
			g, err := xapi.GetObject(tx, "VM_group", ref)
			if err != nil {
				return err
			}
			for _, vm := range xapi.Refs(g, "VMs") {
				o := tx.Get("VM", vm)
				if o == nil {
					continue
				}
				o = o.Clone()
				xapi.Set(o, "groups", slices.DeleteFunc(slices.Clone(xapi.Get(o, "groups").([]any)), func(v any) bool { return v == ref }))
				tx.Put(o)
			}
			tx.Delete("VM_group", ref)
			return nil
		})
		return nil, err
	})
}

package cluster

import (
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Virtual TPMs (xapi_vtpm.ml). A VTPM's state lives in a secret, referenced by the
// internal field contents; xapi persists it itself (persistence_backend xapi), so no
// backend domain is involved and backend stays null.

func (p *Sim) registerVTPM() {
	s := p.srv
	s.Handle("VTPM.create", p.vtpmCreate)
	s.Handle("VTPM.destroy", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			vtpm, err := xapi.GetObject(tx, "VTPM", c.StringArg(0))
			if err != nil {
				return err
			}
			vm, err := xapi.GetObject(tx, "VM", xapi.Str(vtpm, "VM"))
			if err != nil {
				return err
			}
			if err := assertPowerStateIn(vm, "Halted", "Suspended"); err != nil {
				return err
			}
			deleteVTPM(tx, vtpm.Ref)
			setAllowedOps(tx, vm)
			return nil
		})
		return nil, err
	})
}

// vtpmCreate runs inside the VM operation create_vtpm, whose check already refuses a
// second VTPM and a VM that is not halted; xapi checks both again with the licence.
func (p *Sim) vtpmCreate(c *xapi.Call) (any, error) {
	var ref string
	err := p.runVMOp(c, c.StringArg(0), vmOp{op: "create_vtpm", strict: true,
		apply: func(tx *store.Tx, vm *store.Object) error {
			if xapi.StringMap(firstPool(tx), "restrictions")["restrict_vtpm"] != "false" {
				return apierror.New("FEATURE_RESTRICTED", "restrict_vtpm")
			}
			if n := len(xapi.Refs(vm, "VTPMs")); n > 0 {
				return apierror.New("VTPM_MAX_AMOUNT_REACHED", itoa(n))
			}
			if err := assertPowerStateIn(vm, "Halted"); err != nil {
				return err
			}
			ref = p.newVTPM(tx, vm.Ref, c.Arg(1).(bool), "").Ref
			return nil
		}})
	if err != nil {
		return nil, err
	}
	return ref, nil
}

// newVTPM creates a VTPM of a VM with its contents in a new secret.
func (p *Sim) newVTPM(tx *store.Tx, vm string, unique bool, contents string) *store.Object {
	secret := p.srv.NewObject("secret")
	xapi.Set(secret, "value", contents)
	xapi.Set(secret, "other_config", map[string]any{})
	tx.Put(secret)
	o := p.srv.NewObject("VTPM")
	for k, v := range map[string]any{"VM": vm, "backend": nullRef, "persistence_backend": "xapi",
		"is_unique": unique, "is_protected": false, "contents": secret.Ref} {
		xapi.Set(o, k, v)
	}
	tx.Put(o)
	setVTPMAllowedOps(tx, o.Ref)
	return o
}

// copyVTPM gives vm a copy of a VTPM, as clones and snapshots get: the contents are
// copied unless the VTPM is unique, whose copy starts empty.
func (p *Sim) copyVTPM(tx *store.Tx, vm string, src *store.Object) {
	contents := ""
	if secret := tx.Get("secret", xapi.Str(src, "contents")); secret != nil && !xapi.Bool(src, "is_unique") {
		contents = xapi.Str(secret, "value")
	}
	p.newVTPM(tx, vm, xapi.Bool(src, "is_unique"), contents)
}

// deleteVTPM deletes a VTPM and the secret holding its contents.
func deleteVTPM(tx *store.Tx, ref string) {
	if o := tx.Get("VTPM", ref); o != nil {
		tx.Delete("secret", xapi.Str(o, "contents"))
		tx.Delete("VTPM", ref)
	}
}

// setVTPMAllowedOps: a VTPM may be destroyed while its VM is halted.
func setVTPMAllowedOps(tx *store.Tx, ref string) {
	o := tx.Get("VTPM", ref)
	if o == nil {
		return
	}
	allowed := []any{}
	if vm := tx.Get("VM", xapi.Str(o, "VM")); vm != nil && xapi.Str(vm, "power_state") == "Halted" {
		allowed = append(allowed, "destroy")
	}
	putAllowedOps(tx, o, allowed)
}

// assertPowerStateIn is xapi's assert_initial_power_state_in: VM_BAD_POWER_STATE with
// the allowed states lower-cased and joined by ";".
func assertPowerStateIn(vm *store.Object, allowed ...string) error {
	ps := xapi.Str(vm, "power_state")
	lower := make([]string, len(allowed))
	for i, s := range allowed {
		if s == ps {
			return nil
		}
		lower[i] = strings.ToLower(s)
	}
	return apierror.New("VM_BAD_POWER_STATE", vm.Ref, strings.Join(lower, ";"), strings.ToLower(ps))
}

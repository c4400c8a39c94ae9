package cluster

import (
	"errors"
	"sort"
	"strconv"
	"time"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// busyWait is how long an operation waits for another operation on the same object to
// finish before OTHER_OPERATION_IN_PROGRESS reaches the caller: xapi retries for up to two
// hours, so clients mostly see a slow call, not the error.
const busyWait = 2 * time.Hour

// vmOp is one VM operation run as xapi's with_vm_operation (semantics.md §0.2): check it
// (waiting while another operation holds the VM), prepare it and record it in
// current_operations, spend its simulated time, apply it, and forget it.
type vmOp struct {
	op     string
	strict bool
	// prepare runs after the check, in the same transaction as the marking; an error
	// aborts the operation (placement errors come from here).
	prepare func(tx *store.Tx, vm *store.Object) error
	// apply runs after the simulated work.
	apply func(tx *store.Tx, vm *store.Object) error
}

func (p *Sim) runVMOp(c *xapi.Call, ref string, o vmOp) error {
	return p.runOp(c, "VM", ref, o.op, func(tx *store.Tx, obj *store.Object) error {
		if err := operationError(tx, obj, o.op, o.strict); err != nil {
			return err
		}
		if o.prepare != nil {
			return o.prepare(tx, obj)
		}
		return nil
	}, o.apply, func(tx *store.Tx, ref string) { setAllowedOps(tx, tx.Get("VM", ref)) })
}

// runOp is the with_<class>_operation pattern for any class with current_operations.
func (p *Sim) runOp(c *xapi.Call, class, ref, op string,
	check func(tx *store.Tx, obj *store.Object) error,
	apply func(tx *store.Tx, obj *store.Object) error,
	refresh func(tx *store.Tx, ref string)) error {
	key := c.OperationKey()
	mark := func(tx *store.Tx, on bool) {
		obj := tx.Get(class, ref)
		if obj == nil {
			return
		}
		obj = obj.Clone()
		ops := xapi.CopyMap(xapi.Map(obj, "current_operations"))
		if on {
			ops[key] = op
		} else {
			delete(ops, key)
		}
		xapi.Set(obj, "current_operations", ops)
		tx.Put(obj)
		refresh(tx, ref)
	}
	deadline := time.Now().Add(busyWait)
	for {
		gen := p.srv.Store.Generation()
		_, err := p.srv.Store.Update(func(tx *store.Tx) error {
			obj, err := xapi.GetObject(tx, class, ref)
			if err != nil {
				return err
			}
			if err := check(tx, obj); err != nil {
				return err
			}
			mark(tx, true)
			return nil
		})
		if err == nil {
			break
		}
		var e *apierror.Error
		if !errors.As(err, &e) || e.Code != "OTHER_OPERATION_IN_PROGRESS" || time.Now().After(deadline) {
			return err
		}
		select { // wait for the other operation to change something, then check again
		case <-p.srv.Store.Wait(gen):
		case <-c.Cancelled():
			return apierror.New(apierror.TaskCancelled, key)
		case <-time.After(time.Second):
		}
	}
	err := c.Work()
	if err == nil {
		_, err = p.srv.Store.Update(func(tx *store.Tx) error {
			obj, err := xapi.GetObject(tx, class, ref)
			if err != nil {
				return err
			}
			if apply != nil {
				if err := apply(tx, obj); err != nil {
					return err
				}
			}
			mark(tx, false)
			return nil
		})
		if err == nil {
			return nil
		}
	}
	// The work was cancelled or the effect failed: forget the operation, change nothing.
	if _, uerr := p.srv.Store.Update(func(tx *store.Tx) error { mark(tx, false); return nil }); uerr != nil {
		p.srv.Logger().Error().Err(uerr).Str("class", class).Str("ref", ref).Msg("cannot clear current operation")
	}
	return err
}

// sortedOps returns the task keys and operations of a current_operations map, by key.
func sortedOps(current map[string]any) (tasks, ops []string) {
	for k := range current {
		tasks = append(tasks, k)
	}
	sort.Strings(tasks)
	for _, k := range tasks {
		s, _ := current[k].(string)
		ops = append(ops, s)
	}
	return tasks, ops
}

func itoa(n int) string { return strconv.Itoa(n) }

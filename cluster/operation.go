package cluster

import (
	"errors"
	"slices"
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
	oo := o.on(ref)
	return p.runOp(c, oo.class, oo.ref, oo.op, oo.check, o.apply, oo.refresh)
}

// on is the VM operation as an objectOp on the VM ref (its check and refresh), for
// withOp around a body of its own.
func (o vmOp) on(ref string) objectOp {
	return objectOp{class: "VM", ref: ref, op: o.op,
		check: func(tx *store.Tx, obj *store.Object) error {
			if err := operationError(tx, obj, o.op, o.strict); err != nil {
				return err
			}
			if o.prepare != nil {
				return o.prepare(tx, obj)
			}
			return nil
		},
		refresh: func(tx *store.Tx, ref string) { setAllowedOps(tx, tx.Get("VM", ref)) },
	}
}

// forwardedVMOp is a VM operation that xapi forwards to the VM's host: the operation's
// checks, then the host must answer.
func forwardedVMOp(ref, op string) objectOp {
	return objectOp{class: "VM", ref: ref, op: op,
		check: func(tx *store.Tx, vm *store.Object) error {
			if err := operationError(tx, vm, op, true); err != nil {
				return err
			}
			return forwardTo(tx, xapi.Str(vm, "resident_on"))
		},
		refresh: func(tx *store.Tx, ref string) { setAllowedOps(tx, tx.Get("VM", ref)) }}
}

// runOp is the with_<class>_operation pattern for any class with current_operations:
// check and mark, spend the call's simulated time, apply, unmark.
func (p *Sim) runOp(c *xapi.Call, class, ref, op string,
	check func(tx *store.Tx, obj *store.Object) error,
	apply func(tx *store.Tx, obj *store.Object) error,
	refresh func(tx *store.Tx, ref string)) error {
	o := objectOp{class: class, ref: ref, op: op, check: check, refresh: refresh}
	if err := p.beginOp(c, o); err != nil {
		return err
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
			o.mark(tx, c.OperationKey(), false)
			return nil
		})
		if err == nil {
			return nil
		}
	}
	// The work was cancelled or the effect failed: forget the operation, change nothing.
	p.endOp(c, o)
	return err
}

// withOp runs fn while op is in the object's current_operations, for operations made of
// several transactions (xapi's with_cluster_operation around a whole call).
func (p *Sim) withOp(c *xapi.Call, o objectOp, fn func() error) error {
	if err := p.beginOp(c, o); err != nil {
		return err
	}
	defer p.endOp(c, o)
	return fn()
}

// objectOp names an operation on one object and how to check and refresh it.
type objectOp struct {
	class, ref, op string
	// check is the operation's precondition, run in the transaction that marks it.
	check func(tx *store.Tx, obj *store.Object) error
	// refresh recomputes the object's allowed_operations.
	refresh func(tx *store.Tx, ref string)
	// failFast returns OTHER_OPERATION_IN_PROGRESS at once instead of waiting
	// (xapi's Policy.fail_immediately, e.g. VM.call_plugin).
	failFast bool
}

// mark adds or removes the operation under key in current_operations.
func (o objectOp) mark(tx *store.Tx, key string, on bool) {
	obj := tx.Get(o.class, o.ref)
	if obj == nil {
		return
	}
	obj = obj.Clone()
	ops := xapi.CopyMap(xapi.Map(obj, "current_operations"))
	if on {
		ops[key] = o.op
	} else {
		delete(ops, key)
	}
	xapi.Set(obj, "current_operations", ops)
	tx.Put(obj)
	if o.refresh != nil {
		o.refresh(tx, o.ref)
	}
}

// beginOp checks and marks the operation, waiting while another operation holds the
// object (xapi retries for up to two hours before OTHER_OPERATION_IN_PROGRESS).
func (p *Sim) beginOp(c *xapi.Call, o objectOp) error {
	key := c.OperationKey()
	deadline := time.Now().Add(busyWait)
	for {
		gen := p.srv.Store.Generation()
		_, err := p.srv.Store.Update(func(tx *store.Tx) error {
			obj, err := xapi.GetObject(tx, o.class, o.ref)
			if err != nil {
				return err
			}
			if o.check != nil {
				if err := o.check(tx, obj); err != nil {
					return err
				}
			}
			o.mark(tx, key, true)
			return nil
		})
		if err == nil {
			return nil
		}
		var e *apierror.Error
		if !errors.As(err, &e) || e.Code != "OTHER_OPERATION_IN_PROGRESS" || o.failFast || time.Now().After(deadline) {
			return err
		}
		select { // wait for the other operation to change something, then check again
		case <-p.srv.Store.Wait(gen):
		case <-c.Cancelled():
			return apierror.New(apierror.TaskCancelled, key)
		case <-time.After(time.Second):
		}
	}
}

// endOp forgets the operation.
func (p *Sim) endOp(c *xapi.Call, o objectOp) {
	if _, err := p.srv.Store.Update(func(tx *store.Tx) error { o.mark(tx, c.OperationKey(), false); return nil }); err != nil {
		p.srv.Logger().Error().Err(err).Str("class", o.class).Str("ref", o.ref).Msg("cannot clear current operation")
	}
}

// putAllowedOps stores an object's allowed_operations, only when they changed: the
// recomputation runs around every operation and an unchanged write would still raise an
// event.
func putAllowedOps(tx *store.Tx, obj *store.Object, allowed []any) {
	if allowed == nil {
		allowed = []any{}
	}
	if cur, _ := xapi.Get(obj, "allowed_operations").([]any); slices.Equal(cur, allowed) {
		return
	}
	obj = obj.Clone()
	xapi.Set(obj, "allowed_operations", allowed)
	tx.Put(obj)
}

// recomputeAllowedOps stores in an object's allowed_operations the operations of ops
// that ok accepts, in that order.
func recomputeAllowedOps(tx *store.Tx, class, ref string, ops []string, ok func(obj *store.Object, op string) bool) {
	obj := tx.Get(class, ref)
	if obj == nil {
		return
	}
	allowed := []any{}
	for _, op := range ops {
		if ok(obj, op) {
			allowed = append(allowed, op)
		}
	}
	putAllowedOps(tx, obj, allowed)
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

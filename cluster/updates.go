package cluster

import (
	"fmt"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// Legacy ISO updates (xapi_pool_update.ml, the pool_update.precheck and pool_update.apply
// host extensions, xapi_pool_patch.ml, xapi_host_patch.ml). xapi mounts an update VDI in
// dom0 as an ISO 9660 image; simulated VDIs hold no content, so no VDI ever mounts: the
// mount failure is xapi's INVALID_UPDATE ["Please upload a valid package."]. introduce
// therefore never creates a record, and precheck and apply (which attach the update the
// same way) fail with the error the extension scripts report for it. Records that already
// exist (made by a client of the store) can still be cleaned, destroyed and inspected.

// invalidUpdatePackage is with_api_errors' answer to an update ISO that does not mount.
var invalidUpdatePackage = []string{"INVALID_UPDATE", "Please upload a valid package."}

// dom0FreeDisk is the space free on the simulated dom0's root file system, which the
// precheck extension compares with an update's installation size.
const dom0FreeDisk = 12 << 30

func (p *Sim) registerUpdates() {
	s := p.srv
	s.Handle("pool_update.introduce", func(c *xapi.Call) (any, error) {
		vdi, err := c.Get("VDI", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		if xapi.Str(vdi, "type") == "cbt_metadata" {
			return nil, apierror.New("VDI_INCOMPATIBLE_TYPE", vdi.Ref, "cbt_metadata")
		}
		return nil, apierror.New(invalidUpdatePackage[0], invalidUpdatePackage[1:]...)
	})
	s.Handle("pool_update.precheck", func(c *xapi.Call) (any, error) {
		return nil, updatePrecheck(s.Store, c.StringArg(0), c.StringArg(1))
	})
	s.Handle("pool_update.apply", func(c *xapi.Call) (any, error) {
		return nil, updateApply(s.Store, c.StringArg(0), c.StringArg(1))
	})
	s.Handle("pool_update.pool_apply", func(c *xapi.Call) (any, error) {
		return nil, updatePoolApply(s.Store, c.StringArg(0))
	})
	s.Handle("pool_update.pool_clean", func(c *xapi.Call) (any, error) {
		return nil, p.updatePoolClean(c, c.StringArg(0))
	})
	s.Handle("pool_update.destroy", func(c *xapi.Call) (any, error) {
		return nil, updateDestroy(s, c.StringArg(0))
	})
	p.registerPatches()
}

// updatePrecheck is the pool_update.precheck extension run on host: the update's VDI
// must exist, its installation size fit in dom0, and then attaching it fails.
func updatePrecheck(r store.Reader, ref, host string) error {
	if _, err := liveHost(r, host); err != nil {
		return err
	}
	u, err := xapi.GetObject(r, "pool_update", ref)
	if err != nil {
		return err
	}
	name := xapi.Str(u, "name_label")
	if r.Get("VDI", xapi.Str(u, "vdi")) == nil {
		return apierror.New("CANNOT_FIND_UPDATE")
	}
	if size := xapi.Int(u, "installation_size"); size > dom0FreeDisk {
		return apierror.New("UPDATE_PRECHECK_FAILED_OUT_OF_SPACE", name, fmt.Sprint(int64(dom0FreeDisk)), fmt.Sprint(size))
	}
	// The script reports the XenAPI failure of pool_update.attach as Python prints it.
	return apierror.New("UPDATE_PRECHECK_FAILED_UNKNOWN_ERROR", name,
		fmt.Sprintf("['%s', '%s']", invalidUpdatePackage[0], invalidUpdatePackage[1]))
}

// updateApply is the pool_update.apply extension: an update the host already has is
// refused, then the precheck runs and its failure is the answer.
func updateApply(r store.Reader, ref, host string) error {
	h, err := liveHost(r, host)
	if err != nil {
		return err
	}
	if _, err := xapi.GetObject(r, "pool_update", ref); err != nil {
		return err
	}
	for _, u := range xapi.Refs(h, "updates") {
		if u == ref {
			return apierror.New("UPDATE_ALREADY_APPLIED", ref)
		}
	}
	return updatePrecheck(r, ref, host)
}

// updatePoolApply applies the update on every host that lacks it; the hosts where it
// fails are reported together.
func updatePoolApply(r store.Reader, ref string) error {
	u, err := xapi.GetObject(r, "pool_update", ref)
	if err != nil {
		return err
	}
	applied := map[string]bool{}
	for _, h := range xapi.Refs(u, "hosts") {
		applied[h] = true
	}
	var failed []string
	for _, h := range r.All("host") {
		if applied[h.Ref] {
			continue
		}
		if updateApply(r, ref, h.Ref) != nil {
			// xapi folds over a set of refs and prepends each failure.
			failed = append([]string{h.Ref}, failed...)
		}
	}
	if len(failed) == 0 && len(applied) >= len(r.All("host")) {
		return apierror.New("UPDATE_ALREADY_APPLIED_IN_POOL", ref)
	}
	if len(failed) > 0 {
		return apierror.New("UPDATE_POOL_APPLY_FAILED", failed...)
	}
	return nil
}

// updatePoolClean destroys the update's VDI (through VDI.destroy's checks) and forgets it;
// an update already cleaned is left alone.
func (p *Sim) updatePoolClean(c *xapi.Call, ref string) error {
	u, err := c.Get("pool_update", ref)
	if err != nil {
		return err
	}
	vdi := xapi.Str(u, "vdi")
	if p.srv.Store.Get("VDI", vdi) == nil {
		return nil
	}
	if _, err := p.vdiDestroy(withArgs(c, vdi)); err != nil {
		return err
	}
	_, err = p.srv.Store.Update(func(tx *store.Tx) error {
		u, err := xapi.GetObject(tx, "pool_update", ref)
		if err != nil {
			return err
		}
		u = u.Clone()
		xapi.Set(u, "vdi", datamodel.NullRef)
		tx.Put(u)
		return nil
	})
	return err
}

// updateDestroy removes an update applied nowhere with its pool_patch, and drops it from
// the hosts' updates_requiring_reboot.
func updateDestroy(s *xapi.Server, ref string) error {
	_, err := s.Store.Update(func(tx *store.Tx) error {
		u, err := xapi.GetObject(tx, "pool_update", ref)
		if err != nil {
			return err
		}
		if len(xapi.Refs(u, "hosts")) > 0 {
			return apierror.New("UPDATE_IS_APPLIED")
		}
		var patches []string
		for _, o := range tx.All("pool_patch") {
			if xapi.Str(o, "pool_update") == ref {
				patches = append(patches, o.Ref)
			}
		}
		if len(patches) != 1 {
			return apierror.Internal("Invalid state")
		}
		tx.Delete("pool_update", ref)
		tx.Delete("pool_patch", patches[0])
		for _, h := range tx.All("host") {
			refs := xapi.Refs(h, "updates_requiring_reboot")
			keep := make([]string, 0, len(refs))
			for _, r := range refs {
				if r != ref {
					keep = append(keep, r)
				}
			}
			if len(keep) != len(refs) {
				h = h.Clone()
				xapi.Set(h, "updates_requiring_reboot", xapi.StringSet(keep...))
				tx.Put(h)
			}
		}
		return nil
	})
	return err
}

// registerPatches is pool_patch and host_patch, deprecated: most pool_patch calls act on
// the patch's pool_update.
func (p *Sim) registerPatches() {
	s := p.srv
	// patchUpdate is the pool_update of a patch; a patch without one makes the forwarded
	// call fail on the null ref.
	patchUpdate := func(r store.Reader, ref string) (string, error) {
		patch, err := xapi.GetObject(r, "pool_patch", ref)
		if err != nil {
			return "", err
		}
		u := xapi.Str(patch, "pool_update")
		if r.Get("pool_update", u) == nil {
			return "", apierror.New(apierror.HandleInvalid, "pool_update", u)
		}
		return u, nil
	}
	onHost := func(fn func(u, host string) error) xapi.Handler {
		return func(c *xapi.Call) (any, error) {
			host := c.StringArg(1)
			if _, err := liveHost(s.Store, host); err != nil {
				return nil, err
			}
			u, err := patchUpdate(s.Store, c.StringArg(0))
			if err != nil {
				return nil, err
			}
			if err := fn(u, host); err != nil {
				return nil, err
			}
			return "", nil
		}
	}
	s.Handle("pool_patch.precheck", onHost(func(u, host string) error { return updatePrecheck(s.Store, u, host) }))
	patchApply := onHost(func(u, host string) error { return updateApply(s.Store, u, host) })
	s.Handle("pool_patch.apply", patchApply)
	s.Handle("pool_patch.pool_apply", func(c *xapi.Call) (any, error) {
		ref := c.StringArg(0)
		for _, h := range s.Store.All("host") {
			if _, err := patchApply(withArgs(c, ref, h.Ref)); err != nil {
				return nil, err
			}
		}
		_, err := s.Store.Update(func(tx *store.Tx) error {
			patch, err := xapi.GetObject(tx, "pool_patch", ref)
			if err != nil {
				return err
			}
			patch = patch.Clone()
			xapi.Set(patch, "pool_applied", true)
			tx.Put(patch)
			return nil
		})
		return nil, err
	})
	s.Handle("pool_patch.clean", func(*xapi.Call) (any, error) { return nil, nil })
	s.Handle("pool_patch.clean_on_host", func(c *xapi.Call) (any, error) {
		_, err := liveHost(s.Store, c.StringArg(1))
		return nil, err
	})
	s.Handle("pool_patch.pool_clean", func(c *xapi.Call) (any, error) {
		u, err := patchUpdate(s.Store, c.StringArg(0))
		if err != nil {
			return nil, err
		}
		return nil, p.updatePoolClean(c, u)
	})
	s.Handle("pool_patch.destroy", func(c *xapi.Call) (any, error) {
		u, err := patchUpdate(s.Store, c.StringArg(0))
		if err != nil {
			return nil, err
		}
		return nil, updateDestroy(s, u)
	})
	s.Handle("host_patch.destroy", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			if _, err := xapi.GetObject(tx, "host_patch", c.StringArg(0)); err != nil {
				return err
			}
			tx.Delete("host_patch", c.StringArg(0))
			return nil
		})
		return nil, err
	})
	s.Handle("host_patch.apply", func(c *xapi.Call) (any, error) {
		hp, err := c.Get("host_patch", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		if h := xapi.Str(hp, "host"); s.Store.Get("host", h) != nil {
			if err := forwardTo(s.Store, h); err != nil {
				return nil, err
			}
		}
		return nil, apierror.New("MESSAGE_DEPRECATED")
	})
}

// withArgs is the call c with other arguments, for a handler that makes another call.
func withArgs(c *xapi.Call, args ...any) *xapi.Call {
	sub := *c
	sub.Args = args
	return &sub
}

package cluster

import (
	"strconv"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// Virtual disks (semantics.md §4.3). The operations go through the SR's checks (its
// driver's capabilities, a plugged PBD) and the VDI's own: a VDI attached to a running
// VM cannot be destroyed or resized offline.

func (p *Sim) registerVDI() {
	s := p.srv
	s.Handle("VDI.create", p.vdiCreate)
	s.Handle("VDI.destroy", p.vdiDestroy)
	s.Handle("VDI.clone", func(c *xapi.Call) (any, error) { return p.vdiCopy(c, "clone", "") })
	s.Handle("VDI.snapshot", func(c *xapi.Call) (any, error) { return p.vdiCopy(c, "snapshot", "") })
	s.Handle("VDI.copy", p.vdiCopyTo)
	s.Handle("VDI.resize", func(c *xapi.Call) (any, error) { return nil, p.vdiResize(c, "resize") })
	s.Handle("VDI.resize_online", func(c *xapi.Call) (any, error) { return nil, p.vdiResize(c, "resize_online") })
	for _, f := range []string{"name_label", "name_description", "read_only", "sharable", "on_boot", "allow_caching"} {
		field := f
		s.Handle("VDI.set_"+field, func(c *xapi.Call) (any, error) {
			return nil, s.UpdateField("VDI", c.StringArg(0), field, func(any) (any, error) { return c.Arg(1), nil })
		})
	}
	s.Handle("VDI.update", func(c *xapi.Call) (any, error) {
		_, err := c.Get("VDI", c.StringArg(0))
		return nil, err
	})
	s.Handle("VDI.forget", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			vdi, err := xapi.GetObject(tx, "VDI", c.StringArg(0))
			if err != nil {
				return err
			}
			destroyVDI(tx, vdi.Ref)
			return nil
		})
		return nil, err
	})
	s.Handle("VDI.introduce", p.vdiIntroduce)
	p.registerVDICBT()
}

// vdiAttached reports whether a VBD of the VDI is attached.
func vdiAttached(r store.Reader, vdi *store.Object) bool {
	for _, ref := range xapi.Refs(vdi, "VBDs") {
		if vbd := r.Get("VBD", ref); vbd != nil && xapi.Bool(vbd, "currently_attached") {
			return true
		}
	}
	return false
}

// vdiOpError is the first reason a VDI operation is not allowed (xapi_vdi.ml).
func vdiOpError(r store.Reader, vdi *store.Object, op string) error {
	sr := r.Get("SR", xapi.Str(vdi, "SR"))
	if current := xapi.Map(vdi, "current_operations"); len(current) > 0 {
		tasks, ops := sortedOps(current)
		if !(len(ops) == 1 && ops[0] == "copy" && op == "copy") {
			return apierror.New("OTHER_OPERATION_IN_PROGRESS", "VDI", vdi.Ref, ops[0], tasks[0])
		}
	}
	if sr != nil && (op == "resize" || op == "resize_online" || op == "destroy") && !srPlugged(r, sr) {
		return apierror.New("SR_HAS_NO_PBDS", sr.Ref)
	}
	switch op {
	case "destroy", "resize", "copy":
		if vdiAttached(r, vdi) && !(op == "copy" && xapi.Bool(vdi, "read_only")) {
			return apierror.New("VDI_IN_USE", vdi.Ref, op)
		}
	}
	if op == "list_changed_blocks" && attachedOutsideSnapshots(r, vdi) {
		return apierror.New("VDI_IN_USE", vdi.Ref, op)
	}
	if sr != nil {
		if capability := vdiOpCapability[op]; capability != "" && !smCapability(r, sr, capability) {
			if op == "destroy" && xapi.Str(sr, "type") == "udev" {
				return apierror.New("VDI_IS_A_PHYSICAL_DEVICE", vdi.Ref)
			}
			return apierror.New("SR_OPERATION_NOT_SUPPORTED", sr.Ref)
		}
	}
	if err := cbtStateError(r, vdi, op); err != nil {
		return err
	}
	switch {
	case op == "destroy" && !xapi.Bool(vdi, "managed"):
		return apierror.New("VDI_NOT_MANAGED", vdi.Ref)
	case (op == "snapshot" || op == "copy") && xapi.Str(vdi, "on_boot") == "reset":
		return apierror.New("VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION")
	}
	return nil
}

// vdiOpCapability is the SM capability a VDI operation needs.
var vdiOpCapability = map[string]string{
	"destroy": "VDI_DELETE", "resize": "VDI_RESIZE", "resize_online": "VDI_RESIZE",
	"clone": "VDI_CLONE", "snapshot": "VDI_SNAPSHOT", "enable_cbt": "VDI_CONFIG_CBT",
	"disable_cbt": "VDI_CONFIG_CBT", "data_destroy": "VDI_CONFIG_CBT", "list_changed_blocks": "VDI_CONFIG_CBT",
}

// setVDIAllowedOps recomputes a VDI's allowed_operations.
func setVDIAllowedOps(tx *store.Tx, ref string) {
	recomputeAllowedOps(tx, "VDI", ref, []string{"clone", "copy", "resize", "resize_online", "snapshot", "destroy", "forget",
		"update", "generate_config", "enable_cbt", "disable_cbt", "data_destroy", "list_changed_blocks"},
		func(vdi *store.Object, op string) bool { return vdiOpError(tx, vdi, op) == nil })
}

func (p *Sim) vdiCreate(c *xapi.Call) (any, error) {
	rec := c.Arg(0).([]any)
	cls := p.srv.Schema.Class("VDI")
	get := func(f string) any { return rec[cls.Field(f).Index] }
	if get("type") == "cbt_metadata" {
		return nil, apierror.New("VDI_INCOMPATIBLE_TYPE", "", vdiTypeNames["cbt_metadata"])
	}
	srRef := get("SR").(string)
	sr, err := c.Get("SR", srRef)
	if err != nil {
		return nil, err
	}
	if e := srOpError(p.srv.Store, sr, "vdi_create"); e != nil {
		return nil, e
	}
	var ref string
	err = p.runWork(c, func(tx *store.Tx) error {
		tags, _ := get("tags").([]any)
		vdi, err := newVDI(p.srv, tx, vdiSpec{
			sr: srRef, name: get("name_label").(string), description: get("name_description").(string),
			size: get("virtual_size").(int64), typ: get("type").(string), sharable: get("sharable").(bool),
			readOnly: get("read_only").(bool), otherConfig: get("other_config").(map[string]any),
			smConfig: get("sm_config").(map[string]any), xenstoreData: get("xenstore_data").(map[string]any), tags: tags,
		})
		if err != nil {
			return err
		}
		setVDIAllowedOps(tx, vdi.Ref)
		ref = vdi.Ref
		return nil
	})
	return ref, err
}

// vdiDestroy deletes a VDI and its (detached) VBDs.
func (p *Sim) vdiDestroy(c *xapi.Call) (any, error) {
	ref := c.StringArg(0)
	return nil, p.runOp(c, "VDI", ref, "destroy", func(tx *store.Tx, vdi *store.Object) error {
		if sr := tx.Get("SR", xapi.Str(vdi, "SR")); sr != nil {
			if e := srOpError(tx, sr, "vdi_destroy"); e != nil && apierror.From(e).Code != "OTHER_OPERATION_IN_PROGRESS" {
				return e
			}
		}
		return vdiOpError(tx, vdi, "destroy")
	}, func(tx *store.Tx, vdi *store.Object) error {
		destroyVDI(tx, vdi.Ref)
		return nil
	}, setVDIAllowedOps)
}

// vdiCopy is VDI.clone and VDI.snapshot, on the VDI's own SR.
func (p *Sim) vdiCopy(c *xapi.Call, op, sr string) (any, error) {
	var ref string
	err := p.runOp(c, "VDI", c.StringArg(0), op, func(tx *store.Tx, vdi *store.Object) error {
		if op == "snapshot" && xapi.Bool(vdi, "sharable") {
			return apierror.New("VDI_IS_SHARABLE", vdi.Ref)
		}
		return vdiOpError(tx, vdi, op)
	}, func(tx *store.Tx, vdi *store.Object) error {
		var n *store.Object
		var err error
		if op == "snapshot" {
			n, err = snapshotVDI(p.srv, tx, vdi)
		} else {
			n, err = cloneVDI(p.srv, tx, vdi)
		}
		if err != nil {
			return err
		}
		setVDIAllowedOps(tx, n.Ref)
		ref = n.Ref
		return nil
	}, setVDIAllowedOps)
	return ref, err
}

// vdiCopyTo is VDI.copy: a full copy into sr, or into an existing VDI (into_vdi), which
// must be large enough.
func (p *Sim) vdiCopyTo(c *xapi.Call) (any, error) {
	sr, into := c.StringArg(1), c.StringArg(3)
	if isNull(into) {
		if _, err := c.Get("SR", sr); err != nil {
			return nil, err
		}
	} else if _, err := c.Get("VDI", into); err != nil {
		return nil, err
	}
	var ref string
	err := p.runOp(c, "VDI", c.StringArg(0), "copy", func(tx *store.Tx, vdi *store.Object) error {
		return vdiOpError(tx, vdi, "copy")
	}, func(tx *store.Tx, vdi *store.Object) error {
		if !isNull(into) {
			dst := tx.Get("VDI", into)
			if xapi.Int(dst, "virtual_size") < xapi.Int(vdi, "virtual_size") {
				return apierror.New("VDI_TOO_SMALL", into, strconv.FormatInt(xapi.Int(vdi, "virtual_size"), 10))
			}
			dst = dst.Clone()
			xapi.Set(dst, "physical_utilisation", max(xapi.Int(dst, "physical_utilisation"), xapi.Int(vdi, "physical_utilisation")))
			tx.Put(dst)
			refreshSR(tx, xapi.Str(dst, "SR"))
			ref = into
			return nil
		}
		n, err := copyVDI(p.srv, tx, vdi, sr, false)
		if err != nil {
			return err
		}
		setVDIAllowedOps(tx, n.Ref)
		ref = n.Ref
		return nil
	}, setVDIAllowedOps)
	return ref, err
}

// vdiResize grows a VDI (the drivers refuse to shrink): offline resize needs it detached;
// a thick SR must have room for the growth.
func (p *Sim) vdiResize(c *xapi.Call, op string) error {
	size := c.Arg(1).(int64)
	return p.runOp(c, "VDI", c.StringArg(0), op, func(tx *store.Tx, vdi *store.Object) error {
		if e := vdiOpError(tx, vdi, op); e != nil {
			return e
		}
		if size < xapi.Int(vdi, "virtual_size") {
			return apierror.New("VDI_TOO_SMALL", vdi.Ref, strconv.FormatInt(xapi.Int(vdi, "virtual_size"), 10))
		}
		return nil
	}, func(tx *store.Tx, vdi *store.Object) error {
		sr := tx.Get("SR", xapi.Str(vdi, "SR"))
		growth := size - xapi.Int(vdi, "virtual_size")
		vdi = vdi.Clone()
		if thick(sr) {
			if free := xapi.Int(sr, "physical_size") - xapi.Int(sr, "physical_utilisation"); growth > free {
				return apierror.New("SR_FULL", strconv.FormatInt(growth, 10), strconv.FormatInt(max(free, 0), 10))
			}
			xapi.Set(vdi, "physical_utilisation", size)
		}
		xapi.Set(vdi, "virtual_size", size)
		tx.Put(vdi)
		refreshSR(tx, sr.Ref)
		return nil
	}, setVDIAllowedOps)
}

// vdiIntroduce records an existing VDI of an SR.
func (p *Sim) vdiIntroduce(c *xapi.Call) (any, error) {
	var ref string
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		sr, err := xapi.GetObject(tx, "SR", c.StringArg(3))
		if err != nil {
			return err
		}
		uuid := c.StringArg(0)
		if uuid == "" {
			uuid = p.srv.IDs.UUID()
		}
		vdi := p.srv.NewObject("VDI")
		names := []string{"uuid", "name_label", "name_description", "SR", "type", "sharable", "read_only", "other_config",
			"location", "xenstore_data", "sm_config", "managed", "virtual_size", "physical_utilisation", "metadata_of_pool",
			"is_a_snapshot", "snapshot_time", "snapshot_of"}
		for i, name := range names {
			xapi.Set(vdi, name, c.Arg(i))
		}
		xapi.Set(vdi, "uuid", uuid)
		for _, f := range []string{"metadata_of_pool", "snapshot_of"} {
			if xapi.Str(vdi, f) == "" {
				xapi.Set(vdi, f, datamodel.NullRef)
			}
		}
		tx.Put(vdi)
		refreshSR(tx, sr.Ref)
		setVDIAllowedOps(tx, vdi.Ref)
		ref = vdi.Ref
		return nil
	})
	return ref, err
}

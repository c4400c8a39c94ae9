package cluster

import (
	"slices"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Storage repositories (semantics.md §4.1). The SM drivers are simulated: an SR's size is
// what create was told (or a default for network storage that reports its own), and its
// usage is what its VDIs add up to (storage_accounting.go).

// defaultNetworkSRSize is what a network SR reports when created without a size: the
// backend, not the client, knows it.
const defaultNetworkSRSize = 2048 * gib

func (p *Sim) registerSR() {
	s := p.srv
	s.Handle("SR.create", p.srCreate)
	s.Handle("SR.introduce", p.srIntroduce)
	s.Handle("SR.forget", func(c *xapi.Call) (any, error) { return nil, p.srRemove(c, "forget") })
	s.Handle("SR.destroy", func(c *xapi.Call) (any, error) { return nil, p.srRemove(c, "destroy") })
	s.Handle("SR.scan", p.srScan)
	s.Handle("SR.update", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			if _, err := xapi.GetObject(tx, "SR", c.StringArg(0)); err != nil {
				return err
			}
			refreshSR(tx, c.StringArg(0))
			return nil
		})
		return nil, err
	})
	for _, f := range []string{"name_label", "name_description", "physical_size", "shared"} {
		field := f
		s.Handle("SR.set_"+field, func(c *xapi.Call) (any, error) {
			return nil, s.UpdateField("SR", c.StringArg(0), field, func(any) (any, error) { return c.Arg(1), nil })
		})
	}
	s.Handle("SR.get_supported_types", func(c *xapi.Call) (any, error) {
		var types []string
		for _, sm := range s.Store.All("SM") {
			types = append(types, xapi.Str(sm, "type"))
		}
		slices.Sort(types)
		return xapi.StringSet(types...), nil
	})
}

// smFor returns the SM driver of an SR type.
func smFor(r store.Reader, typ string) *store.Object {
	for _, sm := range r.All("SM") {
		if xapi.Str(sm, "type") == typ {
			return sm
		}
	}
	return nil
}

// srCreate creates an SR and plugs it: a shared SR gets a PBD on every host, a local one
// on host only. Password keys of device_config are kept in secrets, as xapi does.
func (p *Sim) srCreate(c *xapi.Call) (any, error) {
	host, deviceConfig, size := c.StringArg(0), c.Arg(1).(map[string]any), c.Arg(2).(int64)
	name, desc, typ, content := c.StringArg(3), c.StringArg(4), strings.ToLower(c.StringArg(5)), c.StringArg(6)
	shared, smConfig := c.Arg(7).(bool), c.Arg(8).(map[string]any)
	if _, err := c.Get("host", host); err != nil {
		return nil, err
	}
	var ref string
	err := p.runWork(c, func(tx *store.Tx) error {
		if smFor(tx, typ) == nil {
			return apierror.New("SR_UNKNOWN_DRIVER", typ)
		}
		if size <= 0 {
			size = defaultNetworkSRSize
		}
		sr := p.srv.NewObject("SR")
		for k, v := range map[string]any{
			"name_label": name, "name_description": desc, "type": typ, "content_type": content, "shared": shared,
			"physical_size": size, "physical_utilisation": int64(0), "virtual_allocation": int64(0),
			"other_config": map[string]any{}, "sm_config": smConfig, "clustered": typ == "gfs2",
		} {
			xapi.Set(sr, k, v)
		}
		tx.Put(sr)
		hosts := []string{host}
		if shared {
			hosts = nil
			for _, h := range tx.All("host") {
				hosts = append(hosts, h.Ref)
			}
		}
		for _, h := range hosts {
			pbd := p.srv.NewObject("PBD")
			xapi.Set(pbd, "host", h)
			xapi.Set(pbd, "SR", sr.Ref)
			xapi.Set(pbd, "device_config", p.hideSecrets(tx, deviceConfig))
			xapi.Set(pbd, "currently_attached", hostLive(tx, h))
			if hostLive(tx, h) {
				if err := p.plugCheck(tx, sr, tx.Get("host", h)); err != nil {
					return err
				}
			}
			tx.Put(pbd)
		}
		refreshSR(tx, sr.Ref)
		ref = sr.Ref
		return nil
	})
	return ref, err
}

// hideSecrets replaces each key ending in "password" by "<key>_secret", the uuid of a
// secret object holding the value (xapi_secret.ml).
func (p *Sim) hideSecrets(tx *store.Tx, config map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range config {
		if strings.HasSuffix(k, "password") {
			sec := p.srv.NewObject("secret")
			xapi.Set(sec, "value", v)
			tx.Put(sec)
			out[k+"_secret"] = xapi.Str(sec, "uuid")
			continue
		}
		out[k] = v
	}
	return out
}

// srIntroduce records an existing SR without plugging it.
func (p *Sim) srIntroduce(c *xapi.Call) (any, error) {
	uuid := c.StringArg(0)
	var ref string
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		if uuid == "" {
			uuid = p.srv.IDs.UUID()
		} else if tx.ByUUID("SR", uuid) != nil {
			return apierror.New("SR_UUID_EXISTS", uuid)
		}
		sr := p.srv.NewObject("SR")
		for k, v := range map[string]any{
			"uuid": uuid, "name_label": c.StringArg(1), "name_description": c.StringArg(2), "type": strings.ToLower(c.StringArg(3)),
			"content_type": c.StringArg(4), "shared": c.Arg(5), "sm_config": c.Arg(6), "other_config": map[string]any{},
			"physical_size": int64(-1), "physical_utilisation": int64(-1), "virtual_allocation": int64(0), // unknown, as xapi records them; SR.set_physical_size sets one
		} {
			xapi.Set(sr, k, v)
		}
		tx.Put(sr)
		setSRAllowedOps(tx, sr.Ref)
		ref = sr.Ref
		return nil
	})
	return ref, err
}

// srRemove is SR.forget (records only) and SR.destroy (the backend too): every PBD must
// be unplugged; destroy also needs PBDs and no VDI left.
func (p *Sim) srRemove(c *xapi.Call, op string) error {
	ref := c.StringArg(0)
	return p.runOp(c, "SR", ref, op, func(tx *store.Tx, sr *store.Object) error {
		return srOpError(tx, sr, op)
	}, func(tx *store.Tx, sr *store.Object) error {
		for _, pbd := range xapi.Refs(sr, "PBDs") {
			tx.Delete("PBD", pbd)
		}
		for _, vdi := range xapi.Refs(sr, "VDIs") {
			if v := tx.Get("VDI", vdi); v != nil {
				for _, vbd := range xapi.Refs(v, "VBDs") {
					deleteVBD(tx, vbd)
				}
			}
			tx.Delete("VDI", vdi)
		}
		for _, pool := range tx.All("pool") {
			for _, f := range []string{"default_SR", "suspend_image_SR", "crash_dump_SR"} {
				if xapi.Str(pool, f) == ref {
					pool = pool.Clone()
					xapi.Set(pool, f, nullRef)
					tx.Put(pool)
				}
			}
		}
		tx.Delete("SR", ref)
		return nil
	}, func(*store.Tx, string) {})
}

// srScan syncs the SR's records with the backend: usage recomputed, the dirty flag gone.
func (p *Sim) srScan(c *xapi.Call) (any, error) {
	ref := c.StringArg(0)
	return nil, p.runOp(c, "SR", ref, "scan", func(tx *store.Tx, sr *store.Object) error {
		return srOpError(tx, sr, "scan")
	}, func(tx *store.Tx, sr *store.Object) error {
		oc := xapi.CopyMap(xapi.Map(sr, "other_config"))
		if _, dirty := oc["dirty"]; dirty {
			delete(oc, "dirty")
			sr = sr.Clone()
			xapi.Set(sr, "other_config", oc)
			tx.Put(sr)
		}
		refreshSR(tx, ref)
		return nil
	}, setSRAllowedOps)
}

// srPlugged reports whether any PBD of the SR is attached.
func srPlugged(r store.Reader, sr *store.Object) bool {
	for _, ref := range xapi.Refs(sr, "PBDs") {
		if pbd := r.Get("PBD", ref); pbd != nil && xapi.Bool(pbd, "currently_attached") {
			return true
		}
	}
	return false
}

// smCapability reports whether the SR's driver supports a capability.
func smCapability(r store.Reader, sr *store.Object, capability string) bool {
	sm := smFor(r, xapi.Str(sr, "type"))
	return sm != nil && slices.Contains(xapi.Refs(sm, "capabilities"), capability)
}

// srOpCapability is the SM capability an SR operation needs.
var srOpCapability = map[string]string{
	"vdi_create": "VDI_CREATE", "vdi_destroy": "VDI_DELETE", "vdi_resize": "VDI_RESIZE",
	"vdi_clone": "VDI_CLONE", "vdi_snapshot": "VDI_SNAPSHOT", "vdi_mirror": "VDI_MIRROR",
	"vdi_enable_cbt": "VDI_CONFIG_CBT", "vdi_disable_cbt": "VDI_CONFIG_CBT", "vdi_data_destroy": "VDI_CONFIG_CBT",
	"vdi_list_changed_blocks": "VDI_CONFIG_CBT",
}

// srOpError is xapi_sr_operations: the first reason an SR operation is not allowed.
func srOpError(r store.Reader, sr *store.Object, op string) error {
	if capability, ok := srOpCapability[op]; ok && !smCapability(r, sr, capability) {
		return apierror.New("SR_OPERATION_NOT_SUPPORTED", sr.Ref)
	}
	if xapi.Bool(sr, "is_tools_sr") && (op == "vdi_create" || op == "vdi_destroy") {
		return apierror.New("SR_OPERATION_NOT_SUPPORTED", sr.Ref)
	}
	switch op {
	case "destroy", "forget":
		if srPlugged(r, sr) {
			return apierror.New("SR_HAS_PBD", sr.Ref)
		}
		if op == "destroy" {
			if len(xapi.Refs(sr, "PBDs")) == 0 {
				return apierror.New("SR_HAS_NO_PBDS", sr.Ref)
			}
			if isTrue(xapi.StringMap(sr, "other_config")["indestructible"]) {
				return apierror.New("SR_INDESTRUCTIBLE", sr.Ref)
			}
			for _, v := range xapi.Refs(sr, "VDIs") {
				if vdi := r.Get("VDI", v); vdi != nil && xapi.Bool(vdi, "managed") && xapi.Str(vdi, "type") != "rrd" {
					return apierror.New("SR_NOT_EMPTY")
				}
			}
		}
	case "scan", "update", "vdi_create", "vdi_resize", "vdi_clone", "vdi_snapshot":
		if !srPlugged(r, sr) {
			return apierror.New("SR_HAS_NO_PBDS", sr.Ref)
		}
	}
	if current := xapi.Map(sr, "current_operations"); len(current) > 0 && op != "plug" {
		tasks, ops := sortedOps(current)
		return apierror.New("OTHER_OPERATION_IN_PROGRESS", "SR", sr.Ref, ops[0], tasks[0])
	}
	return nil
}

// setSRAllowedOps recomputes an SR's allowed_operations.
func setSRAllowedOps(tx *store.Tx, ref string) {
	recomputeAllowedOps(tx, "SR", ref, []string{"scan", "destroy", "forget", "plug", "unplug", "vdi_create", "vdi_destroy",
		"vdi_resize", "vdi_clone", "vdi_snapshot", "vdi_mirror", "vdi_introduce", "update", "pbd_create", "pbd_destroy"},
		func(sr *store.Object, op string) bool { return srOpError(tx, sr, op) == nil })
}

// runWork simulates the call's duration, then applies f in one transaction.
func (p *Sim) runWork(c *xapi.Call, f func(tx *store.Tx) error) error {
	if err := c.Work(); err != nil {
		return err
	}
	_, err := p.srv.Store.Update(f)
	return err
}

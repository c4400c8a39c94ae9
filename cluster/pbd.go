package cluster

import (
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"slices"
)

// PBDs connect an SR to a host (semantics.md §4.2). Plugging a PBD of a clustered SR type
// asks the clustering model (PlugCheck hooks).

// PlugCheck may refuse to plug a PBD of an SR on a host (clustered SR types need an
// enabled cluster host on a quorate cluster).
type PlugCheck func(r store.Reader, sr, host *store.Object) error

// plugCheck runs the registered plug checks.
func (p *Sim) plugCheck(r store.Reader, sr, host *store.Object) error {
	p.mu.Lock()
	checks := slices.Clone(p.plugChecks)
	p.mu.Unlock()
	for _, check := range checks {
		if err := check(r, sr, host); err != nil {
			return err
		}
	}
	return nil
}

// OnPlug registers a plug check.
func (p *Sim) OnPlug(check PlugCheck) {
	p.mu.Lock()
	p.plugChecks = append(p.plugChecks, check)
	p.mu.Unlock()
}

func (p *Sim) registerPBD() {
	s := p.srv
	s.Handle("PBD.create", p.pbdCreate)
	s.Handle("PBD.destroy", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			pbd, err := xapi.GetObject(tx, "PBD", c.StringArg(0))
			if err != nil {
				return err
			}
			if xapi.Bool(pbd, "currently_attached") {
				return apierror.New(apierror.OperationNotAllowed, "PBD is currently attached")
			}
			tx.Delete("PBD", pbd.Ref)
			setSRAllowedOps(tx, xapi.Str(pbd, "SR"))
			return nil
		})
		return nil, err
	})
	s.Handle("PBD.plug", p.pbdPlug)
	s.Handle("PBD.unplug", p.pbdUnplug)
	s.Handle("PBD.set_device_config", func(c *xapi.Call) (any, error) {
		return nil, s.UpdateField("PBD", c.StringArg(0), "device_config", func(any) (any, error) { return c.Arg(1), nil })
	})
}

func (p *Sim) pbdCreate(c *xapi.Call) (any, error) {
	rec := c.Arg(0).([]any)
	cls := p.srv.Schema.Class("PBD")
	get := func(f string) any { return rec[cls.Field(f).Index] }
	host, sr := get("host").(string), get("SR").(string)
	config := get("device_config").(map[string]any)
	var ref string
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		if _, err := xapi.GetObject(tx, "host", host); err != nil {
			return err
		}
		s, err := xapi.GetObject(tx, "SR", sr)
		if err != nil {
			return err
		}
		for _, existing := range xapi.Refs(s, "PBDs") {
			if pbd := tx.Get("PBD", existing); pbd != nil && xapi.Str(pbd, "host") == host {
				return apierror.New("PBD_EXISTS", sr, host, existing)
			}
		}
		if v, ok := config["SRmaster"]; ok {
			return apierror.New("VALUE_NOT_SUPPORTED", "SRmaster", v.(string), "This key is for internal use only")
		}
		pbd := p.srv.NewObject("PBD")
		xapi.Set(pbd, "host", host)
		xapi.Set(pbd, "SR", sr)
		xapi.Set(pbd, "device_config", p.hideSecrets(tx, config))
		xapi.Set(pbd, "other_config", get("other_config"))
		tx.Put(pbd)
		setSRAllowedOps(tx, sr)
		ref = pbd.Ref
		return nil
	})
	return ref, err
}

func (p *Sim) pbdPlug(c *xapi.Call) (any, error) {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		pbd, err := xapi.GetObject(tx, "PBD", c.StringArg(0))
		if err != nil || xapi.Bool(pbd, "currently_attached") {
			return err
		}
		sr, host := tx.Get("SR", xapi.Str(pbd, "SR")), tx.Get("host", xapi.Str(pbd, "host"))
		if sr == nil || host == nil {
			return apierror.New(apierror.HandleInvalid, "SR", xapi.Str(pbd, "SR"))
		}
		if !hostLive(tx, host.Ref) {
			return apierror.New("HOST_OFFLINE", host.Ref)
		}
		if !xapi.Bool(sr, "shared") {
			for _, other := range xapi.Refs(sr, "PBDs") {
				if o := tx.Get("PBD", other); o != nil && o.Ref != pbd.Ref && xapi.Bool(o, "currently_attached") {
					return apierror.New("SR_NOT_SHARABLE", sr.Ref, xapi.Str(o, "host"))
				}
			}
		}
		if err := p.plugCheck(tx, sr, host); err != nil {
			return err
		}
		pbd = pbd.Clone()
		xapi.Set(pbd, "currently_attached", true)
		tx.Put(pbd)
		refreshSR(tx, sr.Ref)
		return nil
	})
	return nil, err
}

// pbdUnplug detaches an SR from a host: not while VMs there use its VDIs.
func (p *Sim) pbdUnplug(c *xapi.Call) (any, error) {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		pbd, err := xapi.GetObject(tx, "PBD", c.StringArg(0))
		if err != nil || !xapi.Bool(pbd, "currently_attached") {
			return err
		}
		sr := tx.Get("SR", xapi.Str(pbd, "SR"))
		if pool := firstPool(tx); xapi.Bool(pool, "ha_enabled") {
			// xHA cannot let go of the statefile's SR while it runs.
			for _, f := range stringsOf(xapi.Get(pool, "ha_statefiles")) {
				if vdi := tx.Get("VDI", f); vdi != nil && xapi.Str(vdi, "SR") == sr.Ref {
					return apierror.New("HA_IS_ENABLED")
				}
			}
		}
		var inUse []string
		for _, v := range xapi.Refs(sr, "VDIs") {
			vdi := tx.Get("VDI", v)
			if vdi == nil || xapi.Str(vdi, "type") == "metadata" {
				continue
			}
			for _, b := range xapi.Refs(vdi, "VBDs") {
				vbd := tx.Get("VBD", b)
				if vbd == nil || !xapi.Bool(vbd, "currently_attached") {
					continue
				}
				if vm := tx.Get("VM", xapi.Str(vbd, "VM")); vm != nil && xapi.Str(vm, "resident_on") == xapi.Str(pbd, "host") {
					inUse = append(inUse, v)
					break
				}
			}
		}
		if len(inUse) > 0 {
			return apierror.New("VDI_IN_USE", inUse...)
		}
		pbd = pbd.Clone()
		xapi.Set(pbd, "currently_attached", false)
		tx.Put(pbd)
		refreshSR(tx, sr.Ref)
		return nil
	})
	return nil, err
}

package cluster

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Disaster recovery (xapi_dr.ml, xapi_dr_task.ml, xapi_sr.ml, xapi_vdi.ml,
// xapi_vm_helpers.ml, xapi_vm_appliance.ml): replicating the pool's database to a metadata
// VDI, and recovering VMs from a database into a pool.
//
// The model. Replication to a metadata VDI is a read-write VBD of the master's control
// domain on it, plugged, as xapi makes for its redo log; the redo log itself is not
// written, since simulated VDIs hold no content. So no metadata VDI holds a database that
// can be read back: VDI.open_database answers xapi's COULD_NOT_IMPORT_DATABASE, and
// VDI.read_database_pool_uuid (xapi's cache of the foreign databases it could open) is
// empty. The only database a recovery can read is this pool's own and the only one it
// can write is this pool's too (session_to must be one of its sessions): recovering a VM
// into the pool it is in meets xapi's import of a VM whose UUID exists, which refuses
// (VM_BAD_POWER_STATE for a VM that is not halted, VM_TO_IMPORT_IS_NOT_NEWER_VERSION for
// one that is) or, forced, skips the VM that is not halted and replaces the halted one
// by its identical copy — the simulation keeps its objects and refs where xapi recreates
// them. DR_task.create probes like SR.probe; the simulated storage world holds no SR the
// pool does not know, so a task introduces no SR.

// drRedoLogMax is Xapi_globs.redo_log_max_instances.
const drRedoLogMax = 8

// drDatabaseUnreadable is the reason COULD_NOT_IMPORT_DATABASE gives for a metadata VDI:
// what it holds is not a database of xapi's schema.
const drDatabaseUnreadable = "Database does not match local schema."

func (p *Sim) registerDR() {
	s := p.srv
	s.Handle("SR.enable_database_replication", p.enableDatabaseReplication)
	s.Handle("SR.disable_database_replication", p.disableDatabaseReplication)
	s.Handle("VDI.read_database_pool_uuid", func(c *xapi.Call) (any, error) {
		if _, err := c.Get("VDI", c.StringArg(0)); err != nil {
			return nil, err
		}
		return "", nil
	})
	s.Handle("VDI.open_database", func(c *xapi.Call) (any, error) {
		vdi, err := c.Get("VDI", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		if typ := xapi.Str(vdi, "type"); typ != "metadata" {
			return nil, apierror.New("VDI_INCOMPATIBLE_TYPE", vdi.Ref, vdiTypeNames[typ])
		}
		return nil, apierror.New("COULD_NOT_IMPORT_DATABASE", drDatabaseUnreadable)
	})
	s.Handle("DR_task.create", p.drTaskCreate)
	s.Handle("DR_task.destroy", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			task, err := xapi.GetObject(tx, "DR_task", c.StringArg(0))
			if err != nil {
				return err
			}
			// A simulated task introduces no SR, so there is none to unplug and forget.
			tx.Delete("DR_task", task.Ref)
			return nil
		})
		return nil, err
	})
	p.registerRecovery()
}

// drReplicationVBD is the control-domain VBD through which the database is replicated to
// a VDI, or nil.
func drReplicationVBD(r store.Reader, vdi *store.Object) *store.Object {
	for _, ref := range xapi.Refs(vdi, "VBDs") {
		vbd := r.Get("VBD", ref)
		if vbd == nil || !xapi.Bool(vbd, "currently_attached") || xapi.Str(vbd, "mode") != "RW" {
			continue
		}
		if vm := r.Get("VM", xapi.Str(vbd, "VM")); vm != nil && xapi.Bool(vm, "is_control_domain") {
			return vbd
		}
	}
	return nil
}

// ownMetadataVDIs are the SR's metadata VDIs of this pool.
func ownMetadataVDIs(r store.Reader, sr *store.Object) []*store.Object {
	pool := firstPool(r)
	var out []*store.Object
	for _, ref := range xapi.Refs(sr, "VDIs") {
		if vdi := r.Get("VDI", ref); vdi != nil && xapi.Str(vdi, "type") == "metadata" && pool != nil && xapi.Str(vdi, "metadata_of_pool") == pool.Ref {
			out = append(out, vdi)
		}
	}
	return out
}

// enableDatabaseReplication is SR.enable_database_replication: the licence, the SR's
// support, room for another redo log, then this pool's metadata VDI on the SR (one big
// enough, else a new one) replicated to through a VBD of the master's control domain.
func (p *Sim) enableDatabaseReplication(c *xapi.Call) (any, error) {
	s := p.srv
	_, err := s.Store.Update(func(tx *store.Tx) error {
		if err := licenceRestriction(tx, "restrict_dr", "DR", false); err != nil {
			return err
		}
		sr, err := xapi.GetObject(tx, "SR", c.StringArg(0))
		if err != nil {
			return err
		}
		if err := databaseReplicationError(tx, sr); err != nil {
			return err
		}
		replicated := 0
		for _, vdi := range tx.All("VDI") {
			if xapi.Str(vdi, "type") == "metadata" && drReplicationVBD(tx, vdi) != nil {
				replicated++
			}
		}
		if replicated >= drRedoLogMax {
			return apierror.New("NO_MORE_REDO_LOGS_ALLOWED")
		}
		vdi, err := p.metadataVDI(tx, sr)
		if err != nil {
			return err
		}
		if drReplicationVBD(tx, vdi) != nil {
			return nil
		}
		for _, ref := range xapi.Refs(vdi, "VBDs") {
			deleteVBD(tx, ref)
		}
		dom0, err := xapi.GetObject(tx, "VM", xapi.Str(tx.Get("host", xapi.Str(firstPool(tx), "master")), "control_domain"))
		if err != nil {
			return err
		}
		n, _ := parseUserdevice("autodetect", usedDevices(tx, dom0))
		vbd := newVBD(s, tx, vbdSpec{vm: dom0.Ref, vdi: vdi.Ref, userdevice: strconv.Itoa(n), mode: "RW", typ: "Disk", unplug: true}).Clone()
		xapi.Set(vbd, "currently_attached", true)
		tx.Put(vbd)
		setVBDAllowedOps(tx, vbd.Ref)
		vdi = tx.Get("VDI", vdi.Ref).Clone()
		xapi.Set(vdi, "metadata_latest", true)
		tx.Put(vdi)
		setVDIAllowedOps(tx, vdi.Ref)
		return nil
	})
	return nil, err
}

// metadataVDI is xapi's find_or_create_metadata_vdi: this pool's metadata VDI on the SR
// of at least the redo log's size, else a new one (through VDI.create's checks).
func (p *Sim) metadataVDI(tx *store.Tx, sr *store.Object) (*store.Object, error) {
	for _, vdi := range ownMetadataVDIs(tx, sr) {
		if xapi.Int(vdi, "virtual_size") >= redoLogVDISize {
			return vdi, nil
		}
	}
	if err := srOpError(tx, sr, "vdi_create"); err != nil {
		return nil, err
	}
	vdi, err := newVDI(p.srv, tx, vdiSpec{sr: sr.Ref, name: "Metadata for DR", description: "Used for disaster recovery",
		size: redoLogVDISize, typ: "metadata", otherConfig: map[string]any{}, smConfig: map[string]any{"type": "raw"},
		xenstoreData: map[string]any{}, tags: []any{}})
	if err != nil {
		return nil, err
	}
	vdi = tx.Get("VDI", vdi.Ref).Clone()
	xapi.Set(vdi, "metadata_of_pool", firstPool(tx).Ref)
	xapi.Set(vdi, "metadata_latest", false)
	tx.Put(vdi)
	return vdi, nil
}

// disableDatabaseReplication is SR.disable_database_replication: each of this pool's
// metadata VDIs on the SR stops being replicated to, loses its VBDs and is destroyed.
func (p *Sim) disableDatabaseReplication(c *xapi.Call) (any, error) {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		sr, err := xapi.GetObject(tx, "SR", c.StringArg(0))
		if err != nil {
			return err
		}
		for _, vdi := range ownMetadataVDIs(tx, sr) {
			for _, ref := range xapi.Refs(vdi, "VBDs") {
				deleteVBD(tx, ref)
			}
			if err := vdiOpError(tx, tx.Get("VDI", vdi.Ref), "destroy"); err != nil {
				return err
			}
			destroyVDI(tx, vdi.Ref)
		}
		return nil
	})
	return nil, err
}

// drTaskCreate is DR_task.create: the licence, a driver that stores metadata, a probe of
// the device on the master for SRs holding metadata, then a task that introduces the
// whitelisted SRs the pool does not know yet (none, in the simulated storage world).
func (p *Sim) drTaskCreate(c *xapi.Call) (any, error) {
	s := p.srv
	typ := c.StringArg(0)
	dconf := stringMap(c.Arg(1).(map[string]any))
	task := s.NewObject("DR_task")
	_, err := s.Store.Update(func(tx *store.Tx) error {
		if err := licenceRestriction(tx, "restrict_dr", "DR", false); err != nil {
			return err
		}
		sm := smFor(tx, strings.ToLower(typ))
		if sm == nil {
			return apierror.Internal("Sm.Unknown_driver(%q)", strings.ToLower(typ))
		}
		if _, ok := xapi.Map(sm, "features")["SR_METADATA"]; !ok {
			return apierror.New(apierror.OperationNotAllowed, "Disaster recovery not supported on SRs of type "+typ)
		}
		doc, _, err := probeOn(tx, xapi.Str(firstPool(tx), "master"), typ, dconf, map[string]string{"metadata": "true"})
		if err != nil {
			return err
		}
		// A probe finds only SRs whose PBDs say where they are, all known to the pool, so
		// whatever the whitelist, the task introduces none.
		if _, err := parseMetadataProbe(doc); err != nil {
			return err
		}
		tx.Put(task)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return task.Ref, nil
}

// parseMetadataProbe reads the UUIDs of a probe's SRlist, each SR with its UUID,
// name_label and name_description, as xapi's parse_sr_probe: a malformed document is an
// internal error, as is a missing key (OCaml's Not_found).
func parseMetadataProbe(doc string) ([]string, error) {
	var list struct {
		XMLName xml.Name
		Items   []struct {
			XMLName xml.Name
			Fields  []struct {
				XMLName xml.Name
				Text    string `xml:",chardata"`
			} `xml:",any"`
		} `xml:",any"`
	}
	if err := xml.Unmarshal([]byte(doc), &list); err != nil || list.XMLName.Local != "SRlist" {
		return nil, apierror.Internal("SR probe response was malformed: Missing <SRlist> element")
	}
	var uuids []string
	for _, item := range list.Items {
		if item.XMLName.Local != "SR" {
			return nil, apierror.Internal("SR probe response was malformed: Malformed or missing <SR>")
		}
		have := map[string]string{}
		for _, f := range item.Fields {
			have[f.XMLName.Local] = strings.TrimSpace(f.Text)
		}
		for _, key := range []string{"UUID", "name_label", "name_description"} {
			if _, ok := have[key]; !ok {
				return nil, apierror.Internal("Not_found")
			}
		}
		uuids = append(uuids, have["UUID"])
	}
	return uuids, nil
}

// drPermission is the permission a session needs to recover VMs: that of
// VDI.open_database, which gives the sessions recovery is meant for.
const drPermission = "vdi.open_database"

// drSessionAllows is xapi's assert_session_allows_dr: the licence, then a session of
// the pool (the only one reachable) that could have opened a database.
func drSessionAllows(r store.Reader, session, action string) error {
	if err := licenceRestriction(r, "restrict_dr", "DR", false); err != nil {
		return err
	}
	sess := r.Get("session", session)
	if sess == nil {
		return apierror.New(apierror.SessionInvalid, session)
	}
	if xapi.Bool(sess, "is_local_superuser") || slices.Contains(xapi.Refs(sess, "rbac_permissions"), drPermission) {
		return nil
	}
	return apierror.New(apierror.RBACPermissionDenied, action, "The supplied session does not have the required permissions for VM recovery.")
}

// requiredSRs is xapi's list_required_SRs: the SRs of the VDIs of the VM's VBDs other
// than CDs, ISO libraries left out, sorted by ref.
func requiredSRs(r store.Reader, vm *store.Object) ([]string, error) {
	var srs []string
	for _, ref := range xapi.Refs(vm, "VBDs") {
		vbd, err := xapi.GetObject(r, "VBD", ref)
		if err != nil {
			return nil, err
		}
		if xapi.Str(vbd, "type") == "CD" {
			continue
		}
		vdi, err := xapi.GetObject(r, "VDI", xapi.Str(vbd, "VDI"))
		if err != nil {
			return nil, err
		}
		sr, err := xapi.GetObject(r, "SR", xapi.Str(vdi, "SR"))
		if err != nil {
			return nil, err
		}
		if xapi.Str(sr, "content_type") != "iso" {
			srs = append(srs, sr.Ref)
		}
	}
	slices.Sort(srs)
	return slices.Compact(srs), nil
}

// srAttachedSomewhere reports whether the target pool has the SR with a plugged PBD;
// the target being this pool, the SR is the same record.
func srAttachedSomewhere(r store.Reader, sr string) bool {
	for _, ref := range xapi.Refs(r.Get("SR", sr), "PBDs") {
		if pbd := r.Get("PBD", ref); pbd != nil && xapi.Bool(pbd, "currently_attached") {
			return true
		}
	}
	return false
}

// missingSRs is xapi's get_SRs_required_for_recovery for one VM.
func missingSRs(r store.Reader, vm *store.Object) ([]string, error) {
	srs, err := requiredSRs(r, vm)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, sr := range srs {
		if !srAttachedSomewhere(r, sr) {
			out = append(out, sr)
		}
	}
	return out, nil
}

// assertCanBeRecovered is xapi's assert_can_be_recovered: VM_REQUIRES_SR [vm, sr] for
// the first required SR the target lacks or has unplugged.
func assertCanBeRecovered(r store.Reader, vm *store.Object) error {
	missing, err := missingSRs(r, vm)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return apierror.New("VM_REQUIRES_SR", vm.Ref, missing[0])
	}
	return nil
}

// recoverVMs is xapi's recover_vms into this pool, where every VM's UUID exists: the
// VMs xapi would (re)create — default templates, which are matched by name, and halted
// VMs replaced when forced — in order, after clearing introduced_by on their SRs. The
// first refusal fails the whole import (xapi cleans up what it did).
func recoverVMs(tx *store.Tx, vms []*store.Object, force bool) ([]*store.Object, error) {
	var recovered []*store.Object
	for _, vm := range vms {
		defaultTemplate := xapi.Bool(vm, "is_default_template") ||
			xapi.Bool(vm, "is_a_template") && xapi.StringMap(vm, "other_config")["default_template"] == "true"
		switch state := xapi.Str(vm, "power_state"); {
		case defaultTemplate:
		case state != "Halted" && force:
			continue
		case state != "Halted":
			return nil, apierror.New("VM_BAD_POWER_STATE", vm.Ref, "Halted", state)
		case !force:
			v := fmt.Sprint(xapi.Int(vm, "version"))
			return nil, apierror.New("VM_TO_IMPORT_IS_NOT_NEWER_VERSION", vm.Ref, v, v)
		}
		recovered = append(recovered, vm)
	}
	for _, vm := range recovered {
		srs, err := requiredSRs(tx, vm)
		if err != nil {
			return nil, err
		}
		for _, ref := range srs {
			if sr := tx.Get("SR", ref); sr != nil && xapi.Str(sr, "introduced_by") != nullRef {
				sr = sr.Clone()
				xapi.Set(sr, "introduced_by", nullRef)
				tx.Put(sr)
			}
		}
	}
	return recovered, nil
}

// applianceVMs are an appliance's VMs in the order of its VMs field.
func applianceVMs(r store.Reader, a *store.Object) []*store.Object {
	return objectsOf(r, "VM", xapi.Refs(a, "VMs"))
}

func (p *Sim) registerRecovery() {
	s := p.srv
	for _, class := range []string{"VM", "VM_appliance"} {
		class := class
		s.Handle(class+".assert_can_be_recovered", func(c *xapi.Call) (any, error) {
			return nil, recoveryEach(s, c, class, assertCanBeRecovered)
		})
		s.Handle(class+".get_SRs_required_for_recovery", func(c *xapi.Call) (any, error) {
			var out []string
			err := recoveryEach(s, c, class, func(r store.Reader, vm *store.Object) error {
				srs, err := missingSRs(r, vm)
				out = append(out, srs...)
				return err
			})
			slices.Sort(out)
			return xapi.StringSet(slices.Compact(out)...), err
		})
	}
	s.Handle("VM.recover", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			vm, err := xapi.GetObject(tx, "VM", c.StringArg(0))
			if err != nil {
				return err
			}
			if a := xapi.Str(vm, "appliance"); tx.Get("VM_appliance", a) != nil {
				return apierror.New("VM_IS_PART_OF_AN_APPLIANCE", vm.Ref, a)
			}
			if err := drSessionAllows(tx, c.StringArg(1), "VM.recover"); err != nil {
				return err
			}
			if err := assertCanBeRecovered(tx, vm); err != nil {
				return err
			}
			_, err = recoverVMs(tx, []*store.Object{vm}, c.Arg(2).(bool))
			return err
		})
		return nil, err
	})
	s.Handle("VM_appliance.recover", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			a, err := xapi.GetObject(tx, "VM_appliance", c.StringArg(0))
			if err != nil {
				return err
			}
			if err := drSessionAllows(tx, c.StringArg(1), "VM_appliance.recover"); err != nil {
				return err
			}
			vms := applianceVMs(tx, a)
			for _, vm := range vms {
				if err := assertCanBeRecovered(tx, vm); err != nil {
					return err
				}
			}
			recovered, err := recoverVMs(tx, vms, c.Arg(2).(bool))
			if err != nil {
				return err
			}
			// The appliance with the same UUID (itself) is reused: it loses its VMs, then
			// gets back the recovered ones that are not templates.
			for _, vm := range vms {
				vm = tx.Get("VM", vm.Ref).Clone()
				xapi.Set(vm, "appliance", nullRef)
				tx.Put(vm)
			}
			for _, vm := range recovered {
				if !xapi.Bool(vm, "is_a_template") {
					vm = tx.Get("VM", vm.Ref).Clone()
					xapi.Set(vm, "appliance", a.Ref)
					tx.Put(vm)
				}
			}
			return nil
		})
		return nil, err
	})
}

// recoveryEach runs f on the VMs a recovery query is about (the VM, or the appliance's)
// until one fails, once session_to is known as a session of this pool, the only
// database a recovery can write.
func recoveryEach(s *xapi.Server, c *xapi.Call, class string, f func(store.Reader, *store.Object) error) (err error) {
	s.Store.View(func(r store.Reader) {
		var o *store.Object
		if o, err = xapi.GetObject(r, class, c.StringArg(0)); err != nil {
			return
		}
		if r.Get("session", c.StringArg(1)) == nil {
			err = apierror.New(apierror.SessionInvalid, c.StringArg(1))
			return
		}
		vms := []*store.Object{o}
		if class == "VM_appliance" {
			vms = applianceVMs(r, o)
		}
		for _, vm := range vms {
			if err = f(r, vm); err != nil {
				return
			}
		}
	})
	return err
}

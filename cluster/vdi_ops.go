package cluster

import (
	"strconv"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// The storage backend model (what an SM driver would do), shared by the VM lifecycle
// (provision, clone, snapshot, suspend) and the VDI messages. Every change refreshes the
// SR's usage (storage_accounting.go).

// thinHeader is what a new VDI uses on a thin SR before anything is written.
const thinHeader = 2 * mib

type vdiSpec struct {
	sr, name, description string
	size                  int64
	typ                   string // enum vdi_type
	sharable, readOnly    bool
	otherConfig, smConfig map[string]any
	xenstoreData          map[string]any
	tags                  []any
	// written is what the new VDI uses on a thin SR (its content); 0 for a new, empty disk.
	written int64
}

// newVDI creates a VDI on an SR: a thick SR reserves its full size, and refuses with
// SR_FULL [requested, maximum] when that does not fit; a thin SR uses what is written.
func newVDI(srv *xapi.Server, tx *store.Tx, s vdiSpec) (*store.Object, error) {
	sr, err := xapi.GetObject(tx, "SR", s.sr)
	if err != nil {
		return nil, err
	}
	used := s.written
	if used < thinHeader {
		used = thinHeader
	}
	if thick(sr) {
		used = s.size
		if free := xapi.Int(sr, "physical_size") - xapi.Int(sr, "physical_utilisation"); s.size > free {
			return nil, apierror.New("SR_FULL", strconv.FormatInt(s.size, 10), strconv.FormatInt(max(free, 0), 10))
		}
	}
	if used > s.size && s.size > 0 {
		used = s.size
	}
	vdi := srv.NewObject("VDI")
	sm := xapi.CopyMap(s.smConfig)
	if _, ok := sm["vdi_type"]; !ok && xapi.Str(sr, "content_type") != "iso" {
		sm["vdi_type"] = "vhd"
	}
	for k, v := range map[string]any{
		"name_label": s.name, "name_description": s.description, "SR": s.sr, "virtual_size": s.size,
		"physical_utilisation": used, "type": s.typ, "sharable": s.sharable, "read_only": s.readOnly,
		"other_config": orEmpty(s.otherConfig), "sm_config": sm, "xenstore_data": orEmpty(s.xenstoreData),
		"managed": true, "missing": false, "storage_lock": false, "parent": datamodel.NullRef,
		"location": xapi.Str(vdi, "uuid"), "tags": orEmptySet(s.tags), "on_boot": "persist",
	} {
		xapi.Set(vdi, k, v)
	}
	tx.Put(vdi)
	refreshSR(tx, s.sr)
	return vdi, nil
}

// copyVDI makes a new VDI with the metadata and content of another, on sr ("" for the
// same SR). snapshot marks it a snapshot of the original.
func copyVDI(srv *xapi.Server, tx *store.Tx, src *store.Object, sr string, snapshot bool) (*store.Object, error) {
	if sr == "" || isNull(sr) {
		sr = xapi.Str(src, "SR")
	}
	vdi, err := newVDI(srv, tx, vdiSpec{
		sr: sr, name: xapi.Str(src, "name_label"), description: xapi.Str(src, "name_description"),
		size: xapi.Int(src, "virtual_size"), typ: xapi.Str(src, "type"), sharable: xapi.Bool(src, "sharable"),
		readOnly: xapi.Bool(src, "read_only") && !snapshot, otherConfig: xapi.CopyMap(xapi.Map(src, "other_config")),
		smConfig: xapi.CopyMap(xapi.Map(src, "sm_config")), xenstoreData: xapi.CopyMap(xapi.Map(src, "xenstore_data")),
		tags: xapi.StringSet(xapi.Refs(src, "tags")...), written: xapi.Int(src, "physical_utilisation"),
	})
	if err != nil {
		return nil, err
	}
	vdi = tx.Get("VDI", vdi.Ref).Clone()
	xapi.Set(vdi, "on_boot", xapi.Str(src, "on_boot"))
	xapi.Set(vdi, "allow_caching", xapi.Bool(src, "allow_caching"))
	if snapshot {
		xapi.Set(vdi, "is_a_snapshot", true)
		xapi.Set(vdi, "snapshot_of", src.Ref)
		xapi.Set(vdi, "snapshot_time", srv.Clock.Now())
		xapi.Set(vdi, "read_only", false)
		// The backend moves a tracked disk's changed-block log to the snapshot.
		xapi.Set(vdi, "cbt_enabled", xapi.Bool(src, "cbt_enabled"))
	}
	tx.Put(vdi)
	return vdi, nil
}

// destroyVDI deletes a VDI and the (detached) VBDs that point at it, and refreshes its
// SR; a VM whose suspend image it was forgets it.
func destroyVDI(tx *store.Tx, ref string) {
	vdi := tx.Get("VDI", ref)
	if vdi == nil {
		return
	}
	for _, vbd := range xapi.Refs(vdi, "VBDs") {
		deleteVBD(tx, vbd)
	}
	for _, vm := range tx.All("VM") {
		if xapi.Str(vm, "suspend_VDI") == ref {
			vm = vm.Clone()
			xapi.Set(vm, "suspend_VDI", datamodel.NullRef)
			tx.Put(vm)
		}
	}
	tx.Delete("VDI", ref)
	refreshSR(tx, xapi.Str(vdi, "SR"))
}

// deleteVBD deletes a VBD and its metrics.
func deleteVBD(tx *store.Tx, ref string) {
	vbd := tx.Get("VBD", ref)
	if vbd == nil {
		return
	}
	tx.Delete("VBD_metrics", xapi.Str(vbd, "metrics"))
	tx.Delete("VBD", ref)
}

// deleteVIF deletes a VIF and its metrics.
func deleteVIF(tx *store.Tx, ref string) {
	vif := tx.Get("VIF", ref)
	if vif == nil {
		return
	}
	tx.Delete("VIF_metrics", xapi.Str(vif, "metrics"))
	tx.Delete("VIF", ref)
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func orEmptySet(s []any) []any {
	if s == nil {
		return []any{}
	}
	return s
}

package cluster

import (
	"encoding/base64"
	"slices"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Changed block tracking (xapi_vdi.ml; semantics.md §4.3). A VDI with cbt_enabled keeps a
// log of the 64 KiB blocks written since each snapshot; snapshots of it are tracked too.
// VDI.data_destroy drops a tracked snapshot's data and keeps its log as a VDI of type
// cbt_metadata, which backup tools compare with list_changed_blocks.
//
// The model: the simulated disks are never written, so between any two tracked VDIs no
// block has changed and list_changed_blocks answers an all-zero bitmap of the right
// length. A cbt_metadata VDI uses the bitmap's size on its SR.

// cbtBlock is the block size a CBT bitmap counts in.
const cbtBlock = 64 * 1024

// cbtBitmapBytes is the size of a VDI's changed-block bitmap: one bit per block.
func cbtBitmapBytes(virtualSize int64) int64 {
	blocks := (virtualSize + cbtBlock - 1) / cbtBlock
	return (blocks + 7) / 8
}

// vdiTypeNames are the vdi_type values as xapi prints them in VDI_INCOMPATIBLE_TYPE.
var vdiTypeNames = map[string]string{
	"system": "System", "user": "User", "ephemeral": "Ephemeral", "suspend": "Suspend",
	"crashdump": "Crashdump", "ha_statefile": "HA statefile", "metadata": "Metadata",
	"redo_log": "Redo log", "rrd": "rrd", "pvs_cache": "PVS cache", "cbt_metadata": "CBT metadata",
}

func (p *Sim) registerVDICBT() {
	s := p.srv
	s.Handle("VDI.enable_cbt", func(c *xapi.Call) (any, error) { return nil, p.setCBT(c, "enable_cbt", true) })
	s.Handle("VDI.disable_cbt", func(c *xapi.Call) (any, error) { return nil, p.setCBT(c, "disable_cbt", false) })
	s.Handle("VDI.data_destroy", p.vdiDataDestroy)
	s.Handle("VDI.list_changed_blocks", p.listChangedBlocks)
}

// cbtOpError is the first reason a CBT operation is not allowed on a VDI, after the
// checks every VDI operation has (vdiOpError): the SR's operation, then the VDI's type
// and snapshot state.
func cbtOpError(r store.Reader, vdi *store.Object, op string) error {
	if sr := r.Get("SR", xapi.Str(vdi, "SR")); sr != nil {
		if err := srOpError(r, sr, "vdi_"+op); err != nil {
			return err
		}
	}
	return vdiOpError(r, vdi, op)
}

// setCBT turns tracking on or off; a VDI already in that state is left alone.
func (p *Sim) setCBT(c *xapi.Call, op string, enabled bool) error {
	return p.runOp(c, "VDI", c.StringArg(0), op, func(tx *store.Tx, vdi *store.Object) error {
		return cbtOpError(tx, vdi, op)
	}, func(tx *store.Tx, vdi *store.Object) error {
		if xapi.Bool(vdi, "cbt_enabled") != enabled {
			vdi = vdi.Clone()
			xapi.Set(vdi, "cbt_enabled", enabled)
			tx.Put(vdi)
		}
		return nil
	}, setVDIAllowedOps)
}

// vdiDataDestroy keeps a tracked snapshot's changed-block log and frees its data. xapi
// first waits up to 4 s for the VDI's VBDs to go; the simulation does not wait, and an
// attached VBD fails the call at once as it would after the wait.
func (p *Sim) vdiDataDestroy(c *xapi.Call) (any, error) {
	return nil, p.runOp(c, "VDI", c.StringArg(0), "data_destroy", func(tx *store.Tx, vdi *store.Object) error {
		if err := cbtOpError(tx, vdi, "data_destroy"); err != nil {
			return err
		}
		if sr := tx.Get("SR", xapi.Str(vdi, "SR")); sr != nil && !srPlugged(tx, sr) {
			return apierror.New("SR_HAS_NO_PBDS", sr.Ref)
		}
		if !xapi.Bool(vdi, "managed") {
			return apierror.New("VDI_NOT_MANAGED", vdi.Ref)
		}
		if vdiAttached(tx, vdi) {
			return apierror.New("VDI_IN_USE", vdi.Ref, "data_destroy")
		}
		return nil
	}, func(tx *store.Tx, vdi *store.Object) error {
		if xapi.Str(vdi, "type") == "cbt_metadata" {
			return nil
		}
		vdi = vdi.Clone()
		xapi.Set(vdi, "type", "cbt_metadata")
		xapi.Set(vdi, "physical_utilisation", cbtBitmapBytes(xapi.Int(vdi, "virtual_size")))
		tx.Put(vdi)
		refreshSR(tx, xapi.Str(vdi, "SR"))
		return nil
	}, setVDIAllowedOps)
}

// listChangedBlocks answers the blocks changed from vdi_from to vdi_to as a base64 bitmap;
// xapi checks the operation on vdi_to (and its SR) only, the rest is the backend's.
func (p *Sim) listChangedBlocks(c *xapi.Call) (any, error) {
	from, to := c.StringArg(0), c.StringArg(1)
	var bitmap string
	err := p.runOp(c, "VDI", to, "list_changed_blocks", func(tx *store.Tx, vdi *store.Object) error {
		if _, err := xapi.GetObject(tx, "VDI", from); err != nil {
			return err
		}
		return cbtOpError(tx, vdi, "list_changed_blocks")
	}, func(tx *store.Tx, vdi *store.Object) error {
		if err := cbtRelated(tx, tx.Get("VDI", from), vdi); err != nil {
			return err
		}
		bitmap = base64.StdEncoding.EncodeToString(make([]byte, cbtBitmapBytes(xapi.Int(vdi, "virtual_size"))))
		return nil
	}, setVDIAllowedOps)
	return bitmap, err
}

// cbtRelated is the backend's check that to comes after from in one changed-block chain:
// the snapshots of a tracked disk, oldest first (the order of the disk's snapshots
// field), then the disk itself. Both must be tracked. Its errors are the backend's
// CBTChangedBlocksError (SM error 460).
func cbtRelated(r store.Reader, from, to *store.Object) error {
	if from.Ref == to.Ref {
		return cbtChangedBlocksError("Source and target VDI are same")
	}
	disk := r.Get("VDI", xapi.Str(from, "snapshot_of"))
	if !xapi.Bool(from, "is_a_snapshot") || disk == nil || !xapi.Bool(from, "cbt_enabled") || !xapi.Bool(to, "cbt_enabled") {
		return cbtChangedBlocksError("Source and target VDI are unrelated")
	}
	chain := append(xapi.Refs(disk, "snapshots"), disk.Ref)
	if i, j := slices.Index(chain, from.Ref), slices.Index(chain, to.Ref); i < 0 || j < i {
		return cbtChangedBlocksError("Source and target VDI are unrelated")
	}
	return nil
}

// cbtChangedBlocksError is SM's CBTChangedBlocksError as xapi passes a backend error on.
func cbtChangedBlocksError(detail string) error {
	return apierror.New("SR_BACKEND_FAILURE_460", "", "Failed to calculate changed blocks for given VDIs. [opterr="+detail+"]", "")
}

// cbtStateError is xapi's checks of a VDI's type and tracking state for op, in its order:
// a cbt_metadata VDI has no data to clone, copy, resize, snapshot or track; a tracked VDI
// cannot be mirrored or reset on boot; then the CBT operations' own rules.
func cbtStateError(r store.Reader, vdi *store.Object, op string) error {
	typ := xapi.Str(vdi, "type")
	switch op {
	case "clone", "copy", "disable_cbt", "enable_cbt", "mirror", "resize", "resize_online", "snapshot",
		"revert_to", "revert_from", "set_on_boot":
		if typ == "cbt_metadata" {
			return apierror.New("VDI_INCOMPATIBLE_TYPE", vdi.Ref, vdiTypeNames[typ])
		}
	}
	if (op == "mirror" || op == "set_on_boot") && xapi.Bool(vdi, "cbt_enabled") {
		return apierror.New("VDI_CBT_ENABLED", vdi.Ref)
	}
	switch op {
	case "enable_cbt", "disable_cbt":
		switch {
		case xapi.Bool(vdi, "is_a_snapshot"):
			return apierror.New("OPERATION_NOT_ALLOWED", "VDI is a snapshot: "+vdi.Ref)
		case typ != "user" && typ != "system":
			return apierror.New("VDI_INCOMPATIBLE_TYPE", vdi.Ref, vdiTypeNames[typ])
		case xapi.Str(vdi, "on_boot") == "reset":
			return apierror.New("VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION")
		}
	case "data_destroy":
		sr := r.Get("SR", xapi.Str(vdi, "SR"))
		switch {
		case !xapi.Bool(vdi, "is_a_snapshot"):
			return apierror.New("OPERATION_NOT_ALLOWED", "VDI is not a snapshot: "+vdi.Ref)
		case !xapi.Bool(vdi, "cbt_enabled"):
			return apierror.New("VDI_NO_CBT_METADATA", vdi.Ref)
		case sr != nil && xapi.Str(sr, "type") == "udev":
			return apierror.New("VDI_IS_A_PHYSICAL_DEVICE", vdi.Ref)
		case sr != nil && xapi.Bool(sr, "is_tools_sr"):
			return apierror.New("SR_OPERATION_NOT_SUPPORTED", sr.Ref)
		case typ == "rrd":
			return apierror.New("VDI_HAS_RRDS", vdi.Ref)
		}
	}
	return nil
}

// attachedOutsideSnapshots reports whether a VBD of a VM that is not a snapshot has the
// VDI attached: list_changed_blocks tolerates a checkpoint's attached VBDs.
func attachedOutsideSnapshots(r store.Reader, vdi *store.Object) bool {
	for _, ref := range xapi.Refs(vdi, "VBDs") {
		vbd := r.Get("VBD", ref)
		if vbd == nil || !xapi.Bool(vbd, "currently_attached") {
			continue
		}
		if vm := r.Get("VM", xapi.Str(vbd, "VM")); vm == nil || !xapi.Bool(vm, "is_a_snapshot") {
			return true
		}
	}
	return false
}

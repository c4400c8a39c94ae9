package cluster

import (
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
)

// The storage model: an SR's virtual_allocation is the sum of its VDIs' virtual sizes and
// its physical_utilisation the sum of what they use, plus a fixed metadata overhead.
// Thin SRs (nfs, ext, file) use what was written — a new VDI uses little, a disk that
// came with the inventory about a third; thick SRs (lvm*) reserve each VDI's full size.

// srMetadata is what an SR uses before it holds any VDI.
const srMetadata = 4 * mib

// thickTypes are the SR types that allocate a VDI's full size up front.
var thickTypes = map[string]bool{"lvm": true, "lvmoiscsi": true, "lvmohba": true, "lvmofcoe": true}

// thick reports whether an SR allocates VDIs in full.
func thick(sr *store.Object) bool { return thickTypes[xapi.Str(sr, "type")] }

// refreshSR recomputes an SR's usage from its VDIs, and its allowed operations.
func refreshSR(tx *store.Tx, ref string) {
	defer setSRAllowedOps(tx, ref)
	sr := tx.Get("SR", ref)
	if sr == nil {
		return
	}
	var virtual, physical int64
	for _, v := range xapi.Refs(sr, "VDIs") {
		vdi := tx.Get("VDI", v)
		if vdi == nil {
			continue
		}
		virtual += xapi.Int(vdi, "virtual_size")
		physical += xapi.Int(vdi, "physical_utilisation")
	}
	if xapi.Str(sr, "content_type") != "iso" {
		physical += srMetadata
	}
	if xapi.Int(sr, "virtual_allocation") == virtual && xapi.Int(sr, "physical_utilisation") == physical {
		return
	}
	sr = sr.Clone()
	xapi.Set(sr, "virtual_allocation", virtual)
	xapi.Set(sr, "physical_utilisation", physical)
	tx.Put(sr)
}

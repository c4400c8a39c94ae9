package cluster_test

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

// changedBlocksError is SM's CBTChangedBlocksError as xapi passes it on.
func changedBlocksError(detail string) []string {
	return []string{"SR_BACKEND_FAILURE_460", "", "Failed to calculate changed blocks for given VDIs. [opterr=" + detail + "]", ""}
}

func TestChangedBlockTracking(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1})
	nfs := p.first("SR", `field "type"="nfs"`)
	const size = int64(10 << 30)
	disk := p.ok("VDI.create", vdiRec("SR", nfs, "virtual_size", size, "type", "user", "name_label", "tracked")).(string)

	p.ok("VDI.enable_cbt", disk)
	assert.True(t, xapi.Bool(p.get("VDI", disk), "cbt_enabled"))
	p.ok("VDI.enable_cbt", disk) // already on: nothing to do
	assert.Contains(t, xapi.Refs(p.get("VDI", disk), "allowed_operations"), "disable_cbt")

	first := p.ok("VDI.snapshot", disk, map[string]any{}).(string)
	second := p.ok("VDI.snapshot", disk, map[string]any{}).(string)
	assert.True(t, xapi.Bool(p.get("VDI", first), "cbt_enabled"), "a snapshot of a tracked disk is tracked")

	// 10 GiB in 64 KiB blocks is 163,840 bits: a 20,480-byte bitmap, no block changed.
	bitmap, err := base64.StdEncoding.DecodeString(p.ok("VDI.list_changed_blocks", first, second).(string))
	require.NoError(t, err)
	assert.Equal(t, make([]byte, 20480), bitmap)
	p.ok("VDI.list_changed_blocks", first, disk) // up to the disk itself

	p.ok("VDI.data_destroy", first)
	destroyed := p.get("VDI", first)
	assert.Equal(t, "cbt_metadata", xapi.Str(destroyed, "type"))
	assert.Equal(t, int64(20480), xapi.Int(destroyed, "physical_utilisation"), "only the log is left")
	p.ok("VDI.list_changed_blocks", first, second) // the log still answers

	p.ok("VDI.disable_cbt", disk)
	untracked := p.ok("VDI.snapshot", disk, map[string]any{}).(string)
	assert.False(t, xapi.Bool(p.get("VDI", untracked), "cbt_enabled"))

	iso := p.first("SR", `field "content_type"="iso"`)
	ephemeral := p.ok("VDI.create", vdiRec("SR", nfs, "virtual_size", int64(1<<30), "type", "ephemeral")).(string)
	p.expectErrors([]errorCase{
		{"snapshots are tracked with their disk", "VDI.enable_cbt", []any{second}, []string{"OPERATION_NOT_ALLOWED", "VDI is a snapshot: " + second}},
		{"only user and system disks", "VDI.enable_cbt", []any{ephemeral}, []string{"VDI_INCOMPATIBLE_TYPE", ephemeral, "Ephemeral"}},
		{"the SR's driver must track", "VDI.enable_cbt", []any{p.first("VDI", `field "SR"="`+iso+`"`)}, []string{"SR_OPERATION_NOT_SUPPORTED", iso}},
		{"data_destroy needs a snapshot", "VDI.data_destroy", []any{disk}, []string{"OPERATION_NOT_ALLOWED", "VDI is not a snapshot: " + disk}},
		{"data_destroy needs a log", "VDI.data_destroy", []any{untracked}, []string{"VDI_NO_CBT_METADATA", untracked}},
		{"a log has no data to clone", "VDI.clone", []any{first, map[string]any{}}, []string{"VDI_INCOMPATIBLE_TYPE", first, "CBT metadata"}},
		{"a log cannot be tracked", "VDI.disable_cbt", []any{first}, []string{"VDI_INCOMPATIBLE_TYPE", first, "CBT metadata"}},
		{"the same VDI twice", "VDI.list_changed_blocks", []any{second, second}, changedBlocksError("Source and target VDI are same")},
		{"backwards in the chain", "VDI.list_changed_blocks", []any{second, first}, changedBlocksError("Source and target VDI are unrelated")},
		{"an untracked end", "VDI.list_changed_blocks", []any{second, untracked}, changedBlocksError("Source and target VDI are unrelated")},
		{"from a bad ref", "VDI.list_changed_blocks", []any{"OpaqueRef:nope", second}, []string{"HANDLE_INVALID", "VDI", "OpaqueRef:nope"}},
	})
}

func TestChangedBlocksOfAnAttachedDisk(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 4})
	vm := p.first("VM", `field "power_state"="Running" and field "is_control_domain"="false"`)
	var disk string
	for _, vbd := range xapi.Refs(p.get("VM", vm), "VBDs") {
		if o := p.get("VBD", vbd); xapi.Str(o, "type") == "Disk" {
			disk = xapi.Str(o, "VDI")
		}
	}
	require.NotEmpty(t, disk)
	p.ok("VDI.enable_cbt", disk) // allowed while the VM runs
	snap := p.ok("VDI.snapshot", disk, map[string]any{}).(string)
	_, err := p.call("VDI.list_changed_blocks", snap, disk)
	assert.Equal(t, []string{"VDI_IN_USE", disk, "list_changed_blocks"}, err)
	assert.NotContains(t, xapi.Refs(p.get("VDI", disk), "allowed_operations"), "list_changed_blocks")
}

package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

const bogusVMSS = "OpaqueRef:bogus-vmss"

func (p *pool) schedule(vmss string) map[string]any {
	return p.ok("VMSS.get_schedule", vmss).(map[string]any)
}

// TestVMSSErrors: every refusal of the snapshot schedule messages, as xapi words it.
func TestVMSSErrors(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 6})
	vmss := p.ok("VMSS.create", record("name_label", "daily", "type", "snapshot", "frequency", "daily",
		"schedule", map[string]any{"hour": "3", "min": "15"})).(string)
	running := p.first("VM", `field "name__label"="web-01"`)
	p.ok("VM.set_snapshot_schedule", running, vmss)
	p.expectErrors([]errorCase{
		{"no retained snapshots", "VMSS.set_retained_snapshots", []any{vmss, int64(0)}, []string{"INVALID_VALUE", "retained_snapshots", "0"}},
		{"eleven retained snapshots", "VMSS.set_retained_snapshots", []any{vmss, int64(11)}, []string{"INVALID_VALUE", "retained_snapshots", "11"}},
		{"range checked before the ref", "VMSS.set_retained_snapshots", []any{bogusVMSS, int64(11)}, []string{"INVALID_VALUE", "retained_snapshots", "11"}},
		{"retained snapshots of a bogus schedule", "VMSS.set_retained_snapshots", []any{bogusVMSS, int64(5)}, []string{"HANDLE_INVALID", "VMSS", bogusVMSS}},
		{"unknown key", "VMSS.set_schedule", []any{vmss, map[string]any{"second": "1"}}, []string{"INVALID_VALUE", "schedule:second", "1"}},
		{"hour out of range", "VMSS.set_schedule", []any{vmss, map[string]any{"hour": "24"}}, []string{"INVALID_VALUE", "schedule:hour", "24"}},
		{"hour not a number", "VMSS.set_schedule", []any{vmss, map[string]any{"hour": "noon"}}, []string{"INVALID_VALUE", "schedule:hour", "noon"}},
		{"minute off the quarter", "VMSS.set_schedule", []any{vmss, map[string]any{"min": "10"}}, []string{"INVALID_VALUE", "schedule:min", "10"}},
		{"unknown day", "VMSS.set_schedule", []any{vmss, map[string]any{"days": "Monday,Funday"}}, []string{"INVALID_VALUE", "schedule:days", "Funday"}},
		{"repeated day", "VMSS.set_schedule", []any{vmss, map[string]any{"days": "monday,Monday"}}, []string{"INVALID_VALUE", "schedule:days", "monday,Monday"}},
		{"schedule of a bogus schedule", "VMSS.set_schedule", []any{bogusVMSS, map[string]any{}}, []string{"HANDLE_INVALID", "VMSS", bogusVMSS}},
		{"frequency of a bogus schedule", "VMSS.set_frequency", []any{bogusVMSS, "hourly"}, []string{"HANDLE_INVALID", "VMSS", bogusVMSS}},
		{"type of a bogus schedule", "VMSS.set_type", []any{bogusVMSS, "checkpoint"}, []string{"HANDLE_INVALID", "VMSS", bogusVMSS}},
		{"quiesced type for a guest without the feature", "VMSS.set_type", []any{vmss, "snapshot_with_quiesce"}, []string{"VM_SNAPSHOT_WITH_QUIESCE_NOT_SUPPORTED", running}},
		{"last run of a bogus schedule", "VMSS.set_last_run_time", []any{bogusVMSS, "20240101T00:00:00Z"}, []string{"HANDLE_INVALID", "VMSS", bogusVMSS}},
		{"remove from a bogus schedule", "VMSS.remove_from_schedule", []any{bogusVMSS, "hour"}, []string{"HANDLE_INVALID", "VMSS", bogusVMSS}},
		{"add an existing key with nothing saved", "VMSS.add_to_schedule", []any{vmss, "hour", "4"}, []string{"INTERNAL_ERROR", "Not_found"}},
		{"run a bogus schedule", "VMSS.snapshot_now", []any{bogusVMSS}, []string{"HANDLE_INVALID", "VMSS", bogusVMSS}},
	})
	assert.Equal(t, map[string]any{"hour": "3", "min": "15"}, p.schedule(vmss), "failed calls change nothing")
	assert.Equal(t, "snapshot", p.ok("VMSS.get_type", vmss))

	// A bad value to add without a removal before it: xapi finds no saved value.
	p.expectErrors([]errorCase{
		{"add a bad value with nothing saved", "VMSS.add_to_schedule", []any{vmss, "days", "Funday"}, []string{"INTERNAL_ERROR", "Not_found"}},
	})

	p.restrict("restrict_vss", "true")
	p.expectErrors([]errorCase{
		{"quiesced type without VSS", "VMSS.set_type", []any{vmss, "snapshot_with_quiesce"}, []string{"LICENCE_RESTRICTION", "VSS"}},
	})
	p.restrict("restrict_vmss", "true")
	for _, tc := range []struct {
		method string
		args   []any
	}{
		{"VMSS.snapshot_now", []any{vmss}},
		{"VMSS.set_retained_snapshots", []any{bogusVMSS, int64(0)}},
		{"VMSS.set_frequency", []any{bogusVMSS, "hourly"}},
		{"VMSS.set_schedule", []any{bogusVMSS, map[string]any{}}},
		{"VMSS.add_to_schedule", []any{bogusVMSS, "hour", "1"}},
		{"VMSS.remove_from_schedule", []any{bogusVMSS, "hour"}},
		{"VMSS.set_last_run_time", []any{bogusVMSS, "20240101T00:00:00Z"}},
		{"VMSS.set_type", []any{bogusVMSS, "snapshot"}},
	} {
		_, err := p.call(tc.method, tc.args...)
		assert.Equal(t, []string{"LICENCE_RESTRICTION", "VMSS"}, err, tc.method)
	}
}

// TestVMSSSchedule: frequencies keep their keys with defaults, values become canonical,
// and xe's param-set (remove then add) keeps the old value when the new one is bad.
func TestVMSSSchedule(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 2})
	vmss := p.ok("VMSS.create", record("name_label", "s", "type", "snapshot", "frequency", "hourly",
		"schedule", map[string]any{"min": "30"})).(string)

	p.ok("VMSS.set_frequency", vmss, "weekly")
	assert.Equal(t, map[string]any{"hour": "0", "min": "30", "days": "Monday"}, p.schedule(vmss))
	assert.Equal(t, "weekly", p.ok("VMSS.get_frequency", vmss))

	p.ok("VMSS.set_schedule", vmss, map[string]any{"days": "friday,SUNDAY", "hour": "0x10"})
	assert.Equal(t, map[string]any{"hour": "0x10", "min": "30", "days": "Friday,Sunday"}, p.schedule(vmss), "merged with the stored keys")

	p.ok("VMSS.set_frequency", vmss, "hourly")
	assert.Equal(t, map[string]any{"min": "30"}, p.schedule(vmss), "keys of other frequencies dropped")

	p.ok("VMSS.remove_from_schedule", vmss, "min")
	p.ok("VMSS.remove_from_schedule", vmss, "min") // a missing key is no error
	assert.Equal(t, map[string]any{}, p.schedule(vmss))
	p.ok("VMSS.add_to_schedule", vmss, "min", "45")
	assert.Equal(t, map[string]any{"min": "45"}, p.schedule(vmss))

	p.ok("VMSS.remove_from_schedule", vmss, "min")
	p.expectErrors([]errorCase{
		{"bad value after a removal", "VMSS.add_to_schedule", []any{vmss, "min", "50"}, []string{"INVALID_VALUE", "schedule:min", "50"}},
	})
	assert.Equal(t, map[string]any{"min": "45"}, p.schedule(vmss), "the removed value is put back")
	p.expectErrors([]errorCase{
		{"existing key after a removal: putting it back fails too", "VMSS.add_to_schedule", []any{vmss, "min", "15"}, []string{"MAP_DUPLICATE_KEY", "VMSS", "schedule", vmss, "min"}},
	})

	p.ok("VMSS.set_retained_snapshots", vmss, int64(10))
	assert.EqualValues(t, "10", p.ok("VMSS.get_retained_snapshots", vmss))
	p.ok("VMSS.set_type", vmss, "checkpoint")
	assert.Equal(t, "checkpoint", p.ok("VMSS.get_type", vmss))
	p.ok("VMSS.set_last_run_time", vmss, "20240102T03:04:05Z")
	assert.Equal(t, "20240102T03:04:05Z", p.ok("VMSS.get_last_run_time", vmss))
}

// TestVMSSSnapshotNow: each VM gets a schedule snapshot of the schedule's type, named
// after the VM and the time; the oldest go beyond retained_snapshots, with their disks.
func TestVMSSSnapshotNow(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 6})
	vmss := p.ok("VMSS.create", record("name_label", "s", "type", "snapshot", "frequency", "hourly", "retained_snapshots", int64(2))).(string)
	halted := p.first("VM", `field "name__label"="app-01"`)
	running := p.first("VM", `field "name__label"="web-01"`)
	p.ok("VM.set_snapshot_schedule", halted, vmss)
	p.ok("VM.set_snapshot_schedule", running, vmss)
	vdis := len(p.srv.Store.All("VDI"))

	for range 3 {
		assert.Equal(t, "SUCCESS", p.ok("VMSS.snapshot_now", vmss))
	}
	for _, vm := range []string{halted, running} {
		snaps := p.where("VM", `field "snapshot_of"="`+vm+`" and field "is_vmss_snapshot"="true"`)
		require.Len(t, snaps, 2, "pruned to retained_snapshots")
		label := p.ok("VM.get_name_label", vm).(string)
		for _, s := range snaps {
			assert.Regexp(t, `^`+label+`-\d{8}-\d{4}$`, p.ok("VM.get_name_label", s))
			assert.Equal(t, "Halted", p.ok("VM.get_power_state", s))
		}
	}
	disks := len(p.where("VBD", `field "VM"="`+halted+`" and field "type"="Disk"`)) +
		len(p.where("VBD", `field "VM"="`+running+`" and field "type"="Disk"`))
	assert.Equal(t, vdis+2*disks, len(p.srv.Store.All("VDI")), "pruned snapshots take their disks")
	assert.NotEqual(t, "19700101T00:00:00Z", p.ok("VMSS.get_last_run_time", vmss))
	assert.Len(t, p.messages("VMSS_SNAPSHOT_SUCCEEDED"), 3)

	// A checkpoint needs a running VM: the halted one fails, the other goes on.
	p.ok("VMSS.set_type", vmss, "checkpoint")
	assert.Equal(t, "FAILED", p.ok("VMSS.snapshot_now", vmss))
	failed := p.messages("VMSS_SNAPSHOT_FAILED")
	require.Len(t, failed, 1)
	assert.Contains(t, xapi.Str(p.get("message", failed[0]), "body"), "app-01: VM_BAD_POWER_STATE")
	states := map[string]bool{}
	for _, s := range p.where("VM", `field "snapshot_of"="`+running+`" and field "is_vmss_snapshot"="true"`) {
		states[p.ok("VM.get_power_state", s).(string)] = true
	}
	assert.True(t, states["Suspended"], "a checkpoint of a running VM keeps its memory")

	// Quiesced snapshots are no longer supported: each VM's failure is reported.
	p.setField("VMSS", vmss, "type", "snapshot_with_quiesce")
	assert.Equal(t, "FAILED", p.ok("VMSS.snapshot_now", vmss))
	assert.Len(t, p.messages("VMSS_SNAPSHOT_FAILED"), 3)
}

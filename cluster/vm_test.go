package cluster_test

import (
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

func ops(p *pool, vm string) []string {
	var out []string
	for _, op := range xapi.Refs(p.get("VM", vm), "allowed_operations") {
		out = append(out, op)
	}
	sort.Strings(out)
	return out
}

func sorted(s ...string) []string { sort.Strings(s); return s }

// TestAllowedOperationsPerState checks the sets semantics.md §2.4 derives, for the
// enum values of this datamodel.
func TestAllowedOperationsPerState(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 6})
	linux := p.first("VM", `field "name__label"="web-01"`)
	assert.Equal(t, sorted("snapshot", "checkpoint", "pause", "clean_shutdown", "clean_reboot", "hard_shutdown", "hard_reboot",
		"suspend", "pool_migrate", "migrate_send", "changing_dynamic_range", "changing_VCPUs_live", "metadata_export"), ops(p, linux), "running PV-drivers guest")
	win := p.first("VM", `field "name__label"="win-01"`)
	assert.Equal(t, sorted("snapshot", "pause", "hard_shutdown", "hard_reboot", "changing_dynamic_range", "metadata_export"), ops(p, win), "running HVM guest without drivers")
	p.ok("VM.pause", linux)
	assert.Equal(t, sorted("snapshot", "unpause", "hard_shutdown", "hard_reboot", "metadata_export", "checkpoint"), ops(p, linux), "paused")
	p.ok("VM.unpause", linux)
	p.ok("VM.suspend", linux)
	assert.Equal(t, sorted("snapshot", "checkpoint", "resume", "resume_on", "hard_shutdown", "migrate_send", "export", "metadata_export", "destroy"), ops(p, linux), "suspended")
	halted := p.first("VM", `field "name__label"="app-01"`)
	assert.Equal(t, sorted("snapshot", "clone", "copy", "start", "start_on", "migrate_send", "changing_dynamic_range",
		"changing_static_range", "changing_shadow_memory", "changing_NVRAM", "make_into_template", "export", "metadata_export",
		"destroy", "create_vtpm"), ops(p, halted), "halted")
	tmpl := p.first("VM", `field "name__label"="Debian Bookworm 12"`)
	assert.Equal(t, sorted("clone", "copy", "provision", "export", "metadata_export", "changing_dynamic_range",
		"changing_static_range", "changing_shadow_memory", "changing_NVRAM"), ops(p, tmpl), "default template")
	dom0 := p.first("VM", `field "is_control_domain"="true"`)
	assert.Equal(t, sorted("changing_dynamic_range", "changing_static_range", "metadata_export"), ops(p, dom0), "dom0")
	snap := p.ok("VM.snapshot", halted, "s").(string)
	assert.Equal(t, sorted("revert", "clone", "copy", "export", "destroy", "metadata_export"), ops(p, snap), "snapshot")
}

func TestVMErrors(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 6})
	running := p.first("VM", `field "name__label"="web-01"`)
	halted := p.first("VM", `field "name__label"="app-01"`)
	win := p.first("VM", `field "name__label"="win-01"`)
	tmpl := p.first("VM", `field "name__label"="Debian Bookworm 12"`)
	dom0 := p.first("VM", `field "is_control_domain"="true"`)
	host := xapi.Str(p.get("VM", running), "resident_on")
	p.expectErrors([]errorCase{
		{"start a running VM", "VM.start", []any{running, false, false}, []string{"VM_BAD_POWER_STATE", running, "halted", "running"}},
		{"hard shutdown of a halted VM", "VM.hard_shutdown", []any{halted}, []string{"VM_BAD_POWER_STATE", halted, "paused, suspended, running", "halted"}},
		{"reboot a halted VM", "VM.hard_reboot", []any{halted}, []string{"VM_BAD_POWER_STATE", halted, "paused, running", "halted"}},
		{"destroy a running VM", "VM.destroy", []any{running}, []string{"VM_BAD_POWER_STATE", running, "halted, suspended", "running"}},
		{"start a template", "VM.start", []any{tmpl, false, false}, []string{"VM_IS_TEMPLATE", tmpl, "start"}},
		{"destroy a default template", "VM.destroy", []any{tmpl}, []string{"VM_IS_TEMPLATE", tmpl, "destroy"}},
		{"shut dom0 down", "VM.clean_shutdown", []any{dom0}, []string{"OPERATION_NOT_ALLOWED", "This operation is not allowed on a control domain"}},
		{"destroy dom0", "VM.destroy", []any{dom0}, []string{"VM_BAD_POWER_STATE", dom0, "halted, suspended", "running"}},
		{"clean shutdown without PV drivers", "VM.clean_shutdown", []any{win}, []string{"VM_LACKS_FEATURE", win}},
		{"provision a VM", "VM.provision", []any{halted}, []string{"PROVISION_ONLY_ALLOWED_ON_TEMPLATE"}},
		{"revert a VM", "VM.revert", []any{halted}, []string{"REVERT_ONLY_ALLOWED_ON_SNAPSHOT"}},
		{"reset a VM of a live host", "VM.power_state_reset", []any{running}, []string{"HOST_IS_LIVE", host}},
		{"reset dom0", "VM.power_state_reset", []any{dom0}, []string{"CANNOT_RESET_CONTROL_DOMAIN", dom0}},
		{"memory out of order", "VM.set_memory_limits", []any{halted, int64(4 << 30), int64(2 << 30), int64(3 << 30), int64(3 << 30)}, []string{"MEMORY_CONSTRAINT_VIOLATION_ORDER"}},
		{"memory of a running VM", "VM.set_memory_static_max", []any{running, int64(8 << 30)}, []string{"VM_BAD_POWER_STATE", running, "halted", "running"}},
		{"VCPUs_max below VCPUs_at_startup", "VM.set_VCPUs_max", []any{halted, int64(0)}, []string{"INVALID_VALUE", "VCPU values must satisfy: 0 < VCPUs_at_startup ≤ VCPUs_max", "0"}},
		{"VCPUs_at_startup above VCPUs_max", "VM.set_VCPUs_at_startup", []any{halted, int64(64)}, []string{"INVALID_VALUE", "VCPU values must satisfy: 0 < VCPUs_at_startup ≤ VCPUs_max", "64"}},
		{"a template in a group", "VM.set_groups", []any{tmpl, []any{}}, []string{"OPERATION_NOT_ALLOWED", "Control domains, templates, and snapshots cannot be added to VM groups."}},
		{"start_on a bogus host", "VM.start_on", []any{halted, "OpaqueRef:nope", false, false}, []string{"HANDLE_INVALID", "host", "OpaqueRef:nope"}},
	})
	p.ok("VM.add_to_blocked_operations", halted, "start", "maintenance")
	_, err := p.call("VM.start", halted, false, false)
	assert.Equal(t, []string{"OPERATION_BLOCKED", halted, "maintenance"}, err)
	assert.NotContains(t, ops(p, halted), "start")
	p.ok("VM.remove_from_blocked_operations", halted, "start")
	assert.Contains(t, ops(p, halted), "start")
}

func TestLifecycleEffects(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 4})
	vm := p.first("VM", `field "name__label"="app-01"`)
	p.ok("VM.start", vm, false, false)
	o := p.get("VM", vm)
	host := xapi.Str(o, "resident_on")
	assert.NotEqual(t, "OpaqueRef:NULL", host)
	assert.Greater(t, xapi.Int(o, "domid"), int64(0))
	assert.Contains(t, xapi.Refs(p.get("host", host), "resident_VMs"), vm)
	for _, vbd := range xapi.Refs(o, "VBDs") {
		assert.True(t, xapi.Bool(p.get("VBD", vbd), "currently_attached"))
	}
	assert.NotEqual(t, "OpaqueRef:NULL", xapi.Str(o, "guest_metrics"), "a Linux guest reports guest metrics")
	assert.Len(t, xapi.Refs(o, "consoles"), 1)
	started := p.ok("message.get_all_records_where", `field "name"="VM_STARTED" and field "obj_uuid"="`+xapi.Str(o, "uuid")+`"`)
	assert.Len(t, started, 1, "the VM_STARTED alert")

	var other string
	for _, h := range p.where("host", "true") {
		if h != host {
			other = h
		}
	}
	p.ok("VM.pool_migrate", vm, other, map[string]any{})
	assert.Equal(t, other, xapi.Str(p.get("VM", vm), "resident_on"))

	checkpoint := p.ok("VM.checkpoint", vm, "cp").(string)
	assert.Equal(t, "Suspended", xapi.Str(p.get("VM", checkpoint), "power_state"))
	assert.NotEqual(t, "OpaqueRef:NULL", xapi.Str(p.get("VM", checkpoint), "suspend_VDI"))
	assert.Equal(t, checkpoint, xapi.Str(p.get("VM", vm), "parent"))

	p.ok("VM.suspend", vm)
	o = p.get("VM", vm)
	assert.Equal(t, "OpaqueRef:NULL", xapi.Str(o, "resident_on"))
	suspendVDI := xapi.Str(o, "suspend_VDI")
	assert.NotEqual(t, "OpaqueRef:NULL", suspendVDI)
	p.ok("VM.resume", vm, false, false)
	assert.Nil(t, p.srv.Store.Get("VDI", suspendVDI), "resume destroys the suspend image")
	p.ok("VM.clean_reboot", vm)
	p.ok("VM.hard_shutdown", vm)
	o = p.get("VM", vm)
	assert.Equal(t, int64(-1), xapi.Int(o, "domid"))
	assert.Equal(t, "OpaqueRef:NULL", xapi.Str(o, "guest_metrics"))

	disks := map[string]bool{}
	for _, vbd := range xapi.Refs(o, "VBDs") {
		if v := xapi.Str(p.get("VBD", vbd), "VDI"); v != "OpaqueRef:NULL" {
			disks[v] = true
		}
	}
	p.ok("VM.revert", checkpoint)
	assert.Equal(t, "Suspended", xapi.Str(p.get("VM", vm), "power_state"), "reverting to a checkpoint suspends")
	p.ok("VM.hard_shutdown", vm)
	p.ok("VM.destroy", vm)
	for vdi := range disks {
		assert.NotNil(t, p.srv.Store.Get("VDI", vdi), "destroy keeps the VDIs")
	}

	tmpl := p.first("VM", `field "name__label"="Windows 11"`)
	clone := p.ok("VM.clone", tmpl, "win11").(string)
	c := p.get("VM", clone)
	assert.True(t, xapi.Bool(c, "is_a_template"))
	assert.False(t, xapi.Bool(c, "is_default_template"))
	assert.Equal(t, "Windows 11", xapi.StringMap(c, "other_config")["base_template_name"])
	assert.NotContains(t, xapi.StringMap(c, "other_config"), "default_template")
	assert.NotEqual(t, xapi.StringMap(p.get("VM", tmpl), "other_config")["mac_seed"], xapi.StringMap(c, "other_config")["mac_seed"])
}

// TestBusyVMWaits: an operation on a VM busy with another waits for it instead of
// failing at once, as xapi retries OTHER_OPERATION_IN_PROGRESS.
func TestBusyVMWaits(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 2}, func(c *xapi.Config) {
		c.Durations = xapi.Durations{"VM.clean_reboot": 500 * time.Millisecond}
	})
	vm := p.first("VM", `field "name__label"="web-01"`)
	task := p.ok("Async.VM.clean_reboot", vm).(string)
	require.Eventually(t, func() bool { return len(xapi.Map(p.get("VM", vm), "current_operations")) == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.NotContains(t, ops(p, vm), "clean_shutdown", "current operations restrict allowed ones")
	start := time.Now()
	p.ok("VM.clean_shutdown", vm)
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "the shutdown waited for the reboot")
	// The reboot's task records its result just after the operation ends, which is
	// what let the shutdown go: it may still be pending for a moment.
	require.Eventually(t, func() bool { return xapi.Str(p.get("task", task), "status") == "success" }, 5*time.Second, 5*time.Millisecond)
	assert.Empty(t, xapi.Map(p.get("VM", vm), "current_operations"))
}

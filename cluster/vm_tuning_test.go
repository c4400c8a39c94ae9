package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

// TestVMTuningErrors: every refusal of the VM tuning messages, as xapi words it.
func TestVMTuningErrors(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 6})
	running := p.first("VM", `field "name__label"="web-01"`)
	win := p.first("VM", `field "name__label"="win-01"`)
	halted := p.first("VM", `field "name__label"="app-01"`)
	tmpl := p.first("VM", `field "name__label"="Debian Bookworm 12"`)
	dom0 := p.first("VM", `field "is_control_domain"="true"`)
	snap := p.ok("VM.snapshot", halted, "snap").(string)
	immobile := p.first("VM", `field "name__label"="db-01"`)
	p.ok("VM.add_to_platform", immobile, "nomigrate", "true")
	host := p.first("host", `true`)
	vmss := p.ok("VMSS.create", record("name_label", "daily", "type", "snapshot", "frequency", "daily")).(string)
	quiesce := p.ok("VMSS.create", record("name_label", "q", "type", "snapshot_with_quiesce", "frequency", "daily")).(string)
	p.expectErrors([]errorCase{
		{"vendor device of a running VM", "VM.set_has_vendor_device", []any{running, true}, []string{"VM_BAD_POWER_STATE", running, "halted", "running"}},
		{"vendor device of a bogus VM", "VM.set_has_vendor_device", []any{bogusVM, true}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"shadow multiplier below 1", "VM.set_HVM_shadow_multiplier", []any{halted, 0.5}, []string{"INVALID_VALUE", "multiplier", "0.5"}},
		{"negative shadow multiplier", "VM.set_HVM_shadow_multiplier", []any{halted, -2.0}, []string{"INVALID_VALUE", "multiplier", "-2."}},
		{"shadow multiplier of a running VM", "VM.set_HVM_shadow_multiplier", []any{running, 2.0}, []string{"VM_BAD_POWER_STATE", running, "halted", "running"}},
		{"power state checked before the value", "VM.set_HVM_shadow_multiplier", []any{running, 0.5}, []string{"VM_BAD_POWER_STATE", running, "halted", "running"}},
		{"shadow multiplier of a snapshot", "VM.set_HVM_shadow_multiplier", []any{snap, 2.0}, []string{"VM_IS_SNAPSHOT", snap, "changing_shadow_memory"}},
		{"shadow multiplier of a bogus VM", "VM.set_HVM_shadow_multiplier", []any{bogusVM, 2.0}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"live shadow multiplier of a halted VM", "VM.set_shadow_multiplier_live", []any{halted, 2.0}, []string{"VM_BAD_POWER_STATE", halted, "running", "halted"}},
		{"live shadow multiplier below 1", "VM.set_shadow_multiplier_live", []any{running, 0.9}, []string{"INVALID_VALUE", "multiplier", "0.9"}},
		{"live shadow multiplier of dom0", "VM.set_shadow_multiplier_live", []any{dom0, 2.0}, []string{"OPERATION_NOT_ALLOWED", "This operation is not allowed on a control domain"}},
		{"live shadow multiplier of a bogus VM", "VM.set_shadow_multiplier_live", []any{bogusVM, 2.0}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"VCPU params of a halted VM", "VM.add_to_VCPUs_params_live", []any{halted, "weight", "256"}, []string{"VM_BAD_POWER_STATE", halted, "running", "halted"}},
		{"VCPU params of an HVM guest without drivers", "VM.add_to_VCPUs_params_live", []any{win, "weight", "256"}, []string{"VM_LACKS_FEATURE", win}},
		{"VCPU params of a running VM: xapi's stub", "VM.add_to_VCPUs_params_live", []any{running, "weight", "256"}, []string{"NOT_IMPLEMENTED", "add_to_VCPUs_params_live"}},
		{"VCPU params of a bogus VM", "VM.add_to_VCPUs_params_live", []any{bogusVM, "weight", "256"}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"memory target of a halted VM", "VM.wait_memory_target_live", []any{halted}, []string{"VM_BAD_POWER_STATE", halted, "running", "halted"}},
		{"memory target of a bogus VM", "VM.wait_memory_target_live", []any{bogusVM}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"device models of a halted VM", "VM.restart_device_models", []any{halted}, []string{"VM_BAD_POWER_STATE", halted, "Running", "Halted"}},
		{"device models of an immobile VM", "VM.restart_device_models", []any{immobile}, []string{"VM_IS_IMMOBILE", immobile}},
		{"device models of an HVM guest without drivers", "VM.restart_device_models", []any{win}, []string{"VM_LACKS_FEATURE", win}},
		{"device models of dom0", "VM.restart_device_models", []any{dom0}, []string{"OPERATION_NOT_ALLOWED", "This operation is not allowed on a control domain"}},
		{"device models of a bogus VM", "VM.restart_device_models", []any{bogusVM}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"services of a running VM: xapi's stub", "VM.query_services", []any{running}, []string{"NOT_IMPLEMENTED", "query_services"}},
		{"services of a halted VM: xapi's stub", "VM.query_services", []any{halted}, []string{"NOT_IMPLEMENTED", "query_services"}},
		{"services of a template", "VM.query_services", []any{tmpl}, []string{"VM_IS_TEMPLATE", tmpl, "query_services"}},
		{"services of a bogus VM", "VM.query_services", []any{bogusVM}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"schedule that is no object", "VM.set_snapshot_schedule", []any{halted, "OpaqueRef:nothing"}, []string{"INVALID_VALUE", "OpaqueRef:nothing"}},
		{"schedule for dom0", "VM.set_snapshot_schedule", []any{dom0, vmss}, []string{"INVALID_VALUE", vmss}},
		{"schedule for a template", "VM.set_snapshot_schedule", []any{tmpl, vmss}, []string{"VM_IS_TEMPLATE", tmpl}},
		{"schedule that is a host", "VM.set_snapshot_schedule", []any{halted, host}, []string{"HANDLE_INVALID", "VMSS", host}},
		{"quiesced schedule for a guest without the feature", "VM.set_snapshot_schedule", []any{running, quiesce}, []string{"VM_SNAPSHOT_WITH_QUIESCE_NOT_SUPPORTED", running}},
		{"schedule checked before the VM", "VM.set_snapshot_schedule", []any{bogusVM, "OpaqueRef:nothing"}, []string{"INVALID_VALUE", "OpaqueRef:nothing"}},
		{"schedule of a bogus VM", "VM.set_snapshot_schedule", []any{bogusVM, vmss}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"protection policy: removed", "VM.set_protection_policy", []any{halted, "OpaqueRef:NULL"}, []string{"MESSAGE_REMOVED"}},
	})
}

// TestVMTuning: what the tuning messages change.
func TestVMTuning(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 6})
	running := p.first("VM", `field "name__label"="web-01"`)
	halted := p.first("VM", `field "name__label"="app-01"`)
	field := func(class, ref, name string) any { return xapi.Get(p.get(class, ref), name) }

	t.Run("vendor device raises the platform version", func(t *testing.T) {
		p.ok("VM.set_hardware_platform_version", halted, int64(0))
		p.ok("VM.set_has_vendor_device", halted, false)
		assert.Equal(t, int64(0), field("VM", halted, "hardware_platform_version"))
		p.ok("VM.set_has_vendor_device", halted, true)
		assert.Equal(t, true, field("VM", halted, "has_vendor_device"))
		assert.Equal(t, int64(2), field("VM", halted, "hardware_platform_version"))
		p.ok("VM.set_has_vendor_device", halted, false)
		assert.Equal(t, int64(2), field("VM", halted, "hardware_platform_version"), "never lowered")
	})
	t.Run("shadow multiplier of a halted VM", func(t *testing.T) {
		p.ok("VM.set_HVM_shadow_multiplier", halted, 2.5)
		assert.Equal(t, 2.5, field("VM", halted, "HVM_shadow_multiplier"))
		assert.Empty(t, field("VM", halted, "current_operations"))
	})
	t.Run("live shadow multiplier", func(t *testing.T) {
		p.ok("VM.set_shadow_multiplier_live", running, 1.5)
		assert.Equal(t, 1.5, field("VM", running, "HVM_shadow_multiplier"))
		_, err := p.call("VM.set_shadow_multiplier_live", running, 1e9)
		require.NotEmpty(t, err)
		assert.Equal(t, "HOST_NOT_ENOUGH_FREE_MEMORY", err[0])
		assert.Equal(t, 1.5, field("VM", running, "HVM_shadow_multiplier"), "unchanged after the failure")
	})
	t.Run("the balloon reaches its target", func(t *testing.T) {
		metrics := field("VM", running, "metrics").(string)
		p.ok("VM.wait_memory_target_live", running)
		target := field("VM", running, "memory_target").(int64)
		assert.Equal(t, target, field("VM_metrics", metrics, "memory_actual"))
		dmin := field("VM", running, "memory_dynamic_min").(int64) - 64<<20
		dmax := field("VM", running, "memory_dynamic_max").(int64)
		p.ok("VM.set_memory_dynamic_range", running, dmin, dmax)
		p.ok("VM.wait_memory_target_live", running)
		assert.Equal(t, dmin, field("VM_metrics", metrics, "memory_actual"))
		assert.Empty(t, field("VM", running, "current_operations"))
	})
	t.Run("device models restart with no visible effect", func(t *testing.T) {
		before := p.get("VM", running)
		p.ok("VM.restart_device_models", running)
		after := p.get("VM", running)
		assert.Equal(t, xapi.Get(before, "resident_on"), xapi.Get(after, "resident_on"))
		assert.Equal(t, xapi.Get(before, "domid"), xapi.Get(after, "domid"))
		assert.Empty(t, xapi.Get(after, "current_operations"))
	})
	t.Run("snapshot schedule", func(t *testing.T) {
		vmss := p.ok("VMSS.create", record("name_label", "daily", "type", "snapshot", "frequency", "daily")).(string)
		p.ok("VM.set_snapshot_schedule", halted, vmss)
		assert.Equal(t, vmss, field("VM", halted, "snapshot_schedule"))
		assert.Equal(t, []any{halted}, field("VMSS", vmss, "VMs"))
		p.ok("VM.set_snapshot_schedule", halted, "OpaqueRef:NULL")
		assert.Equal(t, "OpaqueRef:NULL", field("VM", halted, "snapshot_schedule"))
		p.ok("VM.set_snapshot_schedule", halted, "")
	})
}

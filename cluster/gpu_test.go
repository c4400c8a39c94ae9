package cluster_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
)

// put stores a new object of the class with the given fields and returns its ref.
func (p *pool) put(class string, pairs ...any) string {
	p.t.Helper()
	o := p.srv.NewObject(class)
	for k, v := range record(pairs...) {
		xapi.Set(o, k, v)
	}
	_, err := p.srv.Store.Update(func(tx *store.Tx) error { tx.Put(o); return nil })
	require.NoError(p.t, err)
	return o.Ref
}

// gpuFixture is a host's PGPU able to run four vGPUs of one NVIDIA type or be passed
// through, with both types enabled.
type gpuFixture struct {
	host, pci, pgpu, vgpuType, passthrough string
}

func (p *pool) addGPU(host, vendor, device string) gpuFixture {
	f := gpuFixture{host: host}
	f.pci = p.put("PCI", "host", host, "vendor_name", vendor, "device_name", device, "class_name", "VGA compatible controller", "pci_id", "0000:3b:00.0")
	f.passthrough = p.put("VGPU_type", "model_name", "passthrough", "implementation", "passthrough", "identifier", "passthrough")
	f.vgpuType = p.put("VGPU_type", "vendor_name", vendor, "model_name", device+"-4Q", "implementation", "nvidia", "framebuffer_size", int64(4<<30))
	p.edit("VGPU_type", f.vgpuType, "compatible_types_in_vm", func(any) any { return []any{f.vgpuType} })
	types := []any{f.vgpuType, f.passthrough}
	f.pgpu = p.put("PGPU", "PCI", f.pci, "host", host, "supported_VGPU_types", types, "enabled_VGPU_types", types,
		"supported_VGPU_max_capacities", map[string]any{f.vgpuType: int64(4), f.passthrough: int64(1)})
	return f
}

func TestGPUs(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 6})
	master := p.ok("pool.get_master", p.first("pool", "true")).(string)
	g := p.addGPU(master, "NVIDIA Corporation", "Tesla T4")
	halteds := p.where("VM", `field "power_state"="Halted" and field "is_a_template"="false"`)
	require.Len(t, halteds, 3)
	halted := halteds[0]
	running := p.first("VM", `field "power_state"="Running" and field "is_control_domain"="false"`)

	group := p.ok("GPU_group.create", "T4s", "d", map[string]any{"k": "v"}).(string)
	rec := p.ok("GPU_group.get_record", group).(map[string]any)
	assert.Equal(t, "T4s", rec["name_label"])
	assert.Equal(t, "depth_first", rec["allocation_algorithm"])
	assert.Equal(t, []any{}, rec["GPU_types"])

	p.ok("PGPU.set_GPU_group", g.pgpu, group)
	rec = p.ok("GPU_group.get_record", group).(map[string]any)
	assert.Equal(t, []any{"NVIDIA Corporation/Tesla T4"}, rec["GPU_types"])
	assert.Equal(t, []any{g.pgpu}, rec["PGPUs"])
	assert.ElementsMatch(t, []any{g.vgpuType, g.passthrough}, rec["enabled_VGPU_types"])
	assert.ElementsMatch(t, []any{g.vgpuType, g.passthrough}, rec["supported_VGPU_types"])

	other := p.addGPU(master, "Intel Corporation", "UHD Graphics P630")
	capacity := func(class, self, typ string) int64 {
		n, err := p.ok(class+".get_remaining_capacity", self, typ).(json.Number).Int64()
		require.NoError(t, err)
		return n
	}
	assert.EqualValues(t, 4, capacity("PGPU", g.pgpu, g.vgpuType))
	assert.EqualValues(t, 1, capacity("PGPU", g.pgpu, g.passthrough))
	assert.EqualValues(t, 4, capacity("GPU_group", group, g.vgpuType))
	assert.EqualValues(t, 0, capacity("GPU_group", group, other.vgpuType), "not supported in the group")
	assert.EqualValues(t, 0, capacity("PGPU", "OpaqueRef:bogus", g.vgpuType), "xapi answers 0 for anything wrong")

	v1 := p.ok("VGPU.create", halted, group, "0", map[string]any{}, g.vgpuType).(string)
	v2 := p.ok("VGPU.create", halted, group, "0", map[string]any{}, g.vgpuType).(string)
	assert.Equal(t, "0", p.ok("VGPU.get_device", v1))
	assert.Equal(t, "1", p.ok("VGPU.get_device", v2))
	assert.Equal(t, []any{v1, v2}, p.ok("VM.get_VGPUs", halted))
	assert.Equal(t, false, p.ok("VGPU.get_currently_attached", v1))

	// A VM with no vGPU may take the passthrough type; the null type is xapi's own one.
	other2 := halteds[1]
	pt := p.ok("VGPU.create", other2, group, "3", map[string]any{}, "OpaqueRef:NULL").(string)
	ptType := p.ok("VGPU.get_type", pt).(string)
	assert.Equal(t, "passthrough", p.ok("VGPU_type.get_implementation", ptType))
	assert.Equal(t, "3", p.ok("VGPU.get_device", pt))

	p.expectErrors([]errorCase{
		{"bad VM", "VGPU.create", []any{"OpaqueRef:bogus", group, "0", map[string]any{}, g.vgpuType}, []string{"HANDLE_INVALID", "VM", "OpaqueRef:bogus"}},
		{"running VM", "VGPU.create", []any{running, group, "0", map[string]any{}, g.vgpuType}, []string{"VM_BAD_POWER_STATE", running, "halted", "running"}},
		{"unknown type", "VGPU.create", []any{halted, group, "0", map[string]any{}, "OpaqueRef:bogus"}, []string{"INVALID_VALUE", "type", "OpaqueRef:bogus"}},
		{"incompatible with the VM's vGPUs", "VGPU.create", []any{halted, group, "0", map[string]any{}, g.passthrough}, []string{"VGPU_TYPE_NOT_COMPATIBLE", g.passthrough}},
		{"device in use", "VGPU.create", []any{halted, group, "1", map[string]any{}, g.vgpuType}, []string{"DEVICE_ALREADY_EXISTS", "1"}},
		{"device out of range", "VGPU.create", []any{halted, group, "21", map[string]any{}, g.vgpuType}, []string{"INVALID_DEVICE", "21"}},
		{"negative device", "VGPU.create", []any{halted, group, "-1", map[string]any{}, g.vgpuType}, []string{"INVALID_DEVICE", "-1"}},
		{"device not a number", "VGPU.create", []any{halted, group, "x", map[string]any{}, g.vgpuType}, []string{"INTERNAL_ERROR", `Failure("int_of_string")`}},
		{"unsupported type", "PGPU.add_enabled_VGPU_types", []any{g.pgpu, other.vgpuType}, []string{"VGPU_TYPE_NOT_SUPPORTED", other.vgpuType, g.vgpuType, g.passthrough}},
		{"unsupported type in a set", "PGPU.set_enabled_VGPU_types", []any{g.pgpu, []any{other.vgpuType}}, []string{"VGPU_TYPE_NOT_SUPPORTED", other.vgpuType, g.vgpuType, g.passthrough}},
		{"other GPU type", "PGPU.set_GPU_group", []any{other.pgpu, group}, []string{"PGPU_NOT_COMPATIBLE_WITH_GPU_GROUP", "Intel Corporation/UHD Graphics P630", "[NVIDIA Corporation/Tesla T4]"}},
		{"group with a PGPU", "GPU_group.destroy", []any{group}, []string{"GPU_GROUP_CONTAINS_PGPU", g.pgpu}},
	})
	p.restrict("restrict_gpu", "true")
	p.expectErrors([]errorCase{{"unlicensed", "VGPU.create", []any{halted, group, "0", map[string]any{}, g.vgpuType}, []string{"FEATURE_RESTRICTED"}}})
	p.restrict("restrict_gpu", "false")

	// The VM runs with one vGPU on the PGPU.
	p.edit("VGPU", v1, "resident_on", func(any) any { return g.pgpu })
	p.edit("VGPU", v1, "currently_attached", func(any) any { return true })
	p.edit("VM", halted, "domid", func(any) any { return int64(7) })
	assert.EqualValues(t, 3, capacity("PGPU", g.pgpu, g.vgpuType))
	assert.EqualValues(t, 0, capacity("PGPU", g.pgpu, g.passthrough), "not compatible with the running type")
	p.edit("VGPU", v2, "scheduled_to_be_resident_on", func(any) any { return g.pgpu })
	assert.EqualValues(t, 2, capacity("GPU_group", group, g.vgpuType), "scheduled vGPUs count")
	p.expectErrors([]errorCase{
		{"disable a type in use", "PGPU.remove_enabled_VGPU_types", []any{g.pgpu, g.vgpuType}, []string{"PGPU_IN_USE_BY_VM", halted}},
		{"set without a type in use", "PGPU.set_enabled_VGPU_types", []any{g.pgpu, []any{g.passthrough}}, []string{"PGPU_IN_USE_BY_VM", halted}},
		{"move a PGPU in use", "PGPU.set_GPU_group", []any{g.pgpu, group}, []string{"PGPU_IN_USE_BY_VM", halted}},
		{"destroy a vGPU of a running VM", "VGPU.destroy", []any{v1}, []string{"OPERATION_NOT_ALLOWED", "vGPU currently attached to a running VM"}},
		{"group with an attached vGPU", "GPU_group.destroy", []any{group}, []string{"GPU_GROUP_CONTAINS_VGPU", v1}},
	})

	// Disabling the passthrough type (not in use) updates the group.
	p.ok("PGPU.remove_enabled_VGPU_types", g.pgpu, g.passthrough)
	assert.Equal(t, []any{g.vgpuType}, p.ok("GPU_group.get_enabled_VGPU_types", group))
	assert.Equal(t, []any{g.pgpu}, p.ok("VGPU_type.get_enabled_on_PGPUs", g.vgpuType))
	p.ok("PGPU.add_enabled_VGPU_types", g.pgpu, g.passthrough)
	p.ok("PGPU.add_enabled_VGPU_types", g.pgpu, g.passthrough)
	assert.ElementsMatch(t, []any{g.vgpuType, g.passthrough}, p.ok("PGPU.get_enabled_VGPU_types", g.pgpu))
	p.ok("PGPU.set_enabled_VGPU_types", g.pgpu, []any{g.vgpuType})
	assert.Equal(t, []any{g.vgpuType}, p.ok("GPU_group.get_enabled_VGPU_types", group))

	// Halted again, the VGPU goes; the group then goes with its detached vGPUs once its
	// PGPU moved to a group of its own.
	p.edit("VM", halted, "domid", func(any) any { return int64(-1) })
	p.edit("VGPU", v1, "resident_on", func(any) any { return "OpaqueRef:NULL" })
	p.edit("VGPU", v1, "currently_attached", func(any) any { return false })
	p.ok("VGPU.destroy", v1)
	assert.Equal(t, []any{v2}, p.ok("VM.get_VGPUs", halted))
	mine := p.ok("GPU_group.create", "mine", "", map[string]any{}).(string)
	p.ok("PGPU.set_GPU_group", g.pgpu, mine)
	assert.Equal(t, []any{}, p.ok("GPU_group.get_enabled_VGPU_types", group), "the old group lost its PGPU's types")
	assert.EqualValues(t, 0, capacity("GPU_group", group, g.vgpuType))
	p.ok("GPU_group.destroy", group)
	assert.Empty(t, p.ok("VM.get_VGPUs", halted))
	p.expectErrors([]errorCase{{"gone", "GPU_group.destroy", []any{group}, []string{"HANDLE_INVALID", "GPU_group", group}}})
}

func TestPGPUDom0Access(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2})
	master := p.ok("pool.get_master", p.first("pool", "true")).(string)
	g := p.addGPU(master, "Intel Corporation", "UHD Graphics P630")
	for _, step := range []struct {
		enable bool
		want   string
	}{{true, "enabled"}, {false, "disable_on_reboot"}, {false, "disable_on_reboot"}, {true, "enabled"}, {false, "disable_on_reboot"}} {
		method := "PGPU.disable_dom0_access"
		if step.enable {
			method = "PGPU.enable_dom0_access"
		}
		assert.Equal(t, step.want, p.ok(method, g.pgpu))
		assert.Equal(t, step.want, p.ok("PGPU.get_dom0_access", g.pgpu))
	}
	p.restrict("restrict_integrated_gpu_passthrough", "true")
	p.expectErrors([]errorCase{
		{"unlicensed", "PGPU.disable_dom0_access", []any{g.pgpu}, []string{"FEATURE_RESTRICTED"}},
		{"bad ref", "PGPU.enable_dom0_access", []any{"OpaqueRef:bogus"}, []string{"HANDLE_INVALID", "PGPU", "OpaqueRef:bogus"}},
	})
	assert.Equal(t, "enabled", p.ok("PGPU.enable_dom0_access", g.pgpu), "enabling needs no licence")
}

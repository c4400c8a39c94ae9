package cluster_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

const gib = int64(1) << 30

// messages are the alerts of a name.
func (p *pool) messages(name string) []string {
	var out []string
	for _, m := range p.srv.Store.All("message") {
		if xapi.Str(m, "name") == name {
			out = append(out, m.Ref)
		}
	}
	return out
}

// haVM makes a diskless guest of the given memory, protected, running on host.
func (p *pool) haVM(name string, mem int64, host string) string {
	p.t.Helper()
	tmpl := p.first("VM", `field "name__label"="Other install media"`)
	vm := p.ok("VM.clone", tmpl, name).(string)
	p.ok("VM.set_is_a_template", vm, false)
	p.ok("VM.set_memory_limits", vm, mem, mem, mem, mem)
	p.ok("VM.set_ha_restart_priority", vm, "restart")
	p.ok("VM.start_on", vm, host, false, false)
	return vm
}

func TestHAEnableDisable(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 3, VMs: 0, MemoryGiB: 16})
	pool := p.first("pool", "true")
	hosts := p.where("host", "true")
	nfs := p.first("SR", `field "type"="nfs"`)
	local := p.first("SR", `field "type"="lvm"`)

	p.ok("pool.enable_ha", []any{}, map[string]any{"timeout": "60"})
	o := p.get("pool", pool)
	assert.True(t, xapi.Bool(o, "ha_enabled"))
	assert.Equal(t, map[string]string{"timeout": "60"}, xapi.StringMap(o, "ha_configuration"))
	assert.Equal(t, "xhad", xapi.Str(o, "ha_cluster_stack"))
	assert.False(t, xapi.Bool(o, "ha_overcommitted"))
	assert.Empty(t, xapi.Map(o, "current_operations"))
	statefiles := xapi.Refs(o, "ha_statefiles")
	require.Len(t, statefiles, 1)
	sf := p.get("VDI", statefiles[0])
	assert.Equal(t, "ha_statefile", xapi.Str(sf, "type"))
	assert.Equal(t, nfs, xapi.Str(sf, "SR"))
	redo := p.where("VDI", `field "type"="redo_log"`)
	require.Len(t, redo, 1)
	for _, h := range hosts {
		assert.Equal(t, statefiles, xapi.Refs(p.get("host", h), "ha_statefiles"))
		assert.Len(t, xapi.Refs(p.get("host", h), "ha_network_peers"), 3)
	}
	assert.NotEmpty(t, p.messages("IP_CONFIGURED_PIF_CAN_UNPLUG"), "eth1 has an IP and may be unplugged")

	// While HA is on.
	pbd := p.first("PBD", fmt.Sprintf(`field "SR"=%q and field "host"=%q`, nfs, hosts[1]))
	p.expectErrors([]errorCase{
		{"twice", "pool.enable_ha", []any{[]any{}, map[string]any{}}, []string{"HA_IS_ENABLED"}},
		{"unplug the statefile's SR", "PBD.unplug", []any{pbd}, []string{"HA_IS_ENABLED"}},
		{"eject", "pool.eject", []any{hosts[2]}, []string{"HA_IS_ENABLED"}},
	})

	p.ok("pool.disable_ha")
	o = p.get("pool", pool)
	assert.False(t, xapi.Bool(o, "ha_enabled"))
	assert.Equal(t, int64(0), xapi.Int(o, "ha_plan_exists_for"))
	// As xapi does, the VDIs stay and the next enable reuses them.
	p.ok("pool.enable_ha", []any{nfs}, map[string]any{})
	assert.Equal(t, statefiles, xapi.Refs(p.get("pool", pool), "ha_statefiles"))
	assert.Len(t, p.where("VDI", `field "type"="redo_log"`), 1)
	p.ok("pool.disable_ha")

	p.expectErrors([]errorCase{
		{"off", "pool.disable_ha", nil, []string{"HA_NOT_ENABLED"}},
		{"local SR", "pool.enable_ha", []any{[]any{local}, map[string]any{}}, []string{"SR_NO_PBDS", local}},
		{"bogus SR", "pool.enable_ha", []any{[]any{bogus}, map[string]any{}}, []string{"HANDLE_INVALID", "SR", bogus}},
	})

	p.restrict("restrict_ha", "true")
	p.expectErrors([]errorCase{{"unlicensed", "pool.enable_ha", []any{[]any{}, map[string]any{}}, []string{"LICENCE_RESTRICTION", "HA"}}})
	p.restrict("restrict_ha", "false")

	eth1 := p.pifOn(hosts[1], "eth1")
	p.setField("PIF", eth1, "disallow_unplug", true)
	p.setField("PIF", eth1, "currently_attached", false)
	p.expectErrors([]errorCase{{"PIF unplugged", "pool.enable_ha", []any{[]any{}, map[string]any{}}, []string{"REQUIRED_PIF_IS_UNPLUGGED", eth1}}})
	p.setField("PIF", eth1, "currently_attached", true)

	p.setField("PBD", pbd, "currently_attached", false)
	p.expectErrors([]errorCase{
		{"no usable SR", "pool.enable_ha", []any{[]any{}, map[string]any{}}, []string{"CANNOT_CREATE_STATE_FILE"}},
		{"SR unplugged somewhere", "pool.enable_ha", []any{[]any{nfs}, map[string]any{}}, []string{"SR_NO_PBDS", nfs}},
	})
	p.setField("PBD", pbd, "currently_attached", true)

	p.ok("host.disable", hosts[2])
	p.ok("host.shutdown", hosts[2])
	p.expectErrors([]errorCase{{"host down", "pool.enable_ha", []any{[]any{}, map[string]any{}}, []string{"HOST_OFFLINE", hosts[2]}}})
	assert.False(t, xapi.Bool(p.get("pool", pool), "ha_enabled"))
}

func TestHAPlanner(t *testing.T) {
	for _, tc := range []struct {
		name string
		mem  int64
		want int64
	}{
		{"fit on any two hosts", 4 * gib, 1},
		{"do not fit on two hosts", 7 * gib, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPool(t, cluster.Spec{Hosts: 3, VMs: 0, MemoryGiB: 16})
			pool := p.first("pool", "true")
			var vms []string
			for i, h := range p.where("host", "true") {
				vms = append(vms, p.haVM(fmt.Sprint("vm", i), tc.mem, h))
			}
			assert.Equal(t, fmt.Sprint(tc.want), fmt.Sprint(p.ok("pool.ha_compute_max_host_failures_to_tolerate")))
			assert.Equal(t, tc.want >= 1, p.ok("pool.ha_failover_plan_exists", int64(1)))
			assert.Equal(t, true, p.ok("pool.ha_failover_plan_exists", int64(0)))
			assert.Equal(t, "3", fmt.Sprint(p.ok("pool.ha_compute_hypothetical_max_host_failures_to_tolerate", map[string]any{})), "nothing to protect")
			assert.Equal(t, fmt.Sprint(tc.want), fmt.Sprint(p.ok("pool.ha_compute_hypothetical_max_host_failures_to_tolerate", map[string]any{vms[0]: "restart", vms[1]: "restart", vms[2]: "best-effort"})))

			p.ok("pool.set_ha_host_failures_to_tolerate", pool, tc.want)
			p.ok("pool.enable_ha", []any{}, map[string]any{})
			o := p.get("pool", pool)
			assert.Equal(t, tc.want, xapi.Int(o, "ha_plan_exists_for"))
			assert.False(t, xapi.Bool(o, "ha_overcommitted"))
			if tc.want == 1 {
				p.expectErrors([]errorCase{{"two failures", "pool.set_ha_host_failures_to_tolerate", []any{pool, int64(2)}, []string{"HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN"}}})
			}
			p.expectErrors([]errorCase{
				{"bad priority", "pool.ha_compute_hypothetical_max_host_failures_to_tolerate", []any{map[string]any{vms[0]: "always"}}, []string{"INVALID_VALUE", "ha_restart_priority", "always"}},
				{"bogus VM", "pool.ha_compute_hypothetical_max_host_failures_to_tolerate", []any{map[string]any{bogus: "restart"}}, []string{"HANDLE_INVALID", "VM", bogus}},
			})
			host0 := xapi.Str(p.get("VM", vms[0]), "resident_on")
			plan := p.ok("pool.ha_compute_vm_failover_plan", []any{host0}, []any{vms[0]}).(map[string]any)[vms[0]].(map[string]any)
			if tc.want == 1 {
				assert.NotEqual(t, host0, plan["host"])
				assert.NotEmpty(t, plan["host"])
			} else {
				assert.Equal(t, map[string]any{"error_code": "HOST_NOT_ENOUGH_FREE_MEMORY"}, plan)
			}
		})
	}
}

func TestHAFailover(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 3, VMs: 0, MemoryGiB: 16})
	pool := p.first("pool", "true")
	hosts := p.where("host", "true")
	var vms []string
	for i, h := range hosts {
		vms = append(vms, p.haVM(fmt.Sprint("vm", i), 4*gib, h))
	}
	// A best-effort VM on the host that goes down.
	tmpl := p.first("VM", `field "name__label"="Other install media"`)
	be := p.ok("VM.clone", tmpl, "best").(string)
	p.ok("VM.set_is_a_template", be, false)
	p.ok("VM.set_ha_restart_priority", be, "best-effort")
	p.ok("VM.start_on", be, hosts[2], false, false)
	p.ok("pool.set_ha_host_failures_to_tolerate", pool, int64(1))
	p.ok("pool.enable_ha", []any{}, map[string]any{})

	p.expectErrors([]errorCase{{"disabling a host loses the plan", "host.disable", []any{hosts[2]}, []string{"HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN"}}})
	p.ok("pool.set_ha_allow_overcommit", pool, true)
	p.ok("host.disable", hosts[2])
	p.expectErrors([]errorCase{{"destroy a live host", "host.destroy", []any{hosts[2]}, []string{"HOST_IS_LIVE", hosts[2]}}})
	p.ok("host.shutdown", hosts[2])
	for _, vm := range append([]string{vms[2], be}, vms[:2]...) {
		o := p.get("VM", vm)
		assert.Equal(t, "Running", xapi.Str(o, "power_state"), xapi.Str(o, "name_label"))
		assert.NotEqual(t, hosts[2], xapi.Str(o, "resident_on"), xapi.Str(o, "name_label"))
	}
	assert.True(t, xapi.Bool(p.get("VM", vms[2]), "ha_always_run"))
	assert.Empty(t, xapi.Refs(p.get("host", hosts[2]), "ha_statefiles"))
	assert.Empty(t, p.messages("HA_HOST_FAILED"), "a clean shutdown is no failure")
	o := p.get("pool", pool)
	assert.True(t, xapi.Bool(o, "ha_overcommitted"), "two hosts cannot survive another failure")
	assert.Equal(t, int64(0), xapi.Int(o, "ha_plan_exists_for"))
	assert.NotEmpty(t, p.messages("HA_POOL_OVERCOMMITTED"))
	p.expectErrors([]errorCase{{"destroy with HA on", "host.destroy", []any{hosts[2]}, []string{"HA_IS_ENABLED"}}})

	// Another host down: the three protected VMs do not fit on the last one.
	p.ok("host.disable", hosts[1])
	p.ok("host.shutdown", hosts[1])
	running := 0
	for _, vm := range vms {
		if o := p.get("VM", vm); xapi.Str(o, "power_state") == "Running" {
			running++
			assert.Equal(t, hosts[0], xapi.Str(o, "resident_on"))
		}
	}
	assert.Equal(t, 2, running, "the last host takes two of the three")
	assert.Len(t, p.messages("HA_PROTECTED_VM_RESTART_FAILED"), 1)
}

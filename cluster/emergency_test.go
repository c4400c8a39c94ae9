package cluster_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

func TestEmergencyCalls(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 4, VMs: 0})
	master := p.master()
	slaves := p.slaves(master)
	p.ok("host.disable", slaves[1])
	p.ok("host.shutdown", slaves[1])
	pool := p.first("pool", "true")

	// recover_slaves: the live slaves, in the reverse of the hosts' order.
	var want []any
	for _, h := range p.where("host", "true") {
		if h != master && h != slaves[1] {
			want = append(want, h)
		}
	}
	slices.Reverse(want)
	assert.Equal(t, want, p.ok("pool.recover_slaves"))

	p.expectErrors([]errorCase{
		{"not in emergency mode", "host.local_management_reconfigure", []any{"eth0"}, []string{"NOT_IN_EMERGENCY_MODE"}},
		{"HA off", "host.emergency_ha_disable", []any{false}, []string{"HA_NOT_ENABLED"}},
		{"unresolvable", "pool.emergency_reset_master", []any{"master.example.com"}, []string{"INTERNAL_ERROR", "Couldn't resolve hostname: master.example.com"}},
		{"demotion not simulated", "pool.emergency_reset_master", []any{"10.0.0.1"}, []string{"NOT_IMPLEMENTED", "pool.emergency_reset_master"}},
	})
	p.ok("host.emergency_ha_disable", true)
	p.ok("pool.emergency_transition_to_master")

	// With HA on, every host's HA is armed.
	p.setField("pool", pool, "ha_enabled", true)
	assert.Equal(t, []any{}, p.ok("pool.recover_slaves"))
	armed := []errorCase{
		{"transition", "pool.emergency_transition_to_master", nil, []string{"HA_IS_ENABLED"}},
		{"reset", "pool.emergency_reset_master", []any{"nowhere"}, []string{"HA_IS_ENABLED"}},
	}
	p.expectErrors(armed)
	// A soft disable stops the daemon and leaves HA armed.
	p.ok("host.emergency_ha_disable", true)
	p.expectErrors(armed)
	// A hard one disarms the coordinator alone; the database still says HA is on.
	p.ok("host.emergency_ha_disable", false)
	assert.True(t, xapi.Bool(p.get("pool", pool), "ha_enabled"))
	assert.Equal(t, []any{}, p.ok("pool.recover_slaves"), "the slaves stay armed")
	p.ok("pool.emergency_transition_to_master")
	p.ok("host.emergency_ha_disable", true)
	p.expectErrors([]errorCase{
		{"disarmed", "host.emergency_ha_disable", []any{false}, []string{"HA_NOT_ENABLED"}},
		{"disarmed: reset", "pool.emergency_reset_master", []any{"nowhere"}, []string{"INTERNAL_ERROR", "Couldn't resolve hostname: nowhere"}},
	})
}

// Enabling HA arms the coordinator again.
func TestEmergencyHADisableThenEnable(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 3, VMs: 0})
	nfs := p.first("SR", `field "type"="nfs"`)
	p.ok("pool.enable_ha", []any{nfs}, map[string]any{})
	p.ok("host.emergency_ha_disable", false)
	p.ok("pool.emergency_transition_to_master")
	p.ok("pool.disable_ha")
	p.ok("pool.enable_ha", []any{nfs}, map[string]any{})
	p.expectErrors([]errorCase{
		{"armed again", "pool.emergency_transition_to_master", nil, []string{"HA_IS_ENABLED"}},
	})
}

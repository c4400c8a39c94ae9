package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

func TestPoolLicenseAndHA(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	pool := p.first("pool", "true")
	assert.Equal(t, map[string]any{"edition": "xcp-ng", "expiry": "30000101T00:00:00Z"}, p.ok("pool.get_license_state", pool))

	p.ok("pool.set_ha_host_failures_to_tolerate", pool, int64(1))
	o := p.get("pool", pool)
	assert.Equal(t, int64(1), xapi.Int(o, "ha_host_failures_to_tolerate"))
	assert.Equal(t, int64(1), xapi.Int(o, "ha_plan_exists_for"), "nothing to protect: a plan exists")
	assert.Equal(t, false, xapi.Bool(o, "ha_overcommitted"))
	p.ok("pool.set_ha_host_failures_to_tolerate", pool, int64(0))

	p.expectErrors([]errorCase{
		{"HA is off", "pool.disable_ha", nil, []string{"HA_NOT_ENABLED"}},
		{"negative", "pool.set_ha_host_failures_to_tolerate", []any{pool, int64(-1)}, []string{"INVALID_VALUE", "ha_host_failures_to_tolerate", "-1"}},
		{"bad pool", "pool.set_ha_host_failures_to_tolerate", []any{"OpaqueRef:nope", int64(1)}, []string{"HANDLE_INVALID", "pool", "OpaqueRef:nope"}},
		{"bad pool licence", "pool.get_license_state", []any{"OpaqueRef:nope"}, []string{"HANDLE_INVALID", "pool", "OpaqueRef:nope"}},
	})
}

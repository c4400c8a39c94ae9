package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

func TestTLSVerification(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 3, VMs: 0})
	pool := p.first("pool", "true")
	master := p.master()
	other := p.otherHost(master)
	hostsVerify := func() []bool {
		var out []bool
		for _, h := range p.where("host", "true") {
			out = append(out, xapi.Bool(p.get("host", h), "tls_verification_enabled"))
		}
		return out
	}

	p.expectErrors([]errorCase{
		{"reenable before the pool has it", "host.emergency_reenable_tls_verification", nil, []string{"TLS_VERIFICATION_NOT_ENABLED_IN_POOL"}},
	})
	p.setField("pool", pool, "ha_enabled", true)
	p.expectErrors([]errorCase{{"HA on", "pool.enable_tls_verification", nil, []string{"HA_IS_ENABLED"}}})
	p.setField("pool", pool, "ha_enabled", false)

	p.ok("host.set_power_on_mode", other, "wake-on-lan", map[string]any{})
	p.ok("host.disable", other)
	p.ok("host.shutdown", other)
	p.expectErrors([]errorCase{{"a host down", "pool.enable_tls_verification", nil, []string{"HOST_OFFLINE", other}}})
	assert.False(t, xapi.Bool(p.get("pool", pool), "tls_verification_enabled"))
	assert.Equal(t, []bool{false, false, false}, hostsVerify())
	p.ok("host.power_on", other)

	p.ok("pool.enable_tls_verification")
	assert.True(t, xapi.Bool(p.get("pool", pool), "tls_verification_enabled"))
	assert.True(t, xapi.Bool(p.get("pool", pool), "wlb_verify_cert"))
	assert.Equal(t, []bool{true, true, true}, hostsVerify())
	assert.Empty(t, xapi.Map(p.get("pool", pool), "current_operations"))
	p.ok("pool.enable_tls_verification") // idempotent

	p.ok("host.emergency_disable_tls_verification")
	assert.False(t, xapi.Bool(p.get("host", master), "tls_verification_enabled"))
	assert.True(t, xapi.Bool(p.get("host", other), "tls_verification_enabled"))
	p.ok("host.emergency_reenable_tls_verification")
	assert.True(t, xapi.Bool(p.get("host", master), "tls_verification_enabled"))
}

func TestClientCertificateAuth(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 0})
	pool := p.first("pool", "true")
	p.ok("pool.enable_client_certificate_auth", pool, "client.example")
	assert.Equal(t, true, p.ok("pool.get_client_certificate_auth_enabled", pool))
	assert.Equal(t, "client.example", p.ok("pool.get_client_certificate_auth_name", pool))
	p.ok("pool.disable_client_certificate_auth", pool)
	assert.Equal(t, false, p.ok("pool.get_client_certificate_auth_enabled", pool))
	assert.Equal(t, "", p.ok("pool.get_client_certificate_auth_name", pool))
	p.expectErrors([]errorCase{
		{"enable bogus", "pool.enable_client_certificate_auth", []any{bogus, "x"}, []string{"HANDLE_INVALID", "pool", bogus}},
		{"disable bogus", "pool.disable_client_certificate_auth", []any{bogus}, []string{"HANDLE_INVALID", "pool", bogus}},
	})
}

package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

func TestExternalAuth(t *testing.T) {
	p, master, up, down := downHost(t)
	pool := p.first("pool", "true")
	join := map[string]any{"user": "administrator", "pass": "pw"}
	const nonHomo = "EXTAUTH_IN_POOL_IS_NON_HOMOGENEOUS"

	p.expectErrors([]errorCase{
		{"bad host", "host.enable_external_auth", []any{"OpaqueRef:nope", join, "corp", "AD"}, []string{"HANDLE_INVALID", "host", "OpaqueRef:nope"}},
		{"host down", "host.enable_external_auth", []any{down, join, "corp", "AD"}, []string{"HOST_OFFLINE", down}},
		{"empty type", "host.enable_external_auth", []any{up, join, "corp", ""}, []string{"AUTH_UNKNOWN_TYPE", ""}},
		{"unknown type", "host.enable_external_auth", []any{up, join, "corp", "LDAP"}, []string{"AUTH_UNKNOWN_TYPE", "LDAP"}},
		{"AD without user", "host.enable_external_auth", []any{up, map[string]any{"pass": "x"}, "corp", "AD"}, []string{"AUTH_ENABLE_FAILED", "enable requires user"}},
		{"AD without pass", "host.enable_external_auth", []any{up, map[string]any{"user": "x"}, "corp", "AD"}, []string{"AUTH_ENABLE_FAILED", "enable requires pass"}},
		{"pool: bad ref", "pool.enable_external_auth", []any{"OpaqueRef:nope", join, "corp", "AD"}, []string{"HANDLE_INVALID", "pool", "OpaqueRef:nope"}},
		{"pool: a host is down", "pool.enable_external_auth", []any{pool, join, "corp", "AD"}, []string{"POOL_AUTH_ENABLE_FAILED", down, "HOST_OFFLINE: [ " + down + " ]"}},
	})
	assert.Equal(t, "", xapi.Str(p.get("host", master), "external_auth_type"), "a failed pool enable changes no host")

	// One slave enabled alone: the pool is not homogeneous.
	p.ok("host.enable_external_auth", up, join, "corp", "AD")
	h := p.get("host", up)
	assert.Equal(t, "AD", xapi.Str(h, "external_auth_type"))
	assert.Equal(t, "corp", xapi.Str(h, "external_auth_service_name"))
	assert.Equal(t, map[string]any{"domain": "corp", "user": "administrator"}, xapi.Map(h, "external_auth_configuration"), "the password is not kept")
	assert.Len(t, p.messages(nonHomo), 1)
	_, err := p.call("host.enable_external_auth", up, join, "other", "PAM")
	assert.Equal(t, []string{"AUTH_ALREADY_ENABLED", "AD", "corp"}, err)
	_, err = p.call("pool.enable_external_auth", pool, join, "corp", "AD")
	assert.Equal(t, []string{"POOL_AUTH_ALREADY_ENABLED", up}, err)
	p.ok("pool.detect_nonhomogeneous_external_auth", pool)
	assert.Len(t, p.messages(nonHomo), 2, "the coordinator's check looks at every slave")

	p.ok("host.disable_external_auth", up, map[string]any{})
	p.ok("host.disable_external_auth", up, map[string]any{}) // already off: nothing to do
	_, err = p.call("host.disable_external_auth", down, map[string]any{})
	assert.Equal(t, []string{"HOST_OFFLINE", down}, err)
	_, err = p.call("pool.disable_external_auth", pool, map[string]any{})
	assert.Equal(t, []string{"POOL_AUTH_DISABLE_FAILED", down, xapi.Str(p.get("host", down), "name_label") + ": " + down}, err,
		"a host that is down fails the pool's disable")
	assert.Equal(t, "", xapi.Str(p.get("host", up), "external_auth_type"))
}

func TestPoolExternalAuth(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	pool := p.first("pool", "true")
	master, slave := p.master(), p.slaves(p.master())[0]
	p.ok("pool.enable_external_auth", pool, map[string]any{}, "", "PAM")
	for _, h := range []string{master, slave} {
		assert.Equal(t, "PAM", xapi.Str(p.get("host", h), "external_auth_type"))
	}
	assert.Empty(t, p.messages("EXTAUTH_IN_POOL_IS_NON_HOMOGENEOUS"))
	p.ok("pool.disable_external_auth", pool, map[string]any{})
	for _, h := range []string{master, slave} {
		assert.Equal(t, "", xapi.Str(p.get("host", h), "external_auth_type"))
	}

	_, err := p.call("pool.enable_external_auth", pool, map[string]any{}, "corp", "AD")
	assert.Equal(t, []string{"POOL_AUTH_ENABLE_FAILED", master, "enable requires user"}, err)
	_, err = p.call("pool.enable_external_auth", pool, map[string]any{}, "corp", "Kerberos")
	assert.Equal(t, []string{"AUTH_UNKNOWN_TYPE", "Kerberos"}, err)

	p.setField("host", slave, "hostname", xapi.Str(p.get("host", master), "hostname"))
	_, err = p.call("pool.enable_external_auth", pool, map[string]any{}, "corp", "PAM")
	assert.Equal(t, []string{"POOL_AUTH_ENABLE_FAILED_DUPLICATE_HOSTNAME", master, "At least two hosts in the pool have the same hostname"}, err)
}

package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

const bogusHost = "OpaqueRef:bogus-host"

func TestHostMiscErrors(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 4})
	master := p.master()
	other := p.otherHost(master)
	localSR := p.first("SR", `field "type"="lvm"`)
	p.expectErrors([]errorCase{
		{"capabilities of a bogus host", "host.get_system_status_capabilities", []any{bogusHost}, []string{"HANDLE_INVALID", "host", bogusHost}},
		{"extension of a bogus host", "host.has_extension", []any{bogusHost, "x"}, []string{"HANDLE_INVALID", "host", bogusHost}},
		{"upload from a bogus host", "host.bugreport_upload", []any{bogusHost, "", map[string]any{}}, []string{"HANDLE_INVALID", "host", bogusHost}},
		{"upload without a URL", "host.bugreport_upload", []any{master, "", map[string]any{}}, []string{"INVALID_VALUE", "url", ""}},
		{"pack info of a bogus host", "host.refresh_pack_info", []any{bogusHost}, []string{"HANDLE_INVALID", "host", bogusHost}},
		{"cache on a bogus host", "host.enable_local_storage_caching", []any{bogusHost, localSR}, []string{"HANDLE_INVALID", "host", bogusHost}},
		{"cache on an enabled host", "host.enable_local_storage_caching", []any{master, localSR}, []string{"HOST_NOT_DISABLED"}},
		{"uncache an enabled host", "host.disable_local_storage_caching", []any{master}, []string{"HOST_NOT_DISABLED"}},
		{"uncache a bogus host", "host.disable_local_storage_caching", []any{bogusHost}, []string{"HANDLE_INVALID", "host", bogusHost}},
	})
	hosts := p.where("host", "true")
	_, err := p.call("pool.enable_local_storage_caching", p.first("pool", "true"))
	assert.Equal(t, append([]string{"HOSTS_FAILED_TO_ENABLE_CACHING"}, hosts...), err, "no SR driver offers caching")
	_, err = p.call("pool.disable_local_storage_caching", p.first("pool", "true"))
	assert.Equal(t, append([]string{"HOSTS_FAILED_TO_DISABLE_CACHING"}, hosts...), err, "enabled hosts")

	// A disabled host still running guests is in use.
	p.ok("host.disable", master)
	running := p.first("VM", `field "resident_on"="`+master+`" and field "power_state"="Running" and field "is_control_domain"="false"`)
	p.expectErrors([]errorCase{
		{"cache on a host in use", "host.enable_local_storage_caching", []any{master, localSR}, []string{"HOST_IN_USE", master, "vm", running}},
	})

	p.ok("host.disable", other)
	p.ok("host.shutdown", other)
	p.expectErrors([]errorCase{
		{"capabilities of a host down", "host.get_system_status_capabilities", []any{other}, []string{"HOST_OFFLINE", other}},
		{"extension of a host down", "host.has_extension", []any{other, "x"}, []string{"HOST_OFFLINE", other}},
		{"upload from a host down", "host.bugreport_upload", []any{other, "https://example.com/up", map[string]any{}}, []string{"HOST_OFFLINE", other}},
		{"pack info of a host down", "host.refresh_pack_info", []any{other}, []string{"HOST_OFFLINE", other}},
		{"cache on a host down", "host.enable_local_storage_caching", []any{other, localSR}, []string{"HOST_OFFLINE", other}},
	})
}

func TestHostMisc(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 0})
	host, pool := p.master(), p.first("pool", "true")
	caps := p.ok("host.get_system_status_capabilities", host).(string)
	assert.Contains(t, caps, `<system-status-capabilities version="1">`)
	assert.Contains(t, caps, `key="xenserver-logs"`)
	assert.Equal(t, false, p.ok("host.has_extension", host, "Test.test"))
	assert.Equal(t, false, p.ok("pool.has_extension", pool, "Test.test"))
	p.ok("host.shutdown_agent")
	p.ok("host.bugreport_upload", host, "https://example.com/up", map[string]any{"http_proxy": "http://proxy:3128"})
	p.ok("host.refresh_pack_info", host)

	// Local caching on the host's own SR once its driver offers it, the host disabled.
	localSR := p.first("SR", `field "type"="lvm" and field "shared"="false"`)
	nfs := p.first("SR", `field "type"="nfs"`)
	p.ok("host.disable", host)
	p.expectErrors([]errorCase{
		{"driver without caching", "host.enable_local_storage_caching", []any{host, localSR}, []string{"SR_OPERATION_NOT_SUPPORTED"}},
		{"shared SR", "host.enable_local_storage_caching", []any{host, nfs}, []string{"SR_OPERATION_NOT_SUPPORTED"}},
		{"bogus SR", "host.enable_local_storage_caching", []any{host, bogusSR}, []string{"HANDLE_INVALID", "SR", bogusSR}},
	})
	sm := p.first("SM", `field "type"="lvm"`)
	p.edit("SM", sm, "features", func(old any) any {
		m := xapi.CopyMap(old.(map[string]any))
		m["SR_SUPPORTS_LOCAL_CACHING"] = int64(1)
		return m
	})
	p.ok("host.enable_local_storage_caching", host, localSR)
	assert.Equal(t, localSR, p.ok("host.get_local_cache_sr", host))
	assert.Equal(t, true, p.ok("SR.get_local_cache_enabled", localSR))
	p.ok("host.disable_local_storage_caching", host)
	assert.Equal(t, "OpaqueRef:NULL", p.ok("host.get_local_cache_sr", host))
	assert.Equal(t, false, p.ok("SR.get_local_cache_enabled", localSR))
	p.ok("pool.enable_local_storage_caching", pool)
	assert.Equal(t, localSR, p.ok("host.get_local_cache_sr", host))
	p.ok("pool.disable_local_storage_caching", pool)
	assert.Equal(t, false, p.ok("SR.get_local_cache_enabled", localSR))
}

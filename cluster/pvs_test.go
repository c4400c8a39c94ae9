package cluster_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

func TestPVS(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 6})
	master := p.ok("pool.get_master", p.first("pool", "true")).(string)
	running := p.first("VM", `field "power_state"="Running" and field "is_control_domain"="false"`)
	host := p.ok("VM.get_resident_on", running).(string)
	vifs := p.ok("VM.get_VIFs", running).([]any)
	require.Len(t, vifs, 1)
	vif0 := vifs[0].(string)
	require.Equal(t, "0", p.ok("VIF.get_device", vif0))
	require.Equal(t, true, p.ok("VIF.get_currently_attached", vif0))
	vif1 := p.put("VIF", "VM", running, "device", "1", "network", p.ok("VIF.get_network", vif0), "currently_attached", true)

	site := p.ok("PVS_site.introduce", "farm", "d", "pvs-1").(string)
	rec := p.ok("PVS_site.get_record", site).(map[string]any)
	assert.Equal(t, "farm", rec["name_label"])
	assert.Equal(t, "pvs-1", rec["PVS_uuid"])
	p.ok("PVS_site.set_PVS_uuid", site, "pvs-2")
	assert.Equal(t, "pvs-2", p.ok("PVS_site.get_PVS_uuid", site))

	server := p.ok("PVS_server.introduce", []any{"10.0.2.1", "fd00::1", "10.0.2.1"}, int64(6890), int64(6909), site).(string)
	srec := p.ok("PVS_server.get_record", server).(map[string]any)
	assert.Equal(t, []any{"10.0.2.1", "fd00::1"}, srec["addresses"])
	assert.Equal(t, json.Number("6890"), srec["first_port"])
	assert.Equal(t, []any{server}, p.ok("PVS_site.get_servers", site))

	p.expectErrors([]errorCase{
		{"bad address", "PVS_server.introduce", []any{[]any{"10.0.2.300"}, int64(1), int64(2), site}, []string{"INVALID_IP_ADDRESS_SPECIFIED", "addresses"}},
		{"address in use", "PVS_server.introduce", []any{[]any{"10.0.2.2", "fd00::1"}, int64(1), int64(2), site}, []string{"PVS_SERVER_ADDRESS_IN_USE", "fd00::1"}},
		{"port 0", "PVS_server.introduce", []any{[]any{"10.0.2.2"}, int64(0), int64(2), site}, []string{"VALUE_NOT_SUPPORTED", "first_port", "0", "Port out of range"}},
		{"port too high", "PVS_server.introduce", []any{[]any{"10.0.2.2"}, int64(1), int64(65536), site}, []string{"VALUE_NOT_SUPPORTED", "last_port", "65536", "Port out of range"}},
		{"ports reversed", "PVS_server.introduce", []any{[]any{"10.0.2.2"}, int64(9), int64(2), site}, []string{"VALUE_NOT_SUPPORTED", "last_port", "2", "last_port smaller than first_port"}},
		{"no site", "PVS_server.introduce", []any{[]any{"10.0.2.2"}, int64(1), int64(2), "OpaqueRef:bogus"}, []string{"INVALID_VALUE", "site", "OpaqueRef:bogus"}},
		{"proxy on a second VIF", "PVS_proxy.create", []any{site, vif1}, []string{"PVS_VIF_MUST_BE_FIRST_DEVICE"}},
		{"proxy without a site", "PVS_proxy.create", []any{"OpaqueRef:bogus", vif0}, []string{"INVALID_VALUE", "site", "OpaqueRef:bogus"}},
		{"proxy without a VIF", "PVS_proxy.create", []any{site, "OpaqueRef:bogus"}, []string{"HANDLE_INVALID", "VIF", "OpaqueRef:bogus"}},
		{"site with a server", "PVS_site.forget", []any{site}, []string{"PVS_SITE_CONTAINS_SERVERS", server}},
	})

	// Without cache storage on the VM's host the proxy stays stopped, with an alert.
	proxy := p.ok("PVS_proxy.create", site, vif0).(string)
	prec := p.ok("PVS_proxy.get_record", proxy).(map[string]any)
	assert.Equal(t, false, prec["currently_attached"])
	assert.Equal(t, "stopped", prec["status"])
	msgs := messagesNamed(p, "PVS_PROXY_NO_CACHE_SR_AVAILABLE")
	require.Len(t, msgs, 1)
	assert.Equal(t, prec["uuid"], xapi.Str(p.get("message", msgs[0]), "obj_uuid"))
	assert.Equal(t, "PVS_proxy", xapi.Str(p.get("message", msgs[0]), "cls"))
	p.expectErrors([]errorCase{{"one proxy per VIF", "PVS_proxy.create", []any{site, vif0}, []string{"PVS_PROXY_ALREADY_PRESENT", proxy}}})
	p.ok("PVS_proxy.destroy", proxy)

	// With cache storage there, it starts.
	p.put("PVS_cache_storage", "host", host, "site", site, "SR", p.first("SR", `field "type"="nfs"`), "size", int64(20<<30))
	proxy = p.ok("PVS_proxy.create", site, vif0).(string)
	prec = p.ok("PVS_proxy.get_record", proxy).(map[string]any)
	assert.Equal(t, true, prec["currently_attached"])
	assert.Equal(t, "initialised", prec["status"])
	p.expectErrors([]errorCase{
		{"forget with a running proxy", "PVS_site.forget", []any{site}, []string{"PVS_SITE_CONTAINS_RUNNING_PROXIES", proxy}},
		{"new PVS uuid with a running proxy", "PVS_site.set_PVS_uuid", []any{site, "x"}, []string{"PVS_SITE_CONTAINS_RUNNING_PROXIES", proxy}},
	})
	p.ok("PVS_proxy.destroy", proxy)
	p.ok("PVS_server.forget", server)
	p.ok("PVS_site.forget", site)
	assert.Empty(t, p.ok("PVS_cache_storage.get_all"))
	p.expectErrors([]errorCase{
		{"forgotten", "PVS_site.forget", []any{site}, []string{"HANDLE_INVALID", "PVS_site", site}},
		{"server forgotten", "PVS_server.forget", []any{server}, []string{"HANDLE_INVALID", "PVS_server", server}},
		{"proxy gone", "PVS_proxy.destroy", []any{proxy}, []string{"HANDLE_INVALID", "PVS_proxy", proxy}},
	})

	// A site without servers: the proxy does not start.
	site = p.ok("PVS_site.introduce", "empty", "", "").(string)
	proxy = p.ok("PVS_proxy.create", site, vif0).(string)
	assert.Equal(t, false, p.ok("PVS_proxy.get_currently_attached", proxy))
	assert.Len(t, messagesNamed(p, "PVS_PROXY_NO_SERVER_AVAILABLE"), 1)

	// Licence, then the network backend.
	p.restrict("restrict_pvs_proxy", "true")
	p.expectErrors([]errorCase{
		{"unlicensed site", "PVS_site.introduce", []any{"x", "", ""}, []string{"LICENCE_RESTRICTION", "PVS_proxy"}},
		{"unlicensed server", "PVS_server.introduce", []any{[]any{}, int64(1), int64(2), site}, []string{"LICENCE_RESTRICTION", "PVS_proxy"}},
	})
	p.restrict("restrict_pvs_proxy", "false")
	p.edit("host", master, "software_version", func(old any) any {
		m := xapi.CopyMap(old.(map[string]any))
		m["network_backend"] = "bridge"
		return m
	})
	p.expectErrors([]errorCase{
		{"bridge backend", "PVS_site.introduce", []any{"x", "", ""}, []string{"OPENVSWITCH_NOT_ACTIVE"}},
		{"bridge backend for a proxy", "PVS_proxy.create", []any{site, vif1}, []string{"OPENVSWITCH_NOT_ACTIVE"}},
	})
}

package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

func TestTunnel(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2})
	master := p.ok("pool.get_master", p.first("pool", "true")).(string)
	eth1 := p.first("PIF", `field "host"="`+master+`" and field "device"="eth1"`)
	eth0 := p.first("PIF", `field "host"="`+master+`" and field "device"="eth0"`)
	net := p.ok("network.create", newNet("overlay", int64(1450))).(string)

	tunnel := p.ok("tunnel.create", eth1, net, "vxlan").(string)
	rec := p.ok("tunnel.get_record", tunnel).(map[string]any)
	assert.Equal(t, eth1, rec["transport_PIF"])
	assert.Equal(t, map[string]any{"active": "false"}, rec["status"])
	assert.Equal(t, "vxlan", rec["protocol"])
	access := rec["access_PIF"].(string)
	pif := p.ok("PIF.get_record", access).(map[string]any)
	assert.Equal(t, "tunnel0", pif["device"])
	assert.Equal(t, net, pif["network"])
	assert.Equal(t, master, pif["host"])
	assert.Equal(t, true, pif["currently_attached"])
	assert.Equal(t, false, pif["physical"])
	assert.Equal(t, p.ok("PIF.get_metrics", eth1), pif["metrics"], "the transport PIF's metrics")
	assert.Equal(t, []any{tunnel}, p.ok("PIF.get_tunnel_transport_PIF_of", eth1))
	assert.Equal(t, []any{tunnel}, p.ok("PIF.get_tunnel_access_PIF_of", access))

	// A second tunnel on the same host gets the next device.
	net2 := p.ok("network.create", newNet("overlay2", 1500)).(string)
	second := p.ok("tunnel.create", eth0, net2, "gre").(string)
	assert.Equal(t, "tunnel1", p.ok("PIF.get_device", p.ok("tunnel.get_access_PIF", second)))

	p.ok("tunnel.destroy", tunnel)
	assert.Nil(t, p.srv.Store.Get("PIF", access))
	assert.NotNil(t, p.srv.Store.Get("PIF_metrics", xapi.Str(p.get("PIF", eth1), "metrics")))
	assert.Empty(t, p.ok("PIF.get_tunnel_transport_PIF_of", eth1))
}

func TestTunnelErrors(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2})
	master := p.ok("pool.get_master", p.first("pool", "true")).(string)
	eth1 := p.first("PIF", `field "host"="`+master+`" and field "device"="eth1"`)
	storage := p.ok("PIF.get_network", eth1).(string)
	net := p.ok("network.create", newNet("overlay", 1500)).(string)
	unmanaged := p.ok("network.create", newNet("unmanaged", 1500, "managed", false)).(string)
	tunnel := p.ok("tunnel.create", eth1, net, "gre").(string)
	access := p.ok("tunnel.get_access_PIF", tunnel).(string)
	other := p.ok("network.create", newNet("other", 1500)).(string)

	p.expectErrors([]errorCase{
		{"bogus network", "tunnel.create", []any{"OpaqueRef:bogus", "OpaqueRef:bogus", "gre"}, []string{"HANDLE_INVALID", "network", "OpaqueRef:bogus"}},
		{"bogus PIF", "tunnel.create", []any{"OpaqueRef:bogus", net, "gre"}, []string{"HANDLE_INVALID", "PIF", "OpaqueRef:bogus"}},
		{"unmanaged network", "tunnel.create", []any{eth1, unmanaged, "gre"}, []string{"NETWORK_UNMANAGED", unmanaged}},
		{"network already on the host", "tunnel.create", []any{eth1, storage, "gre"}, []string{"NETWORK_ALREADY_CONNECTED", master, eth1}},
		{"over an access PIF", "tunnel.create", []any{access, other, "gre"}, []string{"IS_TUNNEL_ACCESS_PIF", access}},
		{"bogus tunnel", "tunnel.destroy", []any{"OpaqueRef:bogus"}, []string{"HANDLE_INVALID", "tunnel", "OpaqueRef:bogus"}},
	})

	// The transport PIF needs an IP configuration; xapi keeps the tunnel it made.
	p.ok("PIF.reconfigure_ip", eth1, "None", "", "", "", "")
	_, err := p.call("tunnel.create", eth1, other, "gre")
	assert.Equal(t, []string{"TRANSPORT_PIF_NOT_CONFIGURED", eth1}, err)
	left := p.ok("PIF.get_tunnel_transport_PIF_of", eth1).([]any)
	require.Len(t, left, 2)

	// An access PIF in use by a running VM's VIF cannot go.
	vm := p.first("VM", `field "is_control_domain"="true" and field "resident_on"="`+master+`"`)
	vif := p.ok("VIF.create", record("device", "9", "network", net, "VM", vm, "MAC", "", "MTU", int64(1500),
		"other_config", map[string]any{}, "qos_algorithm_type", "", "qos_algorithm_params", map[string]any{},
		"locking_mode", "network_default", "ipv4_allowed", []any{}, "ipv6_allowed", []any{}, "currently_attached", false)).(string)
	p.edit("VIF", vif, "currently_attached", func(any) any { return true })
	p.expectErrors([]errorCase{{"VIF in use", "tunnel.destroy", []any{tunnel}, []string{"VIF_IN_USE", net, vif}}})

	// Every host must use Open vSwitch.
	p.edit("host", master, "software_version", func(old any) any {
		m := xapi.CopyMap(old.(map[string]any))
		m["network_backend"] = "bridge"
		return m
	})
	p.ok("PIF.reconfigure_ip", eth1, "DHCP", "", "", "", "")
	fresh := p.ok("network.create", newNet("fresh", 1500)).(string)
	p.expectErrors([]errorCase{{"Linux bridge", "tunnel.create", []any{eth1, fresh, "gre"}, []string{"OPENVSWITCH_NOT_ACTIVE"}}})
}

// newNet is a network.create record.
func newNet(label string, mtu int64, more ...any) map[string]any {
	return record(append([]any{"name_label", label, "name_description", "", "MTU", mtu, "other_config", map[string]any{}}, more...)...)
}

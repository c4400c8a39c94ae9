package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

const bogusPIF = "OpaqueRef:bogus-pif"

// TestPIFConfigErrors: every refusal of the PIF settings, as xapi words it, forwarding
// checks first.
func TestPIFConfigErrors(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	master := p.master()
	other := p.otherHost(master)
	mgmt, eth1 := p.pifOn(master, "eth0"), p.pifOn(master, "eth1")
	down := p.pifOn(other, "eth1")
	unmanaged := p.pifOn(other, "eth0")
	p.setField("PIF", unmanaged, "managed", false)
	vlanNet := p.ok("network.create", record("name_label", "v", "name_description", "", "MTU", int64(1500), "other_config", map[string]any{})).(string)
	vlan := p.ok("VLAN.create", eth1, int64(10), vlanNet).(string)
	tagged := xapi.Str(p.get("VLAN", vlan), "untagged_PIF")
	p.ok("PIF.reconfigure_ipv6", eth1, "Static", "fd00::5/64", "", "")
	p.setField("PIF", eth1, "primary_address_type", "IPv6")
	p.setField("PIF", eth1, "management", true)
	ipv6Mgmt := eth1

	p.expectErrors([]errorCase{
		{"property of a bogus PIF", "PIF.set_property", []any{bogusPIF, "mtu", "9000"}, []string{"HANDLE_INVALID", "PIF", bogusPIF}},
		{"unknown property", "PIF.set_property", []any{mgmt, "mtu", "9000"}, []string{"INVALID_VALUE", "properties", "mtu = 9000"}},
		{"bad gro value", "PIF.set_property", []any{mgmt, "gro", "yes"}, []string{"INVALID_VALUE", "properties", "gro = yes"}},
		{"property of a VLAN PIF", "PIF.set_property", []any{tagged, "gro", "off"}, []string{"CANNOT_CHANGE_PIF_PROPERTIES", tagged}},
		{"address type of a bogus PIF", "PIF.set_primary_address_type", []any{bogusPIF, "IPv6"}, []string{"HANDLE_INVALID", "PIF", bogusPIF}},
		{"address type of the management PIF", "PIF.set_primary_address_type", []any{mgmt, "IPv6"}, []string{"PIF_IS_MANAGEMENT_INTERFACE", mgmt}},
		{"IPv6 of a bogus PIF", "PIF.reconfigure_ipv6", []any{bogusPIF, "None", "", "", ""}, []string{"HANDLE_INVALID", "PIF", bogusPIF}},
		{"IPv6 of an unmanaged PIF", "PIF.reconfigure_ipv6", []any{unmanaged, "None", "", "", ""}, []string{"PIF_UNMANAGED", unmanaged}},
		{"IPv4 gateway", "PIF.reconfigure_ipv6", []any{mgmt, "Static", "fd00::1/64", "10.0.0.1", ""}, []string{"INVALID_IP_ADDRESS_SPECIFIED", "gateway"}},
		{"gateway checked before the address", "PIF.reconfigure_ipv6", []any{mgmt, "Static", "nonsense", "nonsense", ""}, []string{"INVALID_IP_ADDRESS_SPECIFIED", "gateway"}},
		{"address without a prefix", "PIF.reconfigure_ipv6", []any{mgmt, "Static", "fd00::1", "fd00::fffe", ""}, []string{"INVALID_CIDR_ADDRESS_SPECIFIED", "IPv6"}},
		{"IPv4 address", "PIF.reconfigure_ipv6", []any{mgmt, "Static", "10.0.0.5/24", "", ""}, []string{"INVALID_CIDR_ADDRESS_SPECIFIED", "IPv6"}},
		{"prefix too long", "PIF.reconfigure_ipv6", []any{mgmt, "Static", "fd00::1/129", "", ""}, []string{"INVALID_CIDR_ADDRESS_SPECIFIED", "IPv6"}},
		{"no IPv6 on an IPv6 management PIF", "PIF.reconfigure_ipv6", []any{ipv6Mgmt, "None", "", "", ""}, []string{"PIF_IS_MANAGEMENT_INTERFACE", ipv6Mgmt}},
		{"forget a bogus PIF", "PIF.db_forget", []any{bogusPIF}, []string{"HANDLE_INVALID", "PIF", bogusPIF}},
		{"VLAN on a bogus network", "PIF.db_introduce", introduceArgs("eth9", "OpaqueRef:nonet", master, 5),
			[]string{"HANDLE_INVALID", "network", "OpaqueRef:nonet"}},
	})

	p.ok("host.disable", other)
	p.ok("host.shutdown", other)
	p.expectErrors([]errorCase{
		{"property on a host down", "PIF.set_property", []any{down, "mtu", "9000"}, []string{"HOST_OFFLINE", other}},
		{"address type on a host down", "PIF.set_primary_address_type", []any{down, "IPv6"}, []string{"HOST_OFFLINE", other}},
		{"IPv6 on a host down", "PIF.reconfigure_ipv6", []any{down, "None", "", "", ""}, []string{"HOST_OFFLINE", other}},
	})

	// With HA on, an attached PIF keeps its addresses; DNS alone may change.
	p.setField("pool", p.first("pool", "true"), "ha_enabled", true)
	p.expectErrors([]errorCase{
		{"address type with HA", "PIF.set_primary_address_type", []any{mgmt, "IPv4"}, []string{"HA_IS_ENABLED"}},
		{"IPv6 with HA", "PIF.reconfigure_ipv6", []any{ipv6Mgmt, "Static", "fd00::6/64", "", ""}, []string{"HA_IS_ENABLED"}},
	})
	p.ok("PIF.reconfigure_ipv6", ipv6Mgmt, "Static", "fd00::5/64", "", "fd00::53")
	p.setField("pool", p.first("pool", "true"), "ha_enabled", false)
	p.setField("pool", p.first("pool", "true"), "redo_log_enabled", true)
	p.expectErrors([]errorCase{
		{"IPv6 with the redo log", "PIF.reconfigure_ipv6", []any{ipv6Mgmt, "DHCP", "", "", ""}, []string{"REDO_LOG_IS_ENABLED"}},
	})
}

// introduceArgs are PIF.db_introduce's arguments for a NIC.
func introduceArgs(device, network, host string, vlan int64) []any {
	return []any{device, network, host, "00:16:3e:00:00:09", int64(1500), vlan, true, "None", "", "", "", "",
		"OpaqueRef:NULL", "OpaqueRef:NULL", false, map[string]any{"k": "v"}, false, "None", []any{}, "", "IPv4", true,
		map[string]any{"gro": "on"}}
}

func TestPIFConfig(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 0})
	host := p.master()
	eth0, eth1 := p.pifOn(host, "eth0"), p.pifOn(host, "eth1")

	p.ok("PIF.set_property", eth1, "gro", "off")
	assert.Equal(t, map[string]any{"gro": "off"}, p.ok("PIF.get_properties", eth1))

	// A bond's properties go to its slaves.
	net := p.ok("network.create", record("name_label", "bond", "name_description", "", "MTU", int64(1500), "other_config", map[string]any{})).(string)
	bond := p.ok("Bond.create", net, []any{eth0, eth1}, "", "active-backup", map[string]any{}).(string)
	bondMaster := xapi.Str(p.get("Bond", bond), "master")
	p.expectErrors([]errorCase{
		{"property of a bond slave", "PIF.set_property", []any{eth1, "gro", "on"}, []string{"CANNOT_CHANGE_PIF_PROPERTIES", eth1}},
	})
	p.ok("PIF.set_property", bondMaster, "gro", "off")
	for _, pif := range []string{bondMaster, eth0, eth1} {
		assert.Equal(t, map[string]any{"gro": "off"}, p.ok("PIF.get_properties", pif), pif)
	}
	p.ok("Bond.destroy", bond)

	p.ok("PIF.set_primary_address_type", eth1, "IPv6")
	assert.Equal(t, "IPv6", p.ok("PIF.get_primary_address_type", eth1))

	// IPv6 DNS servers replace the IPv6 ones and keep the IPv4 ones.
	p.setField("PIF", eth1, "DNS", "10.0.0.53,fd00::99")
	p.ok("PIF.reconfigure_ipv6", eth1, "Static", "fd00::10/64", "fd00::1", "fd00::53,10.9.9.9")
	rec := p.get("PIF", eth1)
	assert.Equal(t, "Static", xapi.Str(rec, "ipv6_configuration_mode"))
	assert.Equal(t, []any{"fd00::10/64"}, xapi.Get(rec, "IPv6"))
	assert.Equal(t, "fd00::1", xapi.Str(rec, "ipv6_gateway"))
	assert.Equal(t, "fd00::53,10.0.0.53", xapi.Str(rec, "DNS"))

	p.ok("PIF.reconfigure_ipv6", eth1, "Autoconf", "", "", "")
	addr := xapi.Get(p.get("PIF", eth1), "IPv6").([]any)
	require.Len(t, addr, 1)
	assert.Regexp(t, `^fd00::[0-9a-f]+:[0-9a-f]+ff:fe[0-9a-f]+:[0-9a-f]+/64$`, addr[0], "an attached PIF gets its SLAAC address")
	p.ok("PIF.reconfigure_ipv6", eth1, "None", "", "", "")
	assert.Equal(t, []any{""}, xapi.Get(p.get("PIF", eth1), "IPv6"), "xapi stores the empty address")

	// db_introduce writes the record as given, detached; db_forget removes only it.
	pif := p.ok("PIF.db_introduce", introduceArgs("eth9", "OpaqueRef:nonet", host, -1)...).(string)
	rec = p.get("PIF", pif)
	assert.Equal(t, "eth9", xapi.Str(rec, "device"))
	assert.Equal(t, host, xapi.Str(rec, "host"))
	assert.False(t, xapi.Bool(rec, "currently_attached"))
	assert.Equal(t, map[string]any{"k": "v"}, xapi.Get(rec, "other_config"))
	metrics := xapi.Str(rec, "metrics")
	p.ok("PIF.db_forget", pif)
	assert.Nil(t, p.srv.Store.Get("PIF", pif))
	assert.NotNil(t, p.srv.Store.Get("PIF_metrics", metrics), "the metrics stay")
}

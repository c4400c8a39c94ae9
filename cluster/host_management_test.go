package cluster_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
)

// pifOn is a host's PIF for a device.
func (p *pool) pifOn(host, device string) string {
	p.t.Helper()
	return p.first("PIF", fmt.Sprintf(`field "host"=%q and field "device"=%q`, host, device))
}

// setField changes a field behind the API, for states no call reaches here.
func (p *pool) setField(class, ref, field string, value any) {
	p.t.Helper()
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		o := tx.Get(class, ref).Clone()
		xapi.Set(o, field, value)
		tx.Put(o)
		return nil
	})
	require.NoError(p.t, err)
}

// slaves are the hosts other than the master.
func (p *pool) slaves(master string) []string {
	var out []string
	for _, h := range p.where("host", "true") {
		if h != master {
			out = append(out, h)
		}
	}
	return out
}

func (p *pool) master() string {
	return p.ok("pool.get_master", p.first("pool", "true")).(string)
}

func TestHostManagementReconfigure(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 3, VMs: 0})
	master := p.master()
	eth0, eth1 := p.pifOn(master, "eth0"), p.pifOn(master, "eth1")
	pool := p.first("pool", "true")

	p.ok("host.management_reconfigure", eth1)
	assert.True(t, xapi.Bool(p.get("PIF", eth1), "management"))
	assert.False(t, xapi.Bool(p.get("PIF", eth0), "management"), "the flag moves")
	assert.True(t, xapi.Bool(p.get("PIF", eth0), "currently_attached"), "the old interface stays up")
	assert.False(t, xapi.Bool(p.get("PIF", eth1), "disallow_unplug"), "disallow_unplug is left alone")
	assert.Equal(t, xapi.Str(p.get("PIF", eth1), "IP"), xapi.Str(p.get("host", master), "address"))
	assert.Equal(t, eth1, p.ok("host.get_management_interface", master))
	p.ok("host.management_reconfigure", eth1) // already the management PIF: nothing to do

	// The new management PIF is plugged.
	p.ok("PIF.unplug", eth0)
	p.ok("host.management_reconfigure", eth0)
	assert.True(t, xapi.Bool(p.get("PIF", eth0), "currently_attached"))
	assert.Equal(t, xapi.Str(p.get("PIF", eth0), "IP"), xapi.Str(p.get("host", master), "address"))

	// An unmanaged PIF is not checked for an IP configuration; the host has no address then.
	p.ok("PIF.reconfigure_ip", eth1, "None", "", "", "", "")
	_, err := p.call("host.management_reconfigure", eth1)
	assert.Equal(t, []string{"PIF_HAS_NO_NETWORK_CONFIGURATION", eth1}, err)
	p.setField("PIF", eth1, "managed", false)
	p.ok("host.management_reconfigure", eth1)
	assert.Equal(t, "", xapi.Str(p.get("host", master), "address"))
	p.setField("PIF", eth1, "managed", true)
	p.ok("host.management_reconfigure", eth0)

	// IPv6 management: the v6 configuration is required and gives the address.
	p.setField("PIF", eth1, "primary_address_type", "IPv6")
	_, err = p.call("host.management_reconfigure", eth1)
	assert.Equal(t, []string{"PIF_HAS_NO_V6_NETWORK_CONFIGURATION", eth1}, err)
	p.setField("PIF", eth1, "ipv6_configuration_mode", "Static")
	p.setField("PIF", eth1, "IPv6", []any{"fd00::10/64"})
	p.ok("host.management_reconfigure", eth1)
	assert.Equal(t, "fd00::10", xapi.Str(p.get("host", master), "address"))
	p.ok("host.management_reconfigure", eth0)

	slaves := p.slaves(master)
	other, up := slaves[0], slaves[1]
	otherEth1 := p.pifOn(other, "eth1")
	p.ok("host.disable", other)
	p.ok("host.shutdown", other)

	// A bond's members cannot carry it.
	net := p.ok("network.create", record("name_label", "bond", "name_description", "", "MTU", int64(1500), "other_config", map[string]any{})).(string)
	members := []any{p.pifOn(up, "eth0"), p.pifOn(up, "eth1")}
	p.ok("Bond.create", net, members, "", "active-backup", map[string]any{})

	p.expectErrors([]errorCase{
		{"bad PIF", "host.management_reconfigure", []any{"OpaqueRef:nope"}, []string{"HANDLE_INVALID", "PIF", "OpaqueRef:nope"}},
		{"host down", "host.management_reconfigure", []any{otherEth1}, []string{"HOST_OFFLINE", other}},
		{"bond member", "host.management_reconfigure", []any{members[1]}, []string{"CANNOT_PLUG_BOND_SLAVE", members[1].(string)}},
	})
	p.setField("pool", pool, "ha_enabled", true)
	p.expectErrors([]errorCase{
		{"HA on", "host.management_reconfigure", []any{eth1}, []string{"HA_IS_ENABLED"}},
		{"host down before HA", "host.management_reconfigure", []any{otherEth1}, []string{"HOST_OFFLINE", other}},
		{"disable with HA on", "host.management_disable", nil, []string{"HA_IS_ENABLED"}},
	})
	assert.True(t, xapi.Bool(p.get("PIF", eth0), "management"), "failed calls change nothing")
}

func TestHostManagementDisable(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	master := p.master()
	eth0 := p.pifOn(master, "eth0")
	address := xapi.Str(p.get("host", master), "address")

	p.ok("host.management_disable")
	assert.False(t, xapi.Bool(p.get("PIF", eth0), "management"))
	assert.True(t, xapi.Bool(p.get("PIF", eth0), "currently_attached"))
	assert.Equal(t, address, xapi.Str(p.get("host", master), "address"), "the address is kept")
	assert.Len(t, p.where("PIF", `field "management"="true"`), 1, "the slave keeps its interface")
	_, err := p.call("host.get_management_interface", master)
	assert.Equal(t, []string{"INTERNAL_ERROR", `Failure("No management interface found")`}, err)
	p.ok("host.management_disable")

	p.ok("host.management_reconfigure", eth0)
	assert.True(t, xapi.Bool(p.get("PIF", eth0), "management"))
}

func TestPoolManagementReconfigure(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 3, VMs: 0})
	master := p.master()
	pool := p.first("pool", "true")
	storage := p.first("network", `field "bridge"="xenbr1"`)

	p.ok("pool.management_reconfigure", storage)
	for _, h := range p.where("host", "true") {
		eth1 := p.pifOn(h, "eth1")
		assert.True(t, xapi.Bool(p.get("PIF", eth1), "management"))
		assert.False(t, xapi.Bool(p.get("PIF", p.pifOn(h, "eth0")), "management"))
		assert.Equal(t, xapi.Str(p.get("PIF", eth1), "IP"), xapi.Str(p.get("host", h), "address"))
	}
	mgmt := p.first("network", `field "bridge"="xenbr0"`)
	p.ok("pool.management_reconfigure", mgmt)

	hosts := p.ok("host.get_all").([]any)
	empty := p.ok("network.create", record("name_label", "empty", "name_description", "", "MTU", int64(1500), "other_config", map[string]any{})).(string)
	first := p.pifOn(hosts[0].(string), "eth1")
	last := p.pifOn(hosts[len(hosts)-1].(string), "eth1")
	p.setField("PIF", last, "primary_address_type", "IPv6")
	p.expectErrors([]errorCase{
		{"bad network", "pool.management_reconfigure", []any{"OpaqueRef:nope"}, []string{"HANDLE_INVALID", "network", "OpaqueRef:nope"}},
		{"no PIF on the hosts", "pool.management_reconfigure", []any{empty}, []string{"PIF_NOT_PRESENT", hosts[0].(string), empty}},
		{"mixed address types", "pool.management_reconfigure", []any{storage}, []string{"PIF_INCOMPATIBLE_PRIMARY_ADDRESS_TYPE", last}},
	})
	p.setField("PIF", last, "primary_address_type", "IPv4")
	p.ok("PIF.reconfigure_ip", first, "None", "", "", "", "")
	p.expectErrors([]errorCase{
		{"a PIF without IP", "pool.management_reconfigure", []any{storage}, []string{"PIF_HAS_NO_NETWORK_CONFIGURATION", first}},
	})
	p.ok("PIF.reconfigure_ip", first, "Static", "10.0.1.50", "255.255.255.0", "", "")

	// A slave that is down stops the call before the master changes.
	slave := p.slaves(master)[0]
	p.ok("host.disable", slave)
	p.ok("host.shutdown", slave)
	_, err := p.call("pool.management_reconfigure", storage)
	assert.Equal(t, []string{"HOST_OFFLINE", slave}, err)
	assert.True(t, xapi.Bool(p.get("PIF", p.pifOn(master, "eth0")), "management"), "the master goes last")

	p.setField("pool", pool, "ha_enabled", true)
	p.expectErrors([]errorCase{
		{"HA on", "pool.management_reconfigure", []any{"OpaqueRef:nope"}, []string{"HA_IS_ENABLED"}},
	})
}

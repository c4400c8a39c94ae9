package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
)

func TestNetworkSRIOV(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2})
	master := p.ok("pool.get_master", p.first("pool", "true")).(string)
	eth1 := p.first("PIF", `field "host"="`+master+`" and field "device"="eth1"`)
	net := p.ok("network.create", newNet("sriov", 1500)).(string)
	unmanaged := p.ok("network.create", newNet("unmanaged", 1500, "managed", false)).(string)
	tunnelNet := p.ok("network.create", newNet("overlay", 1500)).(string)
	access := p.ok("tunnel.get_access_PIF", p.ok("tunnel.create", eth1, tunnelNet, "gre")).(string)

	// A network_sriov as an SR-IOV NIC would have, made in the store: the logical PIF
	// shares the physical PIF's metrics.
	var sriov, logical string
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		l := p.srv.NewObject("PIF")
		for k, v := range map[string]any{"device": "eth1", "network": net, "host": master, "MTU": int64(1500), "VLAN": int64(-1),
			"metrics": xapi.Str(p.get("PIF", eth1), "metrics"), "managed": true, "currently_attached": true} {
			xapi.Set(l, k, v)
		}
		tx.Put(l)
		o := p.srv.NewObject("network_sriov")
		xapi.Set(o, "physical_PIF", eth1)
		xapi.Set(o, "logical_PIF", l.Ref)
		tx.Put(o)
		sriov, logical = o.Ref, l.Ref
		return nil
	})
	require.NoError(t, err)
	other := p.ok("network.create", newNet("other", 1500)).(string)

	p.expectErrors([]errorCase{
		{"bogus PIF", "network_sriov.create", []any{"OpaqueRef:bogus", "OpaqueRef:bogus"}, []string{"HANDLE_INVALID", "PIF", "OpaqueRef:bogus"}},
		{"bogus network", "network_sriov.create", []any{eth1, "OpaqueRef:bogus"}, []string{"HANDLE_INVALID", "network", "OpaqueRef:bogus"}},
		{"unmanaged network", "network_sriov.create", []any{eth1, unmanaged}, []string{"NETWORK_UNMANAGED", unmanaged}},
		{"not physical", "network_sriov.create", []any{access, other}, []string{"PIF_IS_NOT_PHYSICAL", access}},
		{"already enabled", "network_sriov.create", []any{eth1, other}, []string{"NETWORK_SRIOV_ALREADY_ENABLED", eth1}},
		{"bogus sriov", "network_sriov.destroy", []any{"OpaqueRef:bogus"}, []string{"HANDLE_INVALID", "network_sriov", "OpaqueRef:bogus"}},
		{"bogus sriov capacity", "network_sriov.get_remaining_capacity", []any{"OpaqueRef:bogus"}, []string{"HANDLE_INVALID", "network_sriov", "OpaqueRef:bogus"}},
		{"no PCI device", "network_sriov.get_remaining_capacity", []any{sriov}, []string{"HANDLE_INVALID", "PCI", "OpaqueRef:NULL"}},
	})
	eth0 := p.first("PIF", `field "host"="`+master+`" and field "device"="eth0"`)
	_, e := p.call("network_sriov.create", eth0, other)
	assert.Equal(t, []string{"PIF_IS_NOT_SRIOV_CAPABLE", eth0}, e, "no simulated NIC has SR-IOV")
	p.restrict("restrict_network_sriov", "true")
	_, e = p.call("network_sriov.create", eth0, other)
	assert.Equal(t, []string{"LICENCE_RESTRICTION", "Network_sriov"}, e)

	p.ok("network_sriov.destroy", sriov)
	assert.Nil(t, p.srv.Store.Get("PIF", logical))
	assert.Empty(t, p.ok("PIF.get_sriov_physical_PIF_of", eth1))
	assert.NotNil(t, p.srv.Store.Get("PIF_metrics", xapi.Str(p.get("PIF", eth1), "metrics")))
}

package cluster

import (
	"slices"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Tunnels (xapi_tunnel.ml): an access PIF named tunnel<n> on the network, over a
// transport PIF of the same host, on Open vSwitch only. Nothing in xapi updates a
// tunnel's status (the SDN controller would), so it stays {active: false}.

func (p *Sim) registerTunnel() {
	p.srv.Handle("tunnel.create", p.tunnelCreate)
	p.srv.Handle("tunnel.destroy", p.tunnelDestroy)
}

func (p *Sim) tunnelCreate(c *xapi.Call) (any, error) {
	transport, network, protocol := c.StringArg(0), c.StringArg(1), c.StringArg(2)
	var tunnel, access string
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		net, err := xapi.GetObject(tx, "network", network)
		if err != nil {
			return err
		}
		pif, err := xapi.GetObject(tx, "PIF", transport)
		if err != nil {
			return err
		}
		host := xapi.Str(pif, "host")
		if err := forwardTo(tx, host); err != nil {
			return err
		}
		if !xapi.Bool(net, "managed") {
			return apierror.New("NETWORK_UNMANAGED", net.Ref)
		}
		if err := assertNoOtherLocalPIFs(tx, host, net); err != nil {
			return err
		}
		if !xapi.Bool(pif, "managed") {
			return apierror.New("PIF_UNMANAGED", pif.Ref)
		}
		// The transport PIF's stack (the simulation has no SR-IOV, whose errors are
		// unreachable).
		switch {
		case len(xapi.Refs(pif, "tunnel_access_PIF_of")) > 0:
			return apierror.New("IS_TUNNEL_ACCESS_PIF", pif.Ref)
		case isNull(xapi.Str(pif, "VLAN_master_of")) && len(xapi.Refs(pif, "bond_master_of")) == 0 &&
			xapi.Bool(pif, "physical") && !isNull(xapi.Str(pif, "bond_slave_of")):
			return apierror.New("CANNOT_ADD_TUNNEL_TO_BOND_SLAVE", pif.Ref)
		}
		for _, h := range tx.All("host") {
			if xapi.StringMap(h, "software_version")["network_backend"] != "openvswitch" {
				return apierror.New("OPENVSWITCH_NOT_ACTIVE")
			}
		}
		a := p.srv.NewObject("PIF")
		device := tunnelDevice(tx, host)
		for k, v := range map[string]any{"device": device, "network": net.Ref, "host": host,
			"MAC": macFromSeed(xapi.Str(a, "uuid"), "0"), "MTU": int64(-1), "VLAN": int64(-1), "metrics": xapi.Str(pif, "metrics"),
			"physical": false, "currently_attached": false, "igmp_snooping_status": "unknown", "ip_configuration_mode": "None",
			"ipv6_configuration_mode": "None", "IPv6": []any{""}, "primary_address_type": xapi.Get(pif, "primary_address_type"),
			"managed": true, "properties": map[string]any{}, "capabilities": []any{}, "other_config": map[string]any{}} {
			xapi.Set(a, k, v)
		}
		tx.Put(a)
		t := p.srv.NewObject("tunnel")
		for k, v := range map[string]any{"access_PIF": a.Ref, "transport_PIF": pif.Ref, "status": map[string]any{"active": "false"},
			"other_config": map[string]any{}, "protocol": protocol} {
			xapi.Set(t, k, v)
		}
		tx.Put(t)
		tunnel, access = t.Ref, a.Ref
		return nil
	})
	if err != nil {
		return nil, err
	}
	// xapi plugs the access PIF after recording the tunnel: a failed plug leaves both.
	_, err = p.srv.Store.Update(func(tx *store.Tx) error {
		a, err := xapi.GetObject(tx, "PIF", access)
		if err != nil {
			return err
		}
		pif, err := xapi.GetObject(tx, "PIF", transport)
		if err != nil {
			return err
		}
		if xapi.Str(pif, "ip_configuration_mode") == "None" {
			return apierror.New("TRANSPORT_PIF_NOT_CONFIGURED", pif.Ref)
		}
		bringPIFUp(tx, pif)
		bringPIFUp(tx, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tunnel, nil
}

// tunnelDevice is the first tunnel<n> that no access PIF of the host uses.
func tunnelDevice(r store.Reader, host string) string {
	used := map[string]bool{}
	for _, t := range r.All("tunnel") {
		if a := r.Get("PIF", xapi.Str(t, "access_PIF")); a != nil && xapi.Str(a, "host") == host {
			used[xapi.Str(a, "device")] = true
		}
	}
	for n := 0; ; n++ {
		if name := "tunnel" + itoa(n); !used[name] {
			return name
		}
	}
}

// assertNoOtherLocalPIFs: a network has at most one PIF per host.
func assertNoOtherLocalPIFs(r store.Reader, host string, net *store.Object) error {
	for _, ref := range xapi.Refs(net, "PIFs") {
		if o := r.Get("PIF", ref); o != nil && xapi.Str(o, "host") == host {
			return apierror.New("NETWORK_ALREADY_CONNECTED", host, ref)
		}
	}
	return nil
}

// bringPIFUp is what networkd reports once a PIF is up: attached, the bridge's MTU (the
// network's), and IGMP snooping as the pool sets it for untagged PIFs.
func bringPIFUp(tx *store.Tx, pif *store.Object) {
	pif = pif.Clone()
	xapi.Set(pif, "currently_attached", true)
	if net := tx.Get("network", xapi.Str(pif, "network")); net != nil {
		xapi.Set(pif, "MTU", xapi.Int(net, "MTU"))
	}
	if xapi.Int(pif, "VLAN") == -1 {
		igmp := "disabled"
		if xapi.Bool(firstPool(tx), "igmp_snooping_enabled") {
			igmp = "enabled"
		}
		xapi.Set(pif, "igmp_snooping_status", igmp)
	}
	tx.Put(pif)
}

// tunnelDestroy unplugs the access PIF, with xapi's PIF.unplug checks, and deletes it
// with the tunnel (its metrics are the transport PIF's and stay).
func (p *Sim) tunnelDestroy(c *xapi.Call) (any, error) {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		t, err := xapi.GetObject(tx, "tunnel", c.StringArg(0))
		if err != nil {
			return err
		}
		transport, err := xapi.GetObject(tx, "PIF", xapi.Str(t, "transport_PIF"))
		if err != nil {
			return err
		}
		if err := forwardTo(tx, xapi.Str(transport, "host")); err != nil {
			return err
		}
		a, err := xapi.GetObject(tx, "PIF", xapi.Str(t, "access_PIF"))
		if err != nil {
			return err
		}
		if err := pifUnplugError(tx, a, xapi.Str(transport, "host")); err != nil {
			return err
		}
		tx.Delete("PIF", a.Ref)
		tx.Delete("tunnel", t.Ref)
		return nil
	})
	return nil, err
}

// pifUnplugError is xapi's PIF.unplug precondition on host: managed, not protected by HA
// or the redo log while attached, not the management interface, no VIF in use on the
// network there, unplug allowed.
func pifUnplugError(r store.Reader, pif *store.Object, host string) error {
	if !xapi.Bool(pif, "managed") {
		return apierror.New("PIF_UNMANAGED", pif.Ref)
	}
	if pool := firstPool(r); xapi.Bool(pif, "currently_attached") {
		if xapi.Bool(pool, "ha_enabled") {
			return apierror.New("HA_IS_ENABLED")
		}
		if xapi.Bool(pool, "redo_log_enabled") {
			return apierror.New("REDO_LOG_IS_ENABLED")
		}
	}
	if xapi.Bool(pif, "management") {
		return apierror.New("PIF_IS_MANAGEMENT_INTERFACE", pif.Ref)
	}
	network := xapi.Str(pif, "network")
	if net := r.Get("network", network); net != nil {
		for _, ref := range xapi.Refs(net, "VIFs") {
			vif := r.Get("VIF", ref)
			if vif == nil {
				continue
			}
			vm := r.Get("VM", xapi.Str(vif, "VM"))
			if vm == nil {
				continue
			}
			here := xapi.Str(vm, "resident_on") == host
			attaching := slices.Contains(mapValues(xapi.Map(vif, "current_operations")), "attach") &&
				(here || xapi.Str(vm, "scheduled_to_be_resident_on") == host)
			live := xapi.Str(vm, "power_state") == "Running" || xapi.Str(vm, "power_state") == "Paused"
			if attaching || (xapi.Bool(vif, "currently_attached") && here && live) {
				return apierror.New("VIF_IN_USE", network, ref)
			}
		}
	}
	if xapi.Bool(pif, "disallow_unplug") {
		return apierror.New("PIF_DOES_NOT_ALLOW_UNPLUG", pif.Ref)
	}
	return nil
}

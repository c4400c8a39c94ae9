package cluster

import (
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// The management interface (xapi_host.ml, xapi_pool.ml, xapi_mgmt_iface.ml). A host's
// management interface is the bridge named in its inventory; the simulation keeps no
// inventory and derives it from the PIFs' management flags, which xapi keeps in step
// with it. host.management_reconfigure runs on the PIF's host: with HA off and the PIF
// usable (not a bond slave, with an IP configuration for its primary address type) it
// plugs the PIF's network there, marks the PIFs of that network on the host as the
// management ones (the others lose the flag) and sets host.address to the new address.
// disallow_unplug is left alone, as xapi does. None of this readdresses, forgets, unplugs
// or makes unpluggable a PIF, so the PIF checks (clustering's) do not apply, and the only
// PIF it plugs cannot be an enabled Cluster_host's (those are always plugged), so the
// cluster's membership cannot change.

func (p *Sim) registerManagement() {
	s := p.srv
	s.Handle("host.management_reconfigure", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error { return managementReconfigure(tx, c.StringArg(0)) })
		return nil, err
	})
	s.Handle("host.management_disable", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			// Not forwarded: it runs on the master, which may go without one.
			if xapi.Bool(firstPool(tx), "ha_enabled") {
				return apierror.New("HA_IS_ENABLED")
			}
			setManagementNetwork(tx, xapi.Str(firstPool(tx), "master"), "")
			return nil
		})
		return nil, err
	})
	s.Handle("pool.management_reconfigure", p.poolManagementReconfigure)
}

// managementReconfigure is host.management_reconfigure of one PIF, forwarded to its host.
func managementReconfigure(tx *store.Tx, ref string) error {
	pif, err := xapi.GetObject(tx, "PIF", ref)
	if err != nil {
		return err
	}
	host := xapi.Str(pif, "host")
	if err := forwardTo(tx, host); err != nil {
		return err
	}
	if xapi.Bool(firstPool(tx), "ha_enabled") {
		return apierror.New("HA_IS_ENABLED")
	}
	if xapi.Bool(pif, "managed") {
		if err := usableForManagement(pif, xapi.Str(pif, "primary_address_type")); err != nil {
			return err
		}
		// xapi compares the address type with the current management PIF's, but the
		// check sits in a handler that swallows its own error: it never fails.
	}
	if xapi.Bool(pif, "management") {
		return nil
	}
	network := xapi.Str(pif, "network")
	for _, o := range localPIFs(tx, network, host) {
		if !xapi.Bool(o, "managed") {
			continue
		}
		if !isNull(xapi.Str(o, "bond_slave_of")) {
			return apierror.New("CANNOT_PLUG_BOND_SLAVE", o.Ref)
		}
		if !xapi.Bool(o, "currently_attached") {
			o = o.Clone()
			xapi.Set(o, "currently_attached", true)
			tx.Put(o)
		}
	}
	bridge := ""
	if n := tx.Get("network", network); n != nil {
		bridge = xapi.Str(n, "bridge")
	}
	setManagementNetwork(tx, host, bridge)
	// on_dom0_networking_change: host.address follows the management IP.
	h := tx.Get("host", host)
	if addr := managementAddress(tx, host); addr != xapi.Str(h, "address") {
		h = h.Clone()
		xapi.Set(h, "address", addr)
		tx.Put(h)
	}
	return nil
}

// usableForManagement is xapi's assert_usable_for_management: not a bond slave, and an
// IP configuration for the address type.
func usableForManagement(pif *store.Object, addressType string) error {
	switch {
	case !isNull(xapi.Str(pif, "bond_slave_of")):
		return apierror.New("CANNOT_PLUG_BOND_SLAVE", pif.Ref)
	case addressType == "IPv4" && xapi.Str(pif, "ip_configuration_mode") == "None":
		return apierror.New("PIF_HAS_NO_NETWORK_CONFIGURATION", pif.Ref)
	case addressType == "IPv6" && xapi.Str(pif, "ipv6_configuration_mode") == "None":
		return apierror.New("PIF_HAS_NO_V6_NETWORK_CONFIGURATION", pif.Ref)
	}
	return nil
}

// localPIFs are the PIFs of a network on a host.
func localPIFs(r store.Reader, network, host string) []*store.Object {
	var out []*store.Object
	for _, ref := range xapi.Refs(r.Get("host", host), "PIFs") {
		if o := r.Get("PIF", ref); o != nil && xapi.Str(o, "network") == network {
			out = append(out, o)
		}
	}
	return out
}

// setManagementNetwork is xapi's update_management_flags after the inventory names
// bridge: the host's PIFs on the first network with that bridge are the management ones,
// the others are not ("" names none).
func setManagementNetwork(tx *store.Tx, host, bridge string) {
	network := ""
	if bridge != "" {
		for _, n := range tx.All("network") {
			if xapi.Str(n, "bridge") == bridge {
				network = n.Ref
				break
			}
		}
	}
	for _, ref := range xapi.Refs(tx.Get("host", host), "PIFs") {
		o := tx.Get("PIF", ref)
		if o == nil {
			continue
		}
		want := network != "" && xapi.Str(o, "network") == network
		if xapi.Bool(o, "management") != want {
			o = o.Clone()
			xapi.Set(o, "management", want)
			tx.Put(o)
		}
	}
}

// managementAddress is the host's management IP: the management PIF's address of its
// primary type ("" when it has none).
func managementAddress(r store.Reader, host string) string {
	for _, ref := range xapi.Refs(r.Get("host", host), "PIFs") {
		o := r.Get("PIF", ref)
		if o == nil || !xapi.Bool(o, "management") {
			continue
		}
		if xapi.Str(o, "primary_address_type") == "IPv6" {
			for _, a := range xapi.Refs(o, "IPv6") {
				if ip, _, _ := strings.Cut(a, "/"); ip != "" {
					return ip
				}
			}
			return ""
		}
		return xapi.Str(o, "IP")
	}
	return ""
}

// poolManagementReconfigure moves every host's management interface to its PIF on a
// network: every host needs one, all of the same address type and usable; then
// host.management_reconfigure runs on the slaves, then on the master, each on its own
// (a host that fails stops the rest, the ones before keep the change).
func (p *Sim) poolManagementReconfigure(c *xapi.Call) (any, error) {
	network := c.StringArg(0)
	var order []string
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		if xapi.Bool(firstPool(tx), "ha_enabled") {
			return apierror.New("HA_IS_ENABLED")
		}
		n, err := xapi.GetObject(tx, "network", network)
		if err != nil {
			return err
		}
		pifs := map[string]string{}
		var onNetwork []*store.Object
		for _, ref := range xapi.Refs(n, "PIFs") {
			if o := tx.Get("PIF", ref); o != nil {
				onNetwork = append(onNetwork, o)
				// xapi's table answers the last PIF it was given for a host.
				pifs[xapi.Str(o, "host")] = ref
			}
		}
		hosts := tx.All("host")
		for _, h := range hosts {
			if _, ok := pifs[h.Ref]; !ok {
				return apierror.New("PIF_NOT_PRESENT", h.Ref, network)
			}
		}
		addressType := xapi.Str(onNetwork[0], "primary_address_type")
		for _, o := range onNetwork {
			if xapi.Str(o, "primary_address_type") != addressType {
				return apierror.New("PIF_INCOMPATIBLE_PRIMARY_ADDRESS_TYPE", o.Ref)
			}
			if err := usableForManagement(o, addressType); err != nil {
				return err
			}
		}
		master := xapi.Str(firstPool(tx), "master")
		for _, h := range hosts {
			if h.Ref != master {
				order = append(order, pifs[h.Ref])
			}
		}
		order = append(order, pifs[master])
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, pif := range order {
		if _, err := p.srv.Store.Update(func(tx *store.Tx) error { return managementReconfigure(tx, pif) }); err != nil {
			return nil, err
		}
	}
	// pool.recover_slaves finds no host in emergency mode.
	return nil, nil
}

package cluster

import (
	"fmt"
	"strconv"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// VLANs and bonds. A VLAN is an untagged PIF on top of a tagged one, on one host;
// pool.create_VLAN_from_PIF makes one on every host. A bond is a master PIF over two or
// more physical PIFs of one host; the members' IP configuration moves to the master.

func (p *Sim) registerVLANAndBond() {
	s := p.srv
	s.Handle("VLAN.create", func(c *xapi.Call) (any, error) {
		var ref string
		_, err := s.Store.Update(func(tx *store.Tx) error {
			vlan, err := p.createVLAN(tx, c.StringArg(0), c.Arg(1).(int64), c.StringArg(2))
			if err == nil {
				ref = vlan.Ref
			}
			return err
		})
		return ref, err
	})
	s.Handle("VLAN.destroy", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			vlan, err := xapi.GetObject(tx, "VLAN", c.StringArg(0))
			if err != nil {
				return err
			}
			if pif := tx.Get("PIF", xapi.Str(vlan, "untagged_PIF")); pif != nil {
				if xapi.Bool(pif, "management") {
					return apierror.New("PIF_IS_MANAGEMENT_INTERFACE", pif.Ref)
				}
				deletePIF(tx, pif)
			}
			tx.Delete("VLAN", vlan.Ref)
			return nil
		})
		return nil, err
	})
	// xapi makes the VLAN over every PIF of the given PIF's network on a live host.
	s.Handle("pool.create_VLAN_from_PIF", func(c *xapi.Call) (any, error) {
		return p.vlansOver(c.StringArg(1), c.Arg(2).(int64), func(tx *store.Tx) ([]string, error) {
			pif, err := xapi.GetObject(tx, "PIF", c.StringArg(0))
			if err != nil {
				return nil, err
			}
			net, err := xapi.GetObject(tx, "network", xapi.Str(pif, "network"))
			if err != nil {
				return nil, err
			}
			var tagged []string
			for _, ref := range xapi.Refs(net, "PIFs") {
				if o := tx.Get("PIF", ref); o != nil && hostLive(tx, xapi.Str(o, "host")) {
					tagged = append(tagged, ref)
				}
			}
			return tagged, nil
		})
	})
	// xapi runs PIF.create_VLAN on every host: a host without the device fails the call.
	s.Handle("pool.create_VLAN", func(c *xapi.Call) (any, error) {
		device := c.StringArg(0)
		return p.vlansOver(c.StringArg(1), c.Arg(2).(int64), func(tx *store.Tx) ([]string, error) {
			var tagged []string
			for _, h := range tx.All("host") {
				pif := physicalPIF(tx, h, device)
				if pif == nil {
					return nil, apierror.New("INVALID_VALUE", "device", device)
				}
				tagged = append(tagged, pif.Ref)
			}
			return tagged, nil
		})
	})
	s.Handle("PIF.create_VLAN", func(c *xapi.Call) (any, error) {
		var ref string
		_, err := s.Store.Update(func(tx *store.Tx) error {
			h, err := xapi.GetObject(tx, "host", c.StringArg(2))
			if err != nil {
				return err
			}
			tagged := physicalPIF(tx, h, c.StringArg(0))
			if tagged == nil {
				return apierror.New("INVALID_VALUE", "device", c.StringArg(0))
			}
			vlan, err := p.createVLAN(tx, tagged.Ref, c.Arg(3).(int64), c.StringArg(1))
			if err == nil {
				ref = xapi.Str(vlan, "untagged_PIF")
			}
			return err
		})
		return ref, err
	})
	s.Handle("Bond.create", p.bondCreate)
	s.Handle("Bond.destroy", p.bondDestroy)
	s.Handle("Bond.set_mode", func(c *xapi.Call) (any, error) {
		return nil, s.UpdateField("Bond", c.StringArg(0), "mode", func(any) (any, error) { return c.Arg(1), nil })
	})
	s.Handle("Bond.set_property", func(c *xapi.Call) (any, error) {
		return nil, s.UpdateField("Bond", c.StringArg(0), "properties", func(old any) (any, error) {
			m := xapi.CopyMap(old.(map[string]any))
			m[c.StringArg(1)] = c.StringArg(2)
			return m, nil
		})
	})
}

// physicalPIF finds the physical (or bond) PIF of a device on a host.
func physicalPIF(r store.Reader, h *store.Object, device string) *store.Object {
	for _, ref := range xapi.Refs(h, "PIFs") {
		if pif := r.Get("PIF", ref); pif != nil && xapi.Str(pif, "device") == device && xapi.Int(pif, "VLAN") == -1 {
			return pif
		}
	}
	return nil
}

// createVLAN puts an untagged PIF with the tag on network over a tagged PIF.
func (p *Sim) createVLAN(tx *store.Tx, taggedRef string, tag int64, network string) (*store.Object, error) {
	tagged, err := xapi.GetObject(tx, "PIF", taggedRef)
	if err != nil {
		return nil, err
	}
	net, err := xapi.GetObject(tx, "network", network)
	if err != nil {
		return nil, err
	}
	switch {
	case tag < 0 || tag > 4094:
		return nil, apierror.New("VLAN_TAG_INVALID", strconv.FormatInt(tag, 10))
	case xapi.Int(tagged, "VLAN") != -1:
		return nil, apierror.New("PIF_IS_VLAN", tagged.Ref)
	case !isNull(xapi.Str(tagged, "bond_slave_of")):
		return nil, apierror.New("CANNOT_ADD_VLAN_TO_BOND_SLAVE", tagged.Ref)
	}
	host := xapi.Str(tagged, "host")
	for _, ref := range xapi.Refs(tagged, "VLAN_slave_of") {
		if v := tx.Get("VLAN", ref); v != nil && xapi.Int(v, "tag") == tag {
			return nil, apierror.New("PIF_VLAN_EXISTS", xapi.Str(tagged, "device"))
		}
	}
	for _, ref := range xapi.Refs(net, "PIFs") {
		if o := tx.Get("PIF", ref); o != nil && xapi.Str(o, "host") == host {
			return nil, apierror.New("NETWORK_ALREADY_CONNECTED", network, ref)
		}
	}
	vlan := p.srv.NewObject("VLAN")
	untagged := p.srv.NewObject("PIF")
	for k, v := range map[string]any{"device": xapi.Str(tagged, "device"), "network": network, "host": host,
		"MAC": xapi.Str(tagged, "MAC"), "MTU": xapi.Int(net, "MTU"), "VLAN": tag, "metrics": nullRef, "physical": false,
		"managed": true, "currently_attached": xapi.Bool(tagged, "currently_attached"), "ip_configuration_mode": "None",
		"VLAN_master_of": vlan.Ref} {
		xapi.Set(untagged, k, v)
	}
	tx.Put(untagged)
	xapi.Set(vlan, "tagged_PIF", tagged.Ref)
	xapi.Set(vlan, "untagged_PIF", untagged.Ref)
	xapi.Set(vlan, "tag", tag)
	tx.Put(vlan)
	return vlan, nil
}

// vlansOver creates, in one transaction, a VLAN over each PIF that tagged picks, and
// returns the new untagged PIFs. An error undoes them all, as xapi's clean-up does.
func (p *Sim) vlansOver(network string, tag int64, tagged func(*store.Tx) ([]string, error)) (any, error) {
	out := []any{}
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		pifs, err := tagged(tx)
		if err != nil {
			return err
		}
		for _, pif := range pifs {
			vlan, err := p.createVLAN(tx, pif, tag, network)
			if err != nil {
				return err
			}
			out = append(out, xapi.Str(vlan, "untagged_PIF"))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ipFields move between a bond's members and its master.
var ipFields = []string{"ip_configuration_mode", "IP", "netmask", "gateway", "DNS", "management", "disallow_unplug"}

func (p *Sim) bondCreate(c *xapi.Call) (any, error) {
	network, mac, mode := c.StringArg(0), c.StringArg(2), c.StringArg(3)
	members, _ := c.Arg(1).([]any)
	properties, _ := c.Arg(4).(map[string]any)
	var ref string
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		if _, err := xapi.GetObject(tx, "network", network); err != nil {
			return err
		}
		if len(members) < 2 {
			return apierror.New("PIF_BOND_NEEDS_MORE_MEMBERS")
		}
		var pifs []*store.Object
		for _, m := range members {
			pif, err := xapi.GetObject(tx, "PIF", m.(string))
			if err != nil {
				return err
			}
			switch {
			case !isNull(xapi.Str(pif, "bond_slave_of")):
				return apierror.New("PIF_ALREADY_BONDED", pif.Ref)
			case xapi.Int(pif, "VLAN") != -1:
				return apierror.New("PIF_IS_VLAN", pif.Ref)
			case len(pifs) > 0 && xapi.Str(pif, "host") != xapi.Str(pifs[0], "host"):
				return apierror.New("PIF_CANNOT_BOND_CROSS_HOST")
			}
			pifs = append(pifs, pif)
		}
		host := tx.Get("host", xapi.Str(pifs[0], "host"))
		primary := pifs[0]
		for _, pif := range pifs {
			if xapi.Bool(pif, "management") {
				primary = pif
			}
		}
		if mac == "" {
			mac = xapi.Str(primary, "MAC")
		}
		n := 0
		for physicalPIF(tx, host, fmt.Sprintf("bond%d", n)) != nil {
			n++
		}
		bond := p.srv.NewObject("Bond")
		master := p.srv.NewObject("PIF")
		for k, v := range map[string]any{"device": fmt.Sprintf("bond%d", n), "network": network, "host": host.Ref, "MAC": mac,
			"MTU": int64(1500), "VLAN": int64(-1), "metrics": nullRef, "physical": false, "managed": true, "currently_attached": true} {
			xapi.Set(master, k, v)
		}
		for _, f := range ipFields {
			xapi.Set(master, f, xapi.Get(primary, f))
		}
		if xapi.Str(master, "ip_configuration_mode") == "" {
			xapi.Set(master, "ip_configuration_mode", "None")
		}
		tx.Put(master)
		props := map[string]any{}
		if mode == "balance-slb" || mode == "lacp" {
			props["hashing_algorithm"] = map[string]string{"balance-slb": "src_mac", "lacp": "tcpudp_ports"}[mode]
		}
		for k, v := range properties {
			props[k] = v
		}
		for k, v := range map[string]any{"master": master.Ref, "mode": mode, "properties": props, "primary_slave": primary.Ref,
			"links_up": int64(len(pifs))} {
			xapi.Set(bond, k, v)
		}
		tx.Put(bond)
		for _, pif := range pifs {
			pif = tx.Get("PIF", pif.Ref).Clone()
			xapi.Set(pif, "bond_slave_of", bond.Ref)
			xapi.Set(pif, "management", false)
			xapi.Set(pif, "disallow_unplug", false)
			xapi.Set(pif, "ip_configuration_mode", "None")
			xapi.Set(pif, "IP", "")
			xapi.Set(pif, "netmask", "")
			xapi.Set(pif, "gateway", "")
			xapi.Set(pif, "DNS", "")
			xapi.Set(pif, "currently_attached", false)
			tx.Put(pif)
		}
		ref = bond.Ref
		return nil
	})
	return ref, err
}

// bondDestroy removes the master PIF and gives its IP configuration back to the primary
// member.
func (p *Sim) bondDestroy(c *xapi.Call) (any, error) {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		bond, err := xapi.GetObject(tx, "Bond", c.StringArg(0))
		if err != nil {
			return err
		}
		master := tx.Get("PIF", xapi.Str(bond, "master"))
		for _, ref := range xapi.Refs(bond, "slaves") {
			pif := tx.Get("PIF", ref)
			if pif == nil {
				continue
			}
			pif = pif.Clone()
			xapi.Set(pif, "bond_slave_of", nullRef)
			xapi.Set(pif, "currently_attached", true)
			if ref == xapi.Str(bond, "primary_slave") && master != nil {
				for _, f := range ipFields {
					xapi.Set(pif, f, xapi.Get(master, f))
				}
			}
			tx.Put(pif)
		}
		if master != nil {
			deletePIF(tx, master)
		}
		tx.Delete("Bond", bond.Ref)
		return nil
	})
	return nil, err
}

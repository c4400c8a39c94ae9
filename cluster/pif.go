package cluster

import (
	"crypto/md5"
	"fmt"
	"net"
	"slices"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Physical interfaces (semantics.md §4.7). The hardware model: every host has two NICs,
// eth0 and eth1, with MACs derived from the host's uuid; PIF.scan introduces those that
// have no PIF. IP configuration is stored as given; DHCP leases an address derived from
// the MAC.

// hostNICs are the physical NICs of every emulated host.
var hostNICs = []string{"eth0", "eth1"}

// nicMAC is the MAC of a host's n-th NIC.
func nicMAC(hostUUID string, n int) string {
	sum := md5.Sum([]byte(hostUUID + "/nic/" + fmt.Sprint(n)))
	return fmt.Sprintf("00:16:3e:%02x:%02x:%02x", sum[0], sum[1], sum[2])
}

// PIFCheck may refuse a change to a PIF: op is "unplug-allowed" (disallow_unplug set to
// false), "forget" or "reconfigure". Clustering refuses them on a PIF it uses.
type PIFCheck func(r store.Reader, pif *store.Object, op string) error

// OnPIFChange registers a PIF check.
func (p *Sim) OnPIFChange(check PIFCheck) {
	p.mu.Lock()
	p.pifChecks = append(p.pifChecks, check)
	p.mu.Unlock()
}

func (p *Sim) pifCheck(r store.Reader, pif *store.Object, op string) error {
	p.mu.Lock()
	checks := slices.Clone(p.pifChecks)
	p.mu.Unlock()
	for _, check := range checks {
		if err := check(r, pif, op); err != nil {
			return err
		}
	}
	return nil
}

func (p *Sim) registerPIF() {
	s := p.srv
	s.Handle("PIF.plug", func(c *xapi.Call) (any, error) { return nil, p.pifSetAttached(c, true) })
	s.Handle("PIF.unplug", func(c *xapi.Call) (any, error) { return nil, p.pifSetAttached(c, false) })
	s.Handle("PIF.set_disallow_unplug", func(c *xapi.Call) (any, error) {
		value := c.Arg(1).(bool)
		_, err := s.Store.Update(func(tx *store.Tx) error {
			pif, err := xapi.GetObject(tx, "PIF", c.StringArg(0))
			if err != nil {
				return err
			}
			if !value {
				if err := p.pifCheck(tx, pif, "unplug-allowed"); err != nil {
					return err
				}
			}
			pif = pif.Clone()
			xapi.Set(pif, "disallow_unplug", value)
			tx.Put(pif)
			return nil
		})
		return nil, err
	})
	s.Handle("PIF.reconfigure_ip", p.reconfigureIP)
	s.Handle("PIF.scan", p.pifScan)
	s.Handle("PIF.introduce", func(c *xapi.Call) (any, error) {
		var ref string
		_, err := s.Store.Update(func(tx *store.Tx) error {
			h, err := xapi.GetObject(tx, "host", c.StringArg(0))
			if err != nil {
				return err
			}
			pif, err := p.introducePIF(tx, h, c.StringArg(2), c.StringArg(1), c.Arg(3).(bool))
			if err != nil {
				return err
			}
			ref = pif.Ref
			return nil
		})
		return ref, err
	})
	s.Handle("PIF.forget", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			pif, err := xapi.GetObject(tx, "PIF", c.StringArg(0))
			if err != nil {
				return err
			}
			if err := p.pifCheck(tx, pif, "forget"); err != nil {
				return err
			}
			if xapi.Bool(pif, "management") {
				return apierror.New("PIF_IS_MANAGEMENT_INTERFACE", pif.Ref)
			}
			deletePIF(tx, pif)
			return nil
		})
		return nil, err
	})
	s.Handle("PIF.destroy", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			pif, err := xapi.GetObject(tx, "PIF", c.StringArg(0))
			if err != nil {
				return err
			}
			if xapi.Bool(pif, "physical") {
				return apierror.New("PIF_IS_PHYSICAL", pif.Ref)
			}
			if vlan := xapi.Str(pif, "VLAN_master_of"); tx.Get("VLAN", vlan) != nil {
				tx.Delete("VLAN", vlan)
			}
			deletePIF(tx, pif)
			return nil
		})
		return nil, err
	})
}

func deletePIF(tx *store.Tx, pif *store.Object) {
	tx.Delete("PIF_metrics", xapi.Str(pif, "metrics"))
	tx.Delete("PIF", pif.Ref)
}

// pifSetAttached plugs or unplugs a PIF: not the management interface, not one that
// disallows unplugging.
func (p *Sim) pifSetAttached(c *xapi.Call, attached bool) error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		pif, err := xapi.GetObject(tx, "PIF", c.StringArg(0))
		if err != nil || xapi.Bool(pif, "currently_attached") == attached {
			return err
		}
		if !attached {
			if xapi.Bool(pif, "management") {
				return apierror.New("PIF_IS_MANAGEMENT_INTERFACE", pif.Ref)
			}
			if xapi.Bool(pif, "disallow_unplug") {
				return apierror.New("PIF_DOES_NOT_ALLOW_UNPLUG", pif.Ref)
			}
		}
		pif = pif.Clone()
		xapi.Set(pif, "currently_attached", attached)
		tx.Put(pif)
		return nil
	})
	return err
}

// reconfigureIP stores a PIF's IP configuration after xapi's checks.
func (p *Sim) reconfigureIP(c *xapi.Call) (any, error) {
	mode, ip, mask, gateway, dns := c.StringArg(1), c.StringArg(2), c.StringArg(3), c.StringArg(4), c.StringArg(5)
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		pif, err := xapi.GetObject(tx, "PIF", c.StringArg(0))
		if err != nil {
			return err
		}
		if !xapi.Bool(pif, "managed") {
			return apierror.New("PIF_UNMANAGED", pif.Ref)
		}
		if mode != xapi.Str(pif, "ip_configuration_mode") || ip != xapi.Str(pif, "IP") {
			if err := p.pifCheck(tx, pif, "reconfigure"); err != nil {
				return err
			}
		}
		switch mode {
		case "Static":
			if net.ParseIP(ip).To4() == nil {
				return apierror.New("INVALID_IP_ADDRESS_SPECIFIED", "IP")
			}
			if net.ParseIP(mask).To4() == nil {
				return apierror.New("INVALID_IP_ADDRESS_SPECIFIED", "netmask")
			}
			if gateway != "" && net.ParseIP(gateway).To4() == nil {
				return apierror.New("INVALID_IP_ADDRESS_SPECIFIED", "gateway")
			}
		case "DHCP":
			sum := md5.Sum([]byte(xapi.Str(pif, "MAC")))
			ip, mask, gateway = fmt.Sprintf("10.0.%d.%d", 100+int(sum[0])%100, 2+int(sum[1])%250), "255.255.0.0", "10.0.0.1"
		case "None":
			if xapi.Bool(pif, "management") {
				return apierror.New("PIF_IS_MANAGEMENT_INTERFACE", pif.Ref)
			}
			ip, mask, gateway, dns = "", "", "", ""
		}
		pif = pif.Clone()
		for k, v := range map[string]any{"ip_configuration_mode": mode, "IP": ip, "netmask": mask, "gateway": gateway, "DNS": dns} {
			xapi.Set(pif, k, v)
		}
		tx.Put(pif)
		return nil
	})
	return nil, err
}

// pifScan introduces the host's NICs that have no PIF.
func (p *Sim) pifScan(c *xapi.Call) (any, error) {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		h, err := xapi.GetObject(tx, "host", c.StringArg(0))
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, ref := range xapi.Refs(h, "PIFs") {
			if pif := tx.Get("PIF", ref); pif != nil && xapi.Bool(pif, "physical") {
				have[xapi.Str(pif, "device")] = true
			}
		}
		for n, dev := range hostNICs {
			if !have[dev] {
				if _, err := p.introducePIF(tx, h, dev, nicMAC(xapi.Str(h, "uuid"), n), true); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return nil, err
}

// introducePIF creates a physical PIF for a NIC, on the pool-wide network of its device
// (found by bridge, or created).
func (p *Sim) introducePIF(tx *store.Tx, h *store.Object, device, mac string, managed bool) (*store.Object, error) {
	for _, ref := range xapi.Refs(h, "PIFs") {
		if pif := tx.Get("PIF", ref); pif != nil && xapi.Str(pif, "device") == device && xapi.Int(pif, "VLAN") == -1 {
			return nil, apierror.New("DUPLICATE_PIF_DEVICE_NAME", device)
		}
	}
	n := slices.Index(hostNICs, device)
	bridge := "br" + device
	if n >= 0 {
		bridge = fmt.Sprintf("xenbr%d", n)
	}
	var network *store.Object
	for _, o := range tx.All("network") {
		if xapi.Str(o, "bridge") == bridge {
			network = o
		}
	}
	if network == nil {
		network = p.srv.NewObject("network")
		xapi.Set(network, "name_label", "Pool-wide network associated with "+device)
		xapi.Set(network, "bridge", bridge)
		xapi.Set(network, "MTU", int64(1500))
		xapi.Set(network, "managed", true)
		tx.Put(network)
	}
	metrics := p.srv.NewObject("PIF_metrics")
	for k, v := range map[string]any{"carrier": true, "vendor_id": "8086", "vendor_name": "Intel Corporation", "device_id": "1572",
		"device_name": "Ethernet Controller X710 for 10GbE SFP+", "speed": int64(10000), "duplex": true,
		"pci_bus_path": fmt.Sprintf("0000:3b:00.%d", max(n, 0)), "last_updated": p.srv.Clock.Now()} {
		xapi.Set(metrics, k, v)
	}
	tx.Put(metrics)
	pif := p.srv.NewObject("PIF")
	for k, v := range map[string]any{"device": device, "network": network.Ref, "host": h.Ref, "MAC": mac, "MTU": int64(1500),
		"VLAN": int64(-1), "metrics": metrics.Ref, "physical": true, "managed": managed, "ip_configuration_mode": "None",
		"properties": map[string]any{"gro": "on"}} {
		xapi.Set(pif, k, v)
	}
	tx.Put(pif)
	return pif, nil
}

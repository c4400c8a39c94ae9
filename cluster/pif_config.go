package cluster

import (
	"crypto/md5"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// PIF settings (xapi_pif.ml): properties, IPv6 addressing, the primary address type, and
// the database-only introduce and forget. The calls that configure an interface are
// forwarded to the PIF's host: HANDLE_INVALID for a missing PIF, HOST_OFFLINE for a host
// that is down, then xapi's checks.

// pifProperties are the properties a PIF may set, with their values.
var pifProperties = map[string][]string{"gro": {"on", "off"}}

func (p *Sim) registerPIFConfig() {
	s := p.srv
	s.Handle("PIF.set_property", func(c *xapi.Call) (any, error) {
		name, value := c.StringArg(1), c.StringArg(2)
		return nil, p.updatePIF(c.StringArg(0), func(tx *store.Tx, pif *store.Object) error {
			if !slices.Contains(pifProperties[name], value) {
				return apierror.New(apierror.InvalidValue, "properties", name+" = "+value)
			}
			// Only bond masters and physical PIFs that are not bond slaves have properties.
			if len(xapi.Refs(pif, "bond_master_of")) == 0 && !xapi.Bool(pif, "physical") || !isNull(xapi.Str(pif, "bond_slave_of")) {
				return apierror.New("CANNOT_CHANGE_PIF_PROPERTIES", pif.Ref)
			}
			props := xapi.CopyMap(xapi.Map(pif, "properties"))
			props[name] = value
			xapi.Set(pif, "properties", props)
			// A bond's slaves get the master's properties.
			for _, bond := range xapi.Refs(pif, "bond_master_of") {
				for _, slave := range xapi.Refs(tx.Get("Bond", bond), "slaves") {
					if o := tx.Get("PIF", slave); o != nil {
						o = o.Clone()
						xapi.Set(o, "properties", xapi.CopyMap(props))
						tx.Put(o)
					}
				}
			}
			return nil
		})
	})
	s.Handle("PIF.set_primary_address_type", func(c *xapi.Call) (any, error) {
		value := c.StringArg(1)
		return nil, p.updatePIF(c.StringArg(0), func(tx *store.Tx, pif *store.Object) error {
			if err := protectionError(tx, pif); err != nil {
				return err
			}
			if xapi.Bool(pif, "management") {
				return apierror.New("PIF_IS_MANAGEMENT_INTERFACE", pif.Ref)
			}
			xapi.Set(pif, "primary_address_type", value)
			return nil
		})
	})
	s.Handle("PIF.reconfigure_ipv6", p.reconfigureIPv6)
	s.Handle("PIF.db_introduce", p.pifDBIntroduce)
	s.Handle("PIF.db_forget", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			pif, err := xapi.GetObject(tx, "PIF", c.StringArg(0))
			if err != nil {
				return err
			}
			// Only the record goes; its metrics stay, as in xapi's database.
			tx.Delete("PIF", pif.Ref)
			return nil
		})
		return nil, err
	})
}

// updatePIF is a forwarded PIF call that changes the PIF: fn gets a clone, stored when
// fn succeeds.
func (p *Sim) updatePIF(ref string, fn func(tx *store.Tx, pif *store.Object) error) error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		pif, err := xapi.GetObject(tx, "PIF", ref)
		if err != nil {
			return err
		}
		if err := forwardTo(tx, xapi.Str(pif, "host")); err != nil {
			return err
		}
		changed := pif.Clone()
		if err := fn(tx, changed); err != nil {
			return err
		}
		tx.Put(changed)
		return nil
	})
	return err
}

// protectionError is xapi's assert_no_protection_enabled: an attached PIF may not be
// reconfigured while HA or the redo log is enabled.
func protectionError(r store.Reader, pif *store.Object) error {
	if !xapi.Bool(pif, "currently_attached") {
		return nil
	}
	pool := firstPool(r)
	if xapi.Bool(pool, "ha_enabled") {
		return apierror.New("HA_IS_ENABLED")
	}
	if xapi.Bool(pool, "redo_log_enabled") {
		return apierror.New("REDO_LOG_IS_ENABLED")
	}
	return nil
}

// isIPv6 is Helpers.is_valid_ip `ipv6.
func isIPv6(s string) bool {
	return net.ParseIP(s) != nil && strings.Contains(s, ":")
}

// isIPv6CIDR is an IPv6 address with a prefix length, as Ipaddr.V6.Prefix reads it.
func isIPv6CIDR(s string) bool {
	addr, _, ok := strings.Cut(s, "/")
	_, _, err := net.ParseCIDR(s)
	return ok && err == nil && isIPv6(addr)
}

// dnsOf keeps the comma-separated servers of one family.
func dnsOf(dns string, v6 bool) []string {
	var out []string
	for _, s := range strings.Split(dns, ",") {
		if s != "" && net.ParseIP(s) != nil && strings.Contains(s, ":") == v6 {
			out = append(out, s)
		}
	}
	return out
}

// reconfigureIPv6 stores a PIF's IPv6 configuration after xapi's checks. An attached PIF
// in DHCP or Autoconf mode gets the address networkd would find on it: the MAC's
// EUI-64 in fd00::/64.
func (p *Sim) reconfigureIPv6(c *xapi.Call) (any, error) {
	mode, addr, gateway, dns := c.StringArg(1), c.StringArg(2), c.StringArg(3), c.StringArg(4)
	return nil, p.updatePIF(c.StringArg(0), func(tx *store.Tx, pif *store.Object) error {
		if !xapi.Bool(pif, "managed") {
			return apierror.New("PIF_UNMANAGED", pif.Ref)
		}
		current, _ := xapi.Get(pif, "IPv6").([]any)
		unchanged := mode == "Static" && xapi.Str(pif, "ipv6_configuration_mode") == mode &&
			len(current) == 1 && current[0] == addr && xapi.Str(pif, "ipv6_gateway") == gateway
		if !unchanged {
			if err := protectionError(tx, pif); err != nil {
				return err
			}
			if err := p.pifCheck(tx, pif, "reconfigure"); err != nil {
				return err
			}
		}
		if gateway != "" && !isIPv6(gateway) {
			return apierror.New("INVALID_IP_ADDRESS_SPECIFIED", "gateway")
		}
		if addr != "" && !isIPv6CIDR(addr) {
			return apierror.New("INVALID_CIDR_ADDRESS_SPECIFIED", "IPv6")
		}
		if xapi.Bool(pif, "management") && mode == "None" && xapi.Str(pif, "primary_address_type") == "IPv6" {
			return apierror.New("PIF_IS_MANAGEMENT_INTERFACE", pif.Ref)
		}
		if xapi.Bool(pif, "currently_attached") && (mode == "DHCP" || mode == "Autoconf") {
			addr = eui64Address(xapi.Str(pif, "MAC"))
		}
		servers := append(dnsOf(dns, true), dnsOf(xapi.Str(pif, "DNS"), false)...)
		xapi.Set(pif, "ipv6_configuration_mode", mode)
		xapi.Set(pif, "ipv6_gateway", gateway)
		xapi.Set(pif, "IPv6", []any{addr})
		xapi.Set(pif, "DNS", strings.Join(servers, ","))
		return nil
	})
}

// eui64Address is the SLAAC address of a MAC in fd00::/64, with its prefix length.
func eui64Address(mac string) string {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		sum := md5.Sum([]byte(mac))
		hw = sum[:6]
	}
	return fmt.Sprintf("fd00::%02x%02x:%02xff:fe%02x:%02x%02x/64", hw[0]^2, hw[1], hw[2], hw[3], hw[4], hw[5])
}

// pifDBIntroduce creates a PIF record as given, detached, with empty metrics; xapi checks
// no ref but the network of a VLAN (whose VIFs it reads for trunks, which the
// simulation has none of).
func (p *Sim) pifDBIntroduce(c *xapi.Call) (any, error) {
	names := []string{"device", "network", "host", "MAC", "MTU", "VLAN", "physical", "ip_configuration_mode", "IP",
		"netmask", "gateway", "DNS", "bond_slave_of", "VLAN_master_of", "management", "other_config", "disallow_unplug",
		"ipv6_configuration_mode", "IPv6", "ipv6_gateway", "primary_address_type", "managed", "properties"}
	var ref string
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		if c.Arg(5).(int64) != -1 {
			if _, err := xapi.GetObject(tx, "network", c.StringArg(1)); err != nil {
				return err
			}
		}
		metrics := p.srv.NewObject("PIF_metrics")
		for k, v := range map[string]any{"last_updated": time.Unix(0, 0).UTC(), "carrier": false, "duplex": false, "speed": int64(0)} {
			xapi.Set(metrics, k, v)
		}
		tx.Put(metrics)
		pif := p.srv.NewObject("PIF")
		for i, name := range names {
			if name != "bond_slave_of" {
				xapi.Set(pif, name, c.Arg(i))
			}
		}
		xapi.Set(pif, "metrics", metrics.Ref)
		xapi.Set(pif, "bond_slave_of", datamodel.NullRef)
		xapi.Set(pif, "igmp_snooping_status", "unknown")
		xapi.Set(pif, "currently_attached", false)
		tx.Put(pif)
		ref = pif.Ref
		return nil
	})
	return ref, err
}

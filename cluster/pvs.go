package cluster

import (
	"fmt"
	"net"
	"slices"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Citrix Provisioning (xapi_pvs_site.ml, xapi_pvs_server.ml, xapi_pvs_proxy.ml,
// pvs_proxy_control.ml). The PVS proxy daemon is a model: a proxy created for an attached
// VIF starts at once when its site has a server and cache storage on the VM's host
// (status initialised, currently_attached), else it stays stopped with xapi's alert.

// assertPVSAvailable is the licence and the Open vSwitch backend every PVS call needs.
func assertPVSAvailable(r store.Reader) error {
	if err := licenceRestriction(r, "restrict_pvs_proxy", "PVS_proxy", false); err != nil {
		return err
	}
	if !usingVSwitch(r) {
		return apierror.New("OPENVSWITCH_NOT_ACTIVE")
	}
	return nil
}

// runningPVSProxies are a site's proxies that are currently attached.
func runningPVSProxies(r store.Reader, site string) []string {
	var out []string
	for _, o := range r.All("PVS_proxy") {
		if xapi.Str(o, "site") == site && xapi.Bool(o, "currently_attached") {
			out = append(out, o.Ref)
		}
	}
	return out
}

func (p *Sim) registerPVS() {
	s := p.srv
	s.Handle("PVS_site.introduce", func(c *xapi.Call) (any, error) {
		var ref string
		_, err := s.Store.Update(func(tx *store.Tx) error {
			if err := assertPVSAvailable(tx); err != nil {
				return err
			}
			o := p.srv.NewObject("PVS_site")
			for k, v := range map[string]any{"name_label": c.StringArg(0), "name_description": c.StringArg(1),
				"PVS_uuid": c.StringArg(2), "cache_storage": []any{}} {
				xapi.Set(o, k, v)
			}
			tx.Put(o)
			ref = o.Ref
			return nil
		})
		return ref, err
	})
	s.Handle("PVS_site.forget", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			site, err := idlePVSSite(tx, c.StringArg(0))
			if err != nil {
				return err
			}
			if servers := xapi.Refs(site, "servers"); len(servers) > 0 {
				return apierror.New("PVS_SITE_CONTAINS_SERVERS", servers...)
			}
			// The site's cache storage goes with its cache VDIs.
			for _, ref := range xapi.Refs(site, "cache_storage") {
				if o := tx.Get("PVS_cache_storage", ref); o != nil {
					if tx.Get("VDI", xapi.Str(o, "VDI")) != nil {
						tx.Delete("VDI", xapi.Str(o, "VDI"))
					}
					tx.Delete("PVS_cache_storage", ref)
				}
			}
			tx.Delete("PVS_site", site.Ref)
			return nil
		})
		return nil, err
	})
	s.Handle("PVS_site.set_PVS_uuid", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			site, err := idlePVSSite(tx, c.StringArg(0))
			if err != nil {
				return err
			}
			site = site.Clone()
			xapi.Set(site, "PVS_uuid", c.StringArg(1))
			tx.Put(site)
			return nil
		})
		return nil, err
	})
	s.Handle("PVS_server.introduce", p.pvsServerIntroduce)
	s.Handle("PVS_server.forget", func(c *xapi.Call) (any, error) { return nil, p.deletePVSObject("PVS_server", c.StringArg(0)) })
	s.Handle("PVS_proxy.create", p.pvsProxyCreate)
	// An attached proxy is stopped first, which leaves nothing to record.
	s.Handle("PVS_proxy.destroy", func(c *xapi.Call) (any, error) { return nil, p.deletePVSObject("PVS_proxy", c.StringArg(0)) })
}

// deletePVSObject deletes a PVS server or proxy, which xapi does without checks.
func (p *Sim) deletePVSObject(class, ref string) error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		o, err := xapi.GetObject(tx, class, ref)
		if err != nil {
			return err
		}
		tx.Delete(class, o.Ref)
		return nil
	})
	return err
}

// pvsServerIntroduce: valid addresses not used by another server, a valid port range and
// an existing site. Repeated addresses are kept once.
func (p *Sim) pvsServerIntroduce(c *xapi.Call) (any, error) {
	var ref string
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		if err := assertPVSAvailable(tx); err != nil {
			return err
		}
		var addresses []string
		for _, v := range c.Arg(0).([]any) {
			a, _ := v.(string)
			if ip := net.ParseIP(a); ip == nil {
				return apierror.New("INVALID_IP_ADDRESS_SPECIFIED", "addresses")
			}
			addresses = append(addresses, a)
		}
		var current []string
		for _, o := range tx.All("PVS_server") {
			current = append(current, xapi.Refs(o, "addresses")...)
		}
		var inUse []string
		for _, a := range addresses {
			if slices.Contains(current, a) {
				inUse = append(inUse, a)
			}
		}
		if len(inUse) > 0 {
			return apierror.New("PVS_SERVER_ADDRESS_IN_USE", inUse...)
		}
		first, last := c.Arg(1).(int64), c.Arg(2).(int64)
		for _, port := range []struct {
			name  string
			value int64
		}{{"first_port", first}, {"last_port", last}} {
			if port.value < 1 || port.value > 65535 {
				return apierror.New("VALUE_NOT_SUPPORTED", port.name, fmt.Sprint(port.value), "Port out of range")
			}
		}
		if last < first {
			return apierror.New("VALUE_NOT_SUPPORTED", "last_port", fmt.Sprint(last), "last_port smaller than first_port")
		}
		site := c.StringArg(3)
		if tx.Get("PVS_site", site) == nil {
			return apierror.New(apierror.InvalidValue, "site", site)
		}
		var set []any
		for _, a := range addresses {
			if !slices.Contains(set, any(a)) {
				set = append(set, a)
			}
		}
		o := p.srv.NewObject("PVS_server")
		for k, v := range map[string]any{"addresses": set, "first_port": first, "last_port": last, "site": site} {
			xapi.Set(o, k, v)
		}
		if set == nil {
			xapi.Set(o, "addresses", []any{})
		}
		tx.Put(o)
		ref = o.Ref
		return nil
	})
	return ref, err
}

// pvsProxyCreate: one proxy per VIF, on an existing site, for the VM's first VIF; the
// proxy starts when the VIF is attached.
func (p *Sim) pvsProxyCreate(c *xapi.Call) (any, error) {
	var ref string
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		site, vifRef := c.StringArg(0), c.StringArg(1)
		// xapi forwards the call to the VM's host, reading the VIF's VM first.
		vif, err := xapi.GetObject(tx, "VIF", vifRef)
		if err != nil {
			return err
		}
		if err := assertPVSAvailable(tx); err != nil {
			return err
		}
		var present []string
		for _, o := range tx.All("PVS_proxy") {
			if xapi.Str(o, "VIF") == vifRef {
				present = append(present, o.Ref)
			}
		}
		if len(present) > 0 {
			return apierror.New("PVS_PROXY_ALREADY_PRESENT", present...)
		}
		if tx.Get("PVS_site", site) == nil {
			return apierror.New(apierror.InvalidValue, "site", site)
		}
		device, err := ocamlInt(xapi.Str(vif, "device"))
		if err != nil {
			return err
		}
		for _, o := range tx.All("VIF") {
			if xapi.Str(o, "VM") != xapi.Str(vif, "VM") {
				continue
			}
			d, err := ocamlInt(xapi.Str(o, "device"))
			if err != nil {
				return err
			}
			if d < device {
				return apierror.New("PVS_VIF_MUST_BE_FIRST_DEVICE")
			}
		}
		proxy := p.srv.NewObject("PVS_proxy")
		for k, v := range map[string]any{"site": site, "VIF": vifRef, "currently_attached": false, "status": "stopped"} {
			xapi.Set(proxy, k, v)
		}
		tx.Put(proxy)
		ref = proxy.Ref
		if xapi.Bool(vif, "currently_attached") {
			p.startPVSProxy(tx, proxy, vif)
		}
		return nil
	})
	return ref, err
}

// startPVSProxy starts a proxy on its VM's host: it needs a server on the site, then the
// site's cache storage on the host; failing that it stays stopped with an alert.
func (p *Sim) startPVSProxy(tx *store.Tx, proxy, vif *store.Object) {
	site := tx.Get("PVS_site", xapi.Str(proxy, "site"))
	host := firstPool(tx)
	if h := tx.Get("host", xapi.Str(host, "master")); h != nil {
		host = h
	}
	if vm := tx.Get("VM", xapi.Str(vif, "VM")); vm != nil {
		if h := tx.Get("host", xapi.Str(vm, "resident_on")); h != nil {
			host = h
		}
	}
	alert := xapi.Alert{Priority: xapi.PriorityWarning, Class: "PVS_proxy", ObjUUID: xapi.Str(proxy, "uuid")}
	hasCache := false
	for _, ref := range xapi.Refs(site, "cache_storage") {
		if o := tx.Get("PVS_cache_storage", ref); o != nil && xapi.Str(o, "host") == host.Ref {
			hasCache = true
		}
	}
	switch {
	case len(xapi.Refs(site, "servers")) == 0:
		alert.Name = "PVS_PROXY_NO_SERVER_AVAILABLE"
		alert.Body = fmt.Sprintf("Unable to setup PVS-proxy %s for VIF %s: no PVS-server found on PVS-site %s for host %s.",
			xapi.Str(proxy, "uuid"), xapi.Str(vif, "uuid"), xapi.Str(site, "name_label"), xapi.Str(host, "name_label"))
	case !hasCache:
		alert.Name = "PVS_PROXY_NO_CACHE_SR_AVAILABLE"
		alert.Body = fmt.Sprintf("Unable to setup PVS-proxy %s for VIF %s: no cache storage found on PVS-site %s for host %s.",
			xapi.Str(proxy, "uuid"), xapi.Str(vif, "uuid"), xapi.Str(site, "name_label"), xapi.Str(host, "name_label"))
	default:
		xapi.Set(proxy, "status", "initialised")
		xapi.Set(proxy, "currently_attached", true)
		tx.Put(proxy)
		return
	}
	tx.Put(p.srv.NewMessage(alert))
}

// idlePVSSite returns a PVS site none of whose proxies is running, as forgetting it or
// changing its PVS uuid requires.
func idlePVSSite(tx *store.Tx, ref string) (*store.Object, error) {
	site, err := xapi.GetObject(tx, "PVS_site", ref)
	if err != nil {
		return nil, err
	}
	if running := runningPVSProxies(tx, site.Ref); len(running) > 0 {
		return nil, apierror.New("PVS_SITE_CONTAINS_RUNNING_PROXIES", running...)
	}
	return site, nil
}

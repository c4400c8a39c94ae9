package cluster

import (
	"fmt"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Networks (semantics.md §4.6): records only; a network reaches a host through its PIFs.

func (p *Sim) registerNetwork() {
	s := p.srv
	s.Handle("network.create", p.networkCreate)
	s.Handle("network.destroy", p.networkDestroy)
	p.registerNetworkSetters()
}

func (p *Sim) networkCreate(c *xapi.Call) (any, error) {
	rec := c.Arg(0).([]any)
	cls := p.srv.Schema.Class("network")
	net := p.srv.NewObject("network")
	for _, f := range cls.Fields {
		if f.Qualifier.String() != "RO/runtime" && !f.Internal {
			net.Fields[f.Index] = rec[f.Index]
		}
	}
	if xapi.Int(net, "MTU") <= 0 {
		xapi.Set(net, "MTU", int64(1500))
	}
	xapi.Set(net, "purpose", []any{})
	xapi.Set(net, "default_locking_mode", "unlocked")
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		bridges := map[string]bool{}
		for _, o := range tx.All("network") {
			bridges[xapi.Str(o, "bridge")] = true
		}
		bridge := xapi.Str(net, "bridge")
		switch {
		case bridge == "":
			for n := 0; ; n++ {
				if b := fmt.Sprintf("xapi%d", n); !bridges[b] {
					xapi.Set(net, "bridge", b)
					break
				}
			}
		case len(bridge) > 15 || hasAnyPrefix(bridge, "xen", "xapi", "vif", "tap", "eth"):
			return apierror.New(apierror.InvalidValue, "bridge", bridge)
		case bridges[bridge]:
			return apierror.New("BRIDGE_NAME_EXISTS", bridge)
		}
		tx.Put(net)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return net.Ref, nil
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// networkDestroy refuses a network in use (attached VIFs, any PIF, the host-internal
// management network) and deletes its detached VIFs with it.
func (p *Sim) networkDestroy(c *xapi.Call) (any, error) {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		net, err := xapi.GetObject(tx, "network", c.StringArg(0))
		if err != nil {
			return err
		}
		var attached []string
		for _, ref := range xapi.Refs(net, "VIFs") {
			if vif := tx.Get("VIF", ref); vif != nil && xapi.Bool(vif, "currently_attached") {
				attached = append(attached, ref)
			}
		}
		if len(attached) > 0 {
			return apierror.New("NETWORK_CONTAINS_VIF", attached...)
		}
		if pifs := xapi.Refs(net, "PIFs"); len(pifs) > 0 {
			return apierror.New("NETWORK_CONTAINS_PIF", pifs...)
		}
		if isTrue(xapi.StringMap(net, "other_config")["is_host_internal_management_network"]) {
			return apierror.New("CANNOT_DESTROY_SYSTEM_NETWORK", net.Ref)
		}
		for _, ref := range xapi.Refs(net, "VIFs") {
			deleteVIF(tx, ref)
		}
		tx.Delete("network", net.Ref)
		return nil
	})
	return nil, err
}

func (p *Sim) registerNetworkSetters() {
	s := p.srv
	s.Handle("network.set_default_locking_mode", func(c *xapi.Call) (any, error) {
		return nil, s.UpdateField("network", c.StringArg(0), "default_locking_mode", func(any) (any, error) { return c.Arg(1), nil })
	})
	s.Handle("network.add_purpose", func(c *xapi.Call) (any, error) {
		return nil, s.UpdateField("network", c.StringArg(0), "purpose", func(old any) (any, error) {
			set, _ := old.([]any)
			for _, v := range set {
				if v == c.Arg(1) {
					return old, nil
				}
			}
			return append(append([]any{}, set...), c.Arg(1)), nil
		})
	})
	s.Handle("network.remove_purpose", func(c *xapi.Call) (any, error) {
		return nil, s.UpdateField("network", c.StringArg(0), "purpose", func(old any) (any, error) {
			var out []any
			for _, v := range old.([]any) {
				if v != c.Arg(1) {
					out = append(out, v)
				}
			}
			return append([]any{}, out...), nil
		})
	})
}

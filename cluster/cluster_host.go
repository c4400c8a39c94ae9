package cluster

import (
	"fmt"
	"slices"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// The Cluster_host class (xapi_cluster_host.ml): one host's membership of the cluster.
// Calls that change it hold an operation on the cluster (add, remove, enable, disable)
// and, for enable and disable, on the Cluster_host too.

// clusterHostOps are the operations xapi ever lists in a Cluster_host's
// allowed_operations, in its (reversed) order.
var clusterHostOps = []string{"disable", "enable"}

func (p *Sim) registerClusterHost() {
	s := p.srv
	s.Handle("Cluster_host.create", func(c *xapi.Call) (any, error) {
		return p.createClusterHost(c, c.StringArg(0), c.StringArg(1), c.StringArg(2))
	})
	s.Handle("Cluster_host.destroy", func(c *xapi.Call) (any, error) { return nil, p.destroyClusterHost(c, c.StringArg(0)) })
	s.Handle("Cluster_host.force_destroy", func(c *xapi.Call) (any, error) {
		return nil, p.forceDestroyClusterHost(c, c.StringArg(0))
	})
	s.Handle("Cluster_host.enable", func(c *xapi.Call) (any, error) {
		return nil, p.setClusterHostEnabled(c, c.StringArg(0), true)
	})
	s.Handle("Cluster_host.disable", func(c *xapi.Call) (any, error) {
		return nil, p.setClusterHostEnabled(c, c.StringArg(0), false)
	})
	s.Handle("Cluster_host.forget", func(c *xapi.Call) (any, error) { return nil, p.forgetClusterHostCall(c, c.StringArg(0)) })
}

// clusterHostOpError is the first reason a Cluster_host operation is not allowed now.
func clusterHostOpError(ch *store.Object, op string) error {
	if err := concurrentOpError("Cluster_host", ch); err != nil {
		return err
	}
	if (op == "enable" || op == "disable") && !xapi.Bool(ch, "joined") {
		return apierror.New("CLUSTER_HOST_NOT_JOINED", ch.Ref)
	}
	return nil
}

func setClusterHostAllowedOps(tx *store.Tx, ref string) {
	recomputeAllowedOps(tx, "Cluster_host", ref, clusterHostOps, func(ch *store.Object, op string) bool {
		return clusterHostOpError(ch, op) == nil
	})
}

// clusterHostOp is a Cluster_host operation for withOp.
func clusterHostOp(ref, op string) objectOp {
	return objectOp{class: "Cluster_host", ref: ref, op: op, refresh: setClusterHostAllowedOps,
		check: func(_ *store.Tx, ch *store.Object) error { return clusterHostOpError(ch, op) }}
}

// createClusterHost is Cluster_host.create: under the cluster's add operation, on the
// host itself, the record is made and the host joins. A failed join leaves the record
// (joined=false) and a CLUSTER_HOST_ENABLE_FAILED alert, as in xapi.
func (p *Sim) createClusterHost(c *xapi.Call, cluster, host, pif string) (string, error) {
	var ref string
	err := p.withOp(c, clusterOp(cluster, "add"), func() error {
		if _, err := xapi.GetObject(p.srv.Store, "host", host); err != nil {
			return err
		}
		if err := forwardTo(p.srv.Store, host); err != nil {
			return err
		}
		if err := c.Work(); err != nil {
			return err
		}
		var err error
		if ref, err = p.newClusterHost(cluster, host, pif); err != nil {
			return err
		}
		return p.joinClusterHost(ref)
	})
	return ref, err
}

// newClusterHost makes the record of a host's membership, not yet joined.
func (p *Sim) newClusterHost(cluster, host, pif string) (string, error) {
	var ref string
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		h, err := xapi.GetObject(tx, "host", host)
		if err != nil {
			return err
		}
		if !slices.Contains(xapi.Refs(h, "PIFs"), pif) {
			return apierror.New("PIF_NOT_ATTACHED_TO_HOST", pif, host)
		}
		if clusterHostOf(tx, host) != nil {
			return apierror.Internal("Cluster host cannot be created because it already exists")
		}
		ch := p.srv.NewObject("Cluster_host")
		for k, v := range map[string]any{"cluster": cluster, "host": host, "PIF": pif, "enabled": false, "joined": false, "live": false} {
			xapi.Set(ch, k, v)
		}
		tx.Put(ch)
		setClusterHostAllowedOps(tx, ch.Ref)
		ref = ch.Ref
		return nil
	})
	return ref, err
}

// joinClusterHost is join_internal: the PIF is plugged and made permanent, the other
// members' addresses are looked up, and the daemon joins. Whatever happens is
// committed; an error also raises CLUSTER_HOST_ENABLE_FAILED on the host.
func (p *Sim) joinClusterHost(ref string) error {
	var joinErr error
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		ch, err := xapi.GetObject(tx, "Cluster_host", ref)
		if err != nil {
			return err
		}
		if joinErr = p.join(tx, ch); joinErr != nil {
			h := tx.Get("host", xapi.Str(ch, "host"))
			a := alertHostEnableFailed
			a.ObjUUID = xapi.Str(h, "uuid")
			a.Body = fmt.Sprintf("Error: %s\nMessage: Unable to create cluster host on %s.", errorText(joinErr), xapi.Str(h, "name_label"))
			tx.Put(p.srv.NewMessage(a))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return joinErr
}

func (p *Sim) join(tx *store.Tx, ch *store.Object) error {
	pif, err := xapi.GetObject(tx, "PIF", xapi.Str(ch, "PIF"))
	if err != nil {
		return err
	}
	ip := xapi.Str(pif, "IP")
	if ip == "" {
		return apierror.New("PIF_HAS_NO_NETWORK_CONFIGURATION", pif.Ref)
	}
	if !xapi.Bool(pif, "currently_attached") || !xapi.Bool(pif, "disallow_unplug") {
		pif = pif.Clone()
		xapi.Set(pif, "currently_attached", true)
		xapi.Set(pif, "disallow_unplug", true)
		tx.Put(pif)
	}
	cluster := xapi.Str(ch, "cluster")
	reachable := false
	for _, other := range clusterHosts(tx, cluster) {
		if o := tx.Get("PIF", xapi.Str(other, "PIF")); o != nil && xapi.Str(o, "IP") != "" && xapi.Str(o, "IP") != ip {
			reachable = true
		}
	}
	if !reachable {
		return apierror.New("NO_CLUSTER_HOSTS_REACHABLE", cluster)
	}
	if err := daemonError(tx, xapi.Str(ch, "host")); err != nil {
		return err
	}
	ch = ch.Clone()
	xapi.Set(ch, "joined", true)
	xapi.Set(ch, "enabled", true)
	tx.Put(ch)
	setClusterHostAllowedOps(tx, ch.Ref)
	p.syncCluster(tx, cluster)
	return nil
}

// errorText is ExnHelper.string_of_exn: "CODE: [ p1; p2 ]".
func errorText(err error) string {
	e := apierror.From(err)
	return e.Code + ": [ " + strings.Join(e.Params, "; ") + " ]"
}

// setClusterHostEnabled is Cluster_host.enable and disable: under the cluster's and the
// Cluster_host's operation, on the host itself. Enable re-checks the PIF without fixing
// it; disable refuses while a clustered SR is plugged there.
func (p *Sim) setClusterHostEnabled(c *xapi.Call, ref string, enabled bool) error {
	ch, err := xapi.GetObject(p.srv.Store, "Cluster_host", ref)
	if err != nil {
		return err
	}
	op := "disable"
	if enabled {
		op = "enable"
	}
	return p.withOp(c, clusterOp(xapi.Str(ch, "cluster"), op), func() error {
		return p.withOp(c, clusterHostOp(ref, op), func() error {
			return p.onHost(c, xapi.Str(ch, "host"), func(tx *store.Tx) error {
				ch, err := xapi.GetObject(tx, "Cluster_host", ref)
				if err != nil {
					return err
				}
				if enabled {
					pif, err := xapi.GetObject(tx, "PIF", xapi.Str(ch, "PIF"))
					if err != nil {
						return err
					}
					if err := clusterPIFPrerequisites(pif); err != nil {
						return err
					}
				} else if err := assertNoClusteredSR(tx, ch); err != nil {
					return err
				}
				if err := daemonError(tx, xapi.Str(ch, "host")); err != nil {
					return err
				}
				ch = ch.Clone()
				xapi.Set(ch, "enabled", enabled)
				tx.Put(ch)
				p.syncCluster(tx, xapi.Str(ch, "cluster"))
				return nil
			})
		})
	})
}

// clusterHostDestroyError is why a member cannot leave gracefully: it must be enabled,
// not the last member, and not holding a clustered SR; then the daemon must agree.
func clusterHostDestroyError(r store.Reader, ch *store.Object) error {
	if !xapi.Bool(ch, "enabled") {
		return apierror.New("CLUSTERING_DISABLED", ch.Ref)
	}
	if len(clusterHosts(r, xapi.Str(ch, "cluster"))) == 1 {
		return apierror.New("CLUSTER_HOST_IS_LAST", ch.Ref)
	}
	if err := assertNoClusteredSR(r, ch); err != nil {
		return err
	}
	return daemonError(r, xapi.Str(ch, "host"))
}

// destroyClusterHost is Cluster_host.destroy, the graceful leave.
func (p *Sim) destroyClusterHost(c *xapi.Call, ref string) error {
	return p.removeMember(c, ref, clusterHostDestroyError)
}

// forceDestroyClusterHost is Cluster_host.force_destroy: only a plugged clustered SR
// stops it; whatever the daemon says, the record goes.
func (p *Sim) forceDestroyClusterHost(c *xapi.Call, ref string) error {
	return p.removeMember(c, ref, assertNoClusteredSR)
}

// removeMember runs a leave under the cluster's remove operation, on the member's host.
func (p *Sim) removeMember(c *xapi.Call, ref string, check func(store.Reader, *store.Object) error) error {
	ch, err := xapi.GetObject(p.srv.Store, "Cluster_host", ref)
	if err != nil {
		return err
	}
	return p.withOp(c, clusterOp(xapi.Str(ch, "cluster"), "remove"), func() error {
		return p.onHost(c, xapi.Str(ch, "host"), func(tx *store.Tx) error {
			ch, err := xapi.GetObject(tx, "Cluster_host", ref)
			if err != nil {
				return err
			}
			if err := check(tx, ch); err != nil {
				return err
			}
			p.removeClusterHost(tx, ch)
			return nil
		})
	})
}

// forgetClusterHostCall is Cluster_host.forget (local root only; host.destroy's hook):
// joined=false at once, then another member declares the node dead under the cluster's
// remove operation.
func (p *Sim) forgetClusterHostCall(c *xapi.Call, ref string) error {
	var cluster string
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		ch, err := xapi.GetObject(tx, "Cluster_host", ref)
		if err != nil {
			return err
		}
		cluster = xapi.Str(ch, "cluster")
		ch = ch.Clone()
		xapi.Set(ch, "joined", false)
		tx.Put(ch)
		return nil
	})
	if err != nil || len(clusterHosts(p.srv.Store, cluster)) < 2 {
		return err
	}
	return p.withOp(c, clusterOp(cluster, "remove"), func() error {
		var forgetErr error
		_, err := p.srv.Store.Update(func(tx *store.Tx) error {
			if ch := tx.Get("Cluster_host", ref); ch != nil {
				forgetErr = p.forgetClusterHost(tx, ch)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return forgetErr
	})
}

// onHost runs a clustering change where the forwarding layer would: on host (HOST_OFFLINE
// when it is down), after the call's simulated time, in one transaction.
func (p *Sim) onHost(c *xapi.Call, host string, change func(tx *store.Tx) error) error {
	if err := forwardTo(p.srv.Store, host); err != nil {
		return err
	}
	if err := c.Work(); err != nil {
		return err
	}
	_, err := p.srv.Store.Update(change)
	return err
}

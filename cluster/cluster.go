package cluster

import (
	"fmt"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// The Cluster class (xapi_cluster.ml), with the forwarding layer's operation locking
// (message_forwarding.ml). Every change runs under one of the cluster's operations, and
// any operation in progress blocks every other one.

// clusterOps are xapi's cluster operations, in the order update_allowed_operations
// lists them (it folds from the front, so the list comes out reversed).
var clusterOps = []string{"destroy", "disable", "enable", "remove", "add"}

func (p *Sim) registerCluster() {
	s := p.srv
	s.Handle("Cluster.create", func(c *xapi.Call) (any, error) {
		return p.createCluster(c, c.StringArg(0), c.StringArg(1), c.Arg(2).(bool), c.Arg(3).(float64), c.Arg(4).(float64))
	})
	s.Handle("Cluster.destroy", func(c *xapi.Call) (any, error) { return nil, p.destroyCluster(c, c.StringArg(0)) })
	s.Handle("Cluster.get_network", p.clusterNetwork)
	s.Handle("Cluster.pool_create", p.poolCreateCluster)
	s.Handle("Cluster.pool_destroy", func(c *xapi.Call) (any, error) { return nil, p.poolDestroyCluster(c, c.StringArg(0), false) })
	s.Handle("Cluster.pool_force_destroy", func(c *xapi.Call) (any, error) { return nil, p.poolDestroyCluster(c, c.StringArg(0), true) })
	s.Handle("Cluster.pool_resync", p.poolResyncCluster)
}

// clusterOp is a Cluster operation for withOp.
func clusterOp(ref, op string) objectOp {
	return objectOp{class: "Cluster", ref: ref, op: op, refresh: setClusterAllowedOps,
		check: func(_ *store.Tx, cl *store.Object) error { return concurrentOpError("Cluster", cl) }}
}

// concurrentOpError refuses any operation while another one is in progress, naming the
// one in progress as xapi does ("{a,b}" when there are several).
func concurrentOpError(class string, obj *store.Object) error {
	tasks, ops := sortedOps(xapi.Map(obj, "current_operations"))
	switch len(tasks) {
	case 0:
		return nil
	case 1:
		return apierror.New("OTHER_OPERATION_IN_PROGRESS", class, obj.Ref, ops[0], tasks[0])
	}
	return apierror.New("OTHER_OPERATION_IN_PROGRESS", class, obj.Ref,
		"{"+strings.Join(ops, ",")+"}", "{"+strings.Join(tasks, ",")+"}")
}

func setClusterAllowedOps(tx *store.Tx, ref string) {
	cl := tx.Get("Cluster", ref)
	if cl == nil {
		return
	}
	allowed := []any{}
	if concurrentOpError("Cluster", cl) == nil {
		for _, op := range clusterOps {
			allowed = append(allowed, op)
		}
	}
	putAllowedOps(tx, cl, allowed)
}

// createCluster is Cluster.create: under the pool's cluster_create operation, the stack
// and timeouts are checked, then the PIF, then the cluster starts with the coordinator as
// its only member.
func (p *Sim) createCluster(c *xapi.Call, pif, stack string, autoJoin bool, timeout, coefficient float64) (string, error) {
	pool := firstPool(p.srv.Store)
	var ref string
	op := objectOp{class: "pool", ref: pool.Ref, op: "cluster_create", refresh: setPoolAllowedOps,
		check: func(tx *store.Tx, pool *store.Object) error { return poolOpError(tx, pool, "cluster_create") }}
	err := p.withOp(c, op, func() error {
		if stack != clusterStack {
			return apierror.New("INVALID_CLUSTER_STACK", stack)
		}
		if err := validateTokenTimeouts(timeout, coefficient); err != nil {
			return err
		}
		checkPIF := func(r store.Reader) error {
			o, err := xapi.GetObject(r, "PIF", pif)
			if err != nil {
				return err
			}
			return clusterPIFPrerequisites(o)
		}
		if err := checkPIF(p.srv.Store); err != nil {
			return err
		}
		if err := c.Work(); err != nil {
			return err
		}
		_, err := p.srv.Store.Update(func(tx *store.Tx) error {
			if err := checkPIF(tx); err != nil {
				return err
			}
			pool := firstPool(tx)
			master := xapi.Str(pool, "master")
			if err := daemonError(tx, master); err != nil {
				return err
			}
			version := int64(2)
			if xapi.Map(pool, "restrictions")["restrict_corosync3"] == "false" {
				version = 3
			}
			cl := p.srv.NewObject("Cluster")
			for k, v := range map[string]any{
				"cluster_token": strings.ReplaceAll(p.srv.IDs.UUID(), "-", ""), "cluster_stack": stack,
				"cluster_stack_version": version, "pool_auto_join": autoJoin,
				"token_timeout": timeout, "token_timeout_coefficient": coefficient,
			} {
				xapi.Set(cl, k, v)
			}
			tx.Put(cl)
			ch := p.srv.NewObject("Cluster_host")
			for k, v := range map[string]any{"cluster": cl.Ref, "host": master, "PIF": pif, "enabled": true, "joined": true, "live": true} {
				xapi.Set(ch, k, v)
			}
			tx.Put(ch)
			setClusterHostAllowedOps(tx, ch.Ref)
			setClusterAllowedOps(tx, cl.Ref)
			setHAClusterStack(tx)
			p.syncCluster(tx, cl.Ref)
			ref = cl.Ref
			return nil
		})
		return err
	})
	return ref, err
}

// setHAClusterStack is xapi's choice of pool.ha_cluster_stack: corosync while a cluster
// exists, xhad otherwise.
func setHAClusterStack(tx *store.Tx) {
	stack := "xhad"
	if theCluster(tx) != nil {
		stack = clusterStack
	}
	pool := firstPool(tx)
	if xapi.Str(pool, "ha_cluster_stack") != stack {
		pool = pool.Clone()
		xapi.Set(pool, "ha_cluster_stack", stack)
		tx.Put(pool)
	}
}

// destroyCluster is Cluster.destroy: only a cluster of one (or no) node can go; its last
// node is force-destroyed with it.
func (p *Sim) destroyCluster(c *xapi.Call, ref string) error {
	return p.withOp(c, clusterOp(ref, "destroy"), func() error {
		return p.onHost(c, clusterForwardHost(p.srv.Store, ref), func(tx *store.Tx) error {
			chs := clusterHosts(tx, ref)
			if len(chs) > 1 {
				return apierror.New("CLUSTER_DOES_NOT_HAVE_ONE_NODE", fmt.Sprint(len(chs)))
			}
			if len(chs) == 1 {
				if err := assertNoClusteredSR(tx, chs[0]); err != nil {
					return err
				}
				p.removeClusterHost(tx, chs[0])
			}
			tx.Delete("Cluster", ref)
			setHAClusterStack(tx)
			setPoolAllowedOps(tx, firstPool(tx).Ref)
			return nil
		})
	})
}

// clusterForwardHost is where the forwarding layer runs cluster-wide calls: the
// coordinator if it is a member, else the first member, else the coordinator.
func clusterForwardHost(r store.Reader, cluster string) string {
	master := xapi.Str(firstPool(r), "master")
	chs := clusterHosts(r, cluster)
	for _, ch := range chs {
		if xapi.Str(ch, "host") == master {
			return master
		}
	}
	if len(chs) > 0 {
		return xapi.Str(chs[0], "host")
	}
	return master
}

// clusterNetwork is Cluster.get_network: the network every member's PIF is on.
func (p *Sim) clusterNetwork(c *xapi.Call) (any, error) {
	cl, err := c.Get("Cluster", c.StringArg(0))
	if err != nil {
		return nil, err
	}
	return clusterNetworkOf(p.srv.Store, cl.Ref)
}

func clusterNetworkOf(r store.Reader, cluster string) (string, error) {
	chs := clusterHosts(r, cluster)
	if len(chs) == 0 {
		return "", apierror.Internal("Failure(\"No cluster_hosts found for cluster %s\")", cluster)
	}
	network := func(ch *store.Object) string { return xapi.Str(r.Get("PIF", xapi.Str(ch, "PIF")), "network") }
	first := network(chs[0])
	for _, ch := range chs[1:] {
		if network(ch) != first {
			return "", apierror.Internal("Failure(\"No common network found for cluster %s\")", cluster)
		}
	}
	return first, nil
}

// pifOfHost is the host's one PIF on the network.
func pifOfHost(r store.Reader, network, host string) (string, error) {
	var found []string
	for _, ref := range xapi.Refs(r.Get("host", host), "PIFs") {
		if pif := r.Get("PIF", ref); pif != nil && xapi.Str(pif, "network") == network {
			found = append(found, ref)
		}
	}
	if len(found) != 1 {
		return "", apierror.Internal("No PIF found for host:%s and network:%s", host, network)
	}
	return found[0], nil
}

// otherHosts are the pool's hosts other than the coordinator, in database order.
func otherHosts(r store.Reader) []string {
	master := xapi.Str(firstPool(r), "master")
	var out []string
	for _, h := range r.All("host") {
		if h.Ref != master {
			out = append(out, h.Ref)
		}
	}
	return out
}

// poolCreateCluster is Cluster.pool_create: Cluster.create on the coordinator's PIF on
// the network, then Cluster_host.create for every other host; any failure after the
// cluster exists force-destroys it and reports the original error.
func (p *Sim) poolCreateCluster(c *xapi.Call) (any, error) {
	network, stack, timeout, coefficient := c.StringArg(0), c.StringArg(1), c.Arg(2).(float64), c.Arg(3).(float64)
	if err := validateTokenTimeouts(timeout, coefficient); err != nil {
		return nil, err
	}
	master := xapi.Str(firstPool(p.srv.Store), "master")
	pif, err := pifOfHost(p.srv.Store, network, master)
	if err != nil {
		return nil, err
	}
	cluster, err := p.createCluster(c, pif, stack, true, timeout, coefficient)
	if err != nil {
		return nil, err
	}
	for _, host := range otherHosts(p.srv.Store) {
		pif, err := pifOfHost(p.srv.Store, network, host)
		if err == nil {
			_, err = p.createClusterHost(c, cluster, host, pif)
		}
		if err != nil {
			if cerr := p.poolDestroyCluster(c, cluster, true); cerr != nil {
				p.srv.Logger().Warn().Err(cerr).Str("cluster", cluster).Msg("pool_create: clean-up failed")
			}
			return nil, err
		}
	}
	return cluster, nil
}

// poolDestroyCluster is Cluster.pool_destroy (force=false: every other member leaves,
// then Cluster.destroy; the first error stops it) and Cluster.pool_force_destroy (every
// step tried, errors ignored; members that cannot leave are forced out or forgotten).
func (p *Sim) poolDestroyCluster(c *xapi.Call, ref string, force bool) error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		cl, err := xapi.GetObject(tx, "Cluster", ref)
		if err != nil {
			return err
		}
		cl = cl.Clone()
		xapi.Set(cl, "pool_auto_join", false)
		tx.Put(cl)
		return nil
	})
	if err != nil {
		return err
	}
	members := func() []*store.Object { return clusterHosts(p.srv.Store, ref) }
	master := xapi.Str(firstPool(p.srv.Store), "master")
	for _, ch := range members() {
		if xapi.Str(ch, "host") == master {
			continue
		}
		if err := p.destroyClusterHost(c, ch.Ref); err != nil && !force {
			return err
		}
	}
	if !force {
		return p.destroyCluster(c, ref)
	}
	for _, ch := range members() {
		_ = p.forceDestroyClusterHost(c, ch.Ref)
	}
	for _, ch := range members() {
		_ = p.forgetClusterHostCall(c, ch.Ref)
	}
	_, err = p.srv.Store.Update(func(tx *store.Tx) error {
		for _, ch := range clusterHosts(tx, ref) {
			if !xapi.Bool(ch, "joined") {
				tx.Delete("Cluster_host", ch.Ref)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(members()) > 0 {
		return apierror.New("CLUSTER_FORCE_DESTROY_FAILED", ref)
	}
	return p.destroyCluster(c, ref)
}

// poolResyncCluster is Cluster.pool_resync: on every host, coordinator first, a missing
// Cluster_host is created when the cluster auto-joins, a member that has not joined
// joins, an enabled one is enabled again. Errors on a host are swallowed (failed joins
// leave an alert); only an offline host stops the call.
func (p *Sim) poolResyncCluster(c *xapi.Call) (any, error) {
	master := xapi.Str(firstPool(p.srv.Store), "master")
	for _, host := range append([]string{master}, otherHosts(p.srv.Store)...) {
		if err := forwardTo(p.srv.Store, host); err != nil {
			return nil, err
		}
		p.resyncHost(c, host)
	}
	return nil, nil
}

func (p *Sim) resyncHost(c *xapi.Call, host string) {
	r := p.srv.Store
	cl := theCluster(r)
	if cl == nil {
		return
	}
	if clusterHostOf(r, host) == nil && xapi.Bool(cl, "pool_auto_join") {
		network, err := clusterNetworkOf(r, cl.Ref)
		if err != nil {
			return
		}
		pif, err := pifOfHost(r, network, host)
		if err != nil {
			return
		}
		if _, err := p.newClusterHost(cl.Ref, host, pif); err != nil {
			return
		}
	}
	ch := clusterHostOf(r, host)
	switch {
	case ch == nil:
	case !xapi.Bool(ch, "joined"):
		_ = p.joinClusterHost(ch.Ref)
	case xapi.Bool(ch, "enabled"):
		_ = p.setClusterHostEnabled(c, ch.Ref, true)
	}
}

// daemonError is the simulated xapi-clusterd failing on a host, on demand: while the
// host's other_config has "xapisim-clusterd-error", every daemon call there fails with
// INTERNAL_ERROR carrying that text, so clients can test xapi's failure paths.
func daemonError(r store.Reader, host string) error {
	h := r.Get("host", host)
	if h == nil {
		return nil
	}
	if msg, ok := xapi.Map(h, "other_config")[daemonErrorKey].(string); ok {
		return apierror.New(apierror.InternalError, msg)
	}
	return nil
}

const daemonErrorKey = "xapisim-clusterd-error"

package cluster

import (
	"fmt"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/wire"
)

// The clustering model. xapi hands clustering to xapi-clusterd, which drives corosync;
// neither is public, so the simulation stands in for both (docs/architecture.md):
//
//   - Votes: one per Cluster_host that is joined and enabled (corosync votequorum's
//     default of one vote per node). quorum = floor(votes/2) + 1.
//   - Members: the voting Cluster_hosts whose host is live and whose PIF is attached
//     with an IP. The cluster is quorate when members >= quorum.
//   - xapi's watcher copies the daemon's diagnostics into the database after every
//     membership change: is_quorate, quorum, live_hosts = expected_hosts = members
//     (xapi writes total_votes to both), and each Cluster_host's live and
//     last_update_live. The simulation runs it inside the transaction that changed
//     the membership (no 5 s stabilisation period), with xapi's alerts.
//   - The daemon never fails on its own: joins, leaves and declare_dead succeed when
//     xapi's own checks pass.
const (
	clusterStack               = "corosync"
	minTokenTimeout            = 1.0
	minTokenTimeoutCoefficient = 0.65
)

// Alerts raised by the watcher and by failed joins (api_messages.ml: name, priority).
var (
	alertHostLeaving          = xapi.Alert{Name: "CLUSTER_HOST_LEAVING", Priority: 3, Class: "Host"}
	alertHostJoining          = xapi.Alert{Name: "CLUSTER_HOST_JOINING", Priority: 4, Class: "Host"}
	alertQuorumApproachesLost = xapi.Alert{Name: "CLUSTER_QUORUM_APPROACHING_LOST", Priority: 2, Class: "Pool"}
	alertHostEnableFailed     = xapi.Alert{Name: "CLUSTER_HOST_ENABLE_FAILED", Priority: 3, Class: "Host"}
)

func (p *Sim) registerClustering() {
	p.registerCluster()
	p.registerClusterHost()
	p.OnLiveness(func(tx *store.Tx, host string, _ bool) error {
		if cl := theCluster(tx); cl != nil && clusterHostOf(tx, host) != nil {
			p.syncCluster(tx, cl.Ref)
		}
		return nil
	})
	p.OnEject(p.leaveClusterOnEject)
	p.OnHostDestroy(p.forgetClusterHostOf)
	p.OnPlug(clusterPlugCheck)
	p.OnPIFChange(clusterPIFCheck)
}

// theCluster is the pool's cluster (xapi allows one), or nil.
func theCluster(r store.Reader) *store.Object {
	if all := r.All("Cluster"); len(all) > 0 {
		return all[0]
	}
	return nil
}

// clusterHostOf is the host's Cluster_host, or nil.
func clusterHostOf(r store.Reader, host string) *store.Object {
	for _, ch := range r.All("Cluster_host") {
		if xapi.Str(ch, "host") == host {
			return ch
		}
	}
	return nil
}

// clusterHosts are a cluster's Cluster_hosts in the order they were created.
func clusterHosts(r store.Reader, cluster string) []*store.Object {
	cl := r.Get("Cluster", cluster)
	if cl == nil {
		return nil
	}
	var out []*store.Object
	for _, ref := range xapi.Refs(cl, "cluster_hosts") {
		if ch := r.Get("Cluster_host", ref); ch != nil {
			out = append(out, ch)
		}
	}
	return out
}

// diagnostics is what the simulated daemon reports about the corosync membership.
type diagnostics struct {
	quorum  int
	members map[string]bool // Cluster_host refs in the membership
}

func (d diagnostics) quorate() bool { return len(d.members) >= d.quorum }

func diagnose(r store.Reader, cluster string) diagnostics {
	d := diagnostics{members: map[string]bool{}}
	votes := 0
	for _, ch := range clusterHosts(r, cluster) {
		if !xapi.Bool(ch, "joined") || !xapi.Bool(ch, "enabled") {
			continue
		}
		votes++
		pif := r.Get("PIF", xapi.Str(ch, "PIF"))
		if hostLive(r, xapi.Str(ch, "host")) && pif != nil && xapi.Bool(pif, "currently_attached") && xapi.Str(pif, "IP") != "" {
			d.members[ch.Ref] = true
		}
	}
	d.quorum = votes/2 + 1
	return d
}

// syncCluster is the watcher's update (Cluster.cstack_sync): the daemon's diagnostics
// written to the Cluster and its Cluster_hosts, and an alert per host that left or
// joined the membership.
func (p *Sim) syncCluster(tx *store.Tx, cluster string) {
	cl := tx.Get("Cluster", cluster)
	if cl == nil {
		return
	}
	d := diagnose(tx, cluster)
	now := p.srv.Clock.Now()
	var left, joined []*store.Object
	for _, ch := range clusterHosts(tx, cluster) {
		live, was := d.members[ch.Ref], xapi.Bool(ch, "live")
		switch {
		case was && !live:
			left = append(left, ch)
		case !was && live:
			joined = append(joined, ch)
		}
		ch = ch.Clone()
		xapi.Set(ch, "live", live)
		xapi.Set(ch, "last_update_live", now)
		tx.Put(ch)
	}
	members := int64(len(d.members))
	fields := map[string]any{"is_quorate": d.quorate(), "quorum": int64(d.quorum), "live_hosts": members, "expected_hosts": members}
	changed := false
	for k, v := range fields {
		changed = changed || xapi.Get(cl, k) != v
	}
	if changed {
		cl = cl.Clone()
		for k, v := range fields {
			xapi.Set(cl, k, v)
		}
		tx.Put(cl)
	}
	for _, ch := range left {
		p.clusterHostAlert(tx, alertHostLeaving, ch, "Host has left the cluster", len(d.members), d.quorum)
	}
	for _, ch := range joined {
		p.clusterHostAlert(tx, alertHostJoining, ch, "Host has joined the cluster", len(d.members), d.quorum)
	}
	if len(left) > 0 && len(d.members) <= d.quorum {
		a := alertQuorumApproachesLost
		a.ObjUUID = xapi.Str(firstPool(tx), "uuid")
		a.Body = fmt.Sprintf("<body><message>Cluster is losing quorum</message><total_hosts>%d</total_hosts><quorum>%d</quorum></body>", len(d.members), d.quorum)
		tx.Put(p.srv.NewMessage(a))
	}
}

func (p *Sim) clusterHostAlert(tx *store.Tx, a xapi.Alert, ch *store.Object, text string, members, quorum int) {
	h := tx.Get("host", xapi.Str(ch, "host"))
	if h == nil {
		return
	}
	a.ObjUUID = xapi.Str(h, "uuid")
	a.Body = fmt.Sprintf("<body><message>%s</message><host>%s</host><total_hosts>%d</total_hosts><quorum>%d</quorum></body>",
		text, xmlEscape(xapi.Str(h, "name_label")), members, quorum)
	tx.Put(p.srv.NewMessage(a))
}

var xmlEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// clusterPIFPrerequisites are xapi's checks of a PIF used for clustering, in its order.
func clusterPIFPrerequisites(pif *store.Object) error {
	switch {
	case !xapi.Bool(pif, "disallow_unplug"):
		return apierror.New("PIF_ALLOWS_UNPLUG", pif.Ref)
	case !xapi.Bool(pif, "currently_attached"):
		return apierror.New("REQUIRED_PIF_IS_UNPLUGGED", pif.Ref)
	case xapi.Str(pif, "IP") == "":
		return apierror.New("PIF_HAS_NO_NETWORK_CONFIGURATION", pif.Ref)
	}
	return nil
}

// validateTokenTimeouts refuses timeouts below corosync's minimums, quoting the value as
// OCaml prints floats.
func validateTokenTimeouts(timeout, coefficient float64) error {
	if timeout < minTokenTimeout {
		return apierror.New("INVALID_VALUE", "token_timeout", wire.FormatOCamlFloat(timeout))
	}
	if coefficient < minTokenTimeoutCoefficient {
		return apierror.New("INVALID_VALUE", "token_timeout_coefficient", wire.FormatOCamlFloat(coefficient))
	}
	return nil
}

// forwardTo is the forwarding layer's check before running a call on another host: the
// coordinator answers for itself; other hosts must be live.
func forwardTo(r store.Reader, host string) error {
	if host != xapi.Str(firstPool(r), "master") && !hostLive(r, host) {
		return apierror.New("HOST_OFFLINE", host)
	}
	return nil
}

// assertNoClusteredSR refuses to stop clustering on a host with a plugged SR whose driver
// needs the cluster stack (gfs2).
func assertNoClusteredSR(r store.Reader, ch *store.Object) error {
	for _, pbd := range xapi.Refs(r.Get("host", xapi.Str(ch, "host")), "PBDs") {
		o := r.Get("PBD", pbd)
		if o == nil || !xapi.Bool(o, "currently_attached") {
			continue
		}
		if sr := r.Get("SR", xapi.Str(o, "SR")); sr != nil && requiresClusterStack(r, xapi.Str(sr, "type")) {
			return apierror.New("CLUSTER_STACK_IN_USE", clusterStack)
		}
	}
	return nil
}

// requiresClusterStack reports whether the SM driver of an SR type needs corosync.
func requiresClusterStack(r store.Reader, srType string) bool {
	for _, sm := range r.All("SM") {
		if xapi.Str(sm, "type") == srType {
			for _, s := range xapi.Refs(sm, "required_cluster_stack") {
				if s == clusterStack {
					return true
				}
			}
		}
	}
	return false
}

// clusterPlugCheck is xapi's check before plugging a PBD of a clustered SR type: the host
// needs an enabled Cluster_host in a quorate cluster.
func clusterPlugCheck(r store.Reader, sr, host *store.Object) error {
	if !requiresClusterStack(r, xapi.Str(sr, "type")) {
		return nil
	}
	ch := clusterHostOf(r, host.Ref)
	switch {
	case ch == nil:
		return apierror.New("NO_COMPATIBLE_CLUSTER_HOST", host.Ref)
	case !xapi.Bool(ch, "enabled"):
		return apierror.New("CLUSTERING_DISABLED", ch.Ref)
	case !diagnose(r, xapi.Str(ch, "cluster")).quorate():
		return apierror.New("CLUSTER_HOST_NOT_JOINED", ch.Ref)
	}
	return nil
}

// clusterPIFCheck refuses to let a PIF used by an enabled Cluster_host be unpluggable,
// forgotten or readdressed.
func clusterPIFCheck(r store.Reader, pif *store.Object, _ string) error {
	for _, ch := range r.All("Cluster_host") {
		if xapi.Str(ch, "PIF") == pif.Ref && xapi.Bool(ch, "enabled") {
			return apierror.New("CLUSTERING_ENABLED", ch.Ref)
		}
	}
	return nil
}

// leaveClusterOnEject is pool.eject's first step: the host leaves the cluster gracefully
// (Cluster_host.destroy), and its errors stop the eject.
func (p *Sim) leaveClusterOnEject(tx *store.Tx, host string) error {
	ch := clusterHostOf(tx, host)
	if ch == nil {
		return nil
	}
	if err := clusterHostDestroyError(tx, ch); err != nil {
		return err
	}
	p.removeClusterHost(tx, ch)
	return nil
}

// forgetClusterHostOf is host.destroy's best-effort Cluster_host.forget: another live
// member declares the dead host's node dead and the record goes. When none answers, xapi's
// database GC removes the record once its host is gone; the simulation does it at once.
func (p *Sim) forgetClusterHostOf(tx *store.Tx, host string) error {
	if ch := clusterHostOf(tx, host); ch != nil {
		if err := p.forgetClusterHost(tx, ch); err != nil || tx.Get("Cluster_host", ch.Ref) != nil {
			tx.Delete("Cluster_host", ch.Ref)
		}
	}
	return nil
}

// forgetClusterHost marks the Cluster_host not joined, then lets the first other live
// member declare its node dead: HOST_OFFLINE when no other member answers, nothing more
// when there is no other member.
func (p *Sim) forgetClusterHost(tx *store.Tx, ch *store.Object) error {
	ch = ch.Clone()
	xapi.Set(ch, "joined", false)
	tx.Put(ch)
	var offline error
	for _, other := range clusterHosts(tx, xapi.Str(ch, "cluster")) {
		if other.Ref == ch.Ref {
			continue
		}
		by := xapi.Str(other, "host")
		if offline = forwardTo(tx, by); offline == nil {
			return p.declareNodeDead(tx, ch, by)
		}
	}
	return offline
}

// declareNodeDead is the daemon's declare_dead run on host by: the dead node's IP waits in
// the cluster's pending_forget until the daemon accepts it, then the record goes.
func (p *Sim) declareNodeDead(tx *store.Tx, ch *store.Object, by string) error {
	cl := tx.Get("Cluster", xapi.Str(ch, "cluster")).Clone()
	ip := xapi.Str(tx.Get("PIF", xapi.Str(ch, "PIF")), "IP")
	xapi.Set(cl, "pending_forget", append([]any{ip}, xapi.Get(cl, "pending_forget").([]any)...))
	tx.Put(cl)
	if err := daemonError(tx, by); err != nil {
		return err
	}
	cl = cl.Clone()
	xapi.Set(cl, "pending_forget", []any{})
	tx.Put(cl)
	p.removeClusterHost(tx, ch)
	return nil
}

// removeClusterHost deletes a Cluster_host after its node left or was declared dead, and
// lets the watcher see the new membership.
// The watcher runs while the record still exists, as in xapi (cstack_sync, then the
// delete), so the node that left raises CLUSTER_HOST_LEAVING.
func (p *Sim) removeClusterHost(tx *store.Tx, ch *store.Object) {
	ch = tx.Get("Cluster_host", ch.Ref).Clone()
	xapi.Set(ch, "joined", false)
	tx.Put(ch)
	p.syncCluster(tx, xapi.Str(ch, "cluster"))
	tx.Delete("Cluster_host", ch.Ref)
}

package cluster

import (
	"context"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/wire"
)

// Pool join (xapi_pool.ml join_common, pre_join_checks). The host that gets the call
// logs in to the master at master_address and, after its pre-join checks, becomes its
// slave. The simulation has one pool: the only master anyone can reach is its own
// coordinator, whose address makes the checks end with "already part of a pool"; a
// slave's address answers HOST_IS_SLAVE as a slave does at login; any other address
// cannot be reached. So a join never succeeds, and it fails where xapi would.

func (p *Sim) registerPoolJoin() {
	p.srv.Handle("pool.join", p.poolJoin)
	p.srv.Handle("pool.join_force", p.poolJoin) // force only skips homogeneity checks, never reached
}

func (p *Sim) poolJoin(c *xapi.Call) (any, error) {
	address, user, password := c.StringArg(0), c.StringArg(1), c.StringArg(2)
	r := p.srv.Store
	if !featureEnabled(r, "restrict_pooling", false) {
		return nil, apierror.New("LICENCE_RESTRICTION")
	}
	master := xapi.Str(firstPool(r), "master")
	target := hostAtAddress(r, address)
	switch {
	case target == "" || !hostLive(r, target):
		return nil, apierror.New("JOINING_HOST_CONNECTION_FAILED")
	case target != master:
		return nil, apierror.New("HOST_IS_SLAVE", managementAddress(r, master))
	}
	if err := p.loginAt(c.Ctx, user, password); err != nil {
		return nil, err
	}
	return nil, preJoinChecks(r, master)
}

// hostAtAddress is the host whose management address is address, or "".
func hostAtAddress(r store.Reader, address string) string {
	for _, h := range r.All("host") {
		if address != "" && (managementAddress(r, h.Ref) == address || xapi.Str(h, "address") == address) {
			return h.Ref
		}
	}
	return ""
}

// loginAt logs in to the master as the joining host does, and out again.
func (p *Sim) loginAt(ctx context.Context, user, password string) error {
	reply := p.srv.Dispatch(ctx, &wire.Request{Method: "session.login_with_password", Params: []any{user, password}}, nil)
	if reply.Err != nil {
		return reply.Err
	}
	session, _ := reply.Value.(string)
	p.srv.Dispatch(ctx, &wire.Request{Method: "session.logout", Params: []any{session}}, nil)
	return nil
}

// preJoinChecks runs xapi's pre-join checks, in its order, up to the one that always
// fails here: the joiner (the coordinator) would become a slave of itself.
func preJoinChecks(r store.Reader, me string) error {
	if !featureEnabled(r, "restrict_pool_size", false) && len(r.All("host")) >= 3 {
		return apierror.New("LICENCE_RESTRICTION", "Pool_size")
	}
	if !hasManagementPIF(r, me) {
		return apierror.New("HOST_STILL_BOOTING")
	}
	if xapi.Bool(firstPool(r), "ha_enabled") {
		return apierror.New("HA_IS_ENABLED")
	}
	for _, ch := range r.All("Cluster_host") {
		if xapi.Str(ch, "host") == me && xapi.Bool(ch, "enabled") {
			return apierror.New("CLUSTERING_ENABLED", ch.Ref)
		}
	}
	if len(r.All("host")) > 1 {
		return apierror.New(apierror.OperationNotAllowed, "Host is already part of a pool")
	}
	return apierror.New(apierror.OperationNotAllowed, "Host cannot become slave of itself")
}

// hasManagementPIF says whether the host has a PIF marked for management.
func hasManagementPIF(r store.Reader, host string) bool {
	for _, ref := range xapi.Refs(r.Get("host", host), "PIFs") {
		if xapi.Bool(r.Get("PIF", ref), "management") {
			return true
		}
	}
	return false
}

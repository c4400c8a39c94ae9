package cluster

import (
	"slices"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Pool operations, as xapi_pool_helpers partitions them: a blocking operation in progress
// refuses every other blocking one with its own "…_IN_PROGRESS" error; a waiting one makes
// the others wait (OTHER_OPERATION_IN_PROGRESS, which beginOp retries).
var (
	poolBlockingOps = []struct{ op, inProgress string }{
		{"ha_enable", "HA_ENABLE_IN_PROGRESS"},
		{"ha_disable", "HA_DISABLE_IN_PROGRESS"},
		{"cluster_create", "CLUSTER_CREATE_IN_PROGRESS"},
		{"designate_new_master", "DESIGNATE_NEW_MASTER_IN_PROGRESS"},
		{"tls_verification_enable", "TLS_VERIFICATION_ENABLE_IN_PROGRESS"},
		{"configure_repositories", "CONFIGURE_REPOSITORIES_IN_PROGRESS"},
		{"sync_updates", "SYNC_UPDATES_IN_PROGRESS"},
		{"apply_updates", "APPLY_UPDATES_IN_PROGRESS"},
	}
	poolWaitingOps = []string{"cert_refresh", "exchange_certificates_on_join", "exchange_ca_certificates_on_join",
		"copy_primary_host_certs", "eject", "get_updates"}
)

// poolOpError is the first reason a pool operation is not allowed now.
func poolOpError(r store.Reader, pool *store.Object, op string) error {
	current := xapi.Map(pool, "current_operations")
	tasks, ops := sortedOps(current)
	isBlocking := !slices.Contains(poolWaitingOps, op)
	for _, b := range poolBlockingOps {
		if slices.Contains(ops, b.op) {
			if isBlocking {
				return apierror.New(b.inProgress)
			}
			return otherPoolOp(pool, tasks, ops)
		}
	}
	if len(ops) > 0 {
		return otherPoolOp(pool, tasks, ops)
	}
	haEnabled := xapi.Bool(pool, "ha_enabled")
	switch {
	case op == "ha_enable" && haEnabled, op == "tls_verification_enable" && haEnabled:
		return apierror.New("HA_IS_ENABLED")
	case op == "ha_disable" && !haEnabled:
		return apierror.New("HA_NOT_ENABLED")
	case op == "cluster_create" && r.Count("Cluster") > 0:
		return apierror.New("CLUSTER_ALREADY_EXISTS")
	case op == "cluster_create" && haEnabled:
		return apierror.New("INCOMPATIBLE_CLUSTER_STACK_ACTIVE", xapi.Str(pool, "ha_cluster_stack"))
	}
	return nil
}

// otherPoolOp names the waiting operation in progress (xapi reports the first one).
func otherPoolOp(pool *store.Object, tasks, ops []string) error {
	for i, op := range ops {
		if slices.Contains(poolWaitingOps, op) {
			return apierror.New("OTHER_OPERATION_IN_PROGRESS", "pool", pool.Ref, op, tasks[i])
		}
	}
	return apierror.New("OTHER_OPERATION_IN_PROGRESS", "pool", pool.Ref)
}

// setPoolAllowedOps recomputes the pool's allowed_operations.
func setPoolAllowedOps(tx *store.Tx, ref string) {
	pool := tx.Get("pool", ref)
	if pool == nil {
		return
	}
	allowed := []any{}
	for _, b := range poolBlockingOps {
		if poolOpError(tx, pool, b.op) == nil {
			allowed = append(allowed, b.op)
		}
	}
	for _, op := range poolWaitingOps {
		if poolOpError(tx, pool, op) == nil {
			allowed = append(allowed, op)
		}
	}
	putAllowedOps(tx, pool, allowed)
}

package cluster

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Pool HA (semantics.md §3.2–3.3, xapi_ha.ml, xapi_ha_vm_failover.ml). The xHA daemon
// is a model: the liveset is the live hosts, every host sees the statefile while it is
// live, and xapi's monitor runs in the transaction that changes a host's liveness
// instead of every few seconds.

// HA alerts (api_messages.ml: name, priority).
var (
	alertPIFCanUnplug        = xapi.Alert{Name: "IP_CONFIGURED_PIF_CAN_UNPLUG", Priority: 3, Class: "Pool"}
	alertOvercommitted       = xapi.Alert{Name: "HA_POOL_OVERCOMMITTED", Priority: 3, Class: "Pool"}
	alertPlanDropped         = xapi.Alert{Name: "HA_POOL_DROP_IN_PLAN_EXISTS_FOR", Priority: 3, Class: "Pool"}
	alertRestartFailed       = xapi.Alert{Name: "HA_PROTECTED_VM_RESTART_FAILED", Priority: 2, Class: "VM"}
	alertHostFailed          = xapi.Alert{Name: "HA_HOST_FAILED", Priority: 3, Class: "Host"}
	haRestartRetryInterval   = 120 * time.Second
	statefileSize            = int64(4096 + 64*4096)
	redoLogSize              = int64(4_000_000_000/(4*mib)-2) * 4 * mib
	haSRMinimumFree          = 4*mib + redoLogSize // both rounded up to 4 MiB
	haValidRestartPriorities = []string{haRestart, "best-effort", ""}
)

// haState is what xapi's monitor keeps in memory: when each VM was last restarted, which
// failures were reported, until when restarts are held off.
type haState struct {
	lastAttempt map[string]time.Time
	alerted     map[string]bool
	holdUntil   time.Time
	// disarmed is the coordinator's local ha_armed flag turned off by
	// host.emergency_ha_disable while the database still says HA is on.
	disarmed atomic.Bool
}

// poolAlert raises an alert about the pool.
func (p *Sim) poolAlert(tx *store.Tx, a xapi.Alert, body string) {
	a.ObjUUID, a.Body = xapi.Str(firstPool(tx), "uuid"), body
	tx.Put(p.srv.NewMessage(a))
}

// updatePoolStatus is xapi's update_pool_status: with a plan for the failures to
// tolerate the pool is not overcommitted and plans for them; else it is marked
// overcommitted, with the most failures it can plan for.
func (p *Sim) updatePoolStatus(tx *store.Tx) {
	pool := firstPool(tx)
	toTolerate := xapi.Int(pool, "ha_host_failures_to_tolerate")
	protected := protectedVMs(tx)
	if planFor(tx, protected, haChange{}, int(toTolerate)) == planForAll {
		setPoolFields(tx, map[string]any{"ha_overcommitted": false, "ha_plan_exists_for": toTolerate})
		return
	}
	n := maxFailures(tx, protected)
	if planned := xapi.Int(pool, "ha_plan_exists_for"); planned != n {
		setPoolFields(tx, map[string]any{"ha_plan_exists_for": min(toTolerate, n)})
		if n < planned {
			p.poolAlert(tx, alertPlanDropped, strconv.FormatInt(n, 10))
		}
	}
	if !xapi.Bool(pool, "ha_overcommitted") {
		setPoolFields(tx, map[string]any{"ha_overcommitted": true})
		p.poolAlert(tx, alertOvercommitted, fmt.Sprintf("The failover tolerance for pool '%s' has dropped and the initially specified number of host failures to tolerate can no longer be guaranteed", xapi.Str(pool, "name_label")))
	}
}

// setPoolFields writes pool fields that changed.
func setPoolFields(tx *store.Tx, fields map[string]any) {
	pool := firstPool(tx)
	changed := false
	for k, v := range fields {
		if !reflect.DeepEqual(xapi.Get(pool, k), v) {
			changed = true
		}
	}
	if !changed {
		return
	}
	pool = pool.Clone()
	for k, v := range fields {
		xapi.Set(pool, k, v)
	}
	tx.Put(pool)
}

// assertPlanKept is xapi's assert_configuration_change_preserves_ha_plan: with HA on
// and overcommitment not allowed, a change may not lose a plan that exists now.
func assertPlanKept(r store.Reader, change haChange) error {
	pool := firstPool(r)
	if !xapi.Bool(pool, "ha_enabled") || xapi.Bool(pool, "ha_allow_overcommit") {
		return nil
	}
	n := int(xapi.Int(pool, "ha_plan_exists_for"))
	protected := protectedVMs(r)
	if planFor(r, protected, haChange{}, n) != planForAll {
		return nil
	}
	if planFor(r, protected, change, n) != planForAll {
		return apierror.New("HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN")
	}
	return nil
}

// haLiveness is the monitor's reaction to a host leaving or joining the liveset while HA
// is on: a failed host is reported (not one shutting down cleanly), its statefile access
// and the peers' views are updated, the pool status recomputed, and the protected VMs
// that run nowhere restarted per the plan, then the best-effort VMs the failure halted.
func (p *Sim) haLiveness(tx *store.Tx, host string, live bool) error {
	pool := firstPool(tx)
	if !xapi.Bool(pool, "ha_enabled") {
		return nil
	}
	h := tx.Get("host", host)
	if !live && !hostOperation(h, "shutdown") && !hostOperation(h, "reboot") {
		tx.Put(p.srv.NewMessage(xapi.Alert{Name: alertHostFailed.Name, Priority: alertHostFailed.Priority, Class: "Host",
			ObjUUID: xapi.Str(h, "uuid"), Body: fmt.Sprintf("Server '%s' has failed", xapi.Str(h, "name_label"))}))
	}
	setHAHostViews(tx, xapi.StringSet(stringsOf(xapi.Get(pool, "ha_statefiles"))...))
	// The VMs the failure halted: running or paused there before this transaction.
	var reset []*store.Object
	if before := p.srv.Store.Get("host", host); !live && before != nil {
		for _, ref := range xapi.Refs(before, "resident_VMs") {
			if vm := p.srv.Store.Get("VM", ref); vm != nil && !xapi.Bool(vm, "is_control_domain") &&
				(xapi.Str(vm, "power_state") == "Running" || xapi.Str(vm, "power_state") == "Paused") {
				reset = append(reset, vm)
			}
		}
	}
	p.updatePoolStatus(tx)
	p.restartProtected(tx)
	for _, vm := range reset {
		vm = tx.Get("VM", vm.Ref)
		if vm == nil || xapi.Str(vm, "ha_restart_priority") != "best-effort" || xapi.Str(vm, "power_state") != "Halted" {
			continue
		}
		if target, err := chooseHost(tx, vm); err == nil {
			p.haStart(tx, vm, target)
		}
	}
	p.updatePoolStatus(tx)
	return nil
}

// setHAHostViews records what xHA reports per host: the statefile for the live hosts,
// and the live hosts as each live host's network peers.
func setHAHostViews(tx *store.Tx, statefiles []any) {
	var peers []string
	for _, h := range tx.All("host") {
		if hostLive(tx, h.Ref) {
			peers = append(peers, xapi.Str(h, "uuid"))
		}
	}
	sort.Strings(peers)
	for _, h := range tx.All("host") {
		files, hostPeers := statefiles, xapi.StringSet(peers...)
		if !hostLive(tx, h.Ref) {
			files, hostPeers = []any{}, xapi.Get(h, "ha_network_peers").([]any)
		}
		if slices.Equal(stringsOf(xapi.Get(h, "ha_statefiles")), stringsOf(files)) &&
			slices.Equal(stringsOf(xapi.Get(h, "ha_network_peers")), stringsOf(hostPeers)) {
			continue
		}
		h = h.Clone()
		xapi.Set(h, "ha_statefiles", files)
		xapi.Set(h, "ha_network_peers", hostPeers)
		tx.Put(h)
	}
}

// stringsOf is a set field's strings.
func stringsOf(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// restartProtected starts the protected VMs that run nowhere: on their planned hosts in
// VM.order (negative last), or wherever they fit when there is no complete plan. A VM
// started less than two minutes ago is not tried again; a failure raises one alert.
func (p *Sim) restartProtected(tx *store.Tx) {
	now := p.srv.Clock.Now()
	if now.Before(p.ha.holdUntil) {
		return
	}
	pool := firstPool(tx)
	plan, _, notRestarted, _, err := restartPlan(tx, protectedVMs(tx), haChange{}, int(xapi.Int(pool, "ha_host_failures_to_tolerate")))
	targets := map[string]string{}
	var vms []*store.Object
	if err == nil && len(notRestarted) == 0 {
		for _, pl := range plan {
			targets[pl.vm] = pl.host
			vms = append(vms, tx.Get("VM", pl.vm))
		}
	} else {
		for _, vm := range protectedVMs(tx) {
			if xapi.Str(vm, "power_state") == "Halted" {
				vms = append(vms, vm)
			}
		}
	}
	order := func(vm *store.Object) int64 {
		if o := xapi.Int(vm, "order"); o >= 0 {
			return o
		}
		return 1<<63 - 1
	}
	sort.SliceStable(vms, func(i, j int) bool { return order(vms[i]) < order(vms[j]) })
	for _, vm := range vms {
		if last, ok := p.ha.lastAttempt[vm.Ref]; ok && now.Sub(last) <= haRestartRetryInterval {
			continue
		}
		p.ha.lastAttempt[vm.Ref] = now
		var target *store.Object
		var err error
		if host, ok := targets[vm.Ref]; ok {
			target = tx.Get("host", host)
			err = bootCheck(tx, vm, target)
		} else {
			target, err = chooseHost(tx, vm)
		}
		if err != nil {
			if !p.ha.alerted[vm.Ref] {
				p.ha.alerted[vm.Ref] = true
				tx.Put(p.srv.NewMessage(xapi.Alert{Name: alertRestartFailed.Name, Priority: alertRestartFailed.Priority,
					Class: "VM", ObjUUID: xapi.Str(vm, "uuid")}))
			}
			continue
		}
		delete(p.ha.alerted, vm.Ref)
		p.haStart(tx, vm, target)
	}
}

// haStart boots a VM on a host as the monitor's VM.start_on does.
func (p *Sim) haStart(tx *store.Tx, vm, host *store.Object) {
	powerOn(p.srv, tx, vm.Ref, host.Ref, "Running", "")
	setAllowedOps(tx, tx.Get("VM", vm.Ref))
	p.startedAlert(tx, vm, host)
}

package cluster

import (
	"maps"
	"slices"
	"sort"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// The HA failover planner (xapi_ha_vm_failover.ml, binpack.ml). A protected VM
// (ha_always_run and priority "restart") needs its static maximum plus its overhead;
// a live, enabled host offers its free memory as if every guest on it used its static
// maximum. A plan for n failures exists when, for every way n of those hosts can fail
// (every combination, in every order, while that is fewer than 3500 cases; else xapi's
// conservative approximation), the protected VMs of each failed host fit on the rest,
// biggest first onto the host with the most room.

// planStatus is what the planner says about n failures.
type planStatus int

const (
	planForAll planStatus = iota
	planExcludingNonAgile
	noPlan
)

// haChange is a hypothetical change of the pool the planner reasons about.
type haChange struct {
	hostsToDisable []string
	numFailures    *int
	newVMs         []string
}

// sized is a VM or a host with an amount of memory.
type sized struct {
	ref  string
	size int64
}

// binConfig is the bin packer's view of the pool: live hosts and their free memory,
// protected VMs and their needs, where the VMs are, how many failures to plan for.
type binConfig struct {
	hosts     []sized
	vms       map[string]int64
	placement map[string]string
	vmOrder   []string
	total     int
	failures  int
}

// isProtected is xapi's vm_should_always_run.
func isProtected(vm *store.Object) bool {
	return xapi.Bool(vm, "ha_always_run") && xapi.Str(vm, "ha_restart_priority") == haRestart
}

// protectedVMs are the VMs HA must keep running.
func protectedVMs(r store.Reader) []*store.Object {
	var out []*store.Object
	for _, vm := range r.All("VM") {
		if isProtected(vm) {
			out = append(out, vm)
		}
	}
	return out
}

// planNeed is the memory the planner reserves for a VM: its static maximum and overhead.
func planNeed(vm *store.Object) int64 { return xapi.Int(vm, "memory_static_max") + overhead(vm) }

// planFree is a host's free memory if each guest there grew to its static maximum.
func planFree(r store.Reader, host string) int64 {
	free := hostFree(r, host)
	h := r.Get("host", host)
	for _, ref := range xapi.Refs(h, "resident_VMs") {
		vm := r.Get("VM", ref)
		if vm == nil || xapi.Bool(vm, "is_control_domain") {
			continue
		}
		if ps := xapi.Str(vm, "power_state"); ps == "Running" || ps == "Paused" {
			free -= planNeed(vm) - domainUse(r, vm)
		}
	}
	return free
}

// haLiveSet is the hosts the planner counts on: live and enabled.
func haLiveSet(r store.Reader) map[string]bool {
	out := map[string]bool{}
	for _, h := range r.All("host") {
		if xapi.Bool(h, "enabled") && hostLive(r, h.Ref) {
			out[h.Ref] = true
		}
	}
	return out
}

// byUUID sorts objects by uuid, the planner's deterministic order.
func byUUID(objs []*store.Object) []*store.Object {
	out := append([]*store.Object(nil), objs...)
	sort.SliceStable(out, func(i, j int) bool { return xapi.Str(out[i], "uuid") < xapi.Str(out[j], "uuid") })
	return out
}

// placed is one VM on one host.
type placed struct{ vm, host string }

// restartPlan is xapi's compute_restart_plan: where the protected VMs that run nowhere
// would restart now, the configuration after those restarts, the protected VMs that
// would not restart, and whether some protected VM is not agile.
func restartPlan(r store.Reader, protected []*store.Object, change haChange, failures int) ([]placed, binConfig, []string, bool, error) {
	if change.numFailures != nil {
		failures = *change.numFailures
	}
	vms := append([]*store.Object(nil), protected...)
	for _, ref := range change.newVMs {
		vm, err := xapi.GetObject(r, "VM", ref)
		if err != nil {
			return nil, binConfig{}, nil, false, err
		}
		vms = append(vms, vm)
	}
	vms = byUUID(vms)
	allHosts := byUUID(r.All("host"))
	liveSet := haLiveSet(r)
	live := map[string]bool{}
	cfg := binConfig{vms: map[string]int64{}, placement: map[string]string{}, total: len(allHosts), failures: failures}
	for _, h := range allHosts {
		if liveSet[h.Ref] && !slices.Contains(change.hostsToDisable, h.Ref) {
			live[h.Ref] = true
			cfg.hosts = append(cfg.hosts, sized{h.Ref, planFree(r, h.Ref)})
		}
	}
	accounted := func(vm *store.Object) string {
		for _, f := range []string{"resident_on", "scheduled_to_be_resident_on"} {
			if h := xapi.Str(vm, f); live[h] {
				return h
			}
		}
		return ""
	}
	var plan []placed
	var failed []string
	nonAgile := false
	for _, vm := range vms {
		if agilityError(r, vm) != nil {
			nonAgile = true
			// A non-agile VM is pinned to the first host it can boot on; offline, it is
			// planned there and its memory is taken from that host.
			if accounted(vm) == "" {
				for _, h := range allHosts {
					if bootCheck(r, vm, h) == nil {
						plan = append(plan, placed{vm.Ref, h.Ref})
						cfg.hosts = account(cfg.hosts, h.Ref, planNeed(vm))
						break
					}
				}
			}
			continue
		}
		cfg.vms[vm.Ref] = planNeed(vm)
		cfg.vmOrder = append(cfg.vmOrder, vm.Ref)
		if h := accounted(vm); h != "" {
			cfg.placement[vm.Ref] = h
		} else {
			failed = append(failed, vm.Ref)
		}
	}
	if failures < 0 || failures > cfg.total {
		return nil, cfg, nil, nonAgile, apierror.Internal("num_failures out of range")
	}
	restarted := map[string]bool{}
	for _, p := range packFailed(cfg, failed) {
		restarted[p.vm] = true
		plan = append(plan, p)
		cfg.hosts = account(cfg.hosts, p.host, cfg.vms[p.vm])
		cfg.placement[p.vm] = p.host
	}
	// As in xapi, an offline non-agile VM counts as not restarted even when pinned.
	var notRestarted []string
	for _, vm := range vms {
		if accounted(vm) == "" && !restarted[vm.Ref] {
			notRestarted = append(notRestarted, vm.Ref)
		}
	}
	return plan, cfg, notRestarted, nonAgile, nil
}

// account takes memory from a host of the list.
func account(hosts []sized, host string, size int64) []sized {
	out := append([]sized(nil), hosts...)
	for i := range out {
		if out[i].ref == host {
			out[i].size -= size
		}
	}
	return out
}

// biggestFitDecreasing places the biggest things first, each onto the bin with the most
// room left, skipping a thing that does not fit there.
func biggestFitDecreasing(things, bins []sized) []placed {
	things = append([]sized(nil), things...)
	bins = append([]sized(nil), bins...)
	sort.SliceStable(things, func(i, j int) bool { return things[i].size > things[j].size })
	sort.SliceStable(bins, func(i, j int) bool { return bins[i].size > bins[j].size })
	var out []placed
	for _, t := range things {
		if len(bins) == 0 || bins[0].size-t.size < 0 {
			continue
		}
		out = append(out, placed{t.ref, bins[0].ref})
		first := sized{bins[0].ref, bins[0].size - t.size}
		rest := bins[1:]
		i := 0
		for i < len(rest) && rest[i].size > first.size {
			i++
		}
		bins = append(append(append([]sized(nil), rest[:i]...), first), rest[i:]...)
	}
	return out
}

// packFailed places failed VMs onto the configuration's hosts.
func packFailed(cfg binConfig, failed []string) []placed {
	things := make([]sized, 0, len(failed))
	for _, vm := range failed {
		things = append(things, sized{vm, cfg.vms[vm]})
	}
	return biggestFitDecreasing(things, cfg.hosts)
}

// failHost is the configuration after a host fails and its VMs move, or false when some
// of them find no room.
func failHost(cfg binConfig, dead string) (binConfig, bool) {
	var failed []string
	for _, vm := range cfg.vmOrder {
		if cfg.placement[vm] == dead {
			failed = append(failed, vm)
		}
	}
	next := cfg
	next.hosts = slices.DeleteFunc(append([]sized(nil), cfg.hosts...), func(h sized) bool { return h.ref == dead })
	plan := packFailed(next, failed)
	if len(plan) != len(failed) {
		return cfg, false
	}
	next.placement = maps.Clone(cfg.placement)
	for _, p := range plan {
		next.hosts = account(next.hosts, p.host, cfg.vms[p.vm])
		next.placement[p.vm] = p.host
	}
	next.failures--
	return next, true
}

// neverPossible is binpack's trivial refusal: fewer live hosts than failures, or as many
// with VMs to place.
func (cfg binConfig) neverPossible() bool {
	return len(cfg.hosts) < cfg.failures || (len(cfg.hosts) == cfg.failures && len(cfg.vms) > 0)
}

// alwaysPossible says whether any cfg.failures hosts may fail, choosing the heuristic as
// xapi does: every combination and order of failures when there are fewer than 3500,
// else the conservative approximation.
func (cfg binConfig) alwaysPossible() bool {
	if cfg.neverPossible() {
		return false
	}
	cases, ok := int64(1), cfg.total <= 32
	for i := 0; ok && i < cfg.failures; i++ {
		cases = cases * int64(cfg.total-i) // n!/(n-r)! = binomial(n, r) * r!
		ok = cases < 3500
	}
	if !ok {
		return cfg.approximatelyPossible()
	}
	return everyFailure(cfg, cfg.failures)
}

// everyFailure tries every order in which n of the live hosts can fail.
func everyFailure(cfg binConfig, n int) bool {
	if n == 0 {
		return true
	}
	for _, h := range cfg.hosts {
		next, ok := failHost(cfg, h.ref)
		if !ok || !everyFailure(next, n-1) {
			return false
		}
	}
	return true
}

// approximatelyPossible is binpack's worst case: the biggest hosts fail, with the most
// VMs, each as big as the biggest protected VM.
func (cfg binConfig) approximatelyPossible() bool {
	if len(cfg.vms) == 0 {
		return true
	}
	var biggest int64
	for _, size := range cfg.vms {
		biggest = max(biggest, size)
	}
	var slots, counts []int
	for _, h := range cfg.hosts {
		slots = append(slots, int(h.size/biggest))
		n := 0
		for _, on := range cfg.placement {
			if on == h.ref {
				n++
			}
		}
		counts = append(counts, n)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(slots)))
	sort.Sort(sort.Reverse(sort.IntSlice(counts)))
	left, moving := 0, 0
	for i, s := range slots {
		if i >= cfg.failures {
			left += s
		}
	}
	for i := 0; i < cfg.failures && i < len(counts); i++ {
		moving += counts[i]
	}
	return moving <= left
}

// planFor is xapi's plan_for_n_failures.
func planFor(r store.Reader, protected []*store.Object, change haChange, n int) planStatus {
	_, cfg, notRestarted, nonAgile, err := restartPlan(r, protected, change, n)
	switch {
	case err != nil, len(notRestarted) > 0, !cfg.alwaysPossible():
		return noPlan
	case nonAgile:
		return planExcludingNonAgile
	}
	return planForAll
}

// maxFailures is xapi's compute_max_host_failures_to_tolerate: the most failures with a
// plan for every protected VM, searched by bisection up to the number of hosts (with a
// cluster, up to the failures corosync's quorum survives).
func maxFailures(r store.Reader, protected []*store.Object) int64 {
	upper := int64(r.Count("host"))
	if theCluster(r) != nil {
		off := 0
		for _, h := range r.All("host") {
			if ch := clusterHostOf(r, h.Ref); ch == nil || !xapi.Bool(ch, "enabled") {
				off++
			}
		}
		upper = int64((r.Count("host")-off-1)/2 + off)
	}
	ok := func(n int64) bool { return planFor(r, protected, haChange{}, int(n)) == planForAll }
	lower := int64(0)
	for upper-lower >= 2 {
		mid := (lower + upper) / 2
		if ok(mid) {
			lower = mid
		} else {
			upper = mid
		}
	}
	if ok(upper) {
		return upper
	}
	return lower
}

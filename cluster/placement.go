package cluster

import (
	"sort"
	"strconv"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Placement (semantics.md §2.5–2.6). xapi scores hosts by free memory and picks among the
// best at random; the emulator is deterministic: candidates are tried in order — the
// VM's affinity host first, then, for a VM in an anti-affinity VM_group, the hosts with
// the fewest running members of the group, then the most free memory, then pool order.

// bootCheck is xapi's assert_can_boot_here: the first reason the VM cannot run on the
// host, in xapi's order, or nil. start_on and migration report it as is; start hides it
// behind NO_HOSTS_AVAILABLE.
func bootCheck(r store.Reader, vm, host *store.Object) error {
	return bootCheckWith(r, vm, host, true)
}

// bootCheckWith is bootCheck, with or without the check that the host sees the VM's SRs
// (storage migration leaves it out: the disks are about to move).
func bootCheckWith(r store.Reader, vm, host *store.Object, srCheck bool) error {
	if err := validateBootParams(vm); err != nil {
		return err
	}
	metrics := r.Get("host_metrics", xapi.Str(host, "metrics"))
	if metrics == nil || !xapi.Bool(metrics, "live") {
		return apierror.New("HOST_NOT_LIVE")
	}
	if !xapi.Bool(host, "enabled") && !xapi.Bool(vm, "is_control_domain") {
		return apierror.New("HOST_DISABLED", host.Ref)
	}
	for _, ref := range xapi.Refs(vm, "VBDs") {
		vbd := r.Get("VBD", ref)
		if !srCheck || vbd == nil || xapi.Bool(vbd, "empty") {
			continue
		}
		vdi := r.Get("VDI", xapi.Str(vbd, "VDI"))
		if vdi == nil {
			continue
		}
		if sr := xapi.Str(vdi, "SR"); !srPluggedOn(r, sr, host.Ref) {
			return apierror.New("VM_REQUIRES_SR", vm.Ref, sr)
		}
	}
	for _, ref := range xapi.Refs(vm, "VIFs") {
		vif := r.Get("VIF", ref)
		if vif == nil {
			continue
		}
		if net := xapi.Str(vif, "network"); !networkOn(r, net, host.Ref) {
			return apierror.New("VM_REQUIRES_NETWORK", vm.Ref, net)
		}
	}
	if xapi.Str(vm, "resident_on") != host.Ref {
		need := xapi.Int(vm, "memory_dynamic_min") + overhead(vm)
		if free := hostFree(r, host.Ref); need > free {
			return apierror.New("HOST_NOT_ENOUGH_FREE_MEMORY", strconv.FormatInt(need, 10), strconv.FormatInt(free, 10))
		}
	}
	pcpus := int64(len(xapi.Refs(host, "host_CPUs")))
	if v := xapi.Int(vm, "VCPUs_max"); v > pcpus && !isTrue(xapi.StringMap(vm, "platform")["vcpu-unrestricted"]) {
		return apierror.New("HOST_NOT_ENOUGH_PCPUS", strconv.FormatInt(v, 10), strconv.FormatInt(pcpus, 10))
	}
	return nil
}

// validateBootParams is xapi's basic check of a VM's VCPU and memory settings before boot.
func validateBootParams(vm *store.Object) error {
	vmax, vstart := xapi.Int(vm, "VCPUs_max"), xapi.Int(vm, "VCPUs_at_startup")
	switch {
	case vmax < 1:
		return apierror.New(apierror.InvalidValue, "VCPUs_max", strconv.FormatInt(vmax, 10))
	case vstart < 1:
		return apierror.New(apierror.InvalidValue, "VCPUs-at-startup", strconv.FormatInt(vstart, 10))
	case vstart > vmax:
		return apierror.New("VALUE_NOT_SUPPORTED", "VCPUs-at-startup", strconv.FormatInt(vstart, 10), "value greater than VCPUs-max")
	}
	smin, dmin := xapi.Int(vm, "memory_static_min"), xapi.Int(vm, "memory_dynamic_min")
	dmax, smax := xapi.Int(vm, "memory_dynamic_max"), xapi.Int(vm, "memory_static_max")
	if !(smin <= dmin && dmin <= dmax && dmax <= smax) {
		return apierror.New("MEMORY_CONSTRAINT_VIOLATION")
	}
	if m := xapi.Float(vm, "HVM_shadow_multiplier"); m < 1 {
		return apierror.New(apierror.InvalidValue, "HVM_shadow_multiplier", strconv.FormatFloat(m, 'g', -1, 64))
	}
	return nil
}

// srPluggedOn reports whether an SR has an attached PBD on the host.
func srPluggedOn(r store.Reader, sr, host string) bool {
	s := r.Get("SR", sr)
	if s == nil {
		return false
	}
	for _, ref := range xapi.Refs(s, "PBDs") {
		if pbd := r.Get("PBD", ref); pbd != nil && xapi.Str(pbd, "host") == host && xapi.Bool(pbd, "currently_attached") {
			return true
		}
	}
	return false
}

// networkOn reports whether a network reaches the host: it has an attached PIF there, or
// it has no PIF at all (an internal network exists on every host).
func networkOn(r store.Reader, network, host string) bool {
	n := r.Get("network", network)
	if n == nil {
		return false
	}
	pifs := xapi.Refs(n, "PIFs")
	if len(pifs) == 0 {
		return true
	}
	for _, ref := range pifs {
		if pif := r.Get("PIF", ref); pif != nil && xapi.Str(pif, "host") == host && xapi.Bool(pif, "currently_attached") {
			return true
		}
	}
	return false
}

// candidates orders the hosts a VM may start on.
func candidates(r store.Reader, vm *store.Object) []*store.Object {
	hosts := r.All("host")
	affinity := xapi.Str(vm, "affinity")
	group := antiAffinityGroup(r, vm)
	members := map[string]int{}
	if group != nil {
		for _, ref := range xapi.Refs(group, "VMs") {
			other := r.Get("VM", ref)
			if other == nil || other.Ref == vm.Ref {
				continue
			}
			switch {
			case xapi.Str(other, "power_state") == "Running" || xapi.Str(other, "power_state") == "Paused":
				members[xapi.Str(other, "resident_on")]++
			case !isNull(xapi.Str(other, "scheduled_to_be_resident_on")):
				members[xapi.Str(other, "scheduled_to_be_resident_on")]++
			}
		}
	}
	order := map[string]int{}
	for i, h := range hosts {
		order[h.Ref] = i
	}
	sort.SliceStable(hosts, func(i, j int) bool {
		a, b := hosts[i], hosts[j]
		if (a.Ref == affinity) != (b.Ref == affinity) {
			return a.Ref == affinity
		}
		if members[a.Ref] != members[b.Ref] {
			return members[a.Ref] < members[b.Ref]
		}
		if fa, fb := hostFree(r, a.Ref), hostFree(r, b.Ref); fa != fb {
			return fa > fb
		}
		return order[a.Ref] < order[b.Ref]
	})
	return hosts
}

// antiAffinityGroup returns the VM's anti-affinity VM_group, if it has one.
func antiAffinityGroup(r store.Reader, vm *store.Object) *store.Object {
	for _, ref := range xapi.Refs(vm, "groups") {
		if g := r.Get("VM_group", ref); g != nil && xapi.Str(g, "placement") == "anti_affinity" {
			return g
		}
	}
	return nil
}

// chooseHost picks where VM.start and VM.resume run: the first candidate the VM can boot
// on, or NO_HOSTS_AVAILABLE (the specific reasons stay hidden, as in xapi). Invalid
// VCPU and memory settings are reported as such, whatever the host.
func chooseHost(r store.Reader, vm *store.Object) (*store.Object, error) {
	if err := validateBootParams(vm); err != nil {
		return nil, err
	}
	for _, h := range candidates(r, vm) {
		if bootCheck(r, vm, h) == nil {
			return h, nil
		}
	}
	return nil, apierror.New("NO_HOSTS_AVAILABLE")
}

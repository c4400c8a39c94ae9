package cluster

import (
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
)

// The memory model. xapi asks Xen and squeezed; here:
//   - a VM's overhead is 1 MiB per VCPU plus 1/128 of its static maximum, rounded up to
//     a MiB (xapi's HVM formula is of the same order);
//   - a running or paused VM uses memory_actual + overhead on its host: memory_actual is
//     its dynamic maximum when the host has room, else its dynamic minimum (ballooned);
//   - host_metrics.memory_free is the host's total minus what its resident domains use,
//     the control domain included.

// overhead computes a VM's memory overhead in bytes.
func overhead(vm *store.Object) int64 {
	o := xapi.Int(vm, "VCPUs_max")*mib + xapi.Int(vm, "memory_static_max")/128
	return (o + mib - 1) / mib * mib
}

// setMemoryOverhead stores a VM's overhead (xapi recomputes it after memory changes).
func setMemoryOverhead(vm *store.Object) { xapi.Set(vm, "memory_overhead", overhead(vm)) }

// hostUsage is what the resident domains of a host use, in bytes.
func hostUsage(r store.Reader, host string) int64 {
	var used int64
	h := r.Get("host", host)
	if h == nil {
		return 0
	}
	for _, ref := range xapi.Refs(h, "resident_VMs") {
		vm := r.Get("VM", ref)
		if vm == nil {
			continue
		}
		if ps := xapi.Str(vm, "power_state"); ps != "Running" && ps != "Paused" {
			continue
		}
		used += domainUse(r, vm)
	}
	return used
}

// domainUse is what a running or paused domain uses: its actual memory (its target when
// the metrics have none), plus its overhead for a guest.
func domainUse(r store.Reader, vm *store.Object) int64 {
	var used int64
	if m := r.Get("VM_metrics", xapi.Str(vm, "metrics")); m != nil && xapi.Int(m, "memory_actual") > 0 {
		used = xapi.Int(m, "memory_actual")
	} else {
		used = xapi.Int(vm, "memory_target")
	}
	if !xapi.Bool(vm, "is_control_domain") {
		used += xapi.Int(vm, "memory_overhead")
	}
	return used
}

// hostFree is a host's free memory as its metrics report it.
func hostFree(r store.Reader, host string) int64 {
	h := r.Get("host", host)
	if h == nil {
		return 0
	}
	m := r.Get("host_metrics", xapi.Str(h, "metrics"))
	if m == nil {
		return 0
	}
	return xapi.Int(m, "memory_free")
}

// refreshHostMemory recomputes host_metrics.memory_free from the resident domains.
func refreshHostMemory(tx *store.Tx, host string) {
	h := tx.Get("host", host)
	if h == nil {
		return
	}
	m := tx.Get("host_metrics", xapi.Str(h, "metrics"))
	if m == nil {
		return
	}
	free := xapi.Int(m, "memory_total") - hostUsage(tx, host)
	if free < 0 {
		free = 0
	}
	if xapi.Int(m, "memory_free") == free {
		return
	}
	m = m.Clone()
	xapi.Set(m, "memory_free", free)
	xapi.Set(m, "last_updated", xapi.Time(m, "last_updated"))
	tx.Put(m)
}

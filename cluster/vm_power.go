package cluster

import (
	"fmt"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// The domain model: what xenopsd would do to the records when a domain is created,
// destroyed or rebooted (semantics.md §2.1). These run inside the caller's transaction.

// nextDomid is one more than the highest domid on the host: domain ids grow while a host
// runs.
func nextDomid(tx *store.Tx, host string) int64 {
	h := tx.Get("host", host)
	var max int64
	if h != nil {
		for _, ref := range xapi.Refs(h, "resident_VMs") {
			if vm := tx.Get("VM", ref); vm != nil && xapi.Int(vm, "domid") > max {
				max = xapi.Int(vm, "domid")
			}
		}
	}
	return max + 1
}

// powerOn makes a domain of the VM on the host: Running or Paused, a new domid, the
// devices attached, fresh VM_metrics, guest metrics (gm; "" makes new ones when the guest
// runs PV drivers; the current ones are kept when gm names them, as on resume), a
// console, and the host's memory accounted. It does not raise the alert: the caller does.
func powerOn(srv *xapi.Server, tx *store.Tx, ref, host, state, gm string) {
	vm := tx.Get("VM", ref).Clone()
	now := srv.Clock.Now()
	hadDrivers := hasPVDrivers(tx, vm)
	if old := xapi.Str(vm, "guest_metrics"); !isNull(old) && old != gm {
		tx.Delete("VM_guest_metrics", old)
	}
	if gm == "" {
		gm = datamodel.NullRef
		if t := guestTemplateOf(vm); !t.Windows || hadDrivers {
			gm = newGuestMetrics(srv, tx, t, guestIP(vm)).Ref
		}
	}
	setMemoryOverhead(vm)
	actual := xapi.Int(vm, "memory_dynamic_max")
	if free := hostFree(tx, host); actual+overhead(vm) > free {
		actual = xapi.Int(vm, "memory_dynamic_min")
	}
	for k, v := range map[string]any{
		"power_state": state, "resident_on": host, "scheduled_to_be_resident_on": datamodel.NullRef,
		"domid": nextDomid(tx, host), "guest_metrics": gm, "memory_target": actual, "requires_reboot": false,
	} {
		xapi.Set(vm, k, v)
	}
	if xapi.Str(vm, "ha_restart_priority") == "restart" {
		xapi.Set(vm, "ha_always_run", true)
	}
	if len(xapi.Map(vm, "bios_strings")) == 0 { // xapi makes a VM BIOS-generic when it first boots
		xapi.Set(vm, "bios_strings", genericBIOS())
	}
	tx.Put(vm)
	if m := tx.Get("VM_metrics", xapi.Str(vm, "metrics")); m != nil {
		m = m.Clone()
		xapi.Set(m, "memory_actual", actual)
		xapi.Set(m, "VCPUs_number", xapi.Int(vm, "VCPUs_at_startup"))
		xapi.Set(m, "start_time", now)
		xapi.Set(m, "last_updated", now)
		xapi.Set(m, "current_domain_type", "hvm")
		xapi.Set(m, "hvm", true)
		xapi.Set(m, "state", []any{})
		tx.Put(m)
	}
	setAttached(tx, vm, true)
	if len(xapi.Refs(vm, "consoles")) == 0 {
		c := srv.NewObject("console")
		xapi.Set(c, "protocol", "rfb")
		xapi.Set(c, "VM", vm.Ref)
		xapi.Set(c, "location", fmt.Sprintf("https://%s/console?uuid=%s", hostAddress(tx, host), xapi.Str(vm, "uuid")))
		tx.Put(c)
	}
	refreshHostMemory(tx, host)
}

// powerOff destroys the VM's domain and leaves it in state (Halted, or Suspended with
// its devices still attached): no host, domid -1, the guest metrics and console gone.
func powerOff(tx *store.Tx, ref, state string) {
	vm := tx.Get("VM", ref).Clone()
	host := xapi.Str(vm, "resident_on")
	if gm := xapi.Str(vm, "guest_metrics"); !isNull(gm) && state == "Halted" {
		tx.Delete("VM_guest_metrics", gm)
		xapi.Set(vm, "guest_metrics", datamodel.NullRef)
	}
	for k, v := range map[string]any{
		"power_state": state, "resident_on": datamodel.NullRef, "scheduled_to_be_resident_on": datamodel.NullRef,
		"domid": int64(-1), "requires_reboot": false, "ha_always_run": false,
	} {
		xapi.Set(vm, k, v)
	}
	tx.Put(vm)
	if m := tx.Get("VM_metrics", xapi.Str(vm, "metrics")); m != nil {
		m = m.Clone()
		xapi.Set(m, "memory_actual", int64(0))
		xapi.Set(m, "current_domain_type", "unspecified")
		tx.Put(m)
	}
	if state == "Halted" {
		setAttached(tx, vm, false)
	}
	for _, c := range xapi.Refs(vm, "consoles") {
		tx.Delete("console", c)
	}
	if !isNull(host) {
		refreshHostMemory(tx, host)
	}
}

// rebootDomain gives a running VM a new domain on the same host.
func rebootDomain(srv *xapi.Server, tx *store.Tx, ref string) {
	vm := tx.Get("VM", ref).Clone()
	host := xapi.Str(vm, "resident_on")
	xapi.Set(vm, "domid", nextDomid(tx, host))
	xapi.Set(vm, "power_state", "Running")
	xapi.Set(vm, "requires_reboot", false)
	tx.Put(vm)
	if m := tx.Get("VM_metrics", xapi.Str(vm, "metrics")); m != nil {
		m = m.Clone()
		xapi.Set(m, "start_time", srv.Clock.Now())
		tx.Put(m)
	}
}

// guestIP is the address a VM's guest reports: derived from its uuid, in 10.0.2.0/23.
func guestIP(vm *store.Object) string {
	u := xapi.Str(vm, "uuid")
	var n int
	for _, c := range u {
		n = (n*31 + int(c)) % 500
	}
	return fmt.Sprintf("10.0.%d.%d", 2+n/250, 2+n%250)
}

func hostAddress(r store.Reader, host string) string {
	if h := r.Get("host", host); h != nil {
		return xapi.Str(h, "address")
	}
	return "localhost"
}

// alert builds the message xapi raises about a VM.
func (p *Sim) vmAlert(tx *store.Tx, vm *store.Object, name, body string) {
	tx.Put(p.srv.NewMessage(xapi.Alert{Name: name, Priority: xapi.PriorityInfo, Class: "VM", ObjUUID: xapi.Str(vm, "uuid"), Body: body}))
}

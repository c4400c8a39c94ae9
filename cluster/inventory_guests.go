package cluster

import (
	"fmt"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// guestPlans are the default pool's guest VMs, in order: which template each comes from.
// Beyond the list, names are numbered.
var guestPlans = []struct{ name, template string }{
	{"web-01", "debian-12"}, {"db-01", "rocky-9"}, {"win-01", "windows-server-2022"},
	{"app-01", "ubuntu-24.04"}, {"ci-runner-01", "almalinux-9"}, {"proxy-01", "alpine-3.20"},
}

// guests builds the guest VMs: the first half running (spread over the hosts), with guest
// metrics, the rest halted. The first Windows guest runs without PV drivers, as an HVM
// guest just installed does.
func (inv *inventory) guests() {
	running := (inv.spec.VMs + 1) / 2
	for i := 0; i < inv.spec.VMs; i++ {
		plan := guestPlans[i%len(guestPlans)]
		name := plan.name
		if i >= len(guestPlans) {
			name = fmt.Sprintf("%s-%02d", plan.name[:len(plan.name)-3], i/len(guestPlans)+1)
		}
		var host *store.Object
		if i < running {
			host = inv.hosts[i%len(inv.hosts)]
		}
		inv.guest(name, plan.template, host)
	}
	for _, h := range inv.hosts {
		refreshHostMemory(inv.tx, h.Ref)
	}
	refreshSR(inv.tx, inv.sharedSR.Ref)
}

func (inv *inventory) guest(name, templateLabel string, host *store.Object) {
	var t guestTemplate
	for _, bt := range builtinTemplates {
		if bt.Label == templateLabel {
			t = bt
		}
	}
	tmpl := inv.templateOf[templateLabel]
	vm := tmpl.Clone()
	vm.Ref = inv.srv.IDs.Ref()
	macSeed := inv.srv.IDs.UUID()
	oc := xapi.CopyMap(xapi.Map(tmpl, "other_config"))
	delete(oc, "default_template")
	delete(oc, "disks")
	oc["mac_seed"] = macSeed
	oc["base_template_name"] = t.Name
	oc["install-methods"] = xapi.Map(tmpl, "other_config")["install-methods"]
	metrics := inv.put("VM_metrics", map[string]any{
		"memory_actual": int64(0), "VCPUs_number": t.VCPUs, "VCPUs_utilisation": map[string]any{}, "VCPUs_CPU": map[string]any{},
		"VCPUs_params": map[string]any{}, "VCPUs_flags": map[string]any{}, "state": []any{}, "start_time": inv.now,
		"install_time": inv.now, "last_updated": inv.now, "hvm": true, "current_domain_type": "unspecified",
	})
	inv.putObject(vm, map[string]any{
		"uuid": inv.srv.IDs.UUID(), "name_label": name, "name_description": "",
		"is_a_template": false, "is_default_template": false, "other_config": oc, "metrics": metrics.Ref,
		"allowed_operations": []any{}, "current_operations": map[string]any{},
	})
	disk := inv.put("VDI", map[string]any{
		"name_label": name + " 0", "name_description": "Created by template provisioner", "SR": inv.sharedSR.Ref,
		"virtual_size": t.DiskGiB * gib, "physical_utilisation": t.DiskGiB * gib * 35 / 100, "type": "system",
		"sharable": false, "read_only": false, "other_config": map[string]any{}, "managed": true, "missing": false,
		"sm_config": map[string]any{"vdi_type": "vhd", "vmhint": xapi.Str(vm, "uuid")},
	})
	xapi.Set(disk, "location", xapi.Str(disk, "uuid"))
	newVBD(inv.srv, inv.tx, vbdSpec{vm: vm.Ref, vdi: disk.Ref, userdevice: "0", bootable: true, mode: "RW", typ: "Disk"})
	newVBD(inv.srv, inv.tx, vbdSpec{vm: vm.Ref, vdi: datamodel.NullRef, userdevice: "3", mode: "RO", typ: "CD", empty: true})
	newVIF(inv.srv, inv.tx, vm, "0", inv.mgmtNet.Ref)
	if host != nil {
		inv.guestIPSuffix++
		gm := datamodel.NullRef
		if !t.Windows {
			gm = newGuestMetrics(inv.srv, inv.tx, t, fmt.Sprintf("10.0.2.%d", 10+inv.guestIPSuffix)).Ref
		}
		powerOn(inv.srv, inv.tx, vm.Ref, host.Ref, "Running", gm)
	}
	setAllowedOps(inv.tx, inv.tx.Get("VM", vm.Ref))
}

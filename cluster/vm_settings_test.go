package cluster_test

import (
	"crypto/md5"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

const bogusVM = "OpaqueRef:bogus"

// TestVMSettingsErrors: every refusal of the VM settings and queries, as xapi words it.
func TestVMSettingsErrors(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 6})
	running := p.first("VM", `field "name__label"="web-01"`)
	halted := p.first("VM", `field "name__label"="app-01"`)
	tmpl := p.first("VM", `field "name__label"="Debian Bookworm 12"`)
	dom0 := p.first("VM", `field "is_control_domain"="true"`)
	snap := p.ok("VM.snapshot", halted, "snap").(string)
	p.ok("VM.add_to_NVRAM", halted, "EFI-variables", "AAAA")
	local := p.first("SR", `field "type"="lvm"`)
	internal := p.first("network", `field "name__label"="Host internal management network"`)
	agileLocal := p.ok("VM.clone", halted, "on-local").(string)
	vdi := p.ok("VDI.create", vdiRec("SR", local, "virtual_size", int64(1<<30), "type", "user", "name_label", "d")).(string)
	p.ok("VBD.create", vbdRec("VM", agileLocal, "VDI", vdi, "userdevice", "1", "mode", "RW", "type", "Disk"))
	agileInternal := p.ok("VM.clone", halted, "on-internal").(string)
	p.ok("VIF.create", vifRec("VM", agileInternal, "network", internal, "device", "1", "MTU", int64(1500)))
	long := strings.Repeat("x", 513)
	p.expectErrors([]errorCase{
		{"unspecified domain type, checked before the VM", "VM.set_domain_type", []any{bogusVM, "unspecified"}, []string{"INVALID_VALUE", "domain_type", "unspecified"}},
		{"domain type of a bogus VM", "VM.set_domain_type", []any{bogusVM, "hvm"}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"boot policy of a bogus VM", "VM.set_HVM_boot_policy", []any{bogusVM, ""}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"crash action of a bogus VM", "VM.set_actions_after_crash", []any{bogusVM, "destroy"}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"negative order, checked before the VM", "VM.set_order", []any{bogusVM, int64(-1)}, []string{"INVALID_VALUE", "order must be non-negative", "-1"}},
		{"negative start delay", "VM.set_start_delay", []any{halted, int64(-5)}, []string{"INVALID_VALUE", "start_delay must be non-negative", "-5"}},
		{"negative shutdown delay", "VM.set_shutdown_delay", []any{halted, int64(-1)}, []string{"INVALID_VALUE", "shutdown_delay must be non-negative", "-1"}},
		{"order of a bogus VM", "VM.set_order", []any{bogusVM, int64(1)}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"suspend VDI of a halted VM", "VM.set_suspend_VDI", []any{halted, vdi}, []string{"VM_BAD_POWER_STATE", halted, "suspended", "halted"}},
		{"a template in an appliance", "VM.set_appliance", []any{tmpl, "OpaqueRef:NULL"}, []string{"OPERATION_NOT_ALLOWED", "Control domains, templates and snapshots cannot be assigned to appliances."}},
		{"dom0 in an appliance", "VM.set_appliance", []any{dom0, "OpaqueRef:NULL"}, []string{"OPERATION_NOT_ALLOWED", "Control domains, templates and snapshots cannot be assigned to appliances."}},
		{"a snapshot in an appliance", "VM.set_appliance", []any{snap, "OpaqueRef:NULL"}, []string{"OPERATION_NOT_ALLOWED", "Control domains, templates and snapshots cannot be assigned to appliances."}},
		{"unknown restart priority, checked before the VM", "VM.set_ha_restart_priority", []any{bogusVM, "always"}, []string{"INVALID_VALUE", "ha_restart_priority", "always"}},
		{"restart priority of a bogus VM", "VM.set_ha_restart_priority", []any{bogusVM, "restart"}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"always-run of a bogus VM", "VM.set_ha_always_run", []any{bogusVM, true}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"unknown BIOS key", "VM.set_bios_strings", []any{halted, map[string]any{"oem-1": "x"}}, []string{"INVALID_VALUE", "oem-1", "Unknown key"}},
		{"empty BIOS value", "VM.set_bios_strings", []any{halted, map[string]any{"bios-vendor": ""}}, []string{"INVALID_VALUE", "bios-vendor", "Value provided is empty"}},
		{"long BIOS value", "VM.set_bios_strings", []any{halted, map[string]any{"bios-version": long}}, []string{"INVALID_VALUE", "bios-version", long + " has length more than 512 characters"}},
		{"non-printable BIOS value", "VM.set_bios_strings", []any{halted, map[string]any{"system-version": "a\tb"}}, []string{"INVALID_VALUE", "system-version", "a\tb has non-printable ASCII characters"}},
		{"keys checked in sorted order", "VM.set_bios_strings", []any{halted, map[string]any{"zz": "1", "bios-vendor": ""}}, []string{"INVALID_VALUE", "bios-vendor", "Value provided is empty"}},
		{"BIOS strings of a bogus VM", "VM.set_bios_strings", []any{bogusVM, map[string]any{}}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"BIOS strings from a bogus host", "VM.copy_bios_strings", []any{halted, "OpaqueRef:nohost"}, []string{"HANDLE_INVALID", "host", "OpaqueRef:nohost"}},
		{"NVRAM of a running VM", "VM.set_NVRAM", []any{running, map[string]any{}}, []string{"VM_BAD_POWER_STATE", running, "halted", "running"}},
		{"NVRAM of a snapshot", "VM.add_to_NVRAM", []any{snap, "k", "v"}, []string{"VM_IS_SNAPSHOT", snap, "changing_NVRAM"}},
		{"NVRAM of dom0", "VM.remove_from_NVRAM", []any{dom0, "k"}, []string{"VM_BAD_POWER_STATE", dom0, "halted", "running"}},
		{"NVRAM key twice", "VM.add_to_NVRAM", []any{halted, "EFI-variables", "BBBB"}, []string{"MAP_DUPLICATE_KEY", "VM", "NVRAM", halted, "EFI-variables"}},
		{"NVRAM of a bogus VM", "VM.set_NVRAM", []any{bogusVM, map[string]any{}}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"VBD devices of a bogus VM", "VM.get_allowed_VBD_devices", []any{bogusVM}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"VIF devices of a bogus VM", "VM.get_allowed_VIF_devices", []any{bogusVM}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"boot record of a halted VM", "VM.get_boot_record", []any{halted}, []string{"VM_BAD_POWER_STATE", halted, "paused, suspended, running", "halted"}},
		{"boot record of a template", "VM.get_boot_record", []any{tmpl}, []string{"VM_BAD_POWER_STATE", tmpl, "paused, suspended, running", "halted"}},
		{"boot record of dom0", "VM.get_boot_record", []any{dom0}, []string{"OPERATION_NOT_ALLOWED", "This operation is not allowed on a control domain"}},
		{"boot record of a bogus VM", "VM.get_boot_record", []any{bogusVM}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"overhead of a bogus VM", "VM.compute_memory_overhead", []any{bogusVM}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"maximise into negative memory", "VM.maximise_memory", []any{halted, int64(-1), false}, []string{"INTERNAL_ERROR", `Assert_failure("ocaml/xapi/helpers.ml", 1425, 2)`}},
		{"maximise a bogus VM", "VM.maximise_memory", []any{bogusVM, int64(1 << 30), false}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"a disk on a local SR", "VM.assert_agile", []any{agileLocal}, []string{"HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED", local}},
		{"a VIF on a host-internal network", "VM.assert_agile", []any{agileInternal}, []string{"HA_CONSTRAINT_VIOLATION_NETWORK_NOT_SHARED", internal}},
		{"agility of a bogus VM", "VM.assert_agile", []any{bogusVM}, []string{"HANDLE_INVALID", "VM", bogusVM}},
		{"sysrq to a halted VM", "VM.send_sysrq", []any{halted, "b"}, []string{"VM_BAD_POWER_STATE", halted, "running", "halted"}},
		{"trigger to a halted VM", "VM.send_trigger", []any{halted, "reset"}, []string{"VM_BAD_POWER_STATE", halted, "running", "halted"}},
		{"sysrq to dom0", "VM.send_sysrq", []any{dom0, "b"}, []string{"OPERATION_NOT_ALLOWED", "This operation is not allowed on a control domain"}},
		{"sysrq to a running VM: xapi's stub", "VM.send_sysrq", []any{running, "b"}, []string{"NOT_IMPLEMENTED", "send_sysrq"}},
		{"trigger to a running VM: xapi's stub", "VM.send_trigger", []any{running, "reset"}, []string{"NOT_IMPLEMENTED", "send_trigger"}},
	})
	assert.Empty(t, xapi.Map(p.get("VM", running), "current_operations"), "a refused operation leaves nothing behind")

	p.ok("VM.set_bios_strings", halted, map[string]any{"bios-vendor": "Acme"})
	other := p.first("VM", `field "name__label"="proxy-01"`)
	p.ok("VM.copy_bios_strings", other, p.first("host", "true"))
	p.expectErrors([]errorCase{
		{"BIOS strings are set once", "VM.set_bios_strings", []any{halted, map[string]any{"bios-vendor": "Other"}}, []string{"VM_BIOS_STRINGS_ALREADY_SET"}},
		{"already set, even with bad keys", "VM.set_bios_strings", []any{halted, map[string]any{"nope": ""}}, []string{"VM_BIOS_STRINGS_ALREADY_SET"}},
		{"copied strings are set once", "VM.copy_bios_strings", []any{other, p.first("host", "true")}, []string{"VM_BIOS_STRINGS_ALREADY_SET"}},
		{"set after a copy", "VM.set_bios_strings", []any{other, map[string]any{}}, []string{"VM_BIOS_STRINGS_ALREADY_SET"}},
	})
}

// TestVMSetters: the effects of the plain setters.
func TestVMSetters(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 6})
	vm := p.first("VM", `field "name__label"="app-01"`)
	field := func(name string) any { return xapi.Get(p.get("VM", vm), name) }
	for _, tc := range []struct {
		name   string
		method string
		arg    any
		want   map[string]any
	}{
		{"PV boot", "VM.set_HVM_boot_policy", "", map[string]any{"HVM_boot_policy": "", "domain_type": "pv"}},
		{"HVM boot", "VM.set_HVM_boot_policy", "BIOS order", map[string]any{"HVM_boot_policy": "BIOS order", "domain_type": "hvm"}},
		{"any policy means HVM", "VM.set_HVM_boot_policy", "UEFI", map[string]any{"HVM_boot_policy": "UEFI", "domain_type": "hvm"}},
		{"pvh domain", "VM.set_domain_type", "pvh", map[string]any{"HVM_boot_policy": "", "domain_type": "pvh"}},
		{"hvm domain", "VM.set_domain_type", "hvm", map[string]any{"HVM_boot_policy": "BIOS order", "domain_type": "hvm"}},
		{"pv domain", "VM.set_domain_type", "pv", map[string]any{"HVM_boot_policy": "", "domain_type": "pv"}},
		{"crash action", "VM.set_actions_after_crash", "preserve", map[string]any{"actions_after_crash": "preserve"}},
		{"order", "VM.set_order", int64(3), map[string]any{"order": int64(3)}},
		{"order zero", "VM.set_order", int64(0), map[string]any{"order": int64(0)}},
		{"start delay", "VM.set_start_delay", int64(30), map[string]any{"start_delay": int64(30)}},
		{"shutdown delay", "VM.set_shutdown_delay", int64(60), map[string]any{"shutdown_delay": int64(60)}},
	} {
		p.ok(tc.method, vm, tc.arg)
		for k, v := range tc.want {
			assert.Equal(t, v, field(k), "%s: %s", tc.name, k)
		}
	}
}

func TestVMAppliance(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 6})
	vm := p.first("VM", `field "name__label"="app-01"`)
	appl := p.ok("VM_appliance.create", record("name_label", "stack")).(string)
	p.ok("VM.set_appliance", vm, appl)
	assert.Equal(t, appl, xapi.Str(p.get("VM", vm), "appliance"))
	assert.Contains(t, xapi.Refs(p.get("VM_appliance", appl), "VMs"), vm)
	assert.NotContains(t, ops(p, vm), "make_into_template", "a member of an appliance cannot become a template")
	_, err := p.call("VM.set_is_a_template", vm, true)
	assert.Equal(t, []string{"VM_IS_PART_OF_AN_APPLIANCE", vm, appl}, err)
	p.ok("VM.set_appliance", vm, "OpaqueRef:NULL")
	assert.Empty(t, xapi.Refs(p.get("VM_appliance", appl), "VMs"))
	assert.Contains(t, ops(p, vm), "make_into_template")
}

func TestVMHAPriority(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 6})
	running := p.first("VM", `field "name__label"="web-01"`)
	halted := p.first("VM", `field "name__label"="app-01"`)
	for _, tc := range []struct {
		name, method string
		vm           string
		arg          any
		priority     string
		alwaysRun    bool
	}{
		{"protect a running VM", "VM.set_ha_restart_priority", running, "restart", "restart", true},
		{"best effort unprotects it", "VM.set_ha_restart_priority", running, "best-effort", "best-effort", false},
		{"always-run means restart", "VM.set_ha_always_run", running, true, "restart", true},
		{"not always-run clears the priority", "VM.set_ha_always_run", running, false, "", false},
		{"a halted VM is protected when it starts", "VM.set_ha_restart_priority", halted, "restart", "restart", false},
		{"unchanged priority", "VM.set_ha_restart_priority", halted, "restart", "restart", false},
	} {
		p.ok(tc.method, tc.vm, tc.arg)
		o := p.get("VM", tc.vm)
		assert.Equal(t, tc.priority, xapi.Str(o, "ha_restart_priority"), tc.name)
		assert.Equal(t, tc.alwaysRun, xapi.Bool(o, "ha_always_run"), tc.name)
	}
	p.ok("VM.start", halted, false, false)
	assert.True(t, xapi.Bool(p.get("VM", halted), "ha_always_run"))
}

func TestVMBIOSStrings(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 6})
	vm := p.first("VM", `field "name__label"="app-01"`)
	p.ok("VM.set_bios_strings", vm, map[string]any{"system-manufacturer": "Acme", "system-serial-number": "SN-1"})
	got := xapi.StringMap(p.get("VM", vm), "bios_strings")
	assert.Equal(t, "Acme", got["system-manufacturer"])
	assert.Equal(t, "SN-1", got["system-serial-number"])
	assert.Equal(t, "Xen", got["bios-vendor"], "the generic strings fill in the rest")
	assert.Equal(t, "HVM domU", got["system-product-name"])
	assert.Equal(t, "Xen", got["oem-1"])
	assert.Len(t, got, 16)

	// A VM that has booted was made BIOS-generic then, and its strings are fixed.
	running := p.first("VM", `field "name__label"="web-01"`)
	assert.Len(t, xapi.StringMap(p.get("VM", running), "bios_strings"), 16)
	_, err := p.call("VM.set_bios_strings", running, map[string]any{})
	assert.Equal(t, []string{"VM_BIOS_STRINGS_ALREADY_SET"}, err)

	host := p.where("host", "true")[1]
	other := p.first("VM", `field "name__label"="proxy-01"`)
	require.Empty(t, xapi.Map(p.get("VM", other), "bios_strings"))
	fresh := p.ok("VM.clone", other, "fresh").(string)
	p.ok("VM.start", fresh, false, false)
	assert.Equal(t, xapi.StringMap(p.get("VM", running), "bios_strings"), xapi.StringMap(p.get("VM", fresh), "bios_strings"),
		"a VM that boots without strings gets the generic ones")
	p.ok("VM.copy_bios_strings", other, host)
	o := p.get("VM", other)
	assert.Equal(t, xapi.StringMap(p.get("host", host), "bios_strings"), xapi.StringMap(o, "bios_strings"))
	assert.Equal(t, host, xapi.Str(o, "affinity"), "the VM is pushed to the host it copied")
}

func TestVMNVRAM(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 4})
	vm := p.first("VM", `field "name__label"="app-01"`)
	tmpl := p.first("VM", `field "name__label"="Debian Bookworm 12"`)
	p.ok("VM.set_NVRAM", vm, map[string]any{"EFI-variables": "AAAA", "other": "x"})
	p.ok("VM.add_to_NVRAM", vm, "more", "y")
	p.ok("VM.remove_from_NVRAM", vm, "other")
	p.ok("VM.remove_from_NVRAM", vm, "absent")
	assert.Equal(t, map[string]string{"EFI-variables": "AAAA", "more": "y"}, xapi.StringMap(p.get("VM", vm), "NVRAM"))
	assert.Empty(t, xapi.Map(p.get("VM", vm), "current_operations"))
	p.ok("VM.add_to_NVRAM", tmpl, "k", "v") // templates allow changing_NVRAM
	assert.Equal(t, "v", xapi.StringMap(p.get("VM", tmpl), "NVRAM")["k"])
}

func TestVMAllowedDevices(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 4})
	vm := p.first("VM", `field "name__label"="app-01"`) // HVM, disks 0 and 3, VIF 0
	numbers := func(from, to int, skip ...int) []any {
		var out []any
		for n := from; n <= to; n++ {
			if !containsInt(skip, n) {
				out = append(out, strconv.Itoa(n))
			}
		}
		return out
	}
	assert.Equal(t, numbers(0, 254, 0, 3), p.ok("VM.get_allowed_VBD_devices", vm))
	assert.Equal(t, numbers(0, 15, 0), p.ok("VM.get_allowed_VIF_devices", vm))

	sr := p.first("SR", `field "type"="nfs"`)
	net := p.first("network", `field "bridge"="xenbr0"`)
	for _, tc := range []struct {
		name       string
		userdevice string
		pv         bool
		want       []any
	}{
		// HVM: disks 0–3 are IDE; a Xen name does not take them.
		{"hvm, xvdb names a Xen disk", "xvdb", false, numbers(0, 254, 0, 3)},
		{"hvm, hdb names IDE disk 1", "hdb", false, numbers(0, 254, 0, 1, 3)},
		{"hvm, a number", "7", false, numbers(0, 254, 0, 3, 7)},
		{"pv, a number", "7", true, numbers(0, 254, 0, 3, 7)},
		{"pv, xvdf names disk 5", "xvdf", true, numbers(0, 254, 0, 3, 5)},
		{"pv, hdb is IDE, not Xen", "hdb", true, numbers(0, 254, 0, 3)},
	} {
		v := p.ok("VM.clone", vm, tc.name).(string)
		if tc.pv {
			p.ok("VM.set_domain_type", v, "pv")
		}
		vdi := p.ok("VDI.create", vdiRec("SR", sr, "virtual_size", int64(1<<30), "type", "user", "name_label", "d")).(string)
		// VBD.create reads a name as a number; the device field keeps the name.
		vbd := p.ok("VBD.create", vbdRec("VM", v, "VDI", vdi, "userdevice", "autodetect", "mode", "RW", "type", "Disk")).(string)
		require.NoError(t, p.srv.UpdateField("VBD", vbd, "userdevice", func(any) (any, error) { return tc.userdevice, nil }))
		assert.Equal(t, tc.want, p.ok("VM.get_allowed_VBD_devices", v), tc.name)
	}
	p.ok("VIF.create", vifRec("VM", vm, "network", net, "device", "4", "MTU", int64(1500)))
	assert.Equal(t, numbers(0, 15, 0, 4), p.ok("VM.get_allowed_VIF_devices", vm))
	dom0 := p.first("VM", `field "is_control_domain"="true"`) // PV, no VBDs: one more disk
	assert.Equal(t, numbers(0, 255), p.ok("VM.get_allowed_VBD_devices", dom0))
}

func containsInt(s []int, n int) bool {
	for _, x := range s {
		if x == n {
			return true
		}
	}
	return false
}

func TestVMQueries(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 6})
	running := p.first("VM", `field "name__label"="web-01"`)
	halted := p.first("VM", `field "name__label"="app-01"`)

	rec := p.ok("VM.get_boot_record", running).(map[string]any)
	assert.Equal(t, xapi.Str(p.get("VM", running), "uuid"), rec["uuid"])
	assert.Equal(t, "Running", rec["power_state"])
	ops := rec["current_operations"].(map[string]any)
	require.Len(t, ops, 1, "xapi reads the record while get_boot_record is marked")
	for _, op := range ops {
		assert.Equal(t, "get_boot_record", op)
	}
	assert.Empty(t, xapi.Map(p.get("VM", running), "current_operations"))
	p.ok("VM.suspend", running)
	assert.Equal(t, "Suspended", p.ok("VM.get_boot_record", running).(map[string]any)["power_state"])

	assert.Equal(t, true, p.ok("VM.get_cooperative", halted))
	assert.Equal(t, true, p.ok("VM.get_cooperative", bogusVM), "xapi answers without reading the VM")

	o := p.get("VM", halted)
	assert.Equal(t, float64(xapi.Int(o, "memory_overhead")), toFloat(p.ok("VM.compute_memory_overhead", halted)))
	p.ok("VM.set_VCPUs_at_startup", halted, int64(1))
	p.ok("VM.set_VCPUs_max", halted, int64(2))
	// static_max + overhead (2 MiB for the VCPUs, static_max/128, rounded up to a MiB)
	// must fit: 1014 MiB + 10 MiB fits 1 GiB; 64 VCPUs leave 952 MiB (+ 72 MiB).
	for _, tc := range []struct {
		total       int64
		approximate bool
		want        int64
	}{
		{1 << 30, false, 1014 << 20},
		{1 << 30, true, 952 << 20},
		{4 << 30, false, 4062 << 20},
		{(1 << 30) + 12345, false, 1014 << 20},
		{1 << 20, false, 0},
		{0, false, 0},
	} {
		assert.Equal(t, float64(tc.want), toFloat(p.ok("VM.maximise_memory", halted, tc.total, tc.approximate)), "%d %v", tc.total, tc.approximate)
	}

	p.ok("VM.assert_agile", halted) // NFS disks, eth0 network on every host
	empty := p.ok("VM.clone", halted, "cd only").(string)
	p.ok("VM.assert_agile", empty)
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case json.Number:
		f, _ := n.Float64()
		return f
	case float64:
		return n
	case int64:
		return float64(n)
	case string:
		f, _ := strconv.ParseFloat(n, 64)
		return f
	}
	return -1
}

func TestVMSetSuspendVDI(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 6})
	vm := p.first("VM", `field "name__label"="web-01"`)
	p.ok("VM.suspend", vm)
	image := xapi.Str(p.get("VM", vm), "suspend_VDI")
	nfs := p.first("SR", `field "type"="nfs"`)

	p.ok("VM.set_suspend_VDI", vm, image) // the same image: nothing to do
	cp := p.ok("VDI.copy", image, nfs).(string)
	p.ok("VM.set_suspend_VDI", vm, cp)
	assert.Equal(t, cp, xapi.Str(p.get("VM", vm), "suspend_VDI"))

	sum := func(vdi string) string {
		o := p.get("VDI", vdi)
		return xapi.Str(o, "uuid") + " : " + fmt.Sprintf("%x", md5.Sum([]byte(strconv.FormatInt(xapi.Int(o, "virtual_size"), 10))))
	}
	smaller := p.ok("VDI.create", vdiRec("SR", nfs, "virtual_size", int64(1<<30), "type", "suspend", "name_label", "s")).(string)
	// VDI.create makes no CBT metadata VDI (VDI.data_destroy leaves one): retype a VDI.
	cbt := p.ok("VDI.create", vdiRec("SR", nfs, "virtual_size", int64(1<<30), "type", "user", "name_label", "c")).(string)
	require.NoError(t, p.srv.UpdateField("VDI", cbt, "type", func(any) (any, error) { return "cbt_metadata", nil }))
	// A VDI on an SR no host has plugged.
	lost := p.first("SR", `field "name__label"="Local storage"`)
	stranded := p.ok("VDI.create", vdiRec("SR", lost, "virtual_size", int64(1<<30), "type", "suspend", "name_label", "x")).(string)
	for _, pbd := range xapi.Refs(p.get("SR", lost), "PBDs") {
		p.ok("PBD.unplug", pbd)
	}
	p.expectErrors([]errorCase{
		{"a bogus VDI", "VM.set_suspend_VDI", []any{vm, "OpaqueRef:novdi"}, []string{"HANDLE_INVALID", "VDI", "OpaqueRef:novdi"}},
		{"a CBT metadata VDI", "VM.set_suspend_VDI", []any{vm, cbt}, []string{"VDI_INCOMPATIBLE_TYPE", vm, "CBT metadata"}},
		{"an image of another size", "VM.set_suspend_VDI", []any{vm, smaller}, []string{"SUSPEND_VDI_REPLACEMENT_IS_NOT_IDENTICAL", sum(cp), sum(smaller)}},
		{"no host sees the image", "VM.set_suspend_VDI", []any{vm, stranded}, []string{"NO_HOSTS_AVAILABLE"}},
	})
	assert.Equal(t, cp, xapi.Str(p.get("VM", vm), "suspend_VDI"))
	p.ok("VM.resume", vm, false, false)
}

// vdiRec, vbdRec and vifRec are constructor records with every field a client must send,
// the given pairs overriding the defaults.
func vdiRec(pairs ...any) map[string]any {
	return withDefaults(record(pairs...), "name_label", "", "name_description", "", "sharable", false, "read_only", false,
		"other_config", map[string]any{}, "xenstore_data", map[string]any{}, "sm_config", map[string]any{}, "tags", []any{})
}

func vbdRec(pairs ...any) map[string]any {
	return withDefaults(record(pairs...), "bootable", false, "empty", false, "other_config", map[string]any{},
		"qos_algorithm_type", "", "qos_algorithm_params", map[string]any{})
}

func vifRec(pairs ...any) map[string]any {
	return withDefaults(record(pairs...), "MAC", "", "other_config", map[string]any{}, "qos_algorithm_type", "",
		"qos_algorithm_params", map[string]any{})
}

func withDefaults(r map[string]any, pairs ...any) map[string]any {
	for k, v := range record(pairs...) {
		if _, ok := r[k]; !ok {
			r[k] = v
		}
	}
	return r
}

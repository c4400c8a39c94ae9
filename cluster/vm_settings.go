package cluster

import (
	"crypto/md5"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// VM settings xapi implements by hand (xapi_vm.ml, xapi_vm_helpers.ml) and the queries
// about a VM that read more than one field: boot policy and domain type, start order and
// delays, appliance membership, HA priority, BIOS strings, NVRAM, the free device
// numbers, memory sizing, agility, and the stubs for sysrq and triggers.

func (p *Sim) registerVMSettings() {
	s := p.srv
	s.Handle("VM.set_HVM_boot_policy", func(c *xapi.Call) (any, error) {
		value := c.StringArg(1)
		return nil, p.editVM(c.StringArg(0), func(_ *store.Tx, vm *store.Object) error {
			xapi.Set(vm, "domain_type", domainTypeOfBootPolicy(value))
			xapi.Set(vm, "HVM_boot_policy", value)
			return nil
		})
	})
	s.Handle("VM.set_domain_type", func(c *xapi.Call) (any, error) {
		value := c.StringArg(1)
		if value == "unspecified" {
			return nil, apierror.New(apierror.InvalidValue, "domain_type", value)
		}
		return nil, p.editVM(c.StringArg(0), func(_ *store.Tx, vm *store.Object) error {
			xapi.Set(vm, "domain_type", value)
			policy := ""
			if value == "hvm" {
				policy = hvmDefaultBootPolicy
			}
			xapi.Set(vm, "HVM_boot_policy", policy)
			return nil
		})
	})
	s.Handle("VM.set_actions_after_crash", s.GenericHandler(s.Schema.Message("VM.set_actions_after_crash")))
	// Appliance start order and delays: non-negative, checked before the VM is read.
	for name, field := range map[string]string{"set_order": "order", "set_start_delay": "start_delay", "set_shutdown_delay": "shutdown_delay"} {
		field := field
		s.Handle("VM."+name, func(c *xapi.Call) (any, error) {
			if v := c.Arg(1).(int64); v < 0 {
				return nil, apierror.New(apierror.InvalidValue, field+" must be non-negative", strconv.FormatInt(v, 10))
			}
			return nil, s.UpdateField("VM", c.StringArg(0), field, func(any) (any, error) { return c.Arg(1), nil })
		})
	}
	s.Handle("VM.set_suspend_VDI", p.setSuspendVDI)
	s.Handle("VM.set_appliance", func(c *xapi.Call) (any, error) {
		value := c.StringArg(1)
		return nil, p.editVM(c.StringArg(0), func(_ *store.Tx, vm *store.Object) error {
			if xapi.Bool(vm, "is_control_domain") || xapi.Bool(vm, "is_a_template") || xapi.Bool(vm, "is_a_snapshot") {
				return apierror.New(apierror.OperationNotAllowed, "Control domains, templates and snapshots cannot be assigned to appliances.")
			}
			// xapi stores the ref unchecked. VM_appliance allowed_operations are not
			// simulated, so only the VM's own (make_into_template) change.
			xapi.Set(vm, "appliance", value)
			return nil
		})
	})
	s.Handle("VM.set_ha_restart_priority", func(c *xapi.Call) (any, error) {
		return nil, p.setHARestartPriority(c.StringArg(0), c.StringArg(1))
	})
	s.Handle("VM.set_ha_always_run", func(c *xapi.Call) (any, error) { // deprecated: maps onto the priority
		priority := ""
		if c.Arg(1).(bool) {
			priority = haRestart
		}
		return nil, p.setHARestartPriority(c.StringArg(0), priority)
	})
	s.Handle("VM.set_bios_strings", p.setBIOSStrings)
	s.Handle("VM.copy_bios_strings", p.copyBIOSStrings)
	// NVRAM changes run as the changing_NVRAM operation (Halted VMs and templates); the
	// body is the plain field update.
	for _, name := range []string{"set_NVRAM", "add_to_NVRAM", "remove_from_NVRAM"} {
		generic := s.GenericHandler(s.Schema.Message("VM." + name))
		s.Handle("VM."+name, func(c *xapi.Call) (any, error) {
			return nil, p.withOp(c, vmOp{op: "changing_NVRAM", strict: true}.on(c.StringArg(0)), func() error {
				if err := c.Work(); err != nil {
					return err
				}
				_, err := generic(c)
				return err
			})
		})
	}
	s.Handle("VM.get_allowed_VBD_devices", func(c *xapi.Call) (any, error) {
		vm, err := c.Get("VM", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		return allowedVBDDevices(s.Store, vm), nil
	})
	s.Handle("VM.get_allowed_VIF_devices", func(c *xapi.Call) (any, error) {
		vm, err := c.Get("VM", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		used := map[string]bool{}
		for _, ref := range xapi.Refs(vm, "VIFs") {
			if vif := s.Store.Get("VIF", ref); vif != nil {
				used[xapi.Str(vif, "device")] = true
			}
		}
		free := []any{}
		for n := 0; n <= maxVIFDevice; n++ {
			if d := strconv.Itoa(n); !used[d] {
				free = append(free, d)
			}
		}
		return free, nil
	})
	// get_boot_record runs as an operation (Paused, Suspended or Running) and, as xapi
	// does, answers the VM's current record, read while the operation is marked.
	s.Handle("VM.get_boot_record", func(c *xapi.Call) (any, error) {
		var rec *store.Object
		err := p.runVMOp(c, c.StringArg(0), vmOp{op: "get_boot_record", strict: true,
			apply: func(_ *store.Tx, vm *store.Object) error { rec = vm; return nil }})
		if err != nil {
			return nil, err
		}
		return s.Record(rec), nil
	})
	// Deprecated: xapi answers true without reading the VM, whatever the ref.
	s.Handle("VM.get_cooperative", func(*xapi.Call) (any, error) { return true, nil })
	s.Handle("VM.compute_memory_overhead", func(c *xapi.Call) (any, error) {
		vm, err := c.Get("VM", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		return overhead(vm), nil
	})
	s.Handle("VM.maximise_memory", p.maximiseMemory)
	s.Handle("VM.assert_agile", func(c *xapi.Call) (any, error) {
		vm, err := c.Get("VM", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		return nil, agilityError(s.Store, vm)
	})
	// xapi checks the operation (the VM must be Running), forwards the call to the VM's
	// host, and there its implementation is a stub answering NOT_IMPLEMENTED with the
	// bare message name: no guest ever sees a sysrq or trigger through the XenAPI.
	for _, op := range []string{"send_sysrq", "send_trigger"} {
		op := op
		s.Handle("VM."+op, func(c *xapi.Call) (any, error) {
			return nil, p.runVMOp(c, c.StringArg(0), vmOp{op: op, strict: true,
				apply: func(*store.Tx, *store.Object) error { return apierror.New(apierror.NotImplemented, op) }})
		})
	}
}

// editVM changes a VM in one transaction: fn edits a copy, which is stored, and the
// VM's allowed_operations are recomputed.
func (p *Sim) editVM(ref string, fn func(tx *store.Tx, vm *store.Object) error) error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		vm, err := xapi.GetObject(tx, "VM", ref)
		if err != nil {
			return err
		}
		vm = vm.Clone()
		if err := fn(tx, vm); err != nil {
			return err
		}
		tx.Put(vm)
		setAllowedOps(tx, vm)
		return nil
	})
	return err
}

// hvmDefaultBootPolicy is the HVM_boot_policy xapi gives a VM set to the hvm domain type.
const hvmDefaultBootPolicy = "BIOS order"

// domainTypeOfBootPolicy is the domain type xapi derives from an HVM_boot_policy.
func domainTypeOfBootPolicy(policy string) string {
	if policy == "" {
		return "pv"
	}
	return "hvm"
}

// haRestart is the restart priority of a protected VM.
const haRestart = "restart"

// setHARestartPriority is xapi's set_ha_restart_priority (semantics.md §2.11): the value
// is checked before the VM is read; a non-halted VM newly marked "restart" must keep the
// HA failover plan (HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN, only while HA is on and
// overcommitment is not allowed), and with HA on the pool's plan is recomputed; a
// running VM is protected or unprotected at once.
func (p *Sim) setHARestartPriority(ref, value string) error {
	if value != haRestart && value != "best-effort" && value != "" {
		return apierror.New(apierror.InvalidValue, "ha_restart_priority", value)
	}
	return p.editVM(ref, func(tx *store.Tx, vm *store.Object) error {
		current := xapi.Str(vm, "ha_restart_priority")
		if current != haRestart && value == haRestart {
			if xapi.Str(vm, "power_state") != "Halted" {
				if err := assertPlanKept(tx, haChange{newVMs: []string{vm.Ref}}); err != nil {
					return err
				}
			}
			if xapi.Bool(firstPool(tx), "ha_enabled") {
				p.updatePoolStatus(tx)
			}
		}
		if current == value {
			return nil
		}
		xapi.Set(vm, "ha_restart_priority", value)
		if xapi.Str(vm, "power_state") == "Running" {
			xapi.Set(vm, "ha_always_run", value == haRestart)
		}
		return nil
	})
}

// BIOS strings (xapi_vm_helpers.ml): a VM's strings are set once, from a host or from
// the generic set with some keys overridden, and never changed afterwards.

// genericBIOSStrings is what a VM gets when it boots without BIOS strings, and the base
// that set_bios_strings overrides.
var genericBIOSStrings = map[string]string{
	"bios-vendor": "Xen", "bios-version": "", "system-manufacturer": "Xen", "system-product-name": "HVM domU",
	"system-version": "", "system-serial-number": "", "baseboard-manufacturer": "", "baseboard-product-name": "",
	"baseboard-version": "", "baseboard-serial-number": "", "baseboard-asset-tag": "",
	"baseboard-location-in-chassis": "", "enclosure-asset-tag": "", "hp-rombios": "",
	"oem-1": "Xen", "oem-2": "MS_VM_CERT/SHA1/bdbeb6e0a816d43fa6d3fe8aaef04c2bad9d3e3d",
}

// genericBIOS returns a fresh copy of the generic strings as a field value.
func genericBIOS() map[string]any {
	strs := make(map[string]any, len(genericBIOSStrings))
	for k, v := range genericBIOSStrings {
		strs[k] = v
	}
	return strs
}

// settableBIOSKeys are the keys set_bios_strings accepts.
var settableBIOSKeys = []string{
	"bios-vendor", "bios-version", "system-manufacturer", "system-product-name", "system-version",
	"system-serial-number", "baseboard-manufacturer", "baseboard-product-name", "baseboard-version",
	"baseboard-serial-number", "baseboard-asset-tag", "baseboard-location-in-chassis", "enclosure-asset-tag",
}

// biosStringMaxLen is the longest value a BIOS string may have.
const biosStringMaxLen = 512

// biosStringsError is xapi's check of the strings given to set_bios_strings. xapi checks
// the pairs in the order the client sent them; a decoded map has none, so the keys are
// checked in sorted order.
func biosStringsError(value map[string]any) error {
	keys := make([]string, 0, len(value))
	for k := range value {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, _ := value[k].(string)
		switch {
		case !slices.Contains(settableBIOSKeys, k):
			return apierror.New(apierror.InvalidValue, k, "Unknown key")
		case v == "":
			return apierror.New(apierror.InvalidValue, k, "Value provided is empty")
		case len(v) > biosStringMaxLen:
			return apierror.New(apierror.InvalidValue, k, fmt.Sprintf("%s has length more than %d characters", v, biosStringMaxLen))
		case strings.IndexFunc(v, func(r rune) bool { return r < 32 || r >= 127 }) >= 0:
			return apierror.New(apierror.InvalidValue, k, v+" has non-printable ASCII characters")
		}
	}
	return nil
}

// setBIOSStrings gives a VM without BIOS strings the generic set with the given keys
// overridden. xapi checks no power state or operation here.
func (p *Sim) setBIOSStrings(c *xapi.Call) (any, error) {
	value, _ := c.Arg(1).(map[string]any)
	return nil, p.editVM(c.StringArg(0), func(_ *store.Tx, vm *store.Object) error {
		if len(xapi.Map(vm, "bios_strings")) > 0 {
			return apierror.New("VM_BIOS_STRINGS_ALREADY_SET")
		}
		if err := biosStringsError(value); err != nil {
			return err
		}
		strs := genericBIOS()
		for k, v := range value {
			strs[k] = v
		}
		xapi.Set(vm, "bios_strings", strs)
		return nil
	})
}

// copyBIOSStrings gives a VM without BIOS strings those of a host, and makes that host
// its affinity so that it starts there.
func (p *Sim) copyBIOSStrings(c *xapi.Call) (any, error) {
	return nil, p.editVM(c.StringArg(0), func(tx *store.Tx, vm *store.Object) error {
		if len(xapi.Map(vm, "bios_strings")) > 0 {
			return apierror.New("VM_BIOS_STRINGS_ALREADY_SET")
		}
		host, err := xapi.GetObject(tx, "host", c.StringArg(1))
		if err != nil {
			return err
		}
		xapi.Set(vm, "bios_strings", xapi.CopyMap(xapi.Map(host, "bios_strings")))
		xapi.Set(vm, "affinity", host.Ref)
		return nil
	})
}

// setSuspendVDI replaces a suspended VM's suspend image with an identical one (a copy on
// another SR). Some live host must see the SRs of the VM's disks and of the new image.
// The simulation keeps no VDI content: a VDI's checksum is derived from its virtual size,
// so a copy of the image matches it and a VDI of another size does not.
func (p *Sim) setSuspendVDI(c *xapi.Call) (any, error) {
	value := c.StringArg(1)
	return nil, p.editVM(c.StringArg(0), func(tx *store.Tx, vm *store.Object) error {
		if ps := xapi.Str(vm, "power_state"); ps != "Suspended" {
			return apierror.New("VM_BAD_POWER_STATE", vm.Ref, "suspended", strings.ToLower(ps))
		}
		dst, err := xapi.GetObject(tx, "VDI", value)
		if err != nil {
			return err
		}
		if xapi.Str(dst, "type") == "cbt_metadata" {
			return apierror.New("VDI_INCOMPATIBLE_TYPE", vm.Ref, vdiTypeNames["cbt_metadata"])
		}
		srcRef := xapi.Str(vm, "suspend_VDI")
		if srcRef == value {
			return nil
		}
		srs := []string{xapi.Str(dst, "SR")}
		if err := eachDiskVDI(tx, vm, func(vdi *store.Object) error {
			srs = append(srs, xapi.Str(vdi, "SR"))
			return nil
		}); err != nil {
			return err
		}
		if !slices.ContainsFunc(tx.All("host"), func(h *store.Object) bool {
			m := tx.Get("host_metrics", xapi.Str(h, "metrics"))
			return m != nil && xapi.Bool(m, "live") && !slices.ContainsFunc(srs, func(sr string) bool { return !srPluggedOn(tx, sr, h.Ref) })
		}) {
			return apierror.New("NO_HOSTS_AVAILABLE")
		}
		src, err := xapi.GetObject(tx, "VDI", srcRef)
		if err != nil {
			return err
		}
		if a, b := vdiChecksum(src), vdiChecksum(dst); a != b {
			return apierror.New("SUSPEND_VDI_REPLACEMENT_IS_NOT_IDENTICAL",
				xapi.Str(src, "uuid")+" : "+a, xapi.Str(dst, "uuid")+" : "+b)
		}
		xapi.Set(vm, "suspend_VDI", value)
		return nil
	})
}

// eachDiskVDI calls f with the VDI of each of the VM's VBDs that is not empty, in order,
// stopping at the first error; a dangling ref is HANDLE_INVALID, as xapi's reads give.
func eachDiskVDI(r store.Reader, vm *store.Object, f func(vdi *store.Object) error) error {
	for _, ref := range xapi.Refs(vm, "VBDs") {
		vbd, err := xapi.GetObject(r, "VBD", ref)
		if err != nil {
			return err
		}
		if xapi.Bool(vbd, "empty") {
			continue
		}
		vdi, err := xapi.GetObject(r, "VDI", xapi.Str(vbd, "VDI"))
		if err != nil {
			return err
		}
		if err := f(vdi); err != nil {
			return err
		}
	}
	return nil
}

// vdiChecksum is the simulated md5 of a VDI's content (see setSuspendVDI).
func vdiChecksum(vdi *store.Object) string {
	return fmt.Sprintf("%x", md5.Sum([]byte(strconv.FormatInt(xapi.Int(vdi, "virtual_size"), 10))))
}

// maximiseMemory is the largest static maximum, rounded down to a MiB, with which the VM
// would fit in total bytes by the simulation's memory model (static_max plus overhead);
// approximate leaves room for 64 VCPUs. Like xapi it bisects [0, total]: when nothing
// fits the answer is 0.
func (p *Sim) maximiseMemory(c *xapi.Call) (any, error) {
	vm, err := c.Get("VM", c.StringArg(0))
	if err != nil {
		return nil, err
	}
	total, approximate := c.Arg(1).(int64), c.Arg(2).(bool)
	if total < 0 { // xapi's bisection asserts lower <= upper
		return nil, apierror.Internal(`Assert_failure("ocaml/xapi/helpers.ml", 1425, 2)`)
	}
	probe := vm.Clone()
	if approximate {
		xapi.Set(probe, "VCPUs_max", int64(64))
	}
	fits := func(smax int64) bool {
		xapi.Set(probe, "memory_static_max", smax)
		return smax+overhead(probe) <= total
	}
	lo, hi := int64(0), total
	for hi-lo >= 2 {
		if mid := lo + (hi-lo)/2; fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	best := lo
	if fits(hi) {
		best = hi
	}
	return best / mib * mib, nil
}

// Device numbers (xapi_vm_helpers.ml): a VM may have disks 0–254 (255 for a control
// domain) and VIFs 0–15. A disk number names an IDE disk for the first four disks of a
// VM with an emulator (HVM), a Xen disk otherwise; a VBD takes the disks its userdevice
// and device fields may name, read both ways.

const (
	maxVBDDevice = 254
	maxVIFDevice = 15
)

// diskDevice is a disk as xapi's Device_number sees it: bus, disk and partition.
type diskDevice struct {
	bus             string // xen, ide, scsi, floppy
	disk, partition int
}

// diskOfNumber is disk number n of a VM with or without an emulator.
func diskOfNumber(hvm bool, n int) (diskDevice, bool) {
	if n < 0 {
		return diskDevice{}, false
	}
	if hvm && n < 4 {
		return diskDevice{"ide", n, 0}, true
	}
	return diskDevice{"xen", n, 0}, n < 1<<20
}

// parseDiskDevice reads a userdevice or device: a disk number, or a Linux name (xvda,
// hdb, sdc1, fda, d3p1).
func parseDiskDevice(hvm bool, s string) (diskDevice, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		if d, ok := diskOfNumber(hvm, n); ok {
			return d, true
		}
	}
	for _, pre := range []struct{ prefix, bus string }{{"xvd", "xen"}, {"sd", "scsi"}, {"fd", "floppy"}, {"hd", "ide"}} {
		if rest, ok := strings.CutPrefix(s, pre.prefix); ok {
			letters := len(rest) - len(strings.TrimLeft(rest, "abcdefghijklmnopqrstuvwxyz"))
			disk := 0
			for _, r := range rest[:letters] {
				disk = disk*26 + int(r-'a') + 1
			}
			part, digits := 0, rest[letters:]
			if digits != "" {
				n, err := strconv.Atoi(digits)
				if err != nil || n < 0 || digits[0] == '+' || digits[0] == '-' {
					return diskDevice{}, false
				}
				part = n
			}
			return diskDevice{pre.bus, disk - 1, part}, true
		}
	}
	if rest, ok := strings.CutPrefix(s, "d"); ok {
		disk, part, hasPart := strings.Cut(rest, "p")
		d, err := strconv.Atoi(disk)
		if err != nil || d < 0 || disk[0] == '+' {
			return diskDevice{}, false
		}
		p := 0
		if hasPart {
			if p, err = strconv.Atoi(part); err != nil || p < 0 || part[0] == '+' {
				return diskDevice{}, false
			}
		}
		return diskDevice{"xen", d, p}, true
	}
	return diskDevice{}, false
}

// allowedVBDDevices are the disk numbers, as strings, no VBD of the VM takes.
func allowedVBDDevices(r store.Reader, vm *store.Object) []any {
	used := map[diskDevice]bool{}
	for _, ref := range xapi.Refs(vm, "VBDs") {
		vbd := r.Get("VBD", ref)
		if vbd == nil {
			continue
		}
		for _, name := range []string{xapi.Str(vbd, "device"), xapi.Str(vbd, "userdevice")} {
			for _, hvm := range []bool{true, false} {
				if d, ok := parseDiskDevice(hvm, name); ok {
					used[d] = true
				}
			}
		}
	}
	hvm, last := willHaveEmulator(vm), maxVBDDevice
	if !hvm && xapi.Bool(vm, "is_control_domain") {
		last++
	}
	free := []any{}
	for n := 0; n <= last; n++ {
		if d, _ := diskOfNumber(hvm, n); !used[d] {
			free = append(free, strconv.Itoa(n))
		}
	}
	return free
}

// willHaveEmulator reports whether the VM's domain type gets a device model (qemu).
func willHaveEmulator(vm *store.Object) bool {
	return xapi.Str(vm, "domain_type") == "hvm"
}

// agilityError is xapi's assert_agile: the first reason the VM could not run on every
// enabled host — a vGPU, a VUSB, a disk on an SR not plugged on every enabled host, or a
// VIF on a network without a PIF (not a bond member) on every enabled host. (xapi also
// refuses SR-IOV networks; the simulation has none.)
func agilityError(r store.Reader, vm *store.Object) error {
	if len(xapi.Refs(vm, "VGPUs")) > 0 {
		return apierror.New("VM_HAS_VGPU", vm.Ref)
	}
	if len(xapi.Refs(vm, "VUSBs")) > 0 {
		return apierror.New("VM_HAS_VUSBS", vm.Ref)
	}
	var enabled []string
	for _, h := range r.All("host") {
		if xapi.Bool(h, "enabled") {
			enabled = append(enabled, h.Ref)
		}
	}
	if err := eachDiskVDI(r, vm, func(vdi *store.Object) error {
		sr, err := xapi.GetObject(r, "SR", xapi.Str(vdi, "SR"))
		if err != nil {
			return err
		}
		if !xapi.Bool(sr, "shared") || slices.ContainsFunc(enabled, func(h string) bool { return !srPluggedOn(r, sr.Ref, h) }) {
			return apierror.New("HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED", sr.Ref)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, ref := range xapi.Refs(vm, "VIFs") {
		vif, err := xapi.GetObject(r, "VIF", ref)
		if err != nil {
			return err
		}
		net := xapi.Str(vif, "network")
		withPIF := map[string]bool{}
		for _, pif := range r.All("PIF") {
			if xapi.Str(pif, "network") == net && r.Get("Bond", xapi.Str(pif, "bond_slave_of")) == nil {
				withPIF[xapi.Str(pif, "host")] = true
			}
		}
		if slices.ContainsFunc(enabled, func(h string) bool { return !withPIF[h] }) {
			return apierror.New("HA_CONSTRAINT_VIOLATION_NETWORK_NOT_SHARED", net)
		}
	}
	return nil
}

package cluster

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Virtual block devices (semantics.md §4.4): creation with xapi's checks, hotplug on
// running VMs, CD insert and eject.

func (p *Sim) registerVBD() {
	s := p.srv
	s.Handle("VBD.create", p.vbdCreate)
	s.Handle("VBD.destroy", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			vbd, err := xapi.GetObject(tx, "VBD", c.StringArg(0))
			if err != nil {
				return err
			}
			if xapi.Bool(vbd, "currently_attached") {
				vm := tx.Get("VM", xapi.Str(vbd, "VM"))
				return apierror.New(apierror.OperationNotAllowed,
					fmt.Sprintf("VBD '%s' still attached to '%s'", xapi.Str(vbd, "uuid"), xapi.Str(vm, "uuid")))
			}
			vdi := xapi.Str(vbd, "VDI")
			deleteVBD(tx, vbd.Ref)
			if tx.Get("VDI", vdi) != nil {
				setVDIAllowedOps(tx, vdi)
			}
			return nil
		})
		return nil, err
	})
	s.Handle("VBD.plug", func(c *xapi.Call) (any, error) { return nil, p.vbdAttach(c, "plug", true) })
	s.Handle("VBD.unplug", func(c *xapi.Call) (any, error) { return nil, p.vbdAttach(c, "unplug", false) })
	s.Handle("VBD.unplug_force", func(c *xapi.Call) (any, error) { return nil, p.vbdAttach(c, "unplug_force", false) })
	s.Handle("VBD.insert", func(c *xapi.Call) (any, error) {
		vdi := c.StringArg(1)
		if _, err := c.Get("VDI", vdi); err != nil {
			return nil, err
		}
		return nil, p.vbdMedia(c, "insert", vdi)
	})
	s.Handle("VBD.eject", func(c *xapi.Call) (any, error) { return nil, p.vbdMedia(c, "eject", nullRef) })
	s.Handle("VBD.set_mode", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			vbd, err := xapi.GetObject(tx, "VBD", c.StringArg(0))
			if err != nil {
				return err
			}
			if vm := tx.Get("VM", xapi.Str(vbd, "VM")); vm != nil && xapi.Str(vm, "power_state") != "Halted" {
				return apierror.New("VM_BAD_POWER_STATE", vm.Ref, "halted", strings.ToLower(xapi.Str(vm, "power_state")))
			}
			vbd = vbd.Clone()
			xapi.Set(vbd, "mode", c.Arg(1))
			tx.Put(vbd)
			return nil
		})
		return nil, err
	})
	s.Handle("VBD.assert_attachable", func(c *xapi.Call) (any, error) {
		vbd, err := c.Get("VBD", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		if vdi := s.Store.Get("VDI", xapi.Str(vbd, "VDI")); vdi != nil && xapi.Str(vbd, "mode") == "RW" {
			if err := vdiSharingError(s.Store, vdi, vbd); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
}

// vdiTypesForVBD are the VDI types a VBD may use.
var vdiTypesForVBD = []string{"system", "user", "ephemeral", "suspend", "crashdump", "metadata", "rrd", "pvs_cache"}

func (p *Sim) vbdCreate(c *xapi.Call) (any, error) {
	rec := c.Arg(0).([]any)
	cls := p.srv.Schema.Class("VBD")
	get := func(f string) any { return rec[cls.Field(f).Index] }
	vmRef, vdiRef := get("VM").(string), get("VDI").(string)
	mode, typ, empty := get("mode").(string), get("type").(string), get("empty").(bool)
	userdevice := get("userdevice").(string)
	var ref string
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		vm, err := xapi.GetObject(tx, "VM", vmRef)
		if err != nil {
			return err
		}
		var vdi *store.Object
		if !empty {
			if vdi, err = xapi.GetObject(tx, "VDI", vdiRef); err != nil {
				return err
			}
			if !slices.Contains(vdiTypesForVBD, xapi.Str(vdi, "type")) && !(typ == "CD" && xapi.Str(vdi, "type") == "user") {
				return apierror.New("VDI_INCOMPATIBLE_TYPE", vdiRef, xapi.Str(vdi, "type"))
			}
		}
		switch {
		case typ == "CD" && mode != "RO":
			return apierror.New("VBD_CDS_MUST_BE_READONLY")
		case empty && typ != "CD":
			return apierror.New("VBD_NOT_REMOVABLE_MEDIA", "in constructor")
		case vdi != nil && mode == "RW" && xapi.Bool(vdi, "read_only"):
			return apierror.New("VDI_READONLY", vdiRef)
		}
		if ops := xapi.Map(vm, "current_operations"); slices.ContainsFunc(mapValues(ops), func(op string) bool { return op == "pool_migrate" || op == "migrate_send" }) {
			tasks, names := sortedOps(ops)
			return apierror.New("OTHER_OPERATION_IN_PROGRESS", "VM", vm.Ref, names[0], tasks[0])
		}
		used := usedDevices(tx, vm)
		n, err := parseUserdevice(userdevice, used)
		if err != nil {
			return err
		}
		if used[n] {
			return apierror.New("DEVICE_ALREADY_EXISTS", userdevice)
		}
		vbd := newVBD(p.srv, tx, vbdSpec{vm: vmRef, vdi: vdiRef, userdevice: strconv.Itoa(n), bootable: get("bootable").(bool),
			mode: mode, typ: typ, empty: empty, unplug: get("unpluggable").(bool)})
		vbd = tx.Get("VBD", vbd.Ref).Clone()
		xapi.Set(vbd, "other_config", get("other_config"))
		xapi.Set(vbd, "qos_algorithm_type", get("qos_algorithm_type"))
		xapi.Set(vbd, "qos_algorithm_params", get("qos_algorithm_params"))
		if empty {
			xapi.Set(vbd, "VDI", nullRef)
		}
		// device and currently_attached are honoured only for a suspended VM; otherwise the
		// device is named when the VM boots or the VBD is plugged.
		if xapi.Str(vm, "power_state") == "Suspended" {
			xapi.Set(vbd, "device", get("device"))
			xapi.Set(vbd, "currently_attached", get("currently_attached"))
		} else {
			xapi.Set(vbd, "device", "")
		}
		tx.Put(vbd)
		setVBDAllowedOps(tx, vbd.Ref)
		if vdi != nil {
			setVDIAllowedOps(tx, vdiRef)
		}
		ref = vbd.Ref
		return nil
	})
	return ref, err
}

// parseUserdevice reads a userdevice: a number, a device name (xvdb, hdb, sdb) or
// "autodetect" for the lowest free slot.
func parseUserdevice(u string, used map[int]bool) (int, error) {
	if u == "autodetect" {
		for n := 0; ; n++ {
			if !used[n] {
				return n, nil
			}
		}
	}
	if n, err := strconv.Atoi(u); err == nil && n >= 0 && n < 256 {
		return n, nil
	}
	for _, prefix := range []string{"xvd", "hd", "sd"} {
		if rest, ok := strings.CutPrefix(u, prefix); ok && len(rest) == 1 && rest[0] >= 'a' && rest[0] <= 'z' {
			return int(rest[0] - 'a'), nil
		}
	}
	return 0, apierror.New("INVALID_DEVICE", u)
}

// usedDevices are the userdevice numbers a VM's VBDs take.
func usedDevices(r store.Reader, vm *store.Object) map[int]bool {
	used := map[int]bool{}
	for _, ref := range xapi.Refs(vm, "VBDs") {
		if vbd := r.Get("VBD", ref); vbd != nil {
			if n, err := parseUserdevice(xapi.Str(vbd, "userdevice"), nil); err == nil {
				used[n] = true
			}
		}
	}
	return used
}

// vdiSharingError refuses a second active read-write user of a VDI that is not sharable.
func vdiSharingError(r store.Reader, vdi, vbd *store.Object) error {
	if xapi.Bool(vdi, "sharable") {
		return nil
	}
	for _, other := range xapi.Refs(vdi, "VBDs") {
		if o := r.Get("VBD", other); o != nil && o.Ref != vbd.Ref && xapi.Bool(o, "currently_attached") && xapi.Str(o, "mode") == "RW" {
			return apierror.New("VDI_IN_USE", vdi.Ref, "attach")
		}
	}
	return nil
}

// vbdOpError is xapi_vbd_helpers' check: the first reason a VBD operation is refused.
func vbdOpError(r store.Reader, vbd *store.Object, op string) error {
	vm := r.Get("VM", xapi.Str(vbd, "VM"))
	if vm == nil {
		return apierror.New(apierror.HandleInvalid, "VM", xapi.Str(vbd, "VM"))
	}
	if current := xapi.Map(vbd, "current_operations"); len(current) > 0 && op != "pause" && op != "unpause" {
		tasks, ops := sortedOps(current)
		return apierror.New("OTHER_OPERATION_IN_PROGRESS", "VBD", vbd.Ref, ops[0], tasks[0])
	}
	cd := xapi.Str(vbd, "type") == "CD"
	ps := xapi.Str(vm, "power_state")
	attached := xapi.Bool(vbd, "currently_attached")
	switch op {
	case "unplug", "unplug_force":
		if !xapi.Bool(vbd, "unpluggable") {
			return apierror.New("VBD_NOT_UNPLUGGABLE", vbd.Ref)
		}
	case "insert", "eject":
		if !cd {
			return apierror.New("VBD_NOT_REMOVABLE_MEDIA", vbd.Ref)
		}
		if op == "eject" && xapi.Bool(vbd, "empty") {
			return apierror.New("VBD_IS_EMPTY", vbd.Ref)
		}
		if op == "insert" && !xapi.Bool(vbd, "empty") {
			return apierror.New("VBD_NOT_EMPTY", vbd.Ref)
		}
		if ps == "Suspended" || ps == "Paused" {
			return apierror.New("VM_BAD_POWER_STATE", vm.Ref, "halted, running", strings.ToLower(ps))
		}
		return nil
	}
	if op == "plug" || op == "unplug" || op == "unplug_force" {
		switch {
		case ps != "Running":
			return apierror.New("VM_BAD_POWER_STATE", vm.Ref, "running", strings.ToLower(ps))
		case op == "plug" && attached:
			return apierror.New("DEVICE_ALREADY_ATTACHED", vbd.Ref)
		case op != "plug" && !attached:
			return apierror.New("DEVICE_ALREADY_DETACHED", vbd.Ref)
		}
		for _, vmOp := range mapValues(xapi.Map(vm, "current_operations")) {
			if slices.Contains([]string{"clean_shutdown", "hard_shutdown", "suspend", "pause"}, vmOp) {
				return apierror.New(apierror.OperationNotAllowed, fmt.Sprintf("Current operation on VM:%s is %s", vm.Ref, vmOp))
			}
		}
		if !bootedPV(r, vm) && !hasPVDrivers(r, vm) {
			if cd {
				return apierror.New(apierror.OperationNotAllowed, "HVM CDROMs cannot be hotplugged/unplugged, only inserted or ejected")
			}
			return apierror.New("VM_MISSING_PV_DRIVERS", vm.Ref)
		}
	}
	return nil
}

// setVBDAllowedOps recomputes a VBD's allowed_operations.
func setVBDAllowedOps(tx *store.Tx, ref string) {
	setDeviceAllowedOps(tx, "VBD", ref, []string{"attach", "eject", "insert", "plug", "unplug", "unplug_force"}, vbdOpError)
}

// setDeviceAllowedOps recomputes a VBD's or VIF's allowed_operations: attach while its VM
// is halted, the others as opError allows.
func setDeviceAllowedOps(tx *store.Tx, class, ref string, ops []string, opError func(store.Reader, *store.Object, string) error) {
	recomputeAllowedOps(tx, class, ref, ops, func(dev *store.Object, op string) bool {
		if op == "attach" {
			vm := tx.Get("VM", xapi.Str(dev, "VM"))
			return vm != nil && xapi.Str(vm, "power_state") == "Halted"
		}
		return opError(tx, dev, op) == nil
	})
}

// vbdAttach hotplugs or unplugs a VBD of a running VM.
func (p *Sim) vbdAttach(c *xapi.Call, op string, attach bool) error {
	return p.runOp(c, "VBD", c.StringArg(0), op, func(tx *store.Tx, vbd *store.Object) error {
		if e := vbdOpError(tx, vbd, op); e != nil {
			return e
		}
		if vdi := tx.Get("VDI", xapi.Str(vbd, "VDI")); attach && vdi != nil && xapi.Str(vbd, "mode") == "RW" {
			return vdiSharingError(tx, vdi, vbd)
		}
		return nil
	}, func(tx *store.Tx, vbd *store.Object) error {
		vbd = vbd.Clone()
		xapi.Set(vbd, "currently_attached", attach)
		if attach && xapi.Str(vbd, "device") == "" {
			xapi.Set(vbd, "device", deviceName(xapi.Str(vbd, "userdevice")))
		}
		tx.Put(vbd)
		if vdi := xapi.Str(vbd, "VDI"); tx.Get("VDI", vdi) != nil {
			setVDIAllowedOps(tx, vdi)
		}
		return nil
	}, setVBDAllowedOps)
}

// vbdMedia inserts a disc into a CD drive, or ejects it.
func (p *Sim) vbdMedia(c *xapi.Call, op, vdi string) error {
	return p.runOp(c, "VBD", c.StringArg(0), op, func(tx *store.Tx, vbd *store.Object) error {
		return vbdOpError(tx, vbd, op)
	}, func(tx *store.Tx, vbd *store.Object) error {
		old := xapi.Str(vbd, "VDI")
		vbd = vbd.Clone()
		xapi.Set(vbd, "VDI", vdi)
		xapi.Set(vbd, "empty", op == "eject")
		tx.Put(vbd)
		for _, ref := range []string{old, vdi} {
			if tx.Get("VDI", ref) != nil {
				setVDIAllowedOps(tx, ref)
			}
		}
		return nil
	}, setVBDAllowedOps)
}

func mapValues(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

package cluster

import (
	"crypto/md5"
	"fmt"
	"slices"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// USB passthrough (xapi_pusb.ml, xapi_usb_group.ml, xapi_vusb.ml). Each host has one
// simulated USB flash drive that PUSB.scan discovers (xapi runs usb_scan.py); until a
// scan, hosts have no PUSBs. A VUSB needs a USB_group, which holds one PUSB.

// usbDevice is what usb_scan.py reports for one device.
type usbDevice struct {
	path, vendorID, vendorDesc, productID, productDesc, serial, version string
	speed                                                               float64
}

// hostUSB is the simulated USB hardware of a host: a USB 2.0 flash drive whose serial
// derives from the host's UUID.
func hostUSB(host *store.Object) []usbDevice {
	sum := md5.Sum([]byte(xapi.Str(host, "uuid") + "/usb"))
	return []usbDevice{{path: "1-2", vendorID: "0951", vendorDesc: "Kingston Technology", productID: "1666",
		productDesc: "DataTraveler 100 G3/G4/SE9 G2/50", serial: strings.ToUpper(fmt.Sprintf("%x", sum[:10])),
		version: "2.10", speed: 480}}
}

func (p *Sim) registerUSB() {
	s := p.srv
	s.Handle("PUSB.scan", p.pusbScan)
	s.Handle("PUSB.set_passthrough_enabled", p.pusbSetPassthrough)
	s.Handle("USB_group.create", func(c *xapi.Call) (any, error) {
		var ref string
		_, err := s.Store.Update(func(tx *store.Tx) error {
			ref = p.newUSBGroup(tx, c.StringArg(0), c.StringArg(1), c.Arg(2).(map[string]any)).Ref
			return nil
		})
		return ref, err
	})
	s.Handle("USB_group.destroy", func(c *xapi.Call) (any, error) {
		return nil, p.destroyDeviceGroup(c.StringArg(0), "USB_group", "VUSB", "PUSBs", "USB_GROUP_CONTAINS_VUSB", "USB_GROUP_CONTAINS_PUSB")
	})
	s.Handle("VUSB.create", p.vusbCreate)
	s.Handle("VUSB.unplug", func(c *xapi.Call) (any, error) {
		return nil, p.runOp(c, "VUSB", c.StringArg(0), "unplug", func(tx *store.Tx, vusb *store.Object) error {
			return vusbOpError(tx, vusb, "unplug")
		}, func(tx *store.Tx, vusb *store.Object) error {
			// xenopsd unplugs USB devices from qemu: only HVM domains have one.
			vm, err := xapi.GetObject(tx, "VM", xapi.Str(vusb, "VM"))
			if err != nil {
				return err
			}
			if m := tx.Get("VM_metrics", xapi.Str(vm, "metrics")); m == nil || xapi.Str(m, "current_domain_type") != "hvm" {
				return apierror.New(apierror.InternalError, "vusb_unplug: Unable to unplug vusb "+vusb.Ref)
			}
			vusb = vusb.Clone()
			xapi.Set(vusb, "currently_attached", false)
			tx.Put(vusb)
			return nil
		}, setVUSBAllowedOps)
	})
	s.Handle("VUSB.destroy", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			vusb, err := xapi.GetObject(tx, "VUSB", c.StringArg(0))
			if err != nil {
				return err
			}
			if xapi.Bool(vusb, "currently_attached") {
				vm, err := xapi.GetObject(tx, "VM", xapi.Str(vusb, "VM"))
				if err != nil {
					return err
				}
				return apierror.New(apierror.OperationNotAllowed,
					fmt.Sprintf("VUSB '%s' still attached to '%s'", xapi.Str(vusb, "uuid"), xapi.Str(vm, "uuid")))
			}
			tx.Delete("VUSB", vusb.Ref)
			return nil
		})
		return nil, err
	})
}

// destroyDeviceGroup destroys a USB or GPU group with its virtual devices (the group's
// <virtual class>s field), refused while one is attached or the group has physical ones.
func (p *Sim) destroyDeviceGroup(ref, class, virtual, physical, attachedErr, physicalErr string) error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		group, err := xapi.GetObject(tx, class, ref)
		if err != nil {
			return err
		}
		devices := xapi.Refs(group, virtual+"s")
		var attached []string
		for _, ref := range devices {
			if v := tx.Get(virtual, ref); v != nil && xapi.Bool(v, "currently_attached") {
				attached = append(attached, ref)
			}
		}
		if len(attached) > 0 {
			return apierror.New(attachedErr, attached...)
		}
		if refs := xapi.Refs(group, physical); len(refs) > 0 {
			return apierror.New(physicalErr, refs...)
		}
		for _, ref := range devices {
			tx.Delete(virtual, ref)
		}
		tx.Delete(class, group.Ref)
		return nil
	})
	return err
}

func (p *Sim) newUSBGroup(tx *store.Tx, label, description string, otherConfig map[string]any) *store.Object {
	g := p.srv.NewObject("USB_group")
	xapi.Set(g, "name_label", label)
	xapi.Set(g, "name_description", description)
	xapi.Set(g, "other_config", otherConfig)
	tx.Put(g)
	return g
}

// pusbScan records the host's USB devices that the database does not know yet, each in a
// group of its own. xapi only wakes its scan thread and returns; the simulation scans
// before answering.
func (p *Sim) pusbScan(c *xapi.Call) (any, error) {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		h, err := liveHost(tx, c.StringArg(0))
		if err != nil {
			return err
		}
		known := map[string]bool{}
		for _, ref := range xapi.Refs(h, "PUSBs") {
			if o := tx.Get("PUSB", ref); o != nil {
				known[usbKey(xapi.Str(o, "path"), xapi.Str(o, "vendor_id"), xapi.Str(o, "product_id"), xapi.Str(o, "serial"))] = true
			}
		}
		for _, d := range hostUSB(h) {
			if known[usbKey(d.path, d.vendorID, d.productID, d.serial)] {
				continue
			}
			pusb := p.srv.NewObject("PUSB")
			group := p.newUSBGroup(tx, "Group of "+d.vendorID+" "+d.productID+" USBs", "", map[string]any{})
			for k, v := range map[string]any{"USB_group": group.Ref, "host": h.Ref, "path": d.path, "vendor_id": d.vendorID,
				"vendor_desc": d.vendorDesc, "product_id": d.productID, "product_desc": d.productDesc, "serial": d.serial,
				"version": d.version, "description": d.vendorDesc + "_" + d.productDesc + "_" + d.serial,
				"passthrough_enabled": false, "other_config": map[string]any{}, "speed": d.speed} {
				xapi.Set(pusb, k, v)
			}
			tx.Put(pusb)
		}
		return nil
	})
	return nil, err
}

// usbKey is what xapi compares devices by: path, vendor, product and serial.
func usbKey(path, vendor, product, serial string) string {
	return path + "\x00" + vendor + "\x00" + product + "\x00" + serial
}

// pusbSetPassthrough enables or disables passthrough. Disabling destroys the group's
// VUSB, refused while it is attached. The simulated udev SRs hold no VDI of a USB device,
// so enabling has no VDI to forget.
func (p *Sim) pusbSetPassthrough(c *xapi.Call) (any, error) {
	value := c.Arg(1).(bool)
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		pusb, err := xapi.GetObject(tx, "PUSB", c.StringArg(0))
		if err != nil {
			return err
		}
		if !value {
			group, err := xapi.GetObject(tx, "USB_group", xapi.Str(pusb, "USB_group"))
			if err != nil {
				return err
			}
			vusbs := xapi.Refs(group, "VUSBs")
			if len(vusbs) > 1 {
				return apierror.New(apierror.InternalError, "too many vusb on the USB_group: "+group.Ref)
			}
			for _, ref := range vusbs {
				if v := tx.Get("VUSB", ref); v != nil && xapi.Bool(v, "currently_attached") {
					return apierror.New("USB_ALREADY_ATTACHED", pusb.Ref, xapi.Str(v, "VM"))
				}
				tx.Delete("VUSB", ref)
			}
		}
		pusb = pusb.Clone()
		xapi.Set(pusb, "passthrough_enabled", value)
		tx.Put(pusb)
		return nil
	})
	return nil, err
}

// vusbCreate: the licence, at most six VUSBs per VM, one VUSB per group, and not for a
// VM that HA restarts. The VUSB starts detached; the VM's power state is not checked.
func (p *Sim) vusbCreate(c *xapi.Call) (any, error) {
	var ref string
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		vm, err := xapi.GetObject(tx, "VM", c.StringArg(0))
		if err != nil {
			return err
		}
		group, err := xapi.GetObject(tx, "USB_group", c.StringArg(1))
		if err != nil {
			return err
		}
		if err := licenceRestriction(tx, "restrict_usb_passthrough", "USB_passthrough", false); err != nil {
			return err
		}
		if len(xapi.Refs(vm, "VUSBs")) > 5 {
			return apierror.New("TOO_MANY_VUSBS", "6")
		}
		if len(xapi.Refs(group, "VUSBs")) > 0 {
			return apierror.New("USB_GROUP_CONFLICT", group.Ref)
		}
		if xapi.Str(vm, "ha_restart_priority") == "restart" {
			return apierror.New(apierror.OperationNotAllowed,
				fmt.Sprintf("VM %s ha_restart_priority has been set to 'restart', cannot create VUSB for it. ", vm.Ref))
		}
		vusb := p.srv.NewObject("VUSB")
		for k, v := range map[string]any{"VM": vm.Ref, "USB_group": group.Ref, "other_config": c.Arg(2),
			"currently_attached": false} {
			xapi.Set(vusb, k, v)
		}
		tx.Put(vusb)
		ref = vusb.Ref
		return nil
	})
	return ref, err
}

var vusbOps = []string{"attach", "plug", "unplug"}

// vusbOpError is xapi_vusb_helpers' table of operations: another operation in progress
// blocks everything; plug and unplug need a running VM and the right attachment, and no
// shutdown, suspend or pause under way.
func vusbOpError(r store.Reader, vusb *store.Object, op string) error {
	if current := xapi.Map(vusb, "current_operations"); len(current) > 0 {
		tasks, ops := sortedOps(current)
		return apierror.New("OTHER_OPERATION_IN_PROGRESS", "VUSB", vusb.Ref,
			"{"+strings.Join(ops, "; ")+"}", "{"+strings.Join(tasks, "; ")+"}")
	}
	if op == "attach" {
		return nil
	}
	vm, err := xapi.GetObject(r, "VM", xapi.Str(vusb, "VM"))
	if err != nil {
		return err
	}
	ps, attached := xapi.Str(vm, "power_state"), xapi.Bool(vusb, "currently_attached")
	switch {
	case ps != "Running":
		return apierror.New("VM_BAD_POWER_STATE", vm.Ref, "running", strings.ToLower(ps))
	case op == "plug" && attached:
		return apierror.New("DEVICE_ALREADY_ATTACHED", vusb.Ref)
	case op == "unplug" && !attached:
		return apierror.New("DEVICE_ALREADY_DETACHED", vusb.Ref)
	}
	for _, vmOp := range mapValues(xapi.Map(vm, "current_operations")) {
		if slices.Contains([]string{"clean_shutdown", "hard_shutdown", "suspend", "pause"}, vmOp) {
			return apierror.New(apierror.OperationNotAllowed, "Current operation on VM:"+vm.Ref+" is "+vmOp)
		}
	}
	return nil
}

// setVUSBAllowedOps recomputes a VUSB's allowed_operations.
func setVUSBAllowedOps(tx *store.Tx, ref string) {
	recomputeAllowedOps(tx, "VUSB", ref, vusbOps, func(vusb *store.Object, op string) bool {
		return vusbOpError(tx, vusb, op) == nil
	})
}

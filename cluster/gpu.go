package cluster

import (
	"slices"
	"sort"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/wire"
)

// GPUs (xapi_gpu_group.ml, xapi_pgpu.ml, xapi_pgpu_helpers.ml, xapi_vgpu.ml). The default
// pool has no GPUs. xapi's internal fields that the schema lacks are modelled: a GPU's
// type is its PCI's "vendor_name/device_name" (xapi uses the PCI IDs); every PGPU has the
// same size, a vGPU type takes size/max-capacity of it (its supported_VGPU_max_capacities
// entry), and a PGPU holds vGPUs of one type only, never two passthrough ones.

// pgpuSize is the size of every simulated PGPU.
const pgpuSize = 256 << 20

func (p *Sim) registerGPU() {
	s := p.srv
	s.Handle("GPU_group.create", func(c *xapi.Call) (any, error) {
		g := p.srv.NewObject("GPU_group")
		for k, v := range map[string]any{"name_label": c.StringArg(0), "name_description": c.StringArg(1),
			"other_config": c.Arg(2), "GPU_types": []any{}, "allocation_algorithm": "depth_first"} {
			xapi.Set(g, k, v)
		}
		_, err := s.Store.Update(func(tx *store.Tx) error { tx.Put(g); return nil })
		return g.Ref, err
	})
	s.Handle("GPU_group.destroy", func(c *xapi.Call) (any, error) {
		return nil, p.destroyDeviceGroup(c.StringArg(0), "GPU_group", "VGPU", "PGPUs", "GPU_GROUP_CONTAINS_VGPU", "GPU_GROUP_CONTAINS_PGPU")
	})
	// The sum of what the group's PGPUs can still take; a PGPU that cannot run the type
	// adds nothing (xapi drops the reasons and answers 0).
	s.Handle("GPU_group.get_remaining_capacity", func(c *xapi.Call) (any, error) {
		group, err := xapi.GetObject(s.Store, "GPU_group", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		var total int64
		for _, ref := range xapi.Refs(group, "PGPUs") {
			if n, err := pgpuRemaining(s.Store, ref, c.StringArg(1)); err == nil {
				total += n
			}
		}
		return total, nil
	})
	// Every failure, a bad ref included, is a capacity of 0 in xapi.
	s.Handle("PGPU.get_remaining_capacity", func(c *xapi.Call) (any, error) {
		n, err := pgpuRemaining(s.Store, c.StringArg(0), c.StringArg(1))
		if err != nil {
			return int64(0), nil
		}
		return n, nil
	})
	s.Handle("PGPU.add_enabled_VGPU_types", func(c *xapi.Call) (any, error) {
		return nil, p.updatePGPU(c, func(tx *store.Tx, pgpu *store.Object) error {
			t := c.StringArg(1)
			if err := assertVGPUTypeSupported(pgpu, t); err != nil {
				return err
			}
			if enabled := xapi.Refs(pgpu, "enabled_VGPU_types"); !slices.Contains(enabled, t) {
				xapi.Set(pgpu, "enabled_VGPU_types", refList(append(enabled, t)))
			}
			return nil
		})
	})
	s.Handle("PGPU.remove_enabled_VGPU_types", func(c *xapi.Call) (any, error) {
		return nil, p.updatePGPU(c, func(tx *store.Tx, pgpu *store.Object) error {
			t := c.StringArg(1)
			if err := assertNoResidentVGPUsOfType(tx, pgpu, t); err != nil {
				return err
			}
			xapi.Set(pgpu, "enabled_VGPU_types", refList(slices.DeleteFunc(xapi.Refs(pgpu, "enabled_VGPU_types"),
				func(r string) bool { return r == t })))
			return nil
		})
	})
	s.Handle("PGPU.set_enabled_VGPU_types", func(c *xapi.Call) (any, error) {
		return nil, p.updatePGPU(c, func(tx *store.Tx, pgpu *store.Object) error {
			var value []string
			for _, v := range c.Arg(1).([]any) {
				if s, _ := v.(string); !slices.Contains(value, s) {
					value = append(value, s)
				}
			}
			current := xapi.Refs(pgpu, "enabled_VGPU_types")
			for _, t := range value {
				if !slices.Contains(current, t) {
					if err := assertVGPUTypeSupported(pgpu, t); err != nil {
						return err
					}
				}
			}
			for _, t := range current {
				if !slices.Contains(value, t) {
					if err := assertNoResidentVGPUsOfType(tx, pgpu, t); err != nil {
						return err
					}
				}
			}
			xapi.Set(pgpu, "enabled_VGPU_types", refList(value))
			return nil
		})
	})
	s.Handle("PGPU.set_GPU_group", p.pgpuSetGPUGroup)
	s.Handle("PGPU.enable_dom0_access", func(c *xapi.Call) (any, error) { return p.pgpuDom0Access(c, true) })
	s.Handle("PGPU.disable_dom0_access", func(c *xapi.Call) (any, error) { return p.pgpuDom0Access(c, false) })
	s.Handle("VGPU.create", p.vgpuCreate)
	s.Handle("VGPU.destroy", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			vgpu, err := xapi.GetObject(tx, "VGPU", c.StringArg(0))
			if err != nil {
				return err
			}
			vm, err := xapi.GetObject(tx, "VM", xapi.Str(vgpu, "VM"))
			if err != nil {
				return err
			}
			if xapi.Int(vm, "domid") != -1 {
				return apierror.New(apierror.OperationNotAllowed, "vGPU currently attached to a running VM")
			}
			tx.Delete("VGPU", vgpu.Ref)
			setAllowedOps(tx, tx.Get("VM", vm.Ref))
			return nil
		})
		return nil, err
	})
}

func refList(refs []string) []any {
	out := make([]any, len(refs))
	for i, r := range refs {
		out[i] = r
	}
	return out
}

// updatePGPU changes a PGPU (a clone given to fn) and then its group's enabled types.
func (p *Sim) updatePGPU(c *xapi.Call, fn func(tx *store.Tx, pgpu *store.Object) error) error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		pgpu, err := xapi.GetObject(tx, "PGPU", c.StringArg(0))
		if err != nil {
			return err
		}
		pgpu = pgpu.Clone()
		if err := fn(tx, pgpu); err != nil {
			return err
		}
		tx.Put(pgpu)
		updateGroupVGPUTypes(tx, xapi.Str(pgpu, "GPU_group"))
		return nil
	})
	return err
}

// updateGroupVGPUTypes sets a group's enabled and supported types to the union of its
// PGPUs'.
func updateGroupVGPUTypes(tx *store.Tx, ref string) {
	group := tx.Get("GPU_group", ref)
	if group == nil {
		return
	}
	group = group.Clone()
	for _, field := range []string{"enabled_VGPU_types", "supported_VGPU_types"} {
		var union []string
		for _, pgpu := range xapi.Refs(group, "PGPUs") {
			if o := tx.Get("PGPU", pgpu); o != nil {
				union = append(union, xapi.Refs(o, field)...)
			}
		}
		sort.Strings(union)
		xapi.Set(group, field, refList(slices.Compact(union)))
	}
	tx.Put(group)
}

func assertVGPUTypeSupported(pgpu *store.Object, t string) error {
	supported := xapi.Refs(pgpu, "supported_VGPU_types")
	if !slices.Contains(supported, t) {
		return apierror.New("VGPU_TYPE_NOT_SUPPORTED", append([]string{t}, supported...)...)
	}
	return nil
}

func assertNoResidentVGPUsOfType(r store.Reader, pgpu *store.Object, t string) error {
	var vms []string
	for _, v := range r.All("VGPU") {
		if xapi.Str(v, "resident_on") == pgpu.Ref && xapi.Str(v, "type") == t {
			vms = append(vms, xapi.Str(v, "VM"))
		}
	}
	if len(vms) > 0 {
		return apierror.New("PGPU_IN_USE_BY_VM", vms...)
	}
	return nil
}

// allocatedVGPUs are the VGPUs resident on, or scheduled to be resident on, a PGPU.
func allocatedVGPUs(r store.Reader, pgpu string) []*store.Object {
	var out []*store.Object
	for _, v := range r.All("VGPU") {
		if xapi.Str(v, "resident_on") == pgpu || xapi.Str(v, "scheduled_to_be_resident_on") == pgpu {
			out = append(out, v)
		}
	}
	return out
}

func isPassthroughType(r store.Reader, t string) bool {
	o := r.Get("VGPU_type", t)
	return o != nil && xapi.Str(o, "implementation") == "passthrough"
}

// vgpuTypeSize is the share of a PGPU one vGPU of the type takes.
func vgpuTypeSize(pgpu *store.Object, t string) int64 {
	if n, _ := xapi.Map(pgpu, "supported_VGPU_max_capacities")[t].(int64); n > 0 {
		return pgpuSize / n
	}
	return pgpuSize
}

// pgpuRemaining is xapi_pgpu_helpers' get_remaining_capacity_internal: the type must be
// supported, enabled and compatible with the vGPUs already there; a passthrough type
// fits on a free PGPU once, a virtual one as often as its size fits what is left.
func pgpuRemaining(r store.Reader, ref, t string) (int64, error) {
	pgpu, err := xapi.GetObject(r, "PGPU", ref)
	if err != nil {
		return 0, err
	}
	if _, err := xapi.GetObject(r, "VGPU_type", t); err != nil {
		return 0, err
	}
	if err := assertVGPUTypeSupported(pgpu, t); err != nil {
		return 0, err
	}
	if enabled := xapi.Refs(pgpu, "enabled_VGPU_types"); !slices.Contains(enabled, t) {
		return 0, apierror.New("VGPU_TYPE_NOT_ENABLED", append([]string{t}, enabled...)...)
	}
	allocated := allocatedVGPUs(r, ref)
	var types []string
	compatible := true
	for _, v := range allocated {
		vt := xapi.Str(v, "type")
		types = append(types, vt)
		compatible = compatible && vt == t && !isPassthroughType(r, t)
	}
	if !compatible {
		sort.Strings(types)
		return 0, apierror.New("VGPU_TYPE_NOT_COMPATIBLE_WITH_RUNNING_TYPE", ref, t,
			strings.Join(slices.Compact(types), ";"))
	}
	n := int64(1)
	if isPassthroughType(r, t) {
		if len(allocated) > 0 {
			n = 0
		}
	} else {
		used := int64(0)
		for _, v := range allocated {
			used += vgpuTypeSize(pgpu, xapi.Str(v, "type"))
		}
		n = (pgpuSize - used) / vgpuTypeSize(pgpu, t)
	}
	if n <= 0 {
		return 0, apierror.New("PGPU_INSUFFICIENT_CAPACITY_FOR_VGPU", ref, t)
	}
	return n, nil
}

// gpuType is the type of device a PGPU is, which a GPU group holds one of.
func gpuType(r store.Reader, pgpu *store.Object) string {
	pci := r.Get("PCI", xapi.Str(pgpu, "PCI"))
	if pci == nil {
		return "/"
	}
	return xapi.Str(pci, "vendor_name") + "/" + xapi.Str(pci, "device_name")
}

// pgpuSetGPUGroup moves a PGPU without resident vGPUs to a group of its type (an empty
// group takes its type), and updates both groups' types.
func (p *Sim) pgpuSetGPUGroup(c *xapi.Call) (any, error) {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		pgpu, err := xapi.GetObject(tx, "PGPU", c.StringArg(0))
		if err != nil {
			return err
		}
		group, err := xapi.GetObject(tx, "GPU_group", c.StringArg(1))
		if err != nil {
			return err
		}
		if resident := xapi.Refs(pgpu, "resident_VGPUs"); len(resident) > 0 {
			var vms []string
			for _, ref := range resident {
				if v := tx.Get("VGPU", ref); v != nil {
					vms = append(vms, xapi.Str(v, "VM"))
				}
			}
			return apierror.New("PGPU_IN_USE_BY_VM", vms...)
		}
		typ := gpuType(tx, pgpu)
		groupTypes := xapi.Refs(group, "GPU_types")
		if len(groupTypes) > 0 && !slices.Contains(groupTypes, typ) {
			return apierror.New("PGPU_NOT_COMPATIBLE_WITH_GPU_GROUP", typ, "["+strings.Join(groupTypes, ", ")+"]")
		}
		if len(groupTypes) == 0 {
			groupTypes = []string{typ}
		}
		old := xapi.Str(pgpu, "GPU_group")
		pgpu = pgpu.Clone()
		xapi.Set(pgpu, "GPU_group", group.Ref)
		tx.Put(pgpu)
		group = tx.Get("GPU_group", group.Ref).Clone()
		xapi.Set(group, "GPU_types", refList(groupTypes))
		tx.Put(group)
		updateGroupVGPUTypes(tx, old)
		updateGroupVGPUTypes(tx, group.Ref)
		return nil
	})
	return nil, err
}

// pgpuDom0Access hides or unhides the PGPU's PCI device from dom0 on the next boot,
// with the host display's table of states; disabling needs the integrated GPU feature.
// Every PGPU of the PCI device gets the new state, which is the answer.
func (p *Sim) pgpuDom0Access(c *xapi.Call, enable bool) (any, error) {
	var state string
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		pgpu, err := xapi.GetObject(tx, "PGPU", c.StringArg(0))
		if err != nil {
			return err
		}
		if err := forwardTo(tx, xapi.Str(pgpu, "host")); err != nil {
			return err
		}
		if !enable && !featureEnabled(tx, "restrict_integrated_gpu_passthrough", false) {
			return apierror.New("FEATURE_RESTRICTED")
		}
		state = displayNext[enable][xapi.Str(pgpu, "dom0_access")]
		for _, o := range tx.All("PGPU") {
			if xapi.Str(o, "PCI") == xapi.Str(pgpu, "PCI") && xapi.Str(o, "dom0_access") != state {
				o = o.Clone()
				xapi.Set(o, "dom0_access", state)
				tx.Put(o)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return state, nil
}

// VGPU device numbers: 0 picks the first free one of 0…20.
const maxVGPUDevice = 20

// vgpuCreate is xapi's VGPU.create: the GPU feature, a halted VM (unless a snapshot), the
// type (null for the passthrough type, made on first use), compatibility with the VM's
// other vGPUs, then the device number.
func (p *Sim) vgpuCreate(c *xapi.Call) (any, error) {
	var ref string
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		vm, err := xapi.GetObject(tx, "VM", c.StringArg(0))
		if err != nil {
			return err
		}
		group, err := xapi.GetObject(tx, "GPU_group", c.StringArg(1))
		if err != nil {
			return err
		}
		if !featureEnabled(tx, "restrict_gpu", false) {
			return apierror.New("FEATURE_RESTRICTED")
		}
		if !xapi.Bool(vm, "is_a_snapshot") {
			if err := assertPowerStateIn(vm, "Halted"); err != nil {
				return err
			}
		}
		t := c.StringArg(4)
		switch {
		case t == nullRef:
			t = p.passthroughVGPUType(tx)
		case tx.Get("VGPU_type", t) == nil:
			return apierror.New(apierror.InvalidValue, "type", t)
		}
		var existing []*store.Object
		for _, r := range xapi.Refs(vm, "VGPUs") {
			if v := tx.Get("VGPU", r); v != nil {
				existing = append(existing, v)
				if vt := tx.Get("VGPU_type", xapi.Str(v, "type")); vt == nil || !slices.Contains(xapi.Refs(vt, "compatible_types_in_vm"), t) {
					return apierror.New("VGPU_TYPE_NOT_COMPATIBLE", t)
				}
			}
		}
		device, err := vgpuDevice(c.StringArg(2), vm.Ref, existing)
		if err != nil {
			return err
		}
		vgpu := p.srv.NewObject("VGPU")
		for k, v := range map[string]any{"VM": vm.Ref, "GPU_group": group.Ref, "device": device,
			"currently_attached": false, "other_config": c.Arg(3), "type": t, "resident_on": nullRef,
			"scheduled_to_be_resident_on": nullRef, "compatibility_metadata": map[string]any{},
			"extra_args": "", "PCI": nullRef} {
			xapi.Set(vgpu, k, v)
		}
		tx.Put(vgpu)
		ref = vgpu.Ref
		setAllowedOps(tx, tx.Get("VM", vm.Ref))
		return nil
	})
	return ref, err
}

// vgpuDevice is xapi's get_valid_device.
func vgpuDevice(device, vm string, existing []*store.Object) (string, error) {
	d, err := ocamlInt(device)
	if err != nil {
		return "", err
	}
	used := map[int64]bool{}
	for _, v := range existing {
		n, err := ocamlInt(xapi.Str(v, "device"))
		if err != nil {
			return "", err
		}
		used[n] = true
	}
	switch {
	case d == 0:
		for n := int64(0); n <= maxVGPUDevice; n++ {
			if !used[n] {
				return itoa(int(n)), nil
			}
		}
		return "", apierror.New("VM_PCI_BUS_FULL", vm)
	case used[d]:
		return "", apierror.New("DEVICE_ALREADY_EXISTS", device)
	case d > 0 && d <= maxVGPUDevice:
		return device, nil
	}
	return "", apierror.New("INVALID_DEVICE", device)
}

// ocamlInt is OCaml's int_of_string, whose failure xapi reports as INTERNAL_ERROR.
func ocamlInt(s string) (int64, error) {
	n, err := wire.ParseInt64(s)
	if err != nil {
		return 0, apierror.Internal("Failure(%q)", "int_of_string")
	}
	return n, nil
}

// passthroughVGPUType finds or makes xapi's passthrough vGPU type.
func (p *Sim) passthroughVGPUType(tx *store.Tx) string {
	for _, o := range tx.All("VGPU_type") {
		if xapi.Str(o, "implementation") == "passthrough" && xapi.Str(o, "model_name") == "passthrough" &&
			xapi.Str(o, "vendor_name") == "" {
			return o.Ref
		}
	}
	o := p.srv.NewObject("VGPU_type")
	for k, v := range map[string]any{"vendor_name": "", "model_name": "passthrough", "framebuffer_size": int64(0),
		"max_heads": int64(0), "max_resolution_x": int64(0), "max_resolution_y": int64(0),
		"implementation": "passthrough", "identifier": "passthrough", "experimental": false,
		"compatible_types_in_vm": []any{}} {
		xapi.Set(o, k, v)
	}
	tx.Put(o)
	return o.Ref
}

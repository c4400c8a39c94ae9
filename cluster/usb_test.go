package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
)

// attachVUSB marks a VUSB attached, as VM.start would with the PUSB on the VM's host.
func (p *pool) attachVUSB(vusb string) {
	p.edit("VUSB", vusb, "currently_attached", func(any) any { return true })
}

func TestUSBPassthrough(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 6})
	master := p.ok("pool.get_master", p.first("pool", "true")).(string)
	assert.Empty(t, p.ok("PUSB.get_all"), "no USB device is known before a scan")

	p.ok("PUSB.scan", master)
	p.ok("PUSB.scan", master) // a second scan finds nothing new
	pusbs := p.ok("host.get_PUSBs", master).([]any)
	require.Len(t, pusbs, 1)
	pusb := pusbs[0].(string)
	rec := p.ok("PUSB.get_record", pusb).(map[string]any)
	assert.Equal(t, "0951", rec["vendor_id"])
	assert.Equal(t, "1666", rec["product_id"])
	assert.Equal(t, 480.0, p.get("PUSB", pusb).Fields[p.srv.Schema.Class("PUSB").Field("speed").Index])
	assert.Equal(t, false, rec["passthrough_enabled"])
	group := rec["USB_group"].(string)
	assert.Equal(t, "Group of 0951 1666 USBs", p.ok("USB_group.get_name_label", group))
	assert.Equal(t, []any{pusb}, p.ok("USB_group.get_PUSBs", group))

	p.ok("PUSB.set_passthrough_enabled", pusb, true)
	assert.Equal(t, true, p.ok("PUSB.get_passthrough_enabled", pusb))

	win := p.first("VM", `field "name__label"="win-01"`)
	vusb := p.ok("VUSB.create", win, group, map[string]any{"k": "v"}).(string)
	vrec := p.ok("VUSB.get_record", vusb).(map[string]any)
	assert.Equal(t, false, vrec["currently_attached"])
	assert.Equal(t, map[string]any{"k": "v"}, vrec["other_config"])
	assert.Equal(t, []any{vusb}, p.ok("VM.get_VUSBs", win))

	p.attachVUSB(vusb)
	p.expectErrors([]errorCase{
		{"destroy an attached VUSB", "VUSB.destroy", []any{vusb}, []string{"OPERATION_NOT_ALLOWED",
			"VUSB '" + vrec["uuid"].(string) + "' still attached to '" + p.ok("VM.get_uuid", win).(string) + "'"}},
		{"group with an attached VUSB", "USB_group.destroy", []any{group}, []string{"USB_GROUP_CONTAINS_VUSB", vusb}},
		{"disable passthrough while attached", "PUSB.set_passthrough_enabled", []any{pusb, false}, []string{"USB_ALREADY_ATTACHED", pusb, win}},
	})
	p.ok("VUSB.unplug", vusb)
	vrec = p.ok("VUSB.get_record", vusb).(map[string]any)
	assert.Equal(t, false, vrec["currently_attached"])
	assert.Equal(t, []any{"attach", "plug"}, vrec["allowed_operations"])
	assert.Empty(t, vrec["current_operations"])
	p.expectErrors([]errorCase{
		{"unplug twice", "VUSB.unplug", []any{vusb}, []string{"DEVICE_ALREADY_DETACHED", vusb}},
		{"group with a PUSB", "USB_group.destroy", []any{group}, []string{"USB_GROUP_CONTAINS_PUSB", pusb}},
	})
	p.ok("VUSB.destroy", vusb)
	assert.Empty(t, p.ok("VM.get_VUSBs", win))

	// Disabling passthrough destroys the group's detached VUSB.
	vusb = p.ok("VUSB.create", win, group, map[string]any{}).(string)
	p.ok("PUSB.set_passthrough_enabled", pusb, false)
	assert.Empty(t, p.ok("VUSB.get_all"))

	// A group of no PUSB goes with its detached VUSBs.
	empty := p.ok("USB_group.create", "spare", "a spare group", map[string]any{}).(string)
	assert.Equal(t, "a spare group", p.ok("USB_group.get_name_description", empty))
	p.ok("VUSB.create", win, empty, map[string]any{})
	p.ok("USB_group.destroy", empty)
	assert.Empty(t, p.ok("VUSB.get_all"))

	// VM.destroy and making a template take the VUSBs away.
	halted := p.first("VM", `field "name__label"="app-01"`)
	p.ok("VUSB.create", halted, group, map[string]any{})
	p.ok("VM.set_is_a_template", halted, true)
	assert.Empty(t, p.ok("VUSB.get_all"))
}

func TestUSBErrors(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 6})
	master := p.ok("pool.get_master", p.first("pool", "true")).(string)
	p.ok("PUSB.scan", master)
	pusb := p.ok("host.get_PUSBs", master).([]any)[0].(string)
	group := p.ok("PUSB.get_USB_group", pusb).(string)
	win := p.first("VM", `field "name__label"="win-01"`)
	linux := p.first("VM", `field "name__label"="web-01"`)
	halted := p.first("VM", `field "name__label"="app-01"`)
	vusb := p.ok("VUSB.create", win, group, map[string]any{}).(string)
	onHalted := p.ok("VUSB.create", halted, p.ok("USB_group.create", "g", "", map[string]any{}), map[string]any{}).(string)
	onPV := p.ok("VUSB.create", linux, p.ok("USB_group.create", "g", "", map[string]any{}), map[string]any{}).(string)
	p.attachVUSB(onPV)
	p.edit("VM_metrics", p.ok("VM.get_metrics", linux).(string), "current_domain_type", func(any) any { return "pv" })
	ha := p.first("VM", `field "name__label"="db-01"`)
	p.edit("VM", ha, "ha_restart_priority", func(any) any { return "restart" })
	many := p.first("VM", `field "name__label"="proxy-01"`)
	for i := 0; i < 6; i++ {
		p.ok("VUSB.create", many, p.ok("USB_group.create", "g", "", map[string]any{}), map[string]any{})
	}
	other := p.ok("USB_group.create", "other", "", map[string]any{}).(string)

	p.expectErrors([]errorCase{
		{"scan a bogus host", "PUSB.scan", []any{"OpaqueRef:bogus"}, []string{"HANDLE_INVALID", "host", "OpaqueRef:bogus"}},
		{"bogus PUSB", "PUSB.set_passthrough_enabled", []any{"OpaqueRef:bogus", true}, []string{"HANDLE_INVALID", "PUSB", "OpaqueRef:bogus"}},
		{"bogus VM", "VUSB.create", []any{"OpaqueRef:bogus", group, map[string]any{}}, []string{"HANDLE_INVALID", "VM", "OpaqueRef:bogus"}},
		{"bogus group", "VUSB.create", []any{win, "OpaqueRef:bogus", map[string]any{}}, []string{"HANDLE_INVALID", "USB_group", "OpaqueRef:bogus"}},
		{"a second VUSB on a group", "VUSB.create", []any{halted, group, map[string]any{}}, []string{"USB_GROUP_CONFLICT", group}},
		{"HA restarts the VM", "VUSB.create", []any{ha, other, map[string]any{}}, []string{"OPERATION_NOT_ALLOWED",
			"VM " + ha + " ha_restart_priority has been set to 'restart', cannot create VUSB for it. "}},
		{"a seventh VUSB", "VUSB.create", []any{many, other, map[string]any{}}, []string{"TOO_MANY_VUSBS", "6"}},
		{"unplug a detached VUSB", "VUSB.unplug", []any{vusb}, []string{"DEVICE_ALREADY_DETACHED", vusb}},
		{"unplug from a halted VM", "VUSB.unplug", []any{onHalted}, []string{"VM_BAD_POWER_STATE", halted, "running", "halted"}},
		{"unplug from a PV guest", "VUSB.unplug", []any{onPV}, []string{"INTERNAL_ERROR", "vusb_unplug: Unable to unplug vusb " + onPV}},
		{"bogus VUSB", "VUSB.destroy", []any{"OpaqueRef:bogus"}, []string{"HANDLE_INVALID", "VUSB", "OpaqueRef:bogus"}},
		{"bogus group destroy", "USB_group.destroy", []any{"OpaqueRef:bogus"}, []string{"HANDLE_INVALID", "USB_group", "OpaqueRef:bogus"}},
	})
	assert.Empty(t, p.ok("VUSB.get_allowed_operations", onHalted), "xapi creates VUSBs with none")
	assert.Equal(t, true, p.ok("VUSB.get_currently_attached", onPV))

	p.restrict("restrict_usb_passthrough", "true")
	p.expectErrors([]errorCase{{"unlicensed", "VUSB.create", []any{win, other, map[string]any{}}, []string{"LICENCE_RESTRICTION", "USB_passthrough"}}})
	member := p.first("host", `not (field "uuid"="`+p.ok("host.get_uuid", master).(string)+`")`)
	p.ok("host.disable", member)
	for _, vm := range p.ok("host.get_resident_VMs", member).([]any) {
		if p.ok("VM.get_is_control_domain", vm) == false {
			p.ok("VM.hard_shutdown", vm)
		}
	}
	p.ok("host.shutdown", member)
	p.expectErrors([]errorCase{{"scan an offline host", "PUSB.scan", []any{member}, []string{"HOST_OFFLINE", member}}})
}

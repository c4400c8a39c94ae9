package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

func TestStorageErrors(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 2})
	shared := p.first("SR", `field "type"="nfs"`)
	iso := p.first("SR", `field "name__label"="ISO library"`)
	host := p.first("host", `true`)
	running := p.first("VM", `field "power_state"="Running" and field "is_control_domain"="false"`)
	halted := p.first("VM", `field "power_state"="Halted" and field "is_a_template"="false"`)
	disk := xapi.Str(p.get("VBD", xapi.Refs(p.get("VM", running), "VBDs")[0]), "VDI")
	cd := ""
	for _, v := range xapi.Refs(p.get("VM", halted), "VBDs") {
		if xapi.Str(p.get("VBD", v), "type") == "CD" {
			cd = v
		}
	}
	anISO := xapi.Refs(p.get("SR", iso), "VDIs")[0]
	pbd := xapi.Refs(p.get("SR", shared), "PBDs")[0]
	vbdRecord := func(vm, vdi, userdevice, mode, typ string, empty bool) map[string]any {
		return record("VM", vm, "VDI", vdi, "userdevice", userdevice, "bootable", false, "mode", mode, "type", typ,
			"empty", empty, "other_config", map[string]any{}, "qos_algorithm_type", "", "qos_algorithm_params", map[string]any{})
	}
	p.expectErrors([]errorCase{
		{"unknown SR type", "SR.create", []any{host, map[string]any{}, int64(0), "x", "", "zfs-magic", "", false, map[string]any{}}, []string{"SR_UNKNOWN_DRIVER", "zfs-magic"}},
		{"destroy with attached PBDs", "SR.destroy", []any{shared}, []string{"SR_HAS_PBD", shared}},
		{"forget with attached PBDs", "SR.forget", []any{shared}, []string{"SR_HAS_PBD", shared}},
		{"VDI in use", "VDI.destroy", []any{disk}, []string{"VDI_IN_USE", disk, "destroy"}},
		{"resize of an attached VDI", "VDI.resize", []any{disk, int64(1) << 40}, []string{"VDI_IN_USE", disk, "resize"}},
		{"PBD unplug with VDIs in use", "PBD.unplug", []any{pbd}, []string{"VDI_IN_USE", disk}},
		{"destroy of an attached PBD", "PBD.destroy", []any{pbd}, []string{"OPERATION_NOT_ALLOWED", "PBD is currently attached"}},
		{"second PBD on a host", "PBD.create", []any{record("host", host, "SR", shared, "device_config", map[string]any{}, "other_config", map[string]any{})},
			[]string{"PBD_EXISTS", shared, host, pbd}},
		{"a CD must be read-only", "VBD.create", []any{vbdRecord(halted, anISO, "5", "RW", "CD", false)}, []string{"VBD_CDS_MUST_BE_READONLY"}},
		{"only a CD may be empty", "VBD.create", []any{vbdRecord(halted, "OpaqueRef:NULL", "5", "RW", "Disk", true)}, []string{"VBD_NOT_REMOVABLE_MEDIA", "in constructor"}},
		{"read-write on a read-only VDI", "VBD.create", []any{vbdRecord(halted, anISO, "5", "RW", "Disk", false)}, []string{"VDI_READONLY", anISO}},
		{"bad userdevice", "VBD.create", []any{vbdRecord(halted, anISO, "floppy", "RO", "Disk", false)}, []string{"INVALID_DEVICE", "floppy"}},
		{"userdevice taken (name form)", "VBD.create", []any{vbdRecord(halted, anISO, "xvda", "RO", "Disk", false)}, []string{"DEVICE_ALREADY_EXISTS", "xvda"}},
		{"plug on a halted VM", "VBD.plug", []any{cd}, []string{"VM_BAD_POWER_STATE", halted, "running", "halted"}},
		{"insert into a disk", "VBD.insert", []any{xapi.Refs(p.get("VM", halted), "VBDs")[0], anISO}, []string{"VBD_NOT_REMOVABLE_MEDIA", xapi.Refs(p.get("VM", halted), "VBDs")[0]}},
		{"VIF with a bad MAC", "VIF.create", []any{record("device", "7", "network", p.first("network", `field "bridge"="xenbr0"`), "VM", halted, "MAC", "zz", "MTU", int64(1500),
			"other_config", map[string]any{}, "qos_algorithm_type", "", "qos_algorithm_params", map[string]any{})}, []string{"MAC_INVALID", "zz"}},
		{"VIF with a bad device", "VIF.create", []any{record("device", "eth0", "network", p.first("network", `field "bridge"="xenbr0"`), "VM", halted, "MAC", "", "MTU", int64(1500),
			"other_config", map[string]any{}, "qos_algorithm_type", "", "qos_algorithm_params", map[string]any{})}, []string{"INVALID_DEVICE", "eth0"}},
		{"a network with attached VIFs", "network.destroy", []any{p.first("network", `field "bridge"="xenbr0"`)},
			[]string{"NETWORK_CONTAINS_VIF", xapi.Refs(p.get("VM", running), "VIFs")[0]}},
		{"the host-internal network", "network.destroy", []any{p.first("network", `field "bridge"="xenapi"`)}, []string{"CANNOT_DESTROY_SYSTEM_NETWORK", p.first("network", `field "bridge"="xenapi"`)}},
		{"a reserved bridge name", "network.create", []any{record("name_label", "n", "name_description", "", "MTU", int64(1500), "other_config", map[string]any{}, "bridge", "xenbr9")}, []string{"INVALID_VALUE", "bridge", "xenbr9"}},
	})

	// NETWORK_CONTAINS_PIF lists the PIFs, one per host.
	_, err := p.call("network.destroy", p.first("network", `field "bridge"="xenbr1"`))
	assert.Equal(t, "NETWORK_CONTAINS_PIF", err[0])
	assert.Len(t, err, 1+2)
}

func TestPIFErrors(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	mgmt := p.first("PIF", `field "management"="true"`)
	eth1 := p.first("PIF", `field "device"="eth1"`)
	p.expectErrors([]errorCase{
		{"unplug the management PIF", "PIF.unplug", []any{mgmt}, []string{"PIF_IS_MANAGEMENT_INTERFACE", mgmt}},
		{"forget the management PIF", "PIF.forget", []any{mgmt}, []string{"PIF_IS_MANAGEMENT_INTERFACE", mgmt}},
		{"destroy a physical PIF", "PIF.destroy", []any{eth1}, []string{"PIF_IS_PHYSICAL", eth1}},
		{"static without an IP", "PIF.reconfigure_ip", []any{eth1, "Static", "nope", "255.255.255.0", "", ""}, []string{"INVALID_IP_ADDRESS_SPECIFIED", "IP"}},
		{"static without a netmask", "PIF.reconfigure_ip", []any{eth1, "Static", "10.1.1.1", "x", "", ""}, []string{"INVALID_IP_ADDRESS_SPECIFIED", "netmask"}},
		{"no IP on the management PIF", "PIF.reconfigure_ip", []any{mgmt, "None", "", "", "", ""}, []string{"PIF_IS_MANAGEMENT_INTERFACE", mgmt}},
		{"introduce a known device", "PIF.introduce", []any{xapi.Str(p.get("PIF", eth1), "host"), "00:11:22:33:44:55", "eth1", true}, []string{"DUPLICATE_PIF_DEVICE_NAME", "eth1"}},
		{"bond of one", "Bond.create", []any{p.first("network", `field "bridge"="xenbr1"`), []any{eth1}, "", "balance-slb", map[string]any{}}, []string{"PIF_BOND_NEEDS_MORE_MEMBERS"}},
	})
	p.ok("PIF.set_disallow_unplug", eth1, true)
	_, err := p.call("PIF.unplug", eth1)
	assert.Equal(t, []string{"PIF_DOES_NOT_ALLOW_UNPLUG", eth1}, err)
	p.ok("PIF.set_disallow_unplug", eth1, false)
	p.ok("PIF.unplug", eth1)
	p.ok("PIF.forget", eth1)
	p.ok("PIF.scan", xapi.Str(p.get("PIF", mgmt), "host"))
	assert.Len(t, p.where("PIF", `field "device"="eth1"`), 2, "scan introduces the forgotten NIC again")
	p.ok("PIF.reconfigure_ip", p.first("PIF", `field "device"="eth1"`), "DHCP", "", "", "", "")
}

func TestBondAndVLAN(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 0})
	pifs := p.where("PIF", `field "physical"="true"`)
	net := p.ok("network.create", record("name_label", "bond", "name_description", "", "MTU", int64(1500), "other_config", map[string]any{})).(string)
	bond := p.ok("Bond.create", net, []any{pifs[0], pifs[1]}, "", "active-backup", map[string]any{}).(string)
	master := xapi.Str(p.get("Bond", bond), "master")
	assert.Equal(t, true, xapi.Bool(p.get("PIF", master), "management"), "the management interface moves to the bond")
	assert.Len(t, xapi.Refs(p.get("Bond", bond), "slaves"), 2)
	_, err := p.call("Bond.create", net, []any{pifs[0], pifs[1]}, "", "lacp", map[string]any{})
	assert.Equal(t, []string{"PIF_ALREADY_BONDED", pifs[0]}, err)
	vlanNet := p.ok("network.create", record("name_label", "v", "name_description", "", "MTU", int64(1500), "other_config", map[string]any{})).(string)
	vlan := p.ok("VLAN.create", master, int64(10), vlanNet).(string)
	_, err = p.call("VLAN.create", master, int64(10), vlanNet)
	assert.Equal(t, "PIF_VLAN_EXISTS", err[0])
	untagged := xapi.Str(p.get("VLAN", vlan), "untagged_PIF")
	_, err = p.call("VLAN.create", untagged, int64(11), vlanNet)
	assert.Equal(t, []string{"PIF_IS_VLAN", untagged}, err)
	p.ok("VLAN.destroy", vlan)
	p.ok("Bond.destroy", bond)
	assert.Equal(t, true, xapi.Bool(p.get("PIF", pifs[0]), "management"), "the management interface comes back")
}

func TestPoolVLANs(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 3, VMs: 0})
	newNet := func(name string) string {
		return p.ok("network.create", record("name_label", name, "name_description", "", "MTU", int64(1500), "other_config", map[string]any{})).(string)
	}
	byDevice := newNet("by device")
	_, err := p.call("pool.create_VLAN", "eth9", byDevice, int64(5))
	assert.Equal(t, []string{"INVALID_VALUE", "device", "eth9"}, err, "every host must have the device")
	assert.Empty(t, p.where("VLAN", `true`), "a failed call leaves no VLAN behind")
	assert.Len(t, p.ok("pool.create_VLAN", "eth0", byDevice, int64(5)), 3)

	// From a PIF: over the PIFs of its network on live hosts only.
	mgmt := p.first("PIF", `field "management"="true"`)
	down := p.first("host", `not (field "uuid"="`+xapi.Str(p.get("host", xapi.Str(p.get("PIF", mgmt), "host")), "uuid")+`")`)
	p.ok("host.disable", down)
	p.ok("host.shutdown", down)
	fromPIF := newNet("from PIF")
	pifs := p.ok("pool.create_VLAN_from_PIF", mgmt, fromPIF, int64(6)).([]any)
	assert.Len(t, pifs, 2, "the host that is down gets no VLAN")
	for _, pif := range pifs {
		assert.NotEqual(t, down, xapi.Str(p.get("PIF", pif.(string)), "host"))
	}
}

package cluster

import (
	"fmt"
	"slices"
	"time"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// The emulated product: an XCP-ng 8.3 pool, whose xapi reports API version 2.21.
var softwareVersion = map[string]any{
	"product_brand":              "XCP-ng",
	"product_version":            "8.3.0",
	"product_version_text":       "8.3",
	"product_version_text_short": "8.3",
	"platform_name":              "XCP",
	"platform_version":           "3.4.0",
	"build_number":               "cloud",
	"xapi":                       "24.19",
	"xapi_build":                 "24.19.2",
	"xen":                        "4.17.5-3",
	"linux":                      "4.19.0+1",
	"hostname":                   "localhost",
	"network_backend":            "openvswitch",
	"db_schema":                  "5.786",
	"xencenter_min":              "2.21",
	"xencenter_max":              "2.21",
}

const (
	gib        = int64(1) << 30
	dom0Memory = 4 * gib
)

// cpuInfo is the CPU every emulated host has.
func cpuInfo(cpus int) map[string]any {
	return map[string]any{
		"cpu_count": fmt.Sprint(cpus), "socket_count": "1", "threads_per_core": "2", "nr_nodes": "1",
		"vendor": "GenuineIntel", "speed": "2400.000", "modelname": "Intel(R) Xeon(R) Silver 4214R CPU @ 2.40GHz",
		"family": "6", "model": "85", "stepping": "7",
		"flags":             "fpu de tsc msr pae mce cx8 apic sep mca cmov pat clflush acpi mmx fxsr sse sse2 ht syscall nx lm constant_tsc rep_good nopl nonstop_tsc pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm abm 3dnowprefetch fsgsbase bmi1 avx2 bmi2 erms avx512f avx512dq",
		"features_pv":       "1fc9cbf5-f6f83203-2991cbf5-00000123-0000000f-f1bf07a9-00000000-00000000-00101000-ac000400-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000",
		"features_hvm":      "1fcbfbff-f7fa3223-2d93fbff-00000523-0000000f-f1bf0fbb-00000000-00101008-00000000-bc000400-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000",
		"features_pv_host":  "1fc9cbf5-f6f83203-2991cbf5-00000123-0000000f-f1bf07a9-00000000-00000000-00101000-ac000400-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000",
		"features_hvm_host": "1fcbfbff-f7fa3223-2d93fbff-00000523-0000000f-f1bf0fbb-00000000-00101008-00000000-bc000400-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000",
	}
}

// inventory builds the default pool inside one transaction.
type inventory struct {
	p    *Sim
	srv  *xapi.Server
	tx   *store.Tx
	now  time.Time
	spec Spec

	pool          *store.Object
	hosts         []*store.Object
	mgmtNet       *store.Object
	storageNet    *store.Object
	sharedSR      *store.Object
	isoSR         *store.Object
	templates     []*store.Object
	templateOf    map[string]*store.Object
	guestIPSuffix int
}

// put builds an object of class with fields set, stores it in the transaction and
// returns it.
func (inv *inventory) put(class string, fields map[string]any) *store.Object {
	o := inv.srv.NewObject(class)
	return inv.putObject(o, fields)
}

func (inv *inventory) putObject(o *store.Object, fields map[string]any) *store.Object {
	for k, v := range fields {
		xapi.Set(o, k, v)
	}
	inv.tx.Put(o)
	return o
}

// BuildInventory creates the default pool in an empty store, in one transaction:
// hosts with their metrics, CPUs, control domains and management PIFs; networks; a local
// SR per host, a shared SR (the pool's default) and ISO SRs; SM drivers; built-in
// templates; and guest VMs spread over the hosts, some running, with disks and NICs.
func (p *Sim) BuildInventory() error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		inv := &inventory{p: p, srv: p.srv, tx: tx, now: p.srv.Clock.Now(), spec: p.spec, templateOf: map[string]*store.Object{}}
		inv.build()
		return nil
	})
	return err
}

func (inv *inventory) build() {
	inv.smDrivers()
	inv.networks()
	for i := 1; i <= inv.spec.Hosts; i++ {
		inv.host(i)
	}
	inv.pool = inv.put("pool", map[string]any{
		"name_label": "xapisim", "master": inv.hosts[0].Ref, "ha_cluster_stack": "xhad",
		"other_config":        map[string]any{"memory-ratio-hvm": "0.25", "memory-ratio-pv": "0.25"},
		"cpu_info":            map[string]any{"cpu_count": fmt.Sprint(inv.spec.CPUs * inv.spec.Hosts), "socket_count": fmt.Sprint(inv.spec.Hosts), "vendor": "GenuineIntel", "features_pv": cpuInfo(1)["features_pv"], "features_hvm": cpuInfo(1)["features_hvm"]},
		"restrictions":        restrictions(),
		"coordinator_bias":    true,
		"telemetry_frequency": "weekly", "update_sync_frequency": "weekly",
	})
	inv.sharedStorage()
	for _, t := range builtinTemplates {
		inv.template(t)
	}
	inv.pool = inv.putObject(inv.pool.Clone(), map[string]any{
		"default_SR": inv.sharedSR.Ref, "suspend_image_SR": inv.sharedSR.Ref, "crash_dump_SR": inv.sharedSR.Ref,
	})
	inv.guests()
	inv.allowedOperations()
}

// allowedOperations fills in allowed_operations of the pool, hosts, SRs and VDIs once
// the whole pool exists, since each depends on its neighbours (a host on its metrics, an
// SR on its PBDs, a VDI on its VBDs).
func (inv *inventory) allowedOperations() {
	setPoolAllowedOps(inv.tx, inv.pool.Ref)
	for _, h := range inv.tx.All("host") {
		setHostAllowedOps(inv.tx, h.Ref)
	}
	for _, sr := range inv.tx.All("SR") {
		setSRAllowedOps(inv.tx, sr.Ref)
	}
	for _, vdi := range inv.tx.All("VDI") {
		setVDIAllowedOps(inv.tx, vdi.Ref)
	}
}

// restrictions are the licence flags xapi reports on the pool: an XCP-ng pool restricts
// nothing.
func restrictions() map[string]any {
	r := map[string]any{}
	for _, k := range []string{"restrict_vswitch_controller", "restrict_lab", "restrict_stage", "restrict_storagelink",
		"restrict_storagelink_site_recovery", "restrict_web_selfservice", "restrict_web_selfservice_manager",
		"restrict_hotfix_apply", "restrict_export_resource_data", "restrict_read_caching", "restrict_cifs",
		"restrict_health_check", "restrict_xcm", "restrict_vm_memory_introspection", "restrict_batch_hotfix_apply",
		"restrict_management_on_vlan", "restrict_ws_proxy", "restrict_vlan", "restrict_qos", "restrict_pool_attached_storage",
		"restrict_netapp", "restrict_equalogic", "restrict_pooling", "restrict_xen_motion", "restrict_dmc",
		"restrict_checkpoint", "restrict_cpu_masking", "restrict_connection", "restrict_pool_size", "restrict_rbac",
		"restrict_ha", "restrict_marathon", "restrict_email_alerting", "restrict_historical_performance", "restrict_wlb",
		"restrict_gpu", "restrict_vgpu", "restrict_integrated_gpu_passthrough", "restrict_vss", "restrict_guest_agent_auto_update",
		"restrict_pci_device_for_auto_update", "restrict_xen_motion", "restrict_guest_ip_setting", "restrict_ad",
		"restrict_nested_virt", "restrict_live_patching", "restrict_set_vcpus_number_live", "restrict_pvs_proxy",
		"restrict_igmp_snooping", "restrict_rpu", "restrict_pool_secret_rotation", "restrict_certificate_verification",
		"restrict_updates", "restrict_internal_repository_access", "restrict_vtpm", "restrict_vm_groups", "restrict_vmss",
		"restrict_usb_passthrough", "restrict_network_sriov", "restrict_dr"} {
		r[k] = "false"
	}
	r["restrict_corosync3"] = "false"
	return r
}

// smDrivers registers the storage drivers of the SR types the pool uses, plus gfs2, the
// clustered type that needs corosync.
func (inv *inventory) smDrivers() {
	type sm struct {
		typ, name, desc string
		caps            []string
		cluster         bool
	}
	vdiCaps := []string{"SR_PROBE", "SR_UPDATE", "VDI_CREATE", "VDI_DELETE", "VDI_ATTACH", "VDI_DETACH", "VDI_UPDATE", "VDI_CLONE", "VDI_SNAPSHOT", "VDI_RESIZE", "VDI_GENERATE_CONFIG", "VDI_MIRROR", "VDI_RESET_ON_BOOT/2", "VDI_CONFIG_CBT", "VDI_ACTIVATE", "VDI_DEACTIVATE", "ATOMIC_PAUSE", "THIN_PROVISIONING"}
	for _, d := range []sm{
		{"lvm", "Local LVM", "SR plugin which represents disks as VHD disks on Logical Volumes within a locally-attached Volume Group", append(slices.Clip(vdiCaps[:len(vdiCaps)-1]), "SR_METADATA"), false},
		{"ext", "Local EXT3 VHD", "SR plugin which represents disks as VHD files stored on a local EXT3 filesystem, created inside an LVM volume", vdiCaps, false},
		{"nfs", "NFS VHD", "SR plugin which stores disks as VHD files on a remote NFS filesystem", vdiCaps, false},
		{"iso", "ISO", "Handles CD images stored as files in iso format", []string{"VDI_CREATE", "VDI_DELETE", "VDI_ATTACH", "VDI_DETACH", "SR_SCAN", "SR_ATTACH", "SR_DETACH"}, false},
		{"udev", "Local Device Passthrough", "SR plugin to represent removable devices as VDIs", []string{"VDI_ATTACH", "VDI_DETACH", "VDI_UPDATE", "SR_UPDATE"}, false},
		{"gfs2", "GFS2", "Clustered filesystem storage on a shared block device, via corosync", vdiCaps, true},
	} {
		features := map[string]any{}
		for _, c := range d.caps {
			features[c] = int64(1)
		}
		stack := []any{}
		if d.cluster {
			stack = []any{"corosync"}
		}
		inv.put("SM", map[string]any{
			"name_label": d.name, "name_description": d.desc, "type": d.typ, "vendor": "Vates SAS",
			"copyright": "(C) 2024 Vates SAS", "version": "1.0", "required_api_version": "1.0",
			"configuration": map[string]any{}, "capabilities": xapi.StringSet(d.caps...), "features": features,
			"driver_filename": "/opt/xensource/sm/" + d.typ + "SR", "required_cluster_stack": stack,
		})
	}
}

func (inv *inventory) networks() {
	inv.mgmtNet = inv.put("network", map[string]any{
		"name_label": "Pool-wide network associated with eth0", "bridge": "xenbr0", "MTU": int64(1500),
		"other_config": map[string]any{}, "managed": true,
	})
	inv.storageNet = inv.put("network", map[string]any{
		"name_label": "Pool-wide network associated with eth1", "bridge": "xenbr1", "MTU": int64(1500),
		"other_config": map[string]any{}, "managed": true,
	})
	inv.put("network", map[string]any{
		"name_label": "Host internal management network", "bridge": "xenapi", "MTU": int64(1500), "managed": true,
		"name_description": "Network on which guests will be assigned a private link-local IP address which can be used to talk XenAPI",
		"other_config": map[string]any{
			"is_guest_installer_network": "true", "is_host_internal_management_network": "true",
			"ip_begin": "169.254.0.1", "ip_end": "169.254.255.254", "netmask": "255.255.0.0",
		},
	})
}

func (inv *inventory) host(i int) {
	name := fmt.Sprintf("host%d", i)
	address := fmt.Sprintf("10.0.0.%d", 10+i)
	memTotal := int64(inv.spec.MemoryGiB) * gib
	h := inv.srv.NewObject("host")
	metrics := inv.put("host_metrics", map[string]any{
		"memory_total": memTotal, "memory_free": memTotal - dom0Memory, "live": true, "last_updated": inv.now,
	})
	for n := 0; n < inv.spec.CPUs; n++ {
		info := cpuInfo(inv.spec.CPUs)
		inv.put("host_cpu", map[string]any{
			"host": h.Ref, "number": int64(n), "vendor": info["vendor"], "speed": int64(2400),
			"modelname": info["modelname"], "family": int64(6), "model": int64(85), "stepping": "7",
			"flags": info["flags"], "features": info["features_hvm"], "utilisation": 0.0,
		})
	}
	dom0 := inv.dom0(h, name)
	for nic, net := range []*store.Object{inv.mgmtNet, inv.storageNet} {
		pm := inv.put("PIF_metrics", map[string]any{
			"carrier": true, "vendor_id": "8086", "vendor_name": "Intel Corporation", "device_id": "1572",
			"device_name": "Ethernet Controller X710 for 10GbE SFP+", "speed": int64(10000), "duplex": true,
			"pci_bus_path": fmt.Sprintf("0000:3b:00.%d", nic), "last_updated": inv.now,
		})
		fields := map[string]any{
			"device": hostNICs[nic], "network": net.Ref, "host": h.Ref, "MAC": nicMAC(xapi.Str(h, "uuid"), nic), "MTU": int64(1500),
			"VLAN": int64(-1), "metrics": pm.Ref, "physical": true, "managed": true,
			"properties": map[string]any{"gro": "on"}, "capabilities": xapi.StringSet("fcoe"),
		}
		if nic == 0 {
			fields["management"] = true
			fields["currently_attached"] = true
			fields["ip_configuration_mode"] = "Static"
			fields["IP"] = address
			fields["netmask"] = "255.255.255.0"
			fields["gateway"] = "10.0.0.1"
			fields["DNS"] = "10.0.0.2"
		} else {
			fields["currently_attached"] = true
			fields["ip_configuration_mode"] = "Static"
			fields["IP"] = fmt.Sprintf("10.0.1.%d", 10+i)
			fields["netmask"] = "255.255.255.0"
		}
		inv.put("PIF", fields)
	}
	local := inv.put("SR", map[string]any{
		"name_label": "Local storage", "name_description": "", "type": "lvm", "content_type": "user", "shared": false,
		"physical_size": 500 * gib, "physical_utilisation": 4 * mib, "virtual_allocation": int64(0),
		"other_config": map[string]any{"i18n-key": "local-storage", "i18n-original-value-name_label": "Local storage"},
		"sm_config":    map[string]any{"allocation": "thick", "devserial": fmt.Sprintf("scsi-3600508b1001c%06d", i), "use_vhd": "true"},
	})
	inv.put("PBD", map[string]any{"host": h.Ref, "SR": local.Ref, "currently_attached": true,
		"device_config": map[string]any{"device": localDisk}})
	inv.putObject(h, map[string]any{
		"name_label": name, "name_description": "Default install", "hostname": name, "address": address,
		"API_version_major": inv.srv.Schema.APIMajor, "API_version_minor": inv.srv.Schema.APIMinor,
		"API_version_vendor": "XenSource", "API_version_vendor_implementation": map[string]any{},
		"enabled": true, "software_version": xapi.CopyMap(softwareVersion), "other_config": map[string]any{
			"agent_start_time": fmt.Sprint(inv.now.Unix()), "boot_time": fmt.Sprint(inv.now.Unix() - 3600),
			"iscsi_iqn": fmt.Sprintf("iqn.2024-01.org.xapisim:%s", name),
		},
		"capabilities":      xapi.StringSet("xen-3.0-x86_64", "hvm-3.0-x86_32", "hvm-3.0-x86_32p", "hvm-3.0-x86_64"),
		"cpu_configuration": map[string]any{}, "sched_policy": "credit",
		"supported_bootloaders": xapi.StringSet("pygrub", "eliloader"), "logging": map[string]any{},
		"suspend_image_sr": local.Ref, "crash_dump_sr": local.Ref, "cpu_info": cpuInfo(inv.spec.CPUs),
		"metrics": metrics.Ref, "control_domain": dom0.Ref, "edition": "xcp-ng", "editions": xapi.StringSet("xcp-ng"),
		"license_params": map[string]any{"sku_type": "xcp-ng", "expiry": "30000101T00:00:00Z", "restrict_ha": "false"},
		"bios_strings":   map[string]any{"bios-vendor": "Xen", "bios-version": "", "system-manufacturer": "Xen", "system-product-name": "HVM domU"},
		"chipset_info":   map[string]any{"iommu": "true"}, "iscsi_iqn": fmt.Sprintf("iqn.2024-01.org.xapisim:%s", name),
		"virtual_hardware_platform_versions": []any{int64(0), int64(1), int64(2)}, "https_only": false,
	})
	inv.hosts = append(inv.hosts, h)
}

// dom0 is the control domain of a host.
func (inv *inventory) dom0(h *store.Object, name string) *store.Object {
	cpus := int64(inv.spec.CPUs)
	metrics := inv.put("VM_metrics", map[string]any{
		"memory_actual": dom0Memory, "VCPUs_number": cpus, "VCPUs_utilisation": map[string]any{}, "VCPUs_CPU": map[string]any{},
		"VCPUs_params": map[string]any{}, "VCPUs_flags": map[string]any{}, "state": []any{}, "start_time": inv.now,
		"install_time": inv.now, "last_updated": inv.now, "current_domain_type": "pv",
	})
	vm := inv.srv.NewObject("VM")
	inv.put("console", map[string]any{"protocol": "rfb", "VM": vm.Ref, "other_config": map[string]any{},
		"location": fmt.Sprintf("https://%s/console?uuid=%s", name, xapi.Str(vm, "uuid"))})
	fields := map[string]any{
		"name_label": "Control domain on host: " + name, "name_description": "The domain which manages physical devices and manages other domains",
		"is_control_domain": true, "power_state": "Running", "resident_on": h.Ref, "affinity": h.Ref, "domid": int64(0),
		"domain_type": "pv", "user_version": int64(1), "VCPUs_max": cpus, "VCPUs_at_startup": cpus,
		"actions_after_shutdown": "destroy", "actions_after_reboot": "destroy", "actions_after_crash": "destroy",
		"metrics": metrics.Ref, "guest_metrics": datamodel.NullRef, "domarch": "x64", "VCPUs_params": map[string]any{},
		"HVM_boot_params": map[string]any{}, "platform": map[string]any{}, "other_config": map[string]any{"storage_driver_domain": vm.Ref, "is_system_domain": "true"},
		"recommendations": "", "PV_args": "", "PV_bootloader": "", "PV_kernel": "", "PV_ramdisk": "", "PV_bootloader_args": "",
		"PV_legacy_args": "", "HVM_boot_policy": "", "PCI_bus": "",
	}
	for _, f := range []string{"memory_static_min", "memory_static_max", "memory_dynamic_min", "memory_dynamic_max", "memory_target"} {
		fields[f] = dom0Memory
	}
	inv.putObject(vm, fields)
	setAllowedOps(inv.tx, vm)
	return vm
}

// sharedStorage is the pool's shared NFS SR (its default SR), the ISO library and the
// guest-tools SR, each with a PBD on every host.
func (inv *inventory) sharedStorage() {
	inv.sharedSR = inv.put("SR", map[string]any{
		"name_label": "NFS storage", "name_description": "Shared NFS SR for VM disks", "type": "nfs", "content_type": "",
		"shared": true, "physical_size": 2048 * gib, "physical_utilisation": 0, "virtual_allocation": int64(0),
		"other_config": map[string]any{"auto-scan": "false"}, "sm_config": map[string]any{"allocation": "thin"},
	})
	inv.isoSR = inv.put("SR", map[string]any{
		"name_label": "ISO library", "name_description": "NFS ISO Library", "type": "iso", "content_type": "iso",
		"shared": true, "physical_size": 512 * gib, "physical_utilisation": 0, "virtual_allocation": int64(0),
		"other_config": map[string]any{}, "sm_config": map[string]any{},
	})
	tools := inv.put("SR", map[string]any{
		"name_label": "XCP-ng Tools", "name_description": "XCP-ng Tools ISOs", "type": "iso", "content_type": "iso",
		"shared": true, "is_tools_sr": true, "physical_size": int64(0), "physical_utilisation": int64(0), "virtual_allocation": int64(0),
		"other_config": map[string]any{"xensource_internal": "true", "xenserver_tools_sr": "true", "i18n-key": "xenserver-tools"},
		"sm_config":    map[string]any{},
	})
	for _, h := range inv.hosts {
		inv.put("PBD", map[string]any{"host": h.Ref, "SR": inv.sharedSR.Ref, "currently_attached": true,
			"device_config": map[string]any{"server": nfsServer, "serverpath": nfsSRPath, "nfsversion": "4.1"}})
		inv.put("PBD", map[string]any{"host": h.Ref, "SR": inv.isoSR.Ref, "currently_attached": true,
			"device_config": map[string]any{"location": nfsServer + ":" + nfsISOPath, "type": "nfs_iso", "nfsversion": "4"}})
		inv.put("PBD", map[string]any{"host": h.Ref, "SR": tools.Ref, "currently_attached": true,
			"device_config": map[string]any{"path": "/opt/xensource/packages/iso", "location": "/opt/xensource/packages/iso", "legacy_mode": "true"}})
	}
	for _, iso := range []struct {
		name string
		size int64
	}{{"debian-12.7.0-amd64-netinst.iso", 661651456}, {"ubuntu-24.04.1-live-server-amd64.iso", 2773874688},
		{"AlmaLinux-9.4-x86_64-minimal.iso", 2002780160}, {"Win_Server_2022_x64.iso", 5365624832}} {
		inv.isoVDI(inv.isoSR, iso.name, iso.size, false)
	}
	inv.isoVDI(tools, "guest-tools.iso", 37748736, true)
	for _, sr := range []*store.Object{inv.sharedSR, inv.isoSR, tools} {
		refreshSR(inv.tx, sr.Ref)
	}
}

func (inv *inventory) isoVDI(sr *store.Object, name string, size int64, tools bool) {
	inv.put("VDI", map[string]any{
		"name_label": name, "SR": sr.Ref, "virtual_size": size, "physical_utilisation": size, "type": "user",
		"sharable": true, "read_only": true, "other_config": map[string]any{}, "location": name, "managed": true,
		"missing": false, "is_tools_iso": tools, "sm_config": map[string]any{},
	})
}

func (inv *inventory) template(t guestTemplate) {
	vm := inv.srv.NewObject("VM")
	fields := map[string]any{
		"name_label": t.Name, "name_description": "Template which allows VM installation from install media",
		"is_a_template": true, "is_default_template": true, "user_version": int64(1),
		"memory_static_max": t.MemoryMiB * mib, "memory_dynamic_max": t.MemoryMiB * mib,
		"memory_dynamic_min": t.MemoryMiB * mib, "memory_static_min": t.MinMiB * mib, "memory_target": t.MemoryMiB * mib,
		"VCPUs_max": t.VCPUs, "VCPUs_at_startup": t.VCPUs, "VCPUs_params": map[string]any{},
		"actions_after_shutdown": "destroy", "actions_after_reboot": "restart", "actions_after_crash": "restart",
		"PV_bootloader": "", "PV_kernel": "", "PV_ramdisk": "", "PV_args": "", "PV_bootloader_args": "", "PV_legacy_args": "",
		"HVM_boot_policy": "BIOS order", "HVM_boot_params": t.bootParams(), "HVM_shadow_multiplier": 1.0,
		"platform": t.platform(), "PCI_bus": "", "other_config": t.otherConfig(inv.srv.IDs.UUID()),
		"domid": int64(-1), "domarch": "", "recommendations": t.recommendations(), "reference_label": t.Label,
		"resident_on": datamodel.NullRef, "affinity": datamodel.NullRef, "metrics": datamodel.NullRef,
		"guest_metrics": datamodel.NullRef, "domain_type": "hvm", "has_vendor_device": t.Windows,
	}
	inv.putObject(vm, fields)
	setMemoryOverhead(vm)
	setAllowedOps(inv.tx, vm)
	inv.templates = append(inv.templates, vm)
	inv.templateOf[t.Label] = vm
}

package cluster

import (
	"fmt"
)

// guestTemplate describes a built-in template, as the guest-templates-json package
// installs them on a XenServer / XCP-ng host (semantics.md §6).
type guestTemplate struct {
	Name      string // name_label
	Label     string // reference_label
	Windows   bool
	UEFI      bool
	MemoryMiB int64 // static_max, dynamic_min and dynamic_max
	MinMiB    int64 // static_min
	VCPUs     int64
	DiskGiB   int64 // 0: no disk (Other install media)
	Distro    string
}

// builtinTemplates are current Linux and Windows guests and the generic template.
var builtinTemplates = []guestTemplate{
	{Name: "Debian Bookworm 12", Label: "debian-12", MemoryMiB: 2048, MinMiB: 512, VCPUs: 1, DiskGiB: 10, Distro: "debian"},
	{Name: "Debian Trixie 13", Label: "debian-13", MemoryMiB: 2048, MinMiB: 512, VCPUs: 1, DiskGiB: 10, Distro: "debian"},
	{Name: "Ubuntu Noble Numbat 24.04", Label: "ubuntu-24.04", MemoryMiB: 2048, MinMiB: 1024, VCPUs: 1, DiskGiB: 10, Distro: "ubuntu"},
	{Name: "Ubuntu Jammy Jellyfish 22.04", Label: "ubuntu-22.04", MemoryMiB: 2048, MinMiB: 1024, VCPUs: 1, DiskGiB: 10, Distro: "ubuntu"},
	{Name: "Rocky Linux 9", Label: "rocky-9", MemoryMiB: 2048, MinMiB: 1024, VCPUs: 1, DiskGiB: 10, Distro: "rocky"},
	{Name: "AlmaLinux 9", Label: "almalinux-9", MemoryMiB: 2048, MinMiB: 1024, VCPUs: 1, DiskGiB: 10, Distro: "almalinux"},
	{Name: "Red Hat Enterprise Linux 9", Label: "rhel-9", MemoryMiB: 2048, MinMiB: 1024, VCPUs: 1, DiskGiB: 10, Distro: "rhel"},
	{Name: "CentOS Stream 9", Label: "centos-stream-9", MemoryMiB: 2048, MinMiB: 1024, VCPUs: 1, DiskGiB: 10, Distro: "centos"},
	{Name: "Oracle Linux 9", Label: "oel-9", MemoryMiB: 2048, MinMiB: 1024, VCPUs: 1, DiskGiB: 10, Distro: "oracle"},
	{Name: "SUSE Linux Enterprise Server 15 (64-bit)", Label: "sles-15", MemoryMiB: 2048, MinMiB: 1024, VCPUs: 1, DiskGiB: 16, Distro: "sles"},
	{Name: "Alpine Linux 3.20", Label: "alpine-3.20", MemoryMiB: 1024, MinMiB: 256, VCPUs: 1, DiskGiB: 8, Distro: "alpine"},
	{Name: "Windows Server 2022 (64-bit)", Label: "windows-server-2022", Windows: true, UEFI: true, MemoryMiB: 4096, MinMiB: 2048, VCPUs: 2, DiskGiB: 32, Distro: "windows"},
	{Name: "Windows Server 2019 (64-bit)", Label: "windows-server-2019", Windows: true, MemoryMiB: 4096, MinMiB: 2048, VCPUs: 2, DiskGiB: 32, Distro: "windows"},
	{Name: "Windows 11", Label: "windows-11", Windows: true, UEFI: true, MemoryMiB: 4096, MinMiB: 4096, VCPUs: 2, DiskGiB: 64, Distro: "windows"},
	{Name: "Windows 10 (64-bit)", Label: "windows-10-64", Windows: true, MemoryMiB: 2048, MinMiB: 2048, VCPUs: 2, DiskGiB: 32, Distro: "windows"},
	{Name: "Other install media", Label: "other-install-media", MemoryMiB: 128, MinMiB: 128, VCPUs: 1, Distro: ""},
}

const mib = int64(1) << 20

// disksXML is the provisioning instruction of a template: one system disk on the SR the
// client must fill in (sr=""), as the built-in templates ship.
func (t guestTemplate) disksXML() string {
	if t.DiskGiB == 0 {
		return ""
	}
	return fmt.Sprintf(`<provision><disk device="0" size="%d" sr="" bootable="true" type="system"/></provision>`, t.DiskGiB*gib)
}

// recommendations is the restrictions XML clients read for limits.
func (t guestTemplate) recommendations() string {
	maxMem := int64(1536) * gib
	if t.Windows {
		maxMem = 2048 * gib
	}
	return fmt.Sprintf(`<restrictions><restriction field="memory-static-max" max="%d"/><restriction field="vcpus-max" max="64"/><restriction field="has-vendor-device" value="%t"/><restriction property="number-of-vbds" max="255"/><restriction property="number-of-vifs" max="7"/><restriction field="allow-gpu-passthrough" value="1"/><restriction field="allow-vgpu" value="1"/></restrictions>`, maxMem, t.Windows)
}

func (t guestTemplate) platform() map[string]any {
	p := map[string]any{
		"timeoffset": "0", "device-model": "qemu-upstream-compat", "nx": "true", "acpi": "1",
		"apic": "true", "pae": "true", "hpet": "true", "secureboot": "false",
	}
	if t.Windows {
		p["viridian"] = "true"
		p["viridian_time_ref_count"] = "true"
		p["viridian_reference_tsc"] = "true"
		p["videoram"] = "8"
	} else {
		p["viridian"] = "false"
	}
	if t.UEFI && t.Windows {
		p["secureboot"] = "auto"
	}
	return p
}

func (t guestTemplate) bootParams() map[string]any {
	firmware := "bios"
	if t.UEFI {
		firmware = "uefi"
	}
	return map[string]any{"order": "cdn", "firmware": firmware}
}

func (t guestTemplate) otherConfig(macSeed string) map[string]any {
	oc := map[string]any{"default_template": "true", "mac_seed": macSeed}
	if d := t.disksXML(); d != "" {
		oc["disks"] = d
	}
	switch {
	case t.Windows:
		oc["install-methods"] = "cdrom"
	case t.Distro != "":
		oc["install-methods"] = "cdrom,nfs,http,ftp"
		oc["linux_template"] = "true"
	default:
		oc["install-methods"] = "cdrom"
	}
	return oc
}

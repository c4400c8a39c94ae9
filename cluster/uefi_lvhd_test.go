package cluster_test

import (
	"testing"

	"github.com/xapisim/xapisim/cluster"
)

func TestUEFICertificatesAndLVHD(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2})
	pool := p.first("pool", "true")
	master := p.ok("pool.get_master", pool).(string)
	lvm := p.first("SR", `field "type"="lvm"`)
	p.expectErrors([]errorCase{
		{"pool certificates", "pool.set_uefi_certificates", []any{pool, "x"}, []string{"OPERATION_NOT_ALLOWED",
			"Setting UEFI certificates is deprecated, please use `set_custom_uefi_certificates`"}},
		{"custom certificates", "pool.set_custom_uefi_certificates", []any{pool, "x"}, []string{"OPERATION_NOT_ALLOWED",
			"Setting UEFI certificates is not possible when allow_custom_uefi_certs is false"}},
		{"host certificates", "host.set_uefi_certificates", []any{master, "x"}, []string{"OPERATION_NOT_ALLOWED",
			"To set UEFI certificates use: `Pool.set_custom_uefi_certificates`"}},
		{"thin provisioning", "LVHD.enable_thin_provisioning", []any{master, lvm, int64(1 << 20), int64(1 << 20)},
			[]string{"MESSAGE_METHOD_UNKNOWN", "LVHD.enable_thin_provisioning"}},
	})
	p.ok("pool.get_custom_uefi_certificates", pool)
}

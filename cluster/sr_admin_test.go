package cluster_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

const bogusSR = "OpaqueRef:bogus-sr"

// TestSRAdminErrors: every refusal of the HA, database replication and data-source
// checks of an SR, as xapi words it.
func TestSRAdminErrors(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 2})
	nfs := p.first("SR", `field "type"="nfs"`)
	local := p.first("SR", `field "type"="lvm"`)
	iso := p.first("SR", `field "type"="iso"`)
	small := p.ok("SR.create", p.first("host", "true"), map[string]any{"server": "10.0.1.9", "serverpath": "/small"},
		int64(0), "small", "", "nfs", "", true, map[string]any{}).(string)
	p.ok("SR.set_physical_size", small, int64(1<<30))
	lone := p.ok("SR.introduce", "6a0c3b6e-0000-4000-8000-000000000001", "lone", "", "nfs", "", true, map[string]any{}).(string)
	unplugged := p.ok("SR.create", p.first("host", "true"), map[string]any{"server": "10.0.1.9", "serverpath": "/u"},
		int64(0), "unplugged", "", "nfs", "", true, map[string]any{}).(string)
	p.ok("PBD.unplug", p.first("PBD", `field "SR"="`+unplugged+`"`))
	p.expectErrors([]errorCase{
		{"statefile on a local SR", "SR.assert_can_host_ha_statefile", []any{local}, []string{"SR_HAS_NO_PBDS", local}},
		{"statefile on an SR with an unplugged PBD", "SR.assert_can_host_ha_statefile", []any{unplugged}, []string{"SR_HAS_NO_PBDS", unplugged}},
		{"statefile on an SR without PBDs", "SR.assert_can_host_ha_statefile", []any{lone}, []string{"SR_HAS_NO_PBDS", lone}},
		{"statefile on an ISO SR", "SR.assert_can_host_ha_statefile", []any{iso}, []string{"INCOMPATIBLE_STATEFILE_SR", "iso"}},
		{"statefile on a small SR", "SR.assert_can_host_ha_statefile", []any{small}, []string{"SR_SOURCE_SPACE_INSUFFICIENT", small}},
		{"statefile on a bogus SR", "SR.assert_can_host_ha_statefile", []any{bogusSR}, []string{"HANDLE_INVALID", "SR", bogusSR}},
		{"replication to a local SR", "SR.assert_supports_database_replication", []any{local}, []string{"SR_HAS_NO_PBDS", local}},
		{"replication to an NFS SR", "SR.assert_supports_database_replication", []any{nfs}, []string{"SR_OPERATION_NOT_SUPPORTED", nfs}},
		{"replication to an unplugged SR", "SR.assert_supports_database_replication", []any{unplugged}, []string{"SR_HAS_NO_PBDS", unplugged}},
		{"replication to a bogus SR", "SR.assert_supports_database_replication", []any{bogusSR}, []string{"HANDLE_INVALID", "SR", bogusSR}},
		{"sources of an SR plugged nowhere", "SR.get_data_sources", []any{unplugged}, []string{"SR_HAS_NO_PBDS", unplugged}},
		{"sources of an SR without PBDs", "SR.query_data_source", []any{lone, "read_latency"}, []string{"SR_HAS_NO_PBDS", lone}},
		{"unknown source", "SR.query_data_source", []any{nfs, "nonsense"}, []string{"INTERNAL_ERROR", `IDL Error: [S(Rrdd_internal_error);S(Rrd.Invalid_data_source("nonsense"))]`}},
		{"recording an unknown source", "SR.record_data_source", []any{nfs, "nonsense"}, []string{"INTERNAL_ERROR", `IDL Error: [S(Rrdd_internal_error);S(Rrd_interface.Rrdd_error([S(Datasource_missing);S(nonsense)]))]`}},
		{"sources of a bogus SR", "SR.get_data_sources", []any{bogusSR}, []string{"HANDLE_INVALID", "SR", bogusSR}},
		{"forgetting a bogus SR's source", "SR.forget_data_source_archives", []any{bogusSR, "iops_total"}, []string{"HANDLE_INVALID", "SR", bogusSR}},
	})
}

// TestSRAdmin: the SRs that pass, and the data-source archive cycle.
func TestSRAdmin(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 2})
	nfs := p.first("SR", `field "type"="nfs"`)
	local := p.first("SR", `field "type"="lvm"`)
	p.ok("SR.assert_can_host_ha_statefile", nfs)

	t.Run("a single host's local LVM SR", func(t *testing.T) {
		one := newPool(t, cluster.Spec{Hosts: 1, VMs: 1})
		lvm := one.first("SR", `field "type"="lvm"`)
		one.ok("SR.assert_supports_database_replication", lvm)
		one.expectErrors([]errorCase{{"xhad keeps no statefile on local LVM", "SR.assert_can_host_ha_statefile", []any{lvm},
			[]string{"INCOMPATIBLE_STATEFILE_SR", "lvm"}}})
	})
	t.Run("data sources", func(t *testing.T) {
		dss := p.dataSources("SR.get_data_sources", local)
		assert.Len(t, dss, 10)
		assert.Equal(t, map[string]any{"name_label": "read_latency", "name_description": "Average read latency",
			"enabled": true, "standard": true, "units": "milliseconds", "min": 0.0, "max": math.Inf(1), "value": 0.0}, dss["read_latency"])
		assert.Contains(t, dss, "io_throughput_total")
		used := xapi.Int(p.get("SR", nfs), "physical_utilisation")
		assert.Equal(t, float64(used), p.value("SR.query_data_source", nfs, "physical_utilisation"))
		assert.Equal(t, 0.0, p.value("SR.query_data_source", nfs, "read_latency"))
		p.ok("SR.forget_data_source_archives", nfs, "read_latency")
		_, err := p.call("SR.query_data_source", nfs, "read_latency")
		require.NotEmpty(t, err)
		assert.Equal(t, "INTERNAL_ERROR", err[0])
		assert.Equal(t, false, p.dataSources("SR.get_data_sources", nfs)["read_latency"]["enabled"])
		p.ok("SR.record_data_source", nfs, "read_latency")
		assert.Equal(t, 0.0, p.value("SR.query_data_source", nfs, "read_latency"))
	})
}

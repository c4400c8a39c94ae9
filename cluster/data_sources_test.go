package cluster_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/xapitest"
)

// value calls and returns the typed result as the server holds it (JSON cannot carry the
// infinite bounds of some data sources).
func (p *pool) value(method string, args ...any) any {
	p.t.Helper()
	r := xapitest.Call(p.srv, method, append([]any{p.session}, args...)...)
	require.Nil(p.t, r.Err, "%s: %v", method, r.Err)
	return r.Value
}

// dataSources returns the Data_source records of a get_data_sources call by name.
func (p *pool) dataSources(method, ref string) map[string]map[string]any {
	p.t.Helper()
	out := map[string]map[string]any{}
	names := []string{"name_label", "name_description", "enabled", "standard", "units", "min", "max", "value"}
	for _, r := range p.value(method, ref).([]any) {
		rec := map[string]any{}
		for i, v := range r.([]any) {
			rec[names[i]] = v
		}
		out[rec["name_label"].(string)] = rec
	}
	return out
}

func TestHostDataSources(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0, CPUs: 4, MemoryGiB: 64})
	master := xapi.Str(p.get("pool", p.first("pool", "true")), "master")
	other := p.first("host", `not (field "uuid"="`+xapi.Str(p.get("host", master), "uuid")+`")`)

	dss := p.dataSources("host.get_data_sources", master)
	assert.Len(t, dss, 4+4)
	assert.Equal(t, map[string]any{"name_label": "memory_total_kib", "name_description": "Total amount of memory in the host",
		"enabled": true, "standard": true, "units": "KiB", "min": 0.0, "max": math.Inf(1), "value": 0.0}, dss["memory_total_kib"])
	assert.Equal(t, "Physical cpu usage for cpu 3", dss["cpu3"]["name_description"])

	metrics := p.get("host_metrics", xapi.Str(p.get("host", master), "metrics"))
	assert.Equal(t, float64(xapi.Int(metrics, "memory_total")/1024), p.value("host.query_data_source", master, "memory_total_kib"))
	assert.Equal(t, float64(xapi.Int(metrics, "memory_free")/1024), p.value("host.query_data_source", master, "memory_free_kib"))
	assert.Equal(t, 0.0, p.value("host.query_data_source", master, "cpu0"), "no guests, no load")

	p.ok("host.forget_data_source_archives", master, "cpu0")
	p.ok("host.forget_data_source_archives", master, "nonesuch")
	assert.Equal(t, false, p.dataSources("host.get_data_sources", master)["cpu0"]["enabled"])
	p.ok("host.record_data_source", master, "cpu0")
	assert.Equal(t, true, p.dataSources("host.get_data_sources", master)["cpu0"]["enabled"])
	p.ok("host.forget_data_source_archives", master, "cpu1")

	p.ok("host.disable", other)
	p.ok("host.shutdown", other)
	bad := []any{"OpaqueRef:nope"}
	p.expectErrors([]errorCase{
		{"query unknown", "host.query_data_source", []any{master, "nonesuch"},
			[]string{"INTERNAL_ERROR", `IDL Error: [S(Rrdd_internal_error);S(Rrd.Invalid_data_source("nonesuch"))]`}},
		{"query forgotten", "host.query_data_source", []any{master, "cpu1"},
			[]string{"INTERNAL_ERROR", `IDL Error: [S(Rrdd_internal_error);S(Rrd.Invalid_data_source("cpu1"))]`}},
		{"record unknown", "host.record_data_source", []any{master, "nonesuch"},
			[]string{"INTERNAL_ERROR", `IDL Error: [S(Rrdd_internal_error);S(Rrd_interface.Rrdd_error([S(Datasource_missing);S(nonesuch)]))]`}},
		{"host down", "host.get_data_sources", []any{other}, []string{"HOST_OFFLINE", other}},
		{"query on a host down", "host.query_data_source", []any{other, "cpu0"}, []string{"HOST_OFFLINE", other}},
		{"record on a host down", "host.record_data_source", []any{other, "cpu0"}, []string{"HOST_OFFLINE", other}},
		{"forget on a host down", "host.forget_data_source_archives", []any{other, "cpu0"}, []string{"HOST_OFFLINE", other}},
		{"bad host", "host.get_data_sources", bad, []string{"HANDLE_INVALID", "host", "OpaqueRef:nope"}},
		{"bad host query", "host.query_data_source", append(bad, "cpu0"), []string{"HANDLE_INVALID", "host", "OpaqueRef:nope"}},
	})
}

func TestVMDataSources(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 4})
	running := p.first("VM", `field "power_state"="Running" and field "is_control_domain"="false"`)
	halted := p.first("VM", `field "power_state"="Halted" and field "is_a_template"="false"`)
	vm := p.get("VM", running)

	dss := p.dataSources("VM.get_data_sources", running)
	require.Len(t, dss, int(xapi.Int(vm, "VCPUs_at_startup"))+2)
	assert.Equal(t, map[string]any{"name_label": "memory_target", "name_description": "Target of VM balloon driver",
		"enabled": true, "standard": true, "units": "B", "min": 0.0, "max": math.Inf(1), "value": 0.0}, dss["memory_target"])
	assert.Equal(t, float64(xapi.Int(vm, "memory_target")), p.value("VM.query_data_source", running, "memory_target"))
	assert.Equal(t, float64(xapi.Int(p.get("VM_metrics", xapi.Str(vm, "metrics")), "memory_actual")), p.value("VM.query_data_source", running, "memory"))
	assert.Equal(t, 0.1, p.value("VM.query_data_source", running, "cpu0"))

	p.ok("VM.forget_data_source_archives", running, "cpu0")
	assert.Equal(t, false, p.dataSources("VM.get_data_sources", running)["cpu0"]["enabled"])
	p.expectErrors([]errorCase{
		{"query forgotten", "VM.query_data_source", []any{running, "cpu0"},
			[]string{"INTERNAL_ERROR", `IDL Error: [S(Rrdd_internal_error);S(Rrd.Invalid_data_source("cpu0"))]`}},
	})
	p.ok("VM.record_data_source", running, "cpu0")
	assert.Equal(t, 0.1, p.value("VM.query_data_source", running, "cpu0"))
	assert.Empty(t, xapi.Map(p.get("VM", running), "current_operations"))

	p.ok("VM.pause", running)
	assert.Equal(t, 0.1, p.value("VM.query_data_source", running, "cpu0"), "a paused VM can be queried")

	bad := []any{"OpaqueRef:nope"}
	p.expectErrors([]errorCase{
		{"paused: no list", "VM.get_data_sources", []any{running}, []string{"VM_BAD_POWER_STATE", running, "running", "paused"}},
		{"halted: no list", "VM.get_data_sources", []any{halted}, []string{"VM_BAD_POWER_STATE", halted, "running", "halted"}},
		{"halted: no query", "VM.query_data_source", []any{halted, "memory"}, []string{"VM_BAD_POWER_STATE", halted, "running;paused", "halted"}},
		{"halted: no record", "VM.record_data_source", []any{halted, "memory"}, []string{"VM_BAD_POWER_STATE", halted, "running", "halted"}},
		{"halted: no forget", "VM.forget_data_source_archives", []any{halted, "memory"}, []string{"VM_BAD_POWER_STATE", halted, "running", "halted"}},
		{"query unknown", "VM.query_data_source", []any{running, "nonesuch"},
			[]string{"INTERNAL_ERROR", `IDL Error: [S(Rrdd_internal_error);S(Rrd.Invalid_data_source("nonesuch"))]`}},
		{"bad VM", "VM.get_data_sources", bad, []string{"HANDLE_INVALID", "VM", "OpaqueRef:nope"}},
		{"bad VM query", "VM.query_data_source", append(bad, "memory"), []string{"HANDLE_INVALID", "VM", "OpaqueRef:nope"}},
	})
	p.ok("VM.unpause", running)
	p.expectErrors([]errorCase{
		{"record unknown", "VM.record_data_source", []any{running, "nonesuch"},
			[]string{"INTERNAL_ERROR", `IDL Error: [S(Rrdd_internal_error);S(Rrd_interface.Rrdd_error([S(Datasource_missing);S(nonesuch)]))]`}},
	})
}

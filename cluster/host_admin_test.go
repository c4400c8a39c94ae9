package cluster_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

// downHost is a pool of three whose last slave is shut down (and can be powered on).
func downHost(t *testing.T) (p *pool, master, up, down string) {
	p = newPool(t, cluster.Spec{Hosts: 3, VMs: 0})
	master = p.master()
	slaves := p.slaves(master)
	up, down = slaves[0], slaves[1]
	p.ok("host.set_power_on_mode", down, "wake-on-lan", map[string]any{})
	p.ok("host.disable", down)
	p.ok("host.shutdown", down)
	return p, master, up, down
}

func TestHostSettings(t *testing.T) {
	p, master, up, down := downHost(t)
	bad := "OpaqueRef:nope"
	badHost := []string{"HANDLE_INVALID", "host", bad}
	offline := []string{"HOST_OFFLINE", down}

	p.ok("host.set_hostname_live", up, "node-2.example.com")
	h := p.get("host", up)
	assert.Equal(t, "node-2.example.com", xapi.Str(h, "hostname"))
	assert.Equal(t, "Control domain on host: node-2.example.com", xapi.Str(p.get("VM", xapi.Str(h, "control_domain")), "name_label"))
	// A dom0 renamed by hand keeps its name.
	dom0 := xapi.Str(p.get("host", master), "control_domain")
	p.ok("VM.set_name_label", dom0, "my dom0")
	p.ok("host.set_hostname_live", master, "a")
	assert.Equal(t, "my dom0", xapi.Str(p.get("VM", dom0), "name_label"))

	p.ok("host.set_iscsi_iqn", up, "iqn.2024-05.com.example:node2")
	h = p.get("host", up)
	assert.Equal(t, "iqn.2024-05.com.example:node2", xapi.Str(h, "iscsi_iqn"))
	assert.Equal(t, "iqn.2024-05.com.example:node2", xapi.StringMap(h, "other_config")["iscsi_iqn"])

	p.ok("host.set_multipathing", up, true)
	h = p.get("host", up)
	assert.True(t, xapi.Bool(h, "multipathing"))
	assert.Equal(t, "true", xapi.StringMap(h, "other_config")["multipathing"])
	p.ok("host.set_multipathing", up, false)
	assert.Equal(t, "false", xapi.StringMap(p.get("host", up), "other_config")["multipathing"])

	p.ok("host.set_numa_affinity_policy", up, "best_effort")
	assert.Equal(t, "best_effort", xapi.Str(p.get("host", up), "numa_affinity_policy"))

	p.ok("host.set_https_only", up, true)
	assert.True(t, xapi.Bool(p.get("host", up), "https_only"))

	assert.Equal(t, "cpu", p.ok("host.get_sched_gran", up))
	p.ok("host.syslog_reconfigure", up)
	p.ok("host.set_ssl_legacy", up, false)
	p.ok("host.set_ssl_legacy", bad, false) // neither forwarded nor read
	p.ok("pool.disable_ssl_legacy", bad)

	long := strings.Repeat("a", 256)
	p.expectErrors([]errorCase{
		{"hostname: bad host", "host.set_hostname_live", []any{bad, "x"}, badHost},
		{"hostname: host down", "host.set_hostname_live", []any{down, "x"}, offline},
		{"hostname empty", "host.set_hostname_live", []any{up, ""}, []string{"HOST_NAME_INVALID", "hostname empty"}},
		{"hostname too long", "host.set_hostname_live", []any{up, long}, []string{"HOST_NAME_INVALID", "hostname is too long"}},
		{"hostname with underscore", "host.set_hostname_live", []any{up, "a_b"}, []string{"HOST_NAME_INVALID", "hostname contains invalid characters"}},
		{"hostname starting with -", "host.set_hostname_live", []any{up, "-ab"}, []string{"HOST_NAME_INVALID", "hostname contains invalid characters"}},
		{"hostname ending with -", "host.set_hostname_live", []any{up, "ab-"}, []string{"HOST_NAME_INVALID", "hostname contains invalid characters"}},
		{"hostname with space", "host.set_hostname_live", []any{up, "a b"}, []string{"HOST_NAME_INVALID", "hostname contains invalid characters"}},
		{"syslog: bad host", "host.syslog_reconfigure", []any{bad}, badHost},
		{"syslog: host down", "host.syslog_reconfigure", []any{down}, offline},
		{"iqn: bad host", "host.set_iscsi_iqn", []any{bad, "iqn.x"}, badHost},
		{"iqn: host down", "host.set_iscsi_iqn", []any{down, ""}, offline},
		{"iqn empty", "host.set_iscsi_iqn", []any{up, ""}, []string{"INVALID_VALUE", "value", ""}},
		{"multipathing: bad host", "host.set_multipathing", []any{bad, true}, badHost},
		{"multipathing: host down", "host.set_multipathing", []any{down, true}, offline},
		{"numa: bad host", "host.set_numa_affinity_policy", []any{bad, "any"}, badHost},
		{"numa: host down", "host.set_numa_affinity_policy", []any{down, "any"}, offline},
		{"https: bad host", "host.set_https_only", []any{bad, true}, badHost},
		{"https: host down", "host.set_https_only", []any{down, true}, offline},
		{"sched_gran: bad host", "host.get_sched_gran", []any{bad}, badHost},
		{"sched_gran: host down", "host.get_sched_gran", []any{down}, offline},
		{"set sched_gran: bad host", "host.set_sched_gran", []any{bad, "core"}, badHost},
		{"set sched_gran: host down", "host.set_sched_gran", []any{down, "core"}, offline},
		{"set sched_gran not allowed", "host.set_sched_gran", []any{up, "core"}, []string{"OPERATION_NOT_ALLOWED", "Disabled by xapi.conf"}},
		{"legacy SSL on", "host.set_ssl_legacy", []any{up, true}, []string{"VALUE_NOT_SUPPORTED", "value", "true", "Legacy SSL support has been removed"}},
	})
	assert.Equal(t, "iqn.2024-05.com.example:node2", xapi.Str(p.get("host", up), "iscsi_iqn"), "a refused IQN changes nothing")

	// pool.set_https_only goes host by host: the one that is down stops it.
	_, err := p.call("pool.set_https_only", p.first("pool", "true"), true)
	assert.Equal(t, offline, err)
	p.ok("host.power_on", down)
	p.ok("pool.set_https_only", bad, true) // the pool ref is not read
	for _, h := range p.where("host", "true") {
		assert.True(t, xapi.Bool(p.get("host", h), "https_only"))
	}
}

func TestHostDisplay(t *testing.T) {
	p, _, up, down := downHost(t)
	for _, tc := range []struct {
		enable   bool
		from, to string
	}{
		{true, "enabled", "enabled"}, {true, "disable_on_reboot", "enabled"}, {true, "disabled", "enable_on_reboot"}, {true, "enable_on_reboot", "enable_on_reboot"},
		{false, "enabled", "disable_on_reboot"}, {false, "disable_on_reboot", "disable_on_reboot"}, {false, "disabled", "disabled"}, {false, "enable_on_reboot", "disabled"},
	} {
		p.ok("host.set_display", up, tc.from)
		msg := "host.disable_display"
		if tc.enable {
			msg = "host.enable_display"
		}
		assert.Equal(t, tc.to, p.ok(msg, up), "%s from %s", msg, tc.from)
		assert.Equal(t, tc.to, xapi.Str(p.get("host", up), "display"))
	}
	pool := p.first("pool", "true")
	restrictions := xapi.CopyMap(xapi.Map(p.get("pool", pool), "restrictions"))
	restrictions["restrict_integrated_gpu_passthrough"] = "true"
	p.setField("pool", pool, "restrictions", restrictions)
	p.expectErrors([]errorCase{
		{"enable: bad host", "host.enable_display", []any{"OpaqueRef:nope"}, []string{"HANDLE_INVALID", "host", "OpaqueRef:nope"}},
		{"enable: host down", "host.enable_display", []any{down}, []string{"HOST_OFFLINE", down}},
		{"disable: host down", "host.disable_display", []any{down}, []string{"HOST_OFFLINE", down}},
		{"disable without the iGPU feature", "host.disable_display", []any{up}, []string{"FEATURE_RESTRICTED"}},
	})
	p.ok("host.enable_display", up) // enabling needs no feature
	delete(restrictions, "restrict_integrated_gpu_passthrough")
	p.setField("pool", pool, "restrictions", restrictions)
	_, err := p.call("host.disable_display", up)
	assert.Equal(t, []string{"FEATURE_RESTRICTED"}, err, "an unknown flag restricts the feature")
}

func TestHostDiagnostics(t *testing.T) {
	p, master, up, down := downHost(t)
	bad := "OpaqueRef:nope"
	badHost := []string{"HANDLE_INVALID", "host", bad}
	offline := []string{"HOST_OFFLINE", down}

	dmesg := p.ok("host.dmesg", up).(string)
	assert.Contains(t, dmesg, "(XEN) Xen version 4.17.5-3")
	assert.Contains(t, dmesg, "(XEN) Brought up 16 CPUs")
	assert.Contains(t, dmesg, "(XEN) System RAM: 262144MB")
	assert.Equal(t, dmesg, p.ok("host.dmesg", up), "the ring is stable")

	p.ok("host.send_debug_keys", up, "0q")
	p.ok("host.backup_rrds", up, 0.0)
	assert.Equal(t, []any{}, p.ok("host.get_uncooperative_resident_VMs", up))
	assert.Equal(t, []any{}, p.ok("host.get_uncooperative_resident_VMs", bad), "xapi reads no ref")

	// sync_data records the blob sync on a slave with storage, not on the master.
	p.ok("host.sync_data", up)
	require.Contains(t, xapi.StringMap(p.get("host", up), "other_config"), "last_blob_sync_time")
	p.ok("host.sync_data", master)
	assert.NotContains(t, xapi.StringMap(p.get("host", master), "other_config"), "last_blob_sync_time")
	p.ok("host.sync_data", down) // rsync fails, xapi only logs it
	assert.NotContains(t, xapi.StringMap(p.get("host", down), "other_config"), "last_blob_sync_time")

	p.expectErrors([]errorCase{
		{"dmesg: bad host", "host.dmesg", []any{bad}, badHost},
		{"dmesg: host down", "host.dmesg", []any{down}, offline},
		{"dmesg_clear: bad host", "host.dmesg_clear", []any{bad}, badHost},
		{"dmesg_clear: host down", "host.dmesg_clear", []any{down}, offline},
		{"dmesg_clear", "host.dmesg_clear", []any{up}, []string{"NOT_IMPLEMENTED", "dmesg_clear"}},
		{"get_log: bad host", "host.get_log", []any{bad}, badHost},
		{"get_log: host down", "host.get_log", []any{down}, offline},
		{"get_log", "host.get_log", []any{up}, []string{"NOT_IMPLEMENTED", "get_log"}},
		{"list_methods", "host.list_methods", nil, []string{"NOT_IMPLEMENTED", "list_method"}},
		{"debug keys: bad host", "host.send_debug_keys", []any{bad, "q"}, badHost},
		{"debug keys: host down", "host.send_debug_keys", []any{down, "q"}, offline},
		{"backup_rrds: bad host", "host.backup_rrds", []any{bad, 1.0}, badHost},
		{"backup_rrds: host down", "host.backup_rrds", []any{down, 1.0}, offline},
		{"sync_data: bad host", "host.sync_data", []any{bad}, badHost},
	})
}

func TestLicensing(t *testing.T) {
	p, master, up, down := downHost(t)
	bad := "OpaqueRef:nope"
	badHost := []string{"HANDLE_INVALID", "host", bad}
	offline := []string{"HOST_OFFLINE", down}

	p.ok("host.apply_edition", up, "xcp-ng", false)
	p.ok("host.apply_edition", up, "xcp-ng", true)
	p.ok("host.license_add", up, "bGljZW5zZQ==")
	p.ok("host.license_remove", up)
	assert.Equal(t, "xcp-ng", xapi.Str(p.get("host", up), "edition"))

	p.expectErrors([]errorCase{
		{"apply: bad host", "host.apply_edition", []any{bad, "xcp-ng", false}, badHost},
		{"apply: host down", "host.apply_edition", []any{down, "enterprise", false}, offline},
		{"apply: unknown edition", "host.apply_edition", []any{up, "enterprise", false}, []string{"INVALID_EDITION", "enterprise"}},
		{"add: bad host", "host.license_add", []any{bad, "bGljZW5zZQ=="}, badHost},
		{"add: host down", "host.license_add", []any{down, "!"}, offline},
		{"add: not base64", "host.license_add", []any{up, "not base64!"}, []string{"LICENSE_PROCESSING_ERROR"}},
		{"remove: bad host", "host.license_remove", []any{bad}, badHost},
		{"remove: host down", "host.license_remove", []any{down}, offline},
		{"pool: unknown edition", "pool.apply_edition", []any{bad, "enterprise"}, []string{"INVALID_EDITION", "enterprise"}},
		{"pool: a host down", "pool.apply_edition", []any{bad, "xcp-ng"}, offline},
	})
	p.ok("host.power_on", down)
	p.ok("pool.apply_edition", bad, "xcp-ng") // the pool ref is not read
	for _, h := range []string{master, up, down} {
		assert.Equal(t, "xcp-ng", xapi.Str(p.get("host", h), "edition"))
	}
}

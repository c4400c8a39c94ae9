package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

func TestHostPlugins(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	master := xapi.Str(p.get("pool", p.first("pool", "true")), "master")
	other := p.first("host", `not (field "uuid"="`+xapi.Str(p.get("host", master), "uuid")+`")`)
	noArgs := map[string]any{}

	for _, tc := range []struct {
		plugin, fn string
		args       map[string]any
		want       string
	}{
		{"echo.py", "main", noArgs, "args were: {}"},
		{"echo.py", "main", map[string]any{"b": "2", "a": "it's", "sleep": "0"}, `args were: {'a': "it's", 'b': '2', 'sleep': '0'}`},
		{"disk-space", "get_avail_host_disk_space", noArgs, "15032385536"},
		{"disk-space", "check_patch_upload", map[string]any{"size": "1024"}, "True"},
		{"disk-space", "check_patch_upload", map[string]any{"size": "15032385536"}, "False"},
		{"disk-space", "get_required_space", map[string]any{"size": "42"}, "42"},
		{"disk-space", "get_reclaimable_disk_space", noArgs, "0"},
		{"hyperthreading.py", "get_hyperthreading", noArgs, "true"},
	} {
		assert.Equal(t, tc.want, p.ok("host.call_plugin", other, tc.plugin, tc.fn, tc.args), "%s %s %v", tc.plugin, tc.fn, tc.args)
	}
	p.ok("host.restart_agent", other)

	p.ok("host.disable", other)
	p.ok("host.shutdown", other)
	p.expectErrors([]errorCase{
		{"bad host", "host.call_plugin", []any{"OpaqueRef:nope", "echo.py", "main", noArgs}, []string{"HANDLE_INVALID", "host", "OpaqueRef:nope"}},
		{"missing plugin", "host.call_plugin", []any{master, "updater.py", "check_update", noArgs}, []string{"XENAPI_MISSING_PLUGIN", "updater.py"}},
		{"unknown function", "host.call_plugin", []any{master, "echo.py", "echo", noArgs}, []string{"UNKNOWN_XENAPI_PLUGIN_FUNCTION", "echo"}},
		{"sleep not a number", "host.call_plugin", []any{master, "echo.py", "main", map[string]any{"sleep": "x"}},
			[]string{"XENAPI_PLUGIN_FAILURE", "main", "ValueError", "invalid literal for int() with base 10: 'x'"}},
		{"negative sleep", "host.call_plugin", []any{master, "echo.py", "main", map[string]any{"sleep": "-1"}},
			[]string{"XENAPI_PLUGIN_FAILURE", "main", "ValueError", "sleep length must be non-negative"}},
		{"no size", "host.call_plugin", []any{master, "disk-space", "check_patch_upload", noArgs},
			[]string{"XENAPI_PLUGIN_FAILURE", "check_patch_upload", "Exception", "MISSING_SIZE"}},
		{"bad size", "host.call_plugin", []any{master, "disk-space", "check_patch_upload", map[string]any{"size": "1k"}},
			[]string{"XENAPI_PLUGIN_FAILURE", "check_patch_upload", "ValueError", "invalid literal for int() with base 10: '1k'"}},
		{"no size for required space", "host.call_plugin", []any{master, "disk-space", "get_required_space", noArgs},
			[]string{"XENAPI_PLUGIN_FAILURE", "get_required_space", "Exception", "MISSING_SIZE"}},
		{"host down", "host.call_plugin", []any{other, "echo.py", "main", noArgs}, []string{"HOST_OFFLINE", other}},
		{"restart a host that is down", "host.restart_agent", []any{other}, []string{"HOST_OFFLINE", other}},
		{"restart a bad host", "host.restart_agent", []any{"OpaqueRef:nope"}, []string{"HANDLE_INVALID", "host", "OpaqueRef:nope"}},
	})
}

func TestVMCallPlugin(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 8})
	running := p.where("VM", `field "power_state"="Running" and field "is_control_domain"="false"`)
	require.GreaterOrEqual(t, len(running), 4)
	halted := p.first("VM", `field "power_state"="Halted" and field "is_a_template"="false"`)
	gao := "guest-agent-operation"
	none := map[string]any{}
	a, b, c := running[0], running[1], running[2]
	p.expectErrors([]errorCase{
		{"bad VM", "VM.call_plugin", []any{"OpaqueRef:nope", gao, "request-rdp-on", none}, []string{"HANDLE_INVALID", "VM", "OpaqueRef:nope"}},
		{"halted VM", "VM.call_plugin", []any{halted, gao, "request-rdp-on", none}, []string{"VM_BAD_POWER_STATE", halted, "running", "halted"}},
		{"other plugin", "VM.call_plugin", []any{a, "echo.py", "main", none}, []string{"XENAPI_MISSING_PLUGIN", "echo.py"}},
		{"no guest agent feature", "VM.call_plugin", []any{a, gao, "request-rdp-on", none}, []string{"XENAPI_PLUGIN_FAILURE", "failed to execute fn",
			`The requested fn "request-rdp-on" of plugin "guest-agent-operation" could not be executed for lack of guest agent control feature.`,
			`The requested fn "request-rdp-on" of plugin "guest-agent-operation" could not be executed for lack of guest agent control feature.`}},
		{"unknown function", "VM.call_plugin", []any{b, gao, "reboot", none}, []string{"XENAPI_PLUGIN_FAILURE", "failed to find fn",
			`The requested fn "reboot" could not be found in plugin "guest-agent-operation".`,
			`The requested fn "reboot" could not be found in plugin "guest-agent-operation".`}},
		{"run-script not allowed by the pool", "VM.call_plugin", []any{c, gao, "run-script", none}, []string{"FEATURE_RESTRICTED"}},
	})

	// One call per VM every 10 seconds, counted once the plugin is found.
	_, err := p.call("VM.call_plugin", a, gao, "request-rdp-off", none)
	require.Len(t, err, 4)
	assert.Equal(t, []string{"VM_CALL_PLUGIN_RATE_LIMIT", a, "10."}, err[:3])
	assert.Empty(t, xapi.Map(p.get("VM", a), "current_operations"), "the operation is forgotten")

	pool := p.first("pool", "true")
	p.ok("pool.add_to_other_config", pool, "allow_guest_agent_run_script", "true")
	vm := running[3]
	_, err = p.call("VM.call_plugin", vm, gao, "run-script", map[string]any{"username": "u", "password": "p"})
	assert.Equal(t, []string{"XENAPI_PLUGIN_FAILURE", "missing argument", "", "Argument script is required."}, err)
}

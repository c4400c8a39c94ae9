package cluster_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/xapisim/xapisim/cluster"
)

func TestObserverSetters(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	obs := p.ok("Observer.create", record("name_label", "trace")).(string)
	host := p.first("host", "true")
	longKey := strings.Repeat("a", 256)

	for _, tc := range []struct {
		field string
		value any
	}{
		{"hosts", []any{host}},
		{"hosts", []any{}},
		{"enabled", true},
		{"attributes", map[string]any{"xs.pool": "p1", "a.b_c9": strings.Repeat("v", 4095), "k" + longKey[:252] + "z": ""}},
		{"endpoints", []any{"bugtool"}},
		{"components", []any{"xapi", "xenopsd", "xapi-clusterd", "smapi"}},
	} {
		p.ok("Observer.set_"+tc.field, obs, tc.value)
		assert.Equal(t, tc.value, p.ok("Observer.get_"+tc.field, obs), tc.field)
	}

	p.expectErrors([]errorCase{
		{"unknown host", "Observer.set_hosts", []any{obs, []any{host, "OpaqueRef:nope"}}, []string{"INVALID_VALUE", "host", "OpaqueRef:nope"}},
		{"bad host before bad observer", "Observer.set_hosts", []any{"OpaqueRef:x", []any{"OpaqueRef:nope"}}, []string{"INVALID_VALUE", "host", "OpaqueRef:nope"}},
		{"hosts of bogus observer", "Observer.set_hosts", []any{"OpaqueRef:x", []any{host}}, []string{"HANDLE_INVALID", "Observer", "OpaqueRef:x"}},
		{"enabled of bogus observer", "Observer.set_enabled", []any{"OpaqueRef:x", false}, []string{"HANDLE_INVALID", "Observer", "OpaqueRef:x"}},
		{"upper-case key", "Observer.set_attributes", []any{obs, map[string]any{"Key": "v"}}, []string{"INVALID_VALUE", "attributes", "Key:v"}},
		{"one-letter key", "Observer.set_attributes", []any{obs, map[string]any{"k": "v"}}, []string{"INVALID_VALUE", "attributes", "k:v"}},
		{"key ending in a dot", "Observer.set_attributes", []any{obs, map[string]any{"ab.": "v"}}, []string{"INVALID_VALUE", "attributes", "ab.:v"}},
		{"key too long", "Observer.set_attributes", []any{obs, map[string]any{longKey: "v"}}, []string{"INVALID_VALUE", "attributes", longKey + ":v"}},
		{"value too long", "Observer.set_attributes", []any{obs, map[string]any{"ab": strings.Repeat("v", 4096)}}, []string{"INVALID_VALUE", "attributes", "ab:" + strings.Repeat("v", 4096)}},
		{"attributes of bogus observer", "Observer.set_attributes", []any{"OpaqueRef:x", map[string]any{}}, []string{"HANDLE_INVALID", "Observer", "OpaqueRef:x"}},
		{"http endpoint disabled", "Observer.set_endpoints", []any{obs, []any{"bugtool", "http://10.0.0.9:4318/v1/traces"}}, []string{"INVALID_VALUE", "endpoint", "http://10.0.0.9:4318/v1/traces"}},
		{"https endpoint disabled", "Observer.set_endpoints", []any{obs, []any{"https://otel.example.com/"}}, []string{"INVALID_VALUE", "endpoint", "https://otel.example.com/"}},
		{"not a URL", "Observer.set_endpoints", []any{obs, []any{"file"}}, []string{"INVALID_VALUE", "endpoint", "file"}},
		{"endpoints of bogus observer", "Observer.set_endpoints", []any{"OpaqueRef:x", []any{}}, []string{"HANDLE_INVALID", "Observer", "OpaqueRef:x"}},
		{"unknown component", "Observer.set_components", []any{obs, []any{"xapi", "qemu"}}, []string{"INVALID_VALUE", "component", "qemu"}},
		{"components of bogus observer", "Observer.set_components", []any{"OpaqueRef:x", []any{}}, []string{"HANDLE_INVALID", "Observer", "OpaqueRef:x"}},
	})
	// Failed calls change nothing.
	assert.Equal(t, []any{"bugtool"}, p.ok("Observer.get_endpoints", obs))
	assert.Equal(t, []any{}, p.ok("Observer.get_hosts", obs))
}

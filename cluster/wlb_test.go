package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/xapisim/xapisim/cluster"
)

func TestWLBWithoutServer(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 2})
	pool := p.first("pool", "true")
	host := p.first("host", "true")
	vm := p.first("VM", `field "is_control_domain"="false"`)
	initialize := func(url string) []any { return []any{url, "wlb", "pw", "root", "pw"} }
	notInitialized := []string{"WLB_NOT_INITIALIZED"}
	p.expectErrors([]errorCase{
		{"refused", "pool.initialize_wlb", initialize("10.0.0.9:8012"), []string{"WLB_CONNECTION_REFUSED"}},
		{"unknown host", "pool.initialize_wlb", initialize("wlb.example.com:8012"), []string{"WLB_UNKNOWN_HOST"}},
		{"no port", "pool.initialize_wlb", initialize("10.0.0.9"), []string{"WLB_URL_INVALID", "10.0.0.9"}},
		{"scheme", "pool.initialize_wlb", initialize("https://10.0.0.9:8012"), []string{"WLB_URL_INVALID", "https://10.0.0.9:8012"}},
		{"empty", "pool.initialize_wlb", initialize(""), []string{"WLB_URL_INVALID", ""}},
		{"deconfigure", "pool.deconfigure_wlb", nil, notInitialized},
		{"send configuration", "pool.send_wlb_configuration", []any{map[string]any{"a": "b"}}, notInitialized},
		{"retrieve configuration", "pool.retrieve_wlb_configuration", nil, notInitialized},
		{"pool recommendations", "pool.retrieve_wlb_recommendations", nil, notInitialized},
		{"VM recommendations", "pool.retrieve_wlb_recommendations", nil, notInitialized},
		{"VM recommendations", "VM.retrieve_wlb_recommendations", []any{vm}, notInitialized},
		{"bogus VM", "VM.retrieve_wlb_recommendations", []any{bogus}, []string{"HANDLE_INVALID", "VM", bogus}},
		{"evacuation", "host.retrieve_wlb_evacuate_recommendations", []any{host}, notInitialized},
		{"bogus host", "host.retrieve_wlb_evacuate_recommendations", []any{bogus}, []string{"HANDLE_INVALID", "host", bogus}},
		{"test post to an address", "pool.send_test_post", []any{"10.0.0.9", int64(443), "x"}, []string{"INTERNAL_ERROR", `Stunnel.Stunnel_error("Connection refused")`}},
		{"test post to a name", "pool.send_test_post", []any{"example.com", int64(443), "x"}, []string{"INTERNAL_ERROR", `Stunnel.Stunnel_error("No host resolved")`}},
		{"archive target", "pool.test_archive_target", []any{pool, map[string]any{}}, []string{"MESSAGE_REMOVED"}},
	})

	// A pool whose WLB URL is set (as a server's answer would leave it) asks the server.
	p.edit("pool", pool, "wlb_url", func(any) any { return "10.0.0.9:8012" })
	p.expectErrors([]errorCase{
		{"send configuration", "pool.send_wlb_configuration", []any{map[string]any{}}, []string{"WLB_CONNECTION_REFUSED"}},
		{"retrieve configuration", "pool.retrieve_wlb_configuration", nil, []string{"WLB_CONNECTION_REFUSED"}},
		{"disabled", "pool.retrieve_wlb_recommendations", nil, []string{"WLB_DISABLED"}},
		{"VM disabled", "VM.retrieve_wlb_recommendations", []any{vm}, []string{"WLB_DISABLED"}},
		{"evacuation disabled", "host.retrieve_wlb_evacuate_recommendations", []any{host}, []string{"WLB_DISABLED"}},
	})
	p.ok("pool.set_wlb_enabled", pool, true)
	p.expectErrors([]errorCase{
		{"recommendations", "pool.retrieve_wlb_recommendations", nil, []string{"WLB_CONNECTION_REFUSED"}},
		{"VM recommendations", "VM.retrieve_wlb_recommendations", []any{vm}, []string{"WLB_CONNECTION_REFUSED"}},
		{"evacuation", "host.retrieve_wlb_evacuate_recommendations", []any{host}, []string{"WLB_CONNECTION_REFUSED"}},
	})
	p.edit("pool", pool, "wlb_url", func(any) any { return "wlb.example.com:8012" })
	p.expectErrors([]errorCase{{"unknown server", "pool.retrieve_wlb_configuration", nil, []string{"WLB_UNKNOWN_HOST"}}})
	// Deconfiguring clears the configuration even though the server cannot be told.
	p.ok("pool.deconfigure_wlb")
	rec := p.ok("pool.get_record", pool).(map[string]any)
	assert.Equal(t, "", rec["wlb_url"])
	assert.Equal(t, false, rec["wlb_enabled"])

	p.restrict("restrict_wlb", "true")
	p.expectErrors([]errorCase{
		{"unlicensed initialize", "pool.initialize_wlb", initialize("10.0.0.9:8012"), []string{"LICENCE_RESTRICTION", "WLB"}},
		{"unlicensed configuration", "pool.retrieve_wlb_configuration", nil, []string{"LICENCE_RESTRICTION", "WLB"}},
		{"unlicensed evacuation", "host.retrieve_wlb_evacuate_recommendations", []any{host}, []string{"LICENCE_RESTRICTION", "WLB"}},
	})
}

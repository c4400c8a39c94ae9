package cluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
)

// edit sets a field directly in the store, for states no call reaches (licences,
// another network backend).
func (p *pool) edit(class, ref, field string, fn func(old any) any) {
	p.t.Helper()
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		o := tx.Get(class, ref).Clone()
		xapi.Set(o, field, fn(o.Fields[p.srv.Schema.Class(class).Field(field).Index]))
		tx.Put(o)
		return nil
	})
	require.NoError(p.t, err)
}

func (p *pool) restrict(key, value string) {
	p.edit("pool", p.first("pool", "true"), "restrictions", func(old any) any {
		m := xapi.CopyMap(old.(map[string]any))
		m[key] = value
		return m
	})
}

func (p *pool) networkBackend(backend string) {
	master := p.ok("pool.get_master", p.first("pool", "true")).(string)
	p.edit("host", master, "software_version", func(old any) any {
		m := xapi.CopyMap(old.(map[string]any))
		m["network_backend"] = backend
		return m
	})
}

const bogus = "OpaqueRef:nope"

// otherHost is a host that is not the given one.
func (p *pool) otherHost(not string) string {
	p.t.Helper()
	for _, h := range p.where("host", "true") {
		if h != not {
			return h
		}
	}
	p.t.Fatal("one host only")
	return ""
}

func TestPoolIGMPSnoopingAndVSwitch(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	pool := p.first("pool", "true")
	p.ok("pool.set_igmp_snooping_enabled", pool, true)
	assert.Equal(t, true, p.ok("pool.get_igmp_snooping_enabled", pool))

	p.ok("pool.set_vswitch_controller", "10.0.0.200")
	assert.Equal(t, "10.0.0.200", p.ok("pool.get_vswitch_controller", pool))
	ctls := p.ok("SDN_controller.get_all").([]any)
	require.Len(t, ctls, 1)
	rec := p.ok("SDN_controller.get_record", ctls[0]).(map[string]any)
	assert.Equal(t, "ssl", rec["protocol"])
	assert.Equal(t, "10.0.0.200", rec["address"])
	assert.EqualValues(t, "6632", rec["port"].(interface{ String() string }).String())
	p.ok("pool.set_vswitch_controller", "10.0.0.200")
	assert.Equal(t, ctls, p.ok("SDN_controller.get_all"), "the same address changes nothing")
	p.ok("pool.set_vswitch_controller", "10.0.0.201")
	assert.Len(t, p.ok("SDN_controller.get_all"), 1, "a new address replaces the controller")
	p.ok("pool.set_vswitch_controller", "")
	assert.Empty(t, p.ok("SDN_controller.get_all"))
	assert.Equal(t, "", p.ok("pool.get_vswitch_controller", pool))

	p.expectErrors([]errorCase{
		{"bogus pool", "pool.set_igmp_snooping_enabled", []any{bogus, true}, []string{"HANDLE_INVALID", "pool", bogus}},
		{"not an IPv4 address", "pool.set_vswitch_controller", []any{"fe80::1"}, []string{"INVALID_IP_ADDRESS_SPECIFIED", "address"}},
		{"not an address", "pool.set_vswitch_controller", []any{"controller"}, []string{"INVALID_IP_ADDRESS_SPECIFIED", "address"}},
	})

	// Two controllers (made by hand): xapi forgets one, records the address, then refuses.
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		for range 2 {
			tx.Put(p.srv.NewObject("SDN_controller"))
		}
		return nil
	})
	require.NoError(t, err)
	p.expectErrors([]errorCase{{"a second controller", "pool.set_vswitch_controller", []any{"10.0.0.9"},
		[]string{"OPERATION_NOT_ALLOWED", "SDN controller has been configured. Please forget it first."}}})
	assert.Equal(t, "10.0.0.9", p.ok("pool.get_vswitch_controller", pool))
	assert.Len(t, p.ok("SDN_controller.get_all"), 1)

	p.restrict("restrict_igmp_snooping", "true")
	p.expectErrors([]errorCase{{"not licensed", "pool.set_igmp_snooping_enabled", []any{pool, true}, []string{"LICENCE_RESTRICTION", "IGMP_snooping"}}})
	p.ok("pool.set_igmp_snooping_enabled", pool, false)
	p.networkBackend("bridge")
	p.expectErrors([]errorCase{
		{"licence first", "pool.set_igmp_snooping_enabled", []any{pool, true}, []string{"LICENCE_RESTRICTION", "IGMP_snooping"}},
		{"linux bridge", "pool.set_igmp_snooping_enabled", []any{pool, false}, []string{"OPENVSWITCH_NOT_ACTIVE"}},
		{"linux bridge controller", "pool.set_vswitch_controller", []any{"10.0.0.1"}, []string{"OPERATION_NOT_ALLOWED", "host not configured for vswitch operation"}},
	})
}

func TestPoolGuestAgentConfig(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 0})
	pool := p.first("pool", "true")
	p.ok("pool.add_to_guest_agent_config", pool, "auto_update_enabled", "true")
	p.ok("pool.add_to_guest_agent_config", pool, "auto_update_url", "https://updates.example.com/agent")
	assert.Equal(t, map[string]any{"auto_update_enabled": "true", "auto_update_url": "https://updates.example.com/agent"},
		p.ok("pool.get_guest_agent_config", pool))
	p.ok("pool.remove_from_guest_agent_config", pool, "auto_update_url")
	p.ok("pool.remove_from_guest_agent_config", pool, "absent")
	assert.Equal(t, map[string]any{"auto_update_enabled": "true"}, p.ok("pool.get_guest_agent_config", pool))
	p.ok("pool.add_to_guest_agent_config", pool, "auto_update_url", "http://x")

	p.expectErrors([]errorCase{
		{"unknown key", "pool.add_to_guest_agent_config", []any{pool, "colour", "red"}, []string{"INVALID_VALUE", "guest_agent_config", "colour = red"}},
		{"empty key", "pool.add_to_guest_agent_config", []any{pool, "", ""}, []string{"INVALID_VALUE", "guest_agent_config", " = "}},
		{"not a bool", "pool.add_to_guest_agent_config", []any{pool, "auto_update_enabled", "yes"}, []string{"INVALID_VALUE", "guest_agent_config", "auto_update_enabled = yes"}},
		{"not http", "pool.add_to_guest_agent_config", []any{pool, "auto_update_url", "ftp://x"}, []string{"INVALID_VALUE", "guest_agent_config", "auto_update_url = ftp://x"}},
		{"no scheme", "pool.add_to_guest_agent_config", []any{pool, "auto_update_url", "updates.example.com"}, []string{"INVALID_VALUE", "guest_agent_config", "auto_update_url = updates.example.com"}},
		{"key present", "pool.add_to_guest_agent_config", []any{pool, "auto_update_enabled", "false"}, []string{"MAP_DUPLICATE_KEY", "pool", "guest_agent_config", pool, "auto_update_enabled"}},
		{"bogus pool", "pool.add_to_guest_agent_config", []any{bogus, "colour", "red"}, []string{"HANDLE_INVALID", "pool", bogus}},
		{"bogus pool remove", "pool.remove_from_guest_agent_config", []any{bogus, "x"}, []string{"HANDLE_INVALID", "pool", bogus}},
	})
}

func TestPoolAuthThreadsAndUpdateSync(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 0})
	pool := p.first("pool", "true")
	p.ok("pool.set_local_auth_max_threads", pool, int64(4))
	p.ok("pool.set_ext_auth_max_threads", pool, int64(2))
	assert.EqualValues(t, "8", jsonInt(p.ok("pool.get_local_auth_max_threads", pool)), "xapi resizes the thread pool, not the field")

	p.ok("pool.configure_update_sync", pool, "weekly", int64(6))
	assert.Equal(t, "weekly", p.ok("pool.get_update_sync_frequency", pool))
	assert.EqualValues(t, "6", jsonInt(p.ok("pool.get_update_sync_day", pool)))
	p.ok("pool.configure_update_sync", pool, "daily", int64(3))
	assert.Equal(t, "daily", p.ok("pool.get_update_sync_frequency", pool))
	assert.EqualValues(t, "0", jsonInt(p.ok("pool.get_update_sync_day", pool)), "daily ignores the day")
	p.ok("pool.set_update_sync_enabled", pool, false)

	p.expectErrors([]errorCase{
		{"no local threads", "pool.set_local_auth_max_threads", []any{pool, int64(0)}, []string{"INTERNAL_ERROR", "Invalid argument: The semaphore 'Internal auth' must have at least 1 resource available, requested: 0"}},
		{"no external threads", "pool.set_ext_auth_max_threads", []any{pool, int64(-1)}, []string{"INTERNAL_ERROR", "Invalid argument: The semaphore 'External auth' must have at least 1 resource available, requested: -1"}},
		{"bogus pool threads", "pool.set_ext_auth_max_threads", []any{bogus, int64(1)}, []string{"HANDLE_INVALID", "pool", bogus}},
		{"day 7", "pool.configure_update_sync", []any{pool, "weekly", int64(7)}, []string{"INVALID_UPDATE_SYNC_DAY", "7"}},
		{"day -1", "pool.configure_update_sync", []any{pool, "weekly", int64(-1)}, []string{"INVALID_UPDATE_SYNC_DAY", "-1"}},
		{"bogus pool sync", "pool.configure_update_sync", []any{bogus, "daily", int64(0)}, []string{"HANDLE_INVALID", "pool", bogus}},
		{"no repositories", "pool.set_update_sync_enabled", []any{pool, true}, []string{"NO_REPOSITORIES_CONFIGURED"}},
		{"bogus pool sync enable", "pool.set_update_sync_enabled", []any{bogus, true}, []string{"HANDLE_INVALID", "pool", bogus}},
	})
	assert.Equal(t, "daily", p.ok("pool.get_update_sync_frequency", pool), "a refused configuration changes nothing")
}

func TestPoolTelemetry(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 0})
	pool := p.first("pool", "true")
	p.ok("pool.reset_telemetry_uuid", pool)
	first := p.ok("pool.get_telemetry_uuid", pool).(string)
	assert.Len(t, p.ok("secret.get_value", first), 36)
	p.ok("pool.reset_telemetry_uuid", pool)
	second := p.ok("pool.get_telemetry_uuid", pool).(string)
	assert.NotEqual(t, first, second)
	_, err := p.call("secret.get_record", first)
	assert.Equal(t, []string{"HANDLE_INVALID", "secret", first}, err, "the old UUID's secret goes")

	soon := time.Now().UTC().Add(24 * time.Hour).Truncate(time.Second)
	p.ok("pool.set_telemetry_next_collection", pool, soon)
	late := time.Now().UTC().Add(15 * 24 * time.Hour).Truncate(time.Second)
	p.expectErrors([]errorCase{
		{"later than two weeks (weekly)", "pool.set_telemetry_next_collection", []any{pool, late}, []string{"TELEMETRY_NEXT_COLLECTION_TOO_LATE", late.Format(time.RFC3339)}},
		{"bogus pool", "pool.set_telemetry_next_collection", []any{bogus, soon}, []string{"HANDLE_INVALID", "pool", bogus}},
		{"bogus pool reset", "pool.reset_telemetry_uuid", []any{bogus}, []string{"HANDLE_INVALID", "pool", bogus}},
	})
	p.edit("pool", pool, "telemetry_frequency", func(any) any { return "monthly" })
	p.ok("pool.set_telemetry_next_collection", pool, late)
}

func TestPoolSecretsCertificatesHTTPS(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	pool := p.first("pool", "true")
	p.ok("pool.sync_database")
	p.ok("pool.rotate_secret")
	assert.Equal(t, false, p.ok("pool.get_is_psr_pending", pool))
	assert.Equal(t, []any{}, p.ok("pool.certificate_list"))
	assert.Equal(t, []any{}, p.ok("pool.crl_list"))

	p.ok("pool.set_https_only", pool, true)
	for _, h := range p.where("host", "true") {
		assert.Equal(t, true, p.ok("host.get_https_only", h))
	}
	master := p.ok("pool.get_master", pool).(string)
	p.ok("host.set_https_only", master, false)
	assert.Equal(t, false, p.ok("host.get_https_only", master))

	other := p.otherHost(master)
	p.ok("host.disable", other)
	p.ok("host.shutdown", other)
	p.expectErrors([]errorCase{
		{"a host is down", "pool.rotate_secret", nil, []string{"CANNOT_CONTACT_HOST", other}},
		{"https on a host that is down", "host.set_https_only", []any{other, true}, []string{"HOST_OFFLINE", other}},
		{"https in a pool with a host down", "pool.set_https_only", []any{pool, false}, []string{"HOST_OFFLINE", other}},
		{"bogus host", "host.set_https_only", []any{bogus, true}, []string{"HANDLE_INVALID", "host", bogus}},
		// xapi never reads the pool ref: the hosts answer.
		{"bogus pool", "pool.set_https_only", []any{bogus, true}, []string{"HOST_OFFLINE", other}},
	})
	p.ok("host.set_power_on_mode", other, "wake-on-lan", map[string]any{})
	p.ok("host.power_on", other)
	p.ok("pool.rotate_secret")
	p.edit("pool", pool, "other_config", func(old any) any {
		m := xapi.CopyMap(old.(map[string]any))
		m["rolling_upgrade_in_progress"] = "true"
		return m
	})
	p.expectErrors([]errorCase{{"rolling upgrade", "pool.rotate_secret", nil, []string{"NOT_SUPPORTED_DURING_UPGRADE"}}})
	p.edit("pool", pool, "ha_enabled", func(any) any { return true })
	p.expectErrors([]errorCase{{"HA on", "pool.rotate_secret", nil, []string{"HA_IS_ENABLED"}}})
	p.edit("pool", pool, "current_operations", func(any) any { return map[string]any{"OpaqueRef:t": "ha_enable"} })
	p.edit("pool", pool, "ha_enabled", func(any) any { return false })
	p.edit("pool", pool, "other_config", func(any) any { return map[string]any{} })
	p.expectErrors([]errorCase{{"pool busy", "pool.rotate_secret", nil, []string{"INTERNAL_ERROR", "pool operations in progress: [ ha_enable ]"}}})
	p.restrict("restrict_pool_secret_rotation", "true")
	p.expectErrors([]errorCase{{"not licensed", "pool.rotate_secret", nil, []string{"LICENCE_RESTRICTION", "Pool_secret_rotation"}}})
}

func TestPoolRedoLog(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	pool := p.first("pool", "true")
	shared := p.ok("pool.get_default_SR", pool).(string)
	p.ok("pool.enable_redo_log", shared)
	assert.Equal(t, true, p.ok("pool.get_redo_log_enabled", pool))
	vdi := p.ok("pool.get_redo_log_vdi", pool).(string)
	rec := p.ok("VDI.get_record", vdi).(map[string]any)
	assert.Equal(t, "redo_log", rec["type"])
	assert.Equal(t, "Metadata redo-log", rec["name_label"])
	assert.Equal(t, true, rec["sharable"])
	assert.Equal(t, shared, rec["SR"])

	p.ok("pool.disable_redo_log")
	assert.Equal(t, false, p.ok("pool.get_redo_log_enabled", pool))
	assert.Equal(t, vdi, p.ok("pool.get_redo_log_vdi", pool), "the VDI stays recorded")
	p.ok("pool.enable_redo_log", shared)
	assert.Equal(t, vdi, p.ok("pool.get_redo_log_vdi", pool), "the redo log VDI is reused")

	master := p.ok("pool.get_master", pool).(string)
	local := p.first("SR", `field "type"="lvm"`)
	for _, sr := range p.where("SR", `field "type"="lvm"`) {
		if p.ok("PBD.get_host", p.ok("SR.get_PBDs", sr).([]any)[0]) == master {
			local = sr
		}
	}
	// The other host's local SR, made too small for the redo log.
	var small string
	for _, sr := range p.where("SR", `field "type"="lvm"`) {
		if sr != local {
			small = sr
		}
	}
	p.edit("SR", small, "physical_size", func(any) any { return int64(1 << 30) })
	vdis := len(p.ok("VDI.get_all").([]any))
	p.expectErrors([]errorCase{
		{"bogus SR", "pool.enable_redo_log", []any{bogus}, []string{"HANDLE_INVALID", "SR", bogus}},
		{"no room for the VDI", "pool.enable_redo_log", []any{small}, []string{"CANNOT_ENABLE_REDO_LOG", "failed to create a VDI for the redo log on the SR with the given UUID."}},
		{"a local SR is not on every host", "pool.enable_redo_log", []any{local}, []string{"CANNOT_ENABLE_REDO_LOG", "failed to make VDI static."}},
	})
	assert.Len(t, p.ok("VDI.get_all").([]any), vdis+1, "the VDI made on the local SR stays, as in xapi")
	assert.Equal(t, vdi, p.ok("pool.get_redo_log_vdi", pool))
}

func TestPoolCheckUpdateReadiness(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 2})
	pool := p.first("pool", "true")
	assert.Equal(t, []any{}, p.ok("pool.check_update_readiness", pool, false))

	master := p.ok("pool.get_master", pool).(string)
	other := p.otherHost(master)
	for _, vm := range p.where("VM", `field "resident_on"="`+other+`" and field "is_control_domain"="false"`) {
		p.ok("VM.hard_shutdown", vm)
	}
	p.ok("host.disable", other)
	p.ok("host.shutdown", other)
	assert.Equal(t, []any{[]any{"HOST_OFFLINE", other}}, p.ok("pool.check_update_readiness", pool, false))

	// A VM that can run nowhere else keeps its host from being evacuated.
	vm := p.first("VM", `field "power_state"="Running" and field "is_control_domain"="false"`)
	want := []any{[]any{"HOST_OFFLINE", other}}
	for vmRef, e := range p.ok("host.get_vms_which_prevent_evacuation", master).(map[string]any) {
		_ = vmRef
		want = append(want, e)
	}
	assert.Greater(t, len(want), 1, "with one host up, %s cannot move", vm)
	assert.ElementsMatch(t, want, p.ok("pool.check_update_readiness", pool, true))

	p.edit("pool", pool, "ha_enabled", func(any) any { return true })
	got := p.ok("pool.check_update_readiness", pool, false).([]any)
	assert.Equal(t, []any{"HA_IS_ENABLED"}, got[0])
	p.restrict("restrict_updates", "true")
	p.expectErrors([]errorCase{
		{"not licensed", "pool.check_update_readiness", []any{pool, false}, []string{"LICENCE_RESTRICTION", "Updates"}},
		{"bogus pool", "pool.check_update_readiness", []any{bogus, false}, []string{"HANDLE_INVALID", "pool", bogus}},
	})
}

// jsonInt is an int64 as the JSON codec returns it (a json.Number) in its string form.
func jsonInt(v any) string { return v.(interface{ String() string }).String() }

package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/xapisim/xapisim/xapi"
)

func TestHostApplyUpdates(t *testing.T) {
	p, master, up, down := downHost(t)
	bad := "OpaqueRef:nope"
	pool := p.first("pool", "true")
	enabled := func(h string) bool { return xapi.Bool(p.get("host", h), "enabled") }
	repo := func(name string, update bool) string {
		return p.ok("Repository.introduce", name, "", "https://repo.example.com/"+name, "https://repo.example.com/src/"+name, update, "").(string)
	}
	base, updates, other := repo("base", false), repo("updates", true), repo("other", true)

	p.setField("pool", pool, "restrictions", map[string]any{"restrict_updates": "true"})
	p.setField("pool", pool, "ha_enabled", true)
	p.expectErrors([]errorCase{
		{"bad host", "host.apply_updates", []any{bad, ""}, []string{"HANDLE_INVALID", "host", bad}},
		{"unlicensed", "host.apply_updates", []any{up, ""}, []string{"LICENCE_RESTRICTION", "Updates"}},
	})
	p.setField("pool", pool, "restrictions", map[string]any{"restrict_updates": "false"})
	p.setField("pool", pool, "current_operations", map[string]any{"OpaqueRef:other": "sync_updates"})
	p.expectErrors([]errorCase{
		{"pool busy", "host.apply_updates", []any{up, ""}, []string{"SYNC_UPDATES_IN_PROGRESS"}},
	})
	p.setField("pool", pool, "current_operations", map[string]any{})
	p.expectErrors([]errorCase{
		{"HA on", "host.apply_updates", []any{up, ""}, []string{"HA_IS_ENABLED"}},
	})
	assert.True(t, enabled(up), "HA's refusal comes before disabling")
	p.setField("pool", pool, "ha_enabled", false)

	p.setField("host", up, "pending_guidances", []any{"reboot_host"})
	p.expectErrors([]errorCase{
		{"host down", "host.apply_updates", []any{down, ""}, []string{"HOST_NOT_LIVE"}},
		{"pending guidance", "host.apply_updates", []any{up, ""}, []string{"HOST_PENDING_MANDATORY_GUIDANCE_NOT_EMPTY", up}},
		{"no repository", "host.apply_updates", []any{master, ""}, []string{"NO_REPOSITORY_ENABLED"}},
	})
	assert.False(t, enabled(up), "the host stays disabled")
	assert.False(t, enabled(master))
	h := p.get("host", master)
	assert.Empty(t, xapi.Map(h, "current_operations"))
	assert.Contains(t, xapi.Get(h, "allowed_operations"), "apply_updates")
	assert.Empty(t, xapi.Map(p.get("pool", pool), "current_operations"))

	p.setField("pool", pool, "repositories", []any{base})
	p.expectErrors([]errorCase{{"no update repository", "host.apply_updates", []any{master, ""}, []string{"NO_REPOSITORY_ENABLED"}}})
	p.setField("pool", pool, "repositories", []any{base, updates, other})
	p.expectErrors([]errorCase{{"two update repositories", "host.apply_updates", []any{master, ""}, []string{"MULTIPLE_UPDATE_REPOSITORIES_ENABLED"}}})
	p.setField("pool", pool, "repositories", []any{base, updates})
	p.expectErrors([]errorCase{
		{"never synced", "host.apply_updates", []any{master, ""}, []string{"UPDATEINFO_HASH_MISMATCH"}},
		{"never synced, any hash", "host.apply_updates", []any{master, "abc"}, []string{"UPDATEINFO_HASH_MISMATCH"}},
	})
	p.setField("Repository", updates, "hash", "abc")
	p.expectErrors([]errorCase{
		{"empty hash", "host.apply_updates", []any{master, ""}, []string{"UPDATEINFO_HASH_MISMATCH"}},
		{"other hash", "host.apply_updates", []any{master, "abd"}, []string{"UPDATEINFO_HASH_MISMATCH"}},
		{"no repository data", "host.apply_updates", []any{master, "abc"}, []string{"APPLY_UPDATES_FAILED", master}},
	})
}

func TestEmergencyClearMandatoryGuidance(t *testing.T) {
	p, master, up, _ := downHost(t)
	p.ok("host.emergency_clear_mandatory_guidance")
	p.setField("host", master, "pending_guidances", []any{"reboot_host", "restart_toolstack"})
	p.setField("host", up, "pending_guidances", []any{"reboot_host"})
	p.ok("host.emergency_clear_mandatory_guidance")
	assert.Empty(t, xapi.Refs(p.get("host", master), "pending_guidances"))
	assert.Equal(t, []string{"reboot_host"}, xapi.Refs(p.get("host", up), "pending_guidances"), "only the coordinator's")
}

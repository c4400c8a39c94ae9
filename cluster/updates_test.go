package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/xapisim/xapisim/xapi"
)

// updateFixture is a pool with a host down, an update VDI and an update with its patch.
func updateFixture(t *testing.T) (p *pool, master, up, down, vdi, update, patch string) {
	p, master, up, down = downHost(t)
	nfs := p.first("SR", `field "type"="nfs"`)
	vdi = p.ok("VDI.create", vdiRec("SR", nfs, "virtual_size", int64(1<<20), "type", "user")).(string)
	update = p.put("pool_update", "name_label", "XS82E001", "vdi", vdi, "installation_size", int64(1<<20))
	patch = p.put("pool_patch", "name_label", "XS82E001", "pool_update", update)
	return
}

func TestPoolUpdate(t *testing.T) {
	p, master, up, down, vdi, update, patch := updateFixture(t)
	bad := "OpaqueRef:nope"
	mountFailed := []string{"UPDATE_PRECHECK_FAILED_UNKNOWN_ERROR", "XS82E001", "['INVALID_UPDATE', 'Please upload a valid package.']"}
	nfs := p.first("SR", `field "type"="nfs"`)
	cbt := p.ok("VDI.create", vdiRec("SR", nfs, "virtual_size", int64(1<<20), "type", "user")).(string)
	p.setField("VDI", cbt, "type", "cbt_metadata")
	big := p.put("pool_update", "name_label", "big", "vdi", vdi, "installation_size", int64(13<<30))
	lost := p.put("pool_update", "name_label", "lost", "vdi", bad)
	p.setField("host", up, "updates", []any{update})
	p.expectErrors([]errorCase{
		{"introduce: bad VDI", "pool_update.introduce", []any{bad}, []string{"HANDLE_INVALID", "VDI", bad}},
		{"introduce: CBT metadata", "pool_update.introduce", []any{cbt}, []string{"VDI_INCOMPATIBLE_TYPE", cbt, "cbt_metadata"}},
		{"introduce: no ISO mounts", "pool_update.introduce", []any{vdi}, []string{"INVALID_UPDATE", "Please upload a valid package."}},
		{"precheck: bad host", "pool_update.precheck", []any{update, bad}, []string{"HANDLE_INVALID", "host", bad}},
		{"precheck: host down", "pool_update.precheck", []any{update, down}, []string{"HOST_OFFLINE", down}},
		{"precheck: bad update", "pool_update.precheck", []any{bad, master}, []string{"HANDLE_INVALID", "pool_update", bad}},
		{"precheck: VDI gone", "pool_update.precheck", []any{lost, master}, []string{"CANNOT_FIND_UPDATE"}},
		{"precheck: too big", "pool_update.precheck", []any{big, master}, []string{"UPDATE_PRECHECK_FAILED_OUT_OF_SPACE", "big", "12884901888", "13958643712"}},
		{"precheck: mount fails", "pool_update.precheck", []any{update, master}, mountFailed},
		{"apply: host down", "pool_update.apply", []any{update, down}, []string{"HOST_OFFLINE", down}},
		{"apply: already applied", "pool_update.apply", []any{update, up}, []string{"UPDATE_ALREADY_APPLIED", update}},
		{"apply: precheck fails", "pool_update.apply", []any{update, master}, mountFailed},
		{"pool_apply: bad", "pool_update.pool_apply", []any{bad}, []string{"HANDLE_INVALID", "pool_update", bad}},
	})
	_, err := p.call("pool_update.pool_apply", update)
	assert.Equal(t, "UPDATE_POOL_APPLY_FAILED", err[0])
	assert.ElementsMatch(t, []string{master, down}, err[1:])

	p.setField("pool_update", update, "hosts", []any{master, up, down})
	p.expectErrors([]errorCase{
		{"pool_apply: everywhere", "pool_update.pool_apply", []any{update}, []string{"UPDATE_ALREADY_APPLIED_IN_POOL", update}},
		{"destroy: applied", "pool_update.destroy", []any{update}, []string{"UPDATE_IS_APPLIED"}},
		{"destroy: no patch", "pool_update.destroy", []any{big}, []string{"INTERNAL_ERROR", "Invalid state"}},
	})

	// pool_clean destroys the VDI once; again is a no-op.
	p.ok("pool_update.pool_clean", update)
	assert.Nil(t, p.srv.Store.Get("VDI", vdi))
	assert.Equal(t, "OpaqueRef:NULL", xapi.Str(p.get("pool_update", update), "vdi"))
	p.ok("pool_update.pool_clean", update)
	p.expectErrors([]errorCase{{"precheck after clean", "pool_update.precheck", []any{update, master}, []string{"CANNOT_FIND_UPDATE"}}})

	// destroy takes the patch and the reboot reminders.
	p.setField("pool_update", update, "hosts", []any{})
	p.setField("host", master, "updates_requiring_reboot", []any{update})
	p.ok("pool_update.destroy", update)
	assert.Nil(t, p.srv.Store.Get("pool_update", update))
	assert.Nil(t, p.srv.Store.Get("pool_patch", patch))
	assert.Empty(t, xapi.Refs(p.get("host", master), "updates_requiring_reboot"))
}

func TestPoolPatch(t *testing.T) {
	p, master, up, down, vdi, update, patch := updateFixture(t)
	bad := "OpaqueRef:nope"
	orphan := p.put("pool_patch", "name_label", "orphan")
	mountFailed := []string{"UPDATE_PRECHECK_FAILED_UNKNOWN_ERROR", "XS82E001", "['INVALID_UPDATE', 'Please upload a valid package.']"}
	p.setField("host", up, "updates", []any{update})
	hp := p.put("host_patch", "host", down, "pool_patch", patch)
	hp2 := p.put("host_patch", "host", master, "pool_patch", patch)
	p.expectErrors([]errorCase{
		{"precheck: host down", "pool_patch.precheck", []any{patch, down}, []string{"HOST_OFFLINE", down}},
		{"precheck: no update", "pool_patch.precheck", []any{orphan, master}, []string{"HANDLE_INVALID", "pool_update", "OpaqueRef:NULL"}},
		{"precheck: bad patch", "pool_patch.precheck", []any{bad, master}, []string{"HANDLE_INVALID", "pool_patch", bad}},
		{"precheck", "pool_patch.precheck", []any{patch, master}, mountFailed},
		{"apply: applied", "pool_patch.apply", []any{patch, up}, []string{"UPDATE_ALREADY_APPLIED", update}},
		{"apply", "pool_patch.apply", []any{patch, master}, mountFailed},
		{"pool_apply stops at the first host", "pool_patch.pool_apply", []any{patch}, mountFailed},
		{"clean_on_host: down", "pool_patch.clean_on_host", []any{patch, down}, []string{"HOST_OFFLINE", down}},
		{"pool_clean: no update", "pool_patch.pool_clean", []any{orphan}, []string{"HANDLE_INVALID", "pool_update", "OpaqueRef:NULL"}},
		{"destroy: no update", "pool_patch.destroy", []any{orphan}, []string{"HANDLE_INVALID", "pool_update", "OpaqueRef:NULL"}},
		{"host_patch.apply: down", "host_patch.apply", []any{hp}, []string{"HOST_OFFLINE", down}},
		{"host_patch.apply: deprecated", "host_patch.apply", []any{hp2}, []string{"MESSAGE_DEPRECATED"}},
		{"host_patch.destroy: bad", "host_patch.destroy", []any{bad}, []string{"HANDLE_INVALID", "host_patch", bad}},
	})
	assert.False(t, xapi.Bool(p.get("pool_patch", patch), "pool_applied"))
	p.ok("pool_patch.clean", patch)
	p.ok("pool_patch.clean_on_host", patch, master)
	p.ok("pool_patch.pool_clean", patch)
	assert.Nil(t, p.srv.Store.Get("VDI", vdi))
	p.ok("host_patch.destroy", hp)
	assert.Nil(t, p.srv.Store.Get("host_patch", hp))
	p.expectErrors([]errorCase{{"destroy: applied", "pool_patch.destroy", []any{patch}, []string{"UPDATE_IS_APPLIED"}}})
	p.setField("host", up, "updates", []any{})
	p.ok("pool_patch.destroy", patch)
	assert.Nil(t, p.srv.Store.Get("pool_update", update))
}

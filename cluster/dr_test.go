package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
)

func TestDatabaseReplicationChecks(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 3})
	nfs := p.first("SR", `field "type"="nfs"`)
	local := p.first("SR", `field "type"="lvm"`)
	bogus := "OpaqueRef:bogus"
	p.expectErrors([]errorCase{
		{"bogus SR", "SR.enable_database_replication", []any{bogus}, []string{"HANDLE_INVALID", "SR", bogus}},
		{"local SR of one host", "SR.enable_database_replication", []any{local}, []string{"SR_HAS_NO_PBDS", local}},
		{"driver without metadata", "SR.enable_database_replication", []any{nfs}, []string{"SR_OPERATION_NOT_SUPPORTED", nfs}},
		{"disable on a bogus SR", "SR.disable_database_replication", []any{bogus}, []string{"HANDLE_INVALID", "SR", bogus}},
	})
	p.ok("SR.disable_database_replication", nfs) // nothing to disable
	p.restrict("restrict_dr", "true")
	p.expectErrors([]errorCase{{"unlicensed", "SR.enable_database_replication", []any{local}, []string{"LICENCE_RESTRICTION", "DR"}}})
}

func TestDatabaseReplication(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1})
	pool := p.first("pool", "true")
	sr := p.first("SR", `field "type"="lvm"`)
	dom0 := p.first("VM", `field "is_control_domain"="true"`)

	p.ok("SR.enable_database_replication", sr)
	vdis := p.where("VDI", `field "type"="metadata"`)
	require.Len(t, vdis, 1)
	vdi := p.get("VDI", vdis[0])
	assert.Equal(t, "Metadata for DR", xapi.Str(vdi, "name_label"))
	assert.Equal(t, "Used for disaster recovery", xapi.Str(vdi, "name_description"))
	assert.Equal(t, sr, xapi.Str(vdi, "SR"))
	assert.Equal(t, pool, xapi.Str(vdi, "metadata_of_pool"))
	assert.True(t, xapi.Bool(vdi, "metadata_latest"))
	assert.False(t, xapi.Bool(vdi, "sharable"))
	require.Len(t, xapi.Refs(vdi, "VBDs"), 1)
	vbd := p.get("VBD", xapi.Refs(vdi, "VBDs")[0])
	assert.Equal(t, dom0, xapi.Str(vbd, "VM"))
	assert.Equal(t, "RW", xapi.Str(vbd, "mode"))
	assert.True(t, xapi.Bool(vbd, "currently_attached"))

	// Enabling again reuses the VDI and its VBD.
	p.ok("SR.enable_database_replication", sr)
	assert.Equal(t, vdis, p.where("VDI", `field "type"="metadata"`))
	assert.Equal(t, []string{vbd.Ref}, xapi.Refs(p.get("VDI", vdi.Ref), "VBDs"))
	assert.Equal(t, []any{""}, []any{p.ok("VDI.read_database_pool_uuid", vdi.Ref)})

	// A VDI that is not being replicated to gets a fresh VBD.
	p.ok("VBD.unplug", vbd.Ref)
	p.ok("SR.enable_database_replication", sr)
	fresh := xapi.Refs(p.get("VDI", vdi.Ref), "VBDs")
	require.Len(t, fresh, 1)
	assert.NotEqual(t, vbd.Ref, fresh[0])
	assert.True(t, xapi.Bool(p.get("VBD", fresh[0]), "currently_attached"))

	p.ok("SR.disable_database_replication", sr)
	assert.Empty(t, p.where("VDI", `field "type"="metadata"`))
	assert.Nil(t, p.srv.Store.Get("VBD", fresh[0]))
	p.ok("SR.disable_database_replication", sr)
}

func TestDatabaseReplicationLimit(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1})
	sr := p.first("SR", `field "type"="lvm"`)
	dom0 := p.first("VM", `field "is_control_domain"="true"`)
	// Eight metadata VDIs already replicated to (of other SRs, as far as this one knows).
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		for range 8 {
			vdi := p.srv.NewObject("VDI")
			xapi.Set(vdi, "type", "metadata")
			vbd := p.srv.NewObject("VBD")
			for k, v := range map[string]any{"VM": dom0, "VDI": vdi.Ref, "mode": "RW", "currently_attached": true} {
				xapi.Set(vbd, k, v)
			}
			tx.Put(vdi)
			tx.Put(vbd)
		}
		return nil
	})
	require.NoError(t, err)
	p.expectErrors([]errorCase{{"ninth redo log", "SR.enable_database_replication", []any{sr}, []string{"NO_MORE_REDO_LOGS_ALLOWED"}}})
}

func TestOpenDatabase(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1})
	sr := p.first("SR", `field "type"="lvm"`)
	user := p.first("VDI", `field "type"="user"`)
	p.ok("SR.enable_database_replication", sr)
	metadata := p.first("VDI", `field "type"="metadata"`)
	bogus := "OpaqueRef:bogus"
	p.expectErrors([]errorCase{
		{"not a metadata VDI", "VDI.open_database", []any{user}, []string{"VDI_INCOMPATIBLE_TYPE", user, "User"}},
		{"no database to read", "VDI.open_database", []any{metadata}, []string{"COULD_NOT_IMPORT_DATABASE", "Database does not match local schema."}},
		{"bogus", "VDI.open_database", []any{bogus}, []string{"HANDLE_INVALID", "VDI", bogus}},
		{"bogus pool uuid", "VDI.read_database_pool_uuid", []any{bogus}, []string{"HANDLE_INVALID", "VDI", bogus}},
	})
	for _, vdi := range []string{user, metadata} {
		assert.Equal(t, "", p.ok("VDI.read_database_pool_uuid", vdi), vdi)
	}
}

func TestDRTask(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2})
	local := p.first("SR", `field "type"="lvm"`)
	device := map[string]any{"device": "/dev/disk/by-id/scsi-3600508b1001c-part3"}
	uuid := xapi.Str(p.get("SR", local), "uuid")
	bogus := "OpaqueRef:bogus"
	p.expectErrors([]errorCase{
		{"no metadata on nfs", "DR_task.create", []any{"nfs", map[string]any{}, []any{}}, []string{"OPERATION_NOT_ALLOWED", "Disaster recovery not supported on SRs of type nfs"}},
		{"unknown driver", "DR_task.create", []any{"Bogus", map[string]any{}, []any{}}, []string{"INTERNAL_ERROR", `Sm.Unknown_driver("bogus")`}},
		{"probe fails", "DR_task.create", []any{"lvm", map[string]any{}, []any{}}, []string{"SR_BACKEND_FAILURE_90", "", "The request is missing the device parameter", ""}},
		{"destroy bogus", "DR_task.destroy", []any{bogus}, []string{"HANDLE_INVALID", "DR_task", bogus}},
	})
	for _, whitelist := range [][]any{{}, {uuid}} {
		task := p.ok("DR_task.create", "LVM", device, whitelist).(string)
		assert.Empty(t, xapi.Refs(p.get("DR_task", task), "introduced_SRs"), "the pool knows the SR already")
		p.ok("DR_task.destroy", task)
		assert.Nil(t, p.srv.Store.Get("DR_task", task))
	}
	p.restrict("restrict_dr", "true")
	p.expectErrors([]errorCase{{"unlicensed", "DR_task.create", []any{"lvm", device, []any{}}, []string{"LICENCE_RESTRICTION", "DR"}}})
}

func TestVMRecovery(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 3, VMs: 6})
	halted := p.first("VM", `field "power_state"="Halted" and field "is_a_template"="false"`)
	running := p.first("VM", `field "power_state"="Running" and field "is_control_domain"="false"`)
	template := p.first("VM", `field "is_default_template"="true"`)
	srs := map[string]bool{}
	for _, vbd := range xapi.Refs(p.get("VM", halted), "VBDs") {
		if v := p.get("VBD", vbd); xapi.Str(v, "type") != "CD" {
			srs[xapi.Str(p.get("VDI", xapi.Str(v, "VDI")), "SR")] = true
		}
	}
	require.Len(t, srs, 1, "the halted guest's disks are on one SR")
	var sr string
	for sr = range srs {
	}
	me := p.session
	bogus := "OpaqueRef:bogus"

	assert.Equal(t, []any{}, p.ok("VM.get_SRs_required_for_recovery", halted, me))
	p.ok("VM.assert_can_be_recovered", halted, me)
	p.ok("VM.recover", halted, me, true)  // replaced by itself
	p.ok("VM.recover", running, me, true) // skipped
	p.ok("VM.recover", template, me, false)
	assert.Equal(t, "Running", xapi.Str(p.get("VM", running), "power_state"))

	nobody, err := p.srv.NewSession("nobody", "", xapi.Identity{})
	require.NoError(t, err)
	p.expectErrors([]errorCase{
		{"halted VM exists", "VM.recover", []any{halted, me, false}, []string{"VM_TO_IMPORT_IS_NOT_NEWER_VERSION", halted, "0", "0"}},
		{"running VM exists", "VM.recover", []any{running, me, false}, []string{"VM_BAD_POWER_STATE", running, "Halted", "Running"}},
		{"bogus VM", "VM.recover", []any{bogus, me, false}, []string{"HANDLE_INVALID", "VM", bogus}},
		{"bogus session", "VM.recover", []any{halted, bogus, false}, []string{"SESSION_INVALID", bogus}},
		{"session without open_database", "VM.recover", []any{halted, nobody, false}, []string{"RBAC_PERMISSION_DENIED", "VM.recover", "The supplied session does not have the required permissions for VM recovery."}},
		{"bogus VM to assert", "VM.assert_can_be_recovered", []any{bogus, me}, []string{"HANDLE_INVALID", "VM", bogus}},
		{"bogus session to assert", "VM.assert_can_be_recovered", []any{halted, bogus}, []string{"SESSION_INVALID", bogus}},
		{"bogus session to list", "VM.get_SRs_required_for_recovery", []any{halted, bogus}, []string{"SESSION_INVALID", bogus}},
	})

	// The SR detached everywhere: required, and recovery refused before the import.
	for _, pbd := range xapi.Refs(p.get("SR", sr), "PBDs") {
		p.setField("PBD", pbd, "currently_attached", false)
	}
	assert.Equal(t, []any{sr}, p.ok("VM.get_SRs_required_for_recovery", halted, me))
	p.expectErrors([]errorCase{
		{"SR missing", "VM.assert_can_be_recovered", []any{halted, me}, []string{"VM_REQUIRES_SR", halted, sr}},
		{"SR missing on recover", "VM.recover", []any{halted, me, true}, []string{"VM_REQUIRES_SR", halted, sr}},
	})

	p.restrict("restrict_dr", "true")
	p.expectErrors([]errorCase{{"unlicensed", "VM.recover", []any{halted, me, true}, []string{"LICENCE_RESTRICTION", "DR"}}})
}

func TestVMRecoveryClearsIntroducedBy(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 2})
	halted := p.first("VM", `field "power_state"="Halted" and field "is_a_template"="false"`)
	var sr string
	for _, vbd := range xapi.Refs(p.get("VM", halted), "VBDs") {
		if v := p.get("VBD", vbd); xapi.Str(v, "type") != "CD" {
			sr = xapi.Str(p.get("VDI", xapi.Str(v, "VDI")), "SR")
		}
	}
	require.NotEmpty(t, sr)
	p.setField("SR", sr, "introduced_by", "OpaqueRef:some-task")
	p.expectErrors([]errorCase{{"refused: unchanged", "VM.recover", []any{halted, p.session, false}, []string{"VM_TO_IMPORT_IS_NOT_NEWER_VERSION", halted, "0", "0"}}})
	assert.Equal(t, "OpaqueRef:some-task", xapi.Str(p.get("SR", sr), "introduced_by"))
	p.ok("VM.recover", halted, p.session, true)
	assert.Equal(t, "OpaqueRef:NULL", xapi.Str(p.get("SR", sr), "introduced_by"))
}

func TestApplianceRecovery(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 3, VMs: 6})
	halted := p.first("VM", `field "power_state"="Halted" and field "is_a_template"="false"`)
	running := p.first("VM", `field "power_state"="Running" and field "is_control_domain"="false"`)
	me := p.session
	bogus := "OpaqueRef:bogus"
	app := p.ok("VM_appliance.create", record("name_label", "app", "name_description", "")).(string)
	empty := p.ok("VM_appliance.create", record("name_label", "empty", "name_description", "")).(string)
	p.ok("VM.set_appliance", halted, app)
	p.ok("VM.set_appliance", running, app)

	assert.Equal(t, []any{}, p.ok("VM_appliance.get_SRs_required_for_recovery", app, me))
	p.ok("VM_appliance.assert_can_be_recovered", app, me)
	p.ok("VM_appliance.recover", empty, me, false)
	p.expectErrors([]errorCase{
		{"VM of an appliance", "VM.recover", []any{halted, me, true}, []string{"VM_IS_PART_OF_AN_APPLIANCE", halted, app}},
		{"VMs exist", "VM_appliance.recover", []any{app, me, false}, []string{"VM_TO_IMPORT_IS_NOT_NEWER_VERSION", halted, "0", "0"}},
		{"bogus appliance", "VM_appliance.recover", []any{bogus, me, false}, []string{"HANDLE_INVALID", "VM_appliance", bogus}},
		{"bogus session", "VM_appliance.recover", []any{app, bogus, false}, []string{"SESSION_INVALID", bogus}},
		{"bogus appliance to assert", "VM_appliance.assert_can_be_recovered", []any{bogus, me}, []string{"HANDLE_INVALID", "VM_appliance", bogus}},
		{"bogus appliance to list", "VM_appliance.get_SRs_required_for_recovery", []any{bogus, me}, []string{"HANDLE_INVALID", "VM_appliance", bogus}},
	})

	// Every SR detached: each VM's SRs, once each, sorted.
	var want []string
	seen := map[string]bool{}
	for _, vm := range []string{halted, running} {
		for _, vbd := range xapi.Refs(p.get("VM", vm), "VBDs") {
			if v := p.get("VBD", vbd); xapi.Str(v, "type") != "CD" {
				sr := xapi.Str(p.get("VDI", xapi.Str(v, "VDI")), "SR")
				if !seen[sr] {
					seen[sr] = true
					want = append(want, sr)
				}
			}
		}
	}
	for _, pbd := range p.where("PBD", "true") {
		p.setField("PBD", pbd, "currently_attached", false)
	}
	got := p.ok("VM_appliance.get_SRs_required_for_recovery", app, me).([]any)
	assert.ElementsMatch(t, want, got)
	assert.IsNonDecreasing(t, got)
	_, err := p.call("VM_appliance.assert_can_be_recovered", app, me)
	require.NotNil(t, err)
	assert.Equal(t, "VM_REQUIRES_SR", err[0])
	for _, pbd := range p.where("PBD", "true") {
		p.setField("PBD", pbd, "currently_attached", true)
	}

	// Forced: the running VM is skipped and leaves the appliance; the halted one stays.
	p.ok("VM_appliance.recover", app, me, true)
	assert.Equal(t, app, xapi.Str(p.get("VM", halted), "appliance"))
	assert.Equal(t, "OpaqueRef:NULL", xapi.Str(p.get("VM", running), "appliance"))

	p.restrict("restrict_dr", "true")
	p.expectErrors([]errorCase{{"unlicensed", "VM_appliance.recover", []any{app, me, true}, []string{"LICENCE_RESTRICTION", "DR"}}})
}

package cluster_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

// migrationPool is a two-host pool with the refs the migration tests use.
type migrationPool struct {
	*pool
	running, halted          string // web-01 and app-01
	from, to                 string // the running VM's host and the other one
	nfs, iso, toLocal, local string // SRs: shared NFS, ISO, the local SRs of to and from
	mgmt                     string // the management network
}

func newMigrationPool(t *testing.T) *migrationPool {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 6})
	m := &migrationPool{pool: p}
	m.running = p.first("VM", `field "name__label"="web-01"`)
	m.halted = p.first("VM", `field "name__label"="app-01"`)
	m.from = p.ok("VM.get_resident_on", m.running).(string)
	for _, h := range p.ok("host.get_all").([]any) {
		if h != m.from {
			m.to = h.(string)
		}
	}
	m.nfs = p.first("SR", `field "type"="nfs"`)
	m.iso = p.first("SR", `field "type"="iso"`)
	for _, sr := range p.where("SR", `field "type"="lvm"`) {
		pbd := p.ok("SR.get_PBDs", sr).([]any)[0]
		if p.ok("PBD.get_host", pbd) == m.to {
			m.toLocal = sr
		} else {
			m.local = sr
		}
	}
	m.mgmt = p.first("network", `field "bridge"="xenbr0"`)
	return m
}

// disk is the VDI of a VM's first disk VBD.
func (m *migrationPool) disk(vm string) string {
	for _, vbd := range m.ok("VM.get_VBDs", vm).([]any) {
		if m.ok("VBD.get_type", vbd) == "Disk" {
			return m.ok("VBD.get_VDI", vbd).(string)
		}
	}
	m.t.Fatalf("VM %s has no disk", vm)
	return ""
}

func (m *migrationPool) receive(host string) map[string]any {
	return m.ok("host.migrate_receive", host, m.mgmt, map[string]any{}).(map[string]any)
}

func (m *migrationPool) usage(sr string) (int64, int64) {
	o := m.get("SR", sr)
	return xapi.Int(o, "physical_utilisation"), xapi.Int(o, "virtual_allocation")
}

func TestMigrateReceive(t *testing.T) {
	m := newMigrationPool(t)
	dest := m.receive(m.to)
	session := dest["session_id"].(string)
	ip := m.ok("PIF.get_IP", m.first("PIF", `field "host"="`+m.to+`" and field "management"="true"`)).(string)
	master := m.ok("pool.get_master", m.ok("pool.get_all").([]any)[0]).(string)
	masterIP := m.ok("PIF.get_IP", m.first("PIF", `field "host"="`+master+`" and field "management"="true"`)).(string)
	assert.Equal(t, map[string]any{
		"host": m.to, "session_id": session, "master": "http://" + masterIP,
		"SM":     "http://" + ip + "/services/SM?session_id=" + session,
		"xenops": "http://" + ip + "/services/xenops?session_id=" + session,
	}, dest)
	assert.Equal(t, m.to, m.ok("session.get_this_host", session))
}

func TestMigrateSendAcrossHostsAndSRs(t *testing.T) {
	m := newMigrationPool(t)
	old := m.disk(m.running)
	size := m.num("VDI", old, "virtual_size")
	used := m.num("VDI", old, "physical_utilisation")
	nfsUsed, nfsVirtual := m.usage(m.nfs)
	localUsed, localVirtual := m.usage(m.toLocal)

	dest := m.receive(m.to)
	m.ok("VM.assert_can_migrate", m.running, dest, true, map[string]any{old: m.toLocal}, map[string]any{}, map[string]any{}, map[string]any{})
	assert.Equal(t, m.running, m.ok("VM.migrate_send", m.running, dest, true, map[string]any{old: m.toLocal}, map[string]any{}, map[string]any{}, map[string]any{}))

	assert.Equal(t, m.to, m.ok("VM.get_resident_on", m.running))
	assert.Equal(t, "Running", m.ok("VM.get_power_state", m.running))
	moved := m.disk(m.running)
	assert.NotEqual(t, old, moved)
	assert.Equal(t, m.toLocal, m.ok("VDI.get_SR", moved))
	assert.Equal(t, size, m.num("VDI", moved, "virtual_size"))
	assert.Nil(t, m.srv.Store.Get("VDI", old), "the original is destroyed")
	u, v := m.usage(m.nfs)
	assert.Equal(t, [2]int64{nfsUsed - used, nfsVirtual - size}, [2]int64{u, v})
	u, v = m.usage(m.toLocal)
	assert.Equal(t, [2]int64{localUsed + size, localVirtual + size}, [2]int64{u, v}, "a thick SR reserves the full size")
	msgs := m.migrated()
	require.Len(t, msgs, 1)
	assert.Contains(t, msgs[0], "migrated from host 'host")

	// VDI.pool_migrate brings the disk back to the shared SR, the VM staying where it is.
	back := m.ok("VDI.pool_migrate", moved, m.nfs, map[string]any{}).(string)
	assert.Equal(t, back, m.disk(m.running))
	assert.Equal(t, m.nfs, m.ok("VDI.get_SR", back))
	assert.Equal(t, m.to, m.ok("VM.get_resident_on", m.running))
	assert.Nil(t, m.srv.Store.Get("VDI", moved))
	u, v = m.usage(m.toLocal)
	assert.Equal(t, [2]int64{localUsed, localVirtual}, [2]int64{u, v})
	assert.Len(t, m.migrated(), 1, "no message for a disk move")
}

func TestMigrateSendHaltedVMWithSnapshot(t *testing.T) {
	m := newMigrationPool(t)
	old := m.disk(m.halted)
	snap := m.ok("VM.snapshot", m.halted, "before").(string)
	oldSnapDisk := m.disk(snap)
	dest := m.receive(m.to)
	m.ok("VM.migrate_send", m.halted, dest, false, map[string]any{old: m.toLocal}, map[string]any{}, map[string]any{}, map[string]any{})

	assert.Equal(t, "Halted", m.ok("VM.get_power_state", m.halted))
	disk, snapDisk := m.disk(m.halted), m.disk(snap)
	assert.Equal(t, m.toLocal, m.ok("VDI.get_SR", disk))
	assert.Equal(t, m.toLocal, m.ok("VDI.get_SR", snapDisk), "a snapshot's disk follows its disk")
	assert.Equal(t, disk, m.ok("VDI.get_snapshot_of", snapDisk))
	assert.Equal(t, true, m.ok("VDI.get_is_a_snapshot", snapDisk))
	assert.Nil(t, m.srv.Store.Get("VDI", old))
	assert.Nil(t, m.srv.Store.Get("VDI", oldSnapDisk))
	assert.Empty(t, m.migrated())
}

func TestMigrationErrors(t *testing.T) {
	m := newMigrationPool(t)
	disk := m.disk(m.running)
	dest := m.receive(m.to)
	empty := map[string]any{}
	to := func(sr string) map[string]any { return map[string]any{disk: sr} }
	without := func(key string) map[string]any {
		d := map[string]any{}
		for k, v := range dest {
			if k != key {
				d[k] = v
			}
		}
		return d
	}
	with := func(key, value string) map[string]any {
		d := without(key)
		d[key] = value
		return d
	}
	// A CD drive with a disc, a tracked disk, a disk reset on boot, a full SR.
	tracked := m.disk(m.halted)
	m.ok("VDI.enable_cbt", tracked)
	resetVM := m.ok("VM.clone", m.halted, "reset").(string)
	reset := m.disk(resetVM)
	m.ok("VDI.set_on_boot", reset, "reset")
	lone := m.ok("VDI.create", vdiRec("SR", m.nfs, "virtual_size", int64(1<<30), "type", "user", "name_label", "lone")).(string)
	free := m.num("SR", m.toLocal, "physical_size") - m.num("SR", m.toLocal, "physical_utilisation")
	m.ok("VDI.create", vdiRec("SR", m.toLocal, "virtual_size", free-(1<<20), "type", "user", "name_label", "filler"))
	tmpl := m.first("VM", `field "name__label"="Debian Bookworm 12"`)
	foreign := with("host", "OpaqueRef:elsewhere")
	mem := toInt(m.ok("host.compute_free_memory", m.to))
	big := m.ok("VM.clone", m.halted, "big").(string)
	bigDisk := m.disk(big)
	m.ok("VM.set_memory_limits", big, mem+(1<<30), mem+(1<<30), mem+(1<<30), mem+(1<<30))

	send := func(vm string, d map[string]any, vdis map[string]any) []any {
		return []any{vm, d, true, vdis, empty, empty, empty}
	}
	m.expectErrors([]errorCase{
		{"receive on a bogus host", "host.migrate_receive", []any{"OpaqueRef:bogus", m.mgmt, empty}, []string{"HANDLE_INVALID", "host", "OpaqueRef:bogus"}},
		{"receive over a bogus network", "host.migrate_receive", []any{m.to, "OpaqueRef:bogus", empty}, []string{"HANDLE_INVALID", "network", "OpaqueRef:bogus"}},
		{"bogus VM", "VM.assert_can_migrate", send("OpaqueRef:bogus", dest, to(m.toLocal)), []string{"HANDLE_INVALID", "VM", "OpaqueRef:bogus"}},
		{"no master in the map", "VM.assert_can_migrate", send(m.running, without("master"), to(m.toLocal)), []string{"INTERNAL_ERROR", "Not_found"}},
		{"no host in the map", "VM.migrate_send", send(m.running, without("host"), to(m.toLocal)), []string{"INTERNAL_ERROR", "Not_found"}},
		{"an unreadable URL", "VM.assert_can_migrate", send(m.running, with("xenops", "nowhere"), to(m.toLocal)), []string{"INTERNAL_ERROR", "Cannot extract foreign IP address from: nowhere"}},
		{"a disk left out", "VM.assert_can_migrate", send(m.running, dest, empty), []string{"VDI_NOT_IN_MAP", disk}},
		{"another pool", "VM.assert_can_migrate", send(m.running, foreign, to(m.toLocal)), []string{"INTERNAL_ERROR", "Connection failed: no route to host."}},
		{"a stale session", "VM.assert_can_migrate", send(m.running, with("session_id", "OpaqueRef:gone"), to(m.toLocal)), []string{"SESSION_INVALID", "OpaqueRef:gone"}},
		{"a bogus VDI in the map", "VM.assert_can_migrate", send(m.running, dest, map[string]any{disk: m.toLocal, "OpaqueRef:novdi": m.nfs}), []string{"HANDLE_INVALID", "VDI", "OpaqueRef:novdi"}},
		{"a bogus SR in the map", "VM.assert_can_migrate", send(m.running, dest, to("OpaqueRef:nosr")), []string{"HANDLE_INVALID", "SR", "OpaqueRef:nosr"}},
		{"to an ISO SR", "VM.assert_can_migrate", send(m.running, dest, to(m.iso)), []string{"SR_DOES_NOT_SUPPORT_MIGRATION", m.iso, "VDI_SNAPSHOT;VDI_MIRROR_IN"}},
		{"VIFs remapped within the pool", "VM.assert_can_migrate", []any{m.running, dest, true, to(m.toLocal), map[string]any{"OpaqueRef:vif": m.mgmt}, empty, empty},
			[]string{"OPERATION_NOT_ALLOWED", "VIF mapping is not allowed for intra-pool migration -all VIFs must be on the same network"}},
		{"a tracked disk", "VM.assert_can_migrate", send(m.halted, dest, map[string]any{tracked: m.toLocal}), []string{"VDI_CBT_ENABLED", tracked}},
		{"not enough memory there", "VM.assert_can_migrate", send(big, dest, map[string]any{bigDisk: m.toLocal}),
			[]string{"HOST_NOT_ENOUGH_FREE_MEMORY", itoa64(mem + (1 << 30) + overheadOf(m, big)), itoa64(mem)}},
		{"a default template", "VM.migrate_send", send(tmpl, dest, empty), []string{"VM_IS_TEMPLATE", tmpl, "migrate_send"}},
		{"copy mode within the pool", "VM.migrate_send", []any{m.running, dest, true, to(m.toLocal), empty, map[string]any{"copy": "true"}, empty},
			[]string{"OPERATION_NOT_ALLOWED", "Copy mode is disallowed on intra pool storage migration, try efficient alternatives, for example, VM.copy/clone."}},
		{"a disk reset on boot", "VM.migrate_send", send(resetVM, dest, map[string]any{reset: m.toLocal}), []string{"VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION", reset}},
		{"an SR the host cannot reach", "VM.migrate_send", send(m.running, dest, to(m.local)), []string{"SR_NOT_ATTACHED", m.ok("SR.get_uuid", m.local).(string)}},
		{"a full SR", "VM.migrate_send", send(m.running, dest, to(m.toLocal)), []string{"SR_FULL", itoa64(m.num("VDI", disk, "virtual_size")), itoa64(1 << 20)}},
		{"a disk of no VM", "VDI.pool_migrate", []any{lone, m.toLocal, empty}, []string{"VDI_NEEDS_VM_FOR_MIGRATE", lone}},
		{"a bogus disk", "VDI.pool_migrate", []any{"OpaqueRef:bogus", m.nfs, empty}, []string{"VDI_NEEDS_VM_FOR_MIGRATE", "OpaqueRef:bogus"}},
		{"to a bogus SR", "VDI.pool_migrate", []any{disk, "OpaqueRef:bogus", empty}, []string{"HANDLE_INVALID", "SR", "OpaqueRef:bogus"}},
		{"a tracked disk, alone", "VDI.pool_migrate", []any{tracked, m.toLocal, empty}, []string{"VDI_CBT_ENABLED", tracked}},
	})
	// Nothing moved.
	assert.Equal(t, m.from, m.ok("VM.get_resident_on", m.running))
	assert.Equal(t, disk, m.disk(m.running))
	assert.Equal(t, m.nfs, m.ok("VDI.get_SR", disk))
}

func TestMigrateReceiveNetworkErrors(t *testing.T) {
	m := newMigrationPool(t)
	internal := m.first("network", `field "name__label"="Host internal management network"`)
	storage := m.first("network", `field "bridge"="xenbr1"`)
	pif := m.first("PIF", `field "host"="`+m.to+`" and field "network"="`+storage+`"`)
	m.ok("PIF.reconfigure_ip", pif, "None", "", "", "", "")
	m.expectErrors([]errorCase{
		{"a network without a PIF there", "host.migrate_receive", []any{m.to, internal, map[string]any{}}, []string{"HOST_CANNOT_ATTACH_NETWORK", m.to, internal}},
		{"a PIF without an address", "host.migrate_receive", []any{m.to, storage, map[string]any{}}, []string{"PIF_HAS_NO_NETWORK_CONFIGURATION", pif}},
	})
}

// migrated is the bodies of the VM_MIGRATED messages.
func (m *migrationPool) migrated() []string {
	var out []string
	for _, msg := range m.srv.Store.All("message") {
		if xapi.Str(msg, "name") == "VM_MIGRATED" {
			out = append(out, xapi.Str(msg, "body"))
		}
	}
	return out
}

func (m *migrationPool) num(class, ref, field string) int64 {
	return xapi.Int(m.get(class, ref), field)
}

func toInt(v any) int64 { return int64(toFloat(v)) }

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func overheadOf(m *migrationPool, vm string) int64 {
	return toInt(m.ok("VM.compute_memory_overhead", vm))
}

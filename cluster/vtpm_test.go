package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

func TestVTPMCreateAndDestroy(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 6})
	halted := p.first("VM", `field "name__label"="app-01"`)
	secrets := len(p.ok("secret.get_all").([]any))

	vtpm := p.ok("VTPM.create", halted, true).(string)
	rec := p.ok("VTPM.get_record", vtpm).(map[string]any)
	assert.Equal(t, halted, rec["VM"])
	assert.Equal(t, "OpaqueRef:NULL", rec["backend"])
	assert.Equal(t, "xapi", rec["persistence_backend"])
	assert.Equal(t, true, rec["is_unique"])
	assert.Equal(t, false, rec["is_protected"])
	assert.Equal(t, []any{"destroy"}, rec["allowed_operations"])
	assert.NotContains(t, rec, "contents", "the secret's ref is internal")
	assert.Equal(t, []any{vtpm}, p.ok("VM.get_VTPMs", halted))
	assert.NotContains(t, p.ok("VM.get_allowed_operations", halted), "create_vtpm")
	assert.Len(t, p.ok("secret.get_all").([]any), secrets+1, "the contents live in a secret")

	// A clone gets a VTPM of its own, with a secret of its own.
	clone := p.ok("VM.clone", halted, "app-01 clone").(string)
	copied := p.ok("VM.get_VTPMs", clone).([]any)
	require.Len(t, copied, 1)
	assert.Equal(t, true, p.ok("VTPM.get_is_unique", copied[0]))
	assert.Len(t, p.ok("secret.get_all").([]any), secrets+2)

	p.ok("VTPM.destroy", vtpm)
	assert.Empty(t, p.ok("VM.get_VTPMs", halted))
	assert.Contains(t, p.ok("VM.get_allowed_operations", halted), "create_vtpm")
	p.ok("VM.destroy", clone)
	assert.Len(t, p.ok("secret.get_all").([]any), secrets, "destroying the VM destroys its VTPM's secret")
	assert.Empty(t, p.ok("VTPM.get_all"))
}

func TestVTPMErrors(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 6})
	halted := p.first("VM", `field "name__label"="app-01"`)
	running := p.first("VM", `field "name__label"="web-01"`)
	tmpl := p.first("VM", `field "name__label"="Debian Bookworm 12"`)
	vtpm := p.ok("VTPM.create", halted, false).(string)

	// A VTPM of a running VM: made while halted, then the VM started.
	other := p.ok("VM.clone", halted, "other").(string)
	started := p.ok("VM.get_VTPMs", other).([]any)[0].(string)
	p.ok("VM.start", other, false, false)
	assert.Empty(t, p.ok("VTPM.get_allowed_operations", started))

	p.expectErrors([]errorCase{
		{"create on a bogus VM", "VTPM.create", []any{"OpaqueRef:bogus", false}, []string{"HANDLE_INVALID", "VM", "OpaqueRef:bogus"}},
		{"create on a running VM", "VTPM.create", []any{running, false}, []string{"VM_BAD_POWER_STATE", running, "halted", "running"}},
		{"create on a default template", "VTPM.create", []any{tmpl, false}, []string{"VM_IS_TEMPLATE", tmpl, "create_vtpm"}},
		{"a second VTPM", "VTPM.create", []any{halted, false}, []string{"VTPM_MAX_AMOUNT_REACHED", "1"}},
		{"destroy a bogus VTPM", "VTPM.destroy", []any{"OpaqueRef:bogus"}, []string{"HANDLE_INVALID", "VTPM", "OpaqueRef:bogus"}},
		{"destroy with the VM running", "VTPM.destroy", []any{started}, []string{"VM_BAD_POWER_STATE", other, "halted;suspended", "running"}},
	})

	// Without the licence for VTPMs, after the VM operation's checks.
	p.ok("VTPM.destroy", vtpm)
	p.restrict("restrict_vtpm", "true")
	p.expectErrors([]errorCase{
		{"restricted", "VTPM.create", []any{halted, false}, []string{"FEATURE_RESTRICTED", "restrict_vtpm"}},
		{"restricted, running VM", "VTPM.create", []any{running, false}, []string{"VM_BAD_POWER_STATE", running, "halted", "running"}},
	})
	assert.Empty(t, p.ok("VM.get_VTPMs", halted))
	assert.Empty(t, xapi.Map(p.get("VM", halted), "current_operations"))
}

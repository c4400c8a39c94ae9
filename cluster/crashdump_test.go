package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/xapisim/xapisim/xapi"
)

func TestHostCrashdump(t *testing.T) {
	p, master, up, down := downHost(t)
	bad := "OpaqueRef:nope"
	onMaster := p.put("host_crashdump", "host", master, "size", int64(1<<20))
	onUp := p.put("host_crashdump", "host", up, "size", int64(1<<20))
	onDown := p.put("host_crashdump", "host", down, "size", int64(1<<20))
	orphan := p.put("host_crashdump", "host", bad, "size", int64(1<<20))
	p.expectErrors([]errorCase{
		{"destroy: bad ref", "host_crashdump.destroy", []any{bad}, []string{"HANDLE_INVALID", "host_crashdump", bad}},
		{"destroy: host down", "host_crashdump.destroy", []any{onDown}, []string{"HOST_OFFLINE", down}},
		{"destroy: host gone", "host_crashdump.destroy", []any{orphan}, []string{"HOST_OFFLINE", bad}},
		{"upload: bad ref", "host_crashdump.upload", []any{bad, "http://x", map[string]any{}}, []string{"HANDLE_INVALID", "host_crashdump", bad}},
		{"upload: host down before URL", "host_crashdump.upload", []any{onDown, "", map[string]any{}}, []string{"HOST_OFFLINE", down}},
		{"upload: empty URL", "host_crashdump.upload", []any{onUp, "", map[string]any{}}, []string{"INVALID_VALUE", "url", ""}},
	})
	// The upload wrapper always exits 0; nothing changes.
	p.ok("host_crashdump.upload", onUp, "ftp://support.example.com/dump", map[string]any{"http_proxy": "http://proxy:3128"})
	p.get("host_crashdump", onUp)

	for _, ref := range []string{onMaster, onUp} {
		p.ok("host_crashdump.destroy", ref)
		assert.Nil(t, p.srv.Store.Get("host_crashdump", ref))
	}
	p.get("host_crashdump", onDown)
}

func TestCrashdump(t *testing.T) {
	p, _, _, down := downHost(t)
	bad := "OpaqueRef:nope"
	nfs := p.first("SR", `field "type"="nfs"`)
	// The local SR of the host that is down.
	local, localPBD := "", ""
	for _, pbd := range p.where("PBD", `field "host"="`+down+`"`) {
		if sr := xapi.Str(p.get("PBD", pbd), "SR"); xapi.Str(p.get("SR", sr), "type") == "lvm" {
			local, localPBD = sr, pbd
		}
	}
	vdi := func(sr string) string {
		return p.ok("VDI.create", vdiRec("SR", sr, "virtual_size", int64(1<<20), "type", "crashdump")).(string)
	}
	gone := vdi(nfs)
	p.ok("VDI.destroy", gone)
	lost := p.put("crashdump", "VDI", gone)
	offline := p.put("crashdump", "VDI", p.put("VDI", "SR", local, "managed", true))
	noSR := p.put("crashdump", "VDI", p.put("VDI", "SR", bad))
	p.expectErrors([]errorCase{
		{"bad ref", "crashdump.destroy", []any{bad}, []string{"HANDLE_INVALID", "crashdump", bad}},
		{"VDI gone", "crashdump.destroy", []any{lost}, []string{"HANDLE_INVALID", "VDI", gone}},
		{"SR gone", "crashdump.destroy", []any{noSR}, []string{"HANDLE_INVALID", "SR", bad}},
		{"SR unplugged", "crashdump.destroy", []any{offline}, []string{"SR_HAS_NO_PBDS", local}},
	})
	// A host that failed keeps its PBD plugged in the database.
	p.setField("PBD", localPBD, "currently_attached", true)
	p.expectErrors([]errorCase{
		{"SR's host down", "crashdump.destroy", []any{offline}, []string{"HOST_OFFLINE", down}},
	})

	// The VDI and the record go.
	v := vdi(nfs)
	cd := p.put("crashdump", "VDI", v)
	p.ok("crashdump.destroy", cd)
	assert.Nil(t, p.srv.Store.Get("crashdump", cd))
	assert.Nil(t, p.srv.Store.Get("VDI", v))

	// A VDI that cannot be destroyed stays; the record goes all the same.
	kept := vdi(nfs)
	p.setField("VDI", kept, "managed", false)
	cd = p.put("crashdump", "VDI", kept)
	p.ok("crashdump.destroy", cd)
	assert.Nil(t, p.srv.Store.Get("crashdump", cd))
	p.get("VDI", kept)
}

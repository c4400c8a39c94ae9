package cluster_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
)

func TestCreateNewBlob(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 1})
	owners := map[string]string{
		"pool": p.first("pool", "true"), "host": p.first("host", "true"), "VM": p.first("VM", `field "is_a_template"="false" and field "is_control_domain"="false"`),
		"network": p.first("network", "true"), "SR": p.first("SR", "true"),
	}
	for class, owner := range owners {
		t.Run(class, func(t *testing.T) {
			blob := p.ok(class+".create_new_blob", owner, "notes", "", true).(string)
			rec := p.ok("blob.get_record", blob).(map[string]any)
			assert.Equal(t, "", rec["name_label"], "the name is the key in the owner's map, not the blob's")
			assert.Equal(t, "application/octet-stream", rec["mime_type"])
			assert.Equal(t, true, rec["public"])
			assert.EqualValues(t, "0", fmt.Sprint(rec["size"]))
			assert.Equal(t, "19700101T00:00:00Z", rec["last_updated"])
			assert.Equal(t, map[string]any{"notes": blob}, p.ok(class+".get_blobs", owner))

			other := p.ok(class+".create_new_blob", owner, "logo", "image/png", false).(string)
			assert.Equal(t, "image/png", p.ok("blob.get_mime_type", other))
			assert.Equal(t, false, p.ok("blob.get_public", other))
			assert.Len(t, p.ok(class+".get_blobs", owner), 2)

			before := len(p.ok("blob.get_all").([]any))
			p.expectErrors([]errorCase{
				{"the name is taken", class + ".create_new_blob", []any{owner, "notes", "", false}, []string{"MAP_DUPLICATE_KEY", class, "blobs", owner, "notes"}},
				{"no name", class + ".create_new_blob", []any{owner, "", "", false}, []string{"INTERNAL_ERROR", "Db_exn.Empty_key_in_map"}},
			})
			assert.Len(t, p.ok("blob.get_all").([]any), before+2, "xapi leaves the blobs it made before failing")
			assert.Equal(t, blob, p.ok(class+".get_blobs", owner).(map[string]any)["notes"], "the taken name keeps its blob")
		})
	}

	before := len(p.ok("blob.get_all").([]any))
	p.expectErrors([]errorCase{
		{"bogus host", "host.create_new_blob", []any{"OpaqueRef:nope", "n", "", false}, []string{"HANDLE_INVALID", "host", "OpaqueRef:nope"}},
		{"bogus VM", "VM.create_new_blob", []any{"OpaqueRef:nope", "n", "", false}, []string{"HANDLE_INVALID", "VM", "OpaqueRef:nope"}},
		{"bogus network", "network.create_new_blob", []any{"OpaqueRef:nope", "n", "", false}, []string{"HANDLE_INVALID", "network", "OpaqueRef:nope"}},
		{"bogus SR", "SR.create_new_blob", []any{"OpaqueRef:nope", "n", "", false}, []string{"HANDLE_INVALID", "SR", "OpaqueRef:nope"}},
	})
	assert.Len(t, p.ok("blob.get_all").([]any), before, "the owner is checked before the blob is made")
	p.expectErrors([]errorCase{
		{"bogus pool", "pool.create_new_blob", []any{"OpaqueRef:nope", "n", "", false}, []string{"HANDLE_INVALID", "pool", "OpaqueRef:nope"}},
	})
	assert.Len(t, p.ok("blob.get_all").([]any), before+1, "the pool is not checked before the blob is made")
}

func TestBlobCreateDestroy(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 1})
	blob := p.ok("blob.create", "text/plain", false).(string)
	assert.Equal(t, "text/plain", p.ok("blob.get_mime_type", blob))
	assert.Equal(t, "application/octet-stream", p.ok("blob.get_mime_type", p.ok("blob.create", "", true)))

	vm := p.first("VM", `field "is_a_template"="false" and field "is_control_domain"="false"`)
	pool := p.first("pool", "true")
	vmBlob := p.ok("VM.create_new_blob", vm, "a", "", false).(string)
	poolBlob := p.ok("pool.create_new_blob", pool, "b", "", false).(string)
	p.ok("blob.destroy", vmBlob)
	p.ok("blob.destroy", poolBlob)
	assert.Empty(t, p.ok("VM.get_blobs", vm), "a VM forgets a destroyed blob")
	assert.Equal(t, map[string]any{"b": poolBlob}, p.ok("pool.get_blobs", pool), "other owners keep the dangling ref, as in xapi")
	_, err := p.call("blob.get_record", vmBlob)
	require.NotNil(t, err)

	p.expectErrors([]errorCase{
		{"destroyed twice", "blob.destroy", []any{vmBlob}, []string{"HANDLE_INVALID", "blob", vmBlob}},
		{"bogus", "blob.destroy", []any{"OpaqueRef:nope"}, []string{"HANDLE_INVALID", "blob", "OpaqueRef:nope"}},
	})
}

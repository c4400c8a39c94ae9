package cluster_test

import (
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

func TestNBDInfo(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 3, VMs: 0})
	nfs := p.first("SR", `field "type"="nfs"`)
	vdi := p.ok("VDI.create", vdiRec("SR", nfs, "virtual_size", int64(1<<30), "type", "user")).(string)
	assert.Equal(t, []any{}, p.ok("VDI.get_nbd_info", vdi), "no network has the nbd purpose")

	mgmt := p.get("PIF", p.first("PIF", `field "management"="true"`))
	p.ok("network.add_purpose", xapi.Str(mgmt, "network"), "nbd")
	info := p.ok("VDI.get_nbd_info", vdi).([]any)
	require.Len(t, info, 3, "every host has the shared SR plugged and a management IP")

	addresses := map[string]bool{}
	for _, h := range p.where("host", `true`) {
		addresses[xapi.Str(p.get("host", h), "address")] = true
	}
	for _, e := range info {
		entry := e.(map[string]any)
		assert.True(t, addresses[entry["address"].(string)], "%v is a host's management IP", entry["address"])
		assert.Equal(t, "10809", entry["port"].(interface{ String() string }).String())
		assert.Equal(t, "/"+xapi.Str(p.get("VDI", vdi), "uuid")+"?session_id="+p.session, entry["exportname"])

		host := p.first("host", `field "address"="`+entry["address"].(string)+`"`)
		assert.Equal(t, p.ok("host.get_server_certificate", host), entry["cert"], "the serving host's certificate")
		block, _ := pem.Decode([]byte(entry["cert"].(string)))
		require.NotNil(t, block)
		cert, err := x509.ParseCertificate(block.Bytes)
		require.NoError(t, err)
		hostname := xapi.Str(p.get("host", host), "hostname")
		assert.Equal(t, []string{hostname}, cert.DNSNames)
		assert.Equal(t, hostname, entry["subject"])
	}

	master := p.ok("pool.get_master", p.first("pool", `true`)).(string)
	down := p.first("host", `not (field "uuid"="`+xapi.Str(p.get("host", master), "uuid")+`")`)
	p.ok("host.disable", down)
	p.ok("host.shutdown", down)
	_, err := p.call("host.get_server_certificate", down)
	assert.Equal(t, []string{"HOST_OFFLINE", down}, err)

	p.ok("VDI.enable_cbt", vdi)
	snap := p.ok("VDI.snapshot", vdi, map[string]any{}).(string)
	p.ok("VDI.data_destroy", snap)
	_, err = p.call("VDI.get_nbd_info", snap)
	assert.Equal(t, []string{"VDI_INCOMPATIBLE_TYPE", snap, "CBT metadata"}, err)
}

package cluster_test

import (
	"encoding/xml"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

// The probe documents SM prints, as the tests read them.
type (
	nfsExports struct {
		XMLName xml.Name `xml:"nfs-exports"`
		Exports []struct {
			Target, Path, Accesslist string
		} `xml:"Export"`
	}
	probedSR struct {
		UUID            string  `xml:"UUID"`
		Devlist         string  `xml:"Devlist"`
		Size            string  `xml:"size"`
		NameLabel       *string `xml:"name_label"`
		NameDescription *string `xml:"name_description"`
		PoolMetadata    *string `xml:"pool_metadata_detected"`
	}
	srList struct {
		XMLName xml.Name   `xml:"SRlist"`
		SRs     []probedSR `xml:"SR"`
	}
)

func parseXML(t *testing.T, doc string, v any) {
	t.Helper()
	require.True(t, strings.HasPrefix(doc, "<?xml version=\"1.0\" ?>\n"), doc)
	require.NoError(t, xml.Unmarshal([]byte(doc), v), doc)
}

func TestSRProbeNFS(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	master := p.master()
	nfsSR := p.first("SR", `field "type" = "nfs"`)
	nfsUUID := xapi.Str(p.get("SR", nfsSR), "uuid")
	none := map[string]any{}

	t.Run("errors", func(t *testing.T) {
		p.expectErrors([]errorCase{
			{"no server", "SR.probe", []any{master, map[string]any{"serverpath": "/export/xapisim"}, "nfs", none},
				[]string{"SR_BACKEND_FAILURE_102", "", "The request is missing the server parameter", ""}},
			{"unknown address", "SR.probe", []any{master, map[string]any{"server": "10.9.9.9"}, "nfs", none},
				[]string{"SR_BACKEND_FAILURE_108", "", "Unable to detect an NFS service on this target.", ""}},
			{"unresolvable name", "SR.probe", []any{master, map[string]any{"server": "filer.example"}, "nfs", none},
				[]string{"SR_BACKEND_FAILURE_140", "", "Incorrect DNS name, unable to resolve.", ""}},
			{"path not exported", "SR.probe", []any{master, map[string]any{"server": "10.0.0.5", "serverpath": "/srv"}, "NFS", none},
				[]string{"SR_BACKEND_FAILURE_73", "", "NFS mount error [opterr=mount failed on server `10.0.0.5` with return code 32]", ""}},
			{"probe_ext: SM's error first", "SR.probe_ext", []any{master, none, "nfs", none},
				[]string{"SR_BACKEND_FAILURE_102", "", "The request is missing the server parameter", ""}},
			{"probe_ext: an SMAPIv1 document has no records", "SR.probe_ext", []any{master, map[string]any{"server": "10.0.0.5", "serverpath": "/export/xapisim"}, "nfs", none},
				[]string{"SR_OPERATION_NOT_SUPPORTED"}},
		})
	})

	t.Run("server only: the exports on stderr", func(t *testing.T) {
		_, err := p.call("SR.probe", master, map[string]any{"server": "10.0.0.5"}, "nfs", none)
		require.Len(t, err, 4)
		assert.Equal(t, []string{"SR_BACKEND_FAILURE_101", "", "The request is missing the serverpath parameter"}, err[:3])
		assert.True(t, strings.HasSuffix(err[3], "</nfs-exports>\n\n"), "print's newline after toprettyxml's: %q", err[3])
		var exports nfsExports
		parseXML(t, err[3], &exports)
		var paths []string
		for _, e := range exports.Exports {
			assert.Equal(t, "10.0.0.5", e.Target)
			assert.Equal(t, "*", e.Accesslist)
			paths = append(paths, e.Path)
		}
		assert.Equal(t, []string{"/export/iso", "/export/xapisim"}, paths)
	})

	for _, tc := range []struct {
		name, path string
		want       []string
	}{
		{"the SR's path", "/export/xapisim", []string{nfsUUID}},
		{"a trailing slash", "/export/xapisim/", []string{nfsUUID}},
		{"the ISO export holds no SR", "/export/iso", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := p.ok("SR.probe", master, map[string]any{"server": "10.0.0.5", "serverpath": tc.path}, "nfs", none).(string)
			var list srList
			parseXML(t, doc, &list)
			var got []string
			for _, sr := range list.SRs {
				got = append(got, sr.UUID)
			}
			assert.Equal(t, tc.want, got)
			if tc.want == nil {
				assert.Equal(t, "<?xml version=\"1.0\" ?>\n<SRlist/>\n", doc)
			} else {
				assert.Equal(t, fmt.Sprintf("<?xml version=\"1.0\" ?>\n<SRlist>\n\t<SR>\n\t\t<UUID>%s</UUID>\n\t</SR>\n</SRlist>\n", nfsUUID), doc)
			}
		})
	}

	t.Run("a new SR on the server is exported and found", func(t *testing.T) {
		sr := p.ok("SR.create", master, map[string]any{"server": "10.0.0.5", "serverpath": "/export/more"}, int64(0), "more", "", "nfs", "", true, none).(string)
		doc := p.ok("SR.probe", master, map[string]any{"server": "10.0.0.5", "serverpath": "/export/more"}, "nfs", none).(string)
		var list srList
		parseXML(t, doc, &list)
		require.Len(t, list.SRs, 1)
		assert.Equal(t, xapi.Str(p.get("SR", sr), "uuid"), list.SRs[0].UUID)
	})
}

func TestSRProbeLocal(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	master := p.master()
	other := p.otherHost(master)
	disk := "/dev/disk/by-id/scsi-3600508b1001c-part3"
	localOf := func(host string) *struct{ uuid, size, label string } {
		for _, ref := range p.where("PBD", fmt.Sprintf(`field "host" = "%s"`, host)) {
			sr := p.get("SR", xapi.Str(p.get("PBD", ref), "SR"))
			if xapi.Str(sr, "type") == "lvm" {
				return &struct{ uuid, size, label string }{xapi.Str(sr, "uuid"), fmt.Sprint(xapi.Int(sr, "physical_size")), xapi.Str(sr, "name_label")}
			}
		}
		t.Fatalf("no local SR on %s", host)
		return nil
	}
	mine, theirs := localOf(master), localOf(other)
	require.NotEqual(t, mine.uuid, theirs.uuid)
	none := map[string]any{}

	p.expectErrors([]errorCase{
		{"lvm without a device", "SR.probe", []any{master, none, "lvm", none},
			[]string{"SR_BACKEND_FAILURE_90", "", "The request is missing the device parameter", ""}},
		{"ext without a device", "SR.probe", []any{master, map[string]any{"SCSIid": "x"}, "ext", none},
			[]string{"SR_BACKEND_FAILURE_90", "", "The request is missing the device parameter", ""}},
		{"probe_ext of lvm", "SR.probe_ext", []any{master, map[string]any{"device": disk}, "lvm", none},
			[]string{"SR_OPERATION_NOT_SUPPORTED"}},
	})

	for _, tc := range []struct {
		name, host, typ, device string
		smConfig                map[string]any
		want                    []string // uuid, devlist, size
		metadata                bool
	}{
		{"the master's disk", master, "lvm", disk, none, []string{mine.uuid, disk, mine.size}, false},
		{"another host's disk holds its own SR", other, "lvm", disk, none, []string{theirs.uuid, disk, theirs.size}, false},
		{"a device listed twice", master, "lvm", disk + "," + disk, none, []string{mine.uuid, disk + "," + disk, mine.size}, false},
		{"unknown devices are passed over", master, "lvm", "/dev/sdz," + disk, none, []string{mine.uuid, disk, mine.size}, false},
		{"with metadata", master, "lvm", disk, map[string]any{"metadata": "true"}, []string{mine.uuid, disk, mine.size}, true},
		{"ext finds no ext volume group on it", master, "ext", disk, none, nil, false},
		{"an unknown device", master, "lvm", "/dev/sdz", none, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := p.ok("SR.probe", tc.host, map[string]any{"device": tc.device}, tc.typ, tc.smConfig).(string)
			var list srList
			parseXML(t, doc, &list)
			if tc.want == nil {
				assert.Empty(t, list.SRs)
				return
			}
			require.Len(t, list.SRs, 1)
			sr := list.SRs[0]
			assert.Equal(t, tc.want, []string{sr.UUID, sr.Devlist, sr.Size})
			if !tc.metadata {
				assert.Nil(t, sr.NameLabel)
				assert.Nil(t, sr.PoolMetadata)
				return
			}
			require.NotNil(t, sr.NameLabel)
			require.NotNil(t, sr.NameDescription)
			require.NotNil(t, sr.PoolMetadata)
			assert.Equal(t, mine.label, *sr.NameLabel)
			assert.Equal(t, "", *sr.NameDescription)
			assert.Equal(t, "false", *sr.PoolMetadata)
		})
	}
}

func TestSRProbeOtherTypesAndHosts(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	master := p.master()
	other := p.otherHost(master)
	none := map[string]any{}
	nfs := map[string]any{"server": "10.0.0.5", "serverpath": "/export/xapisim"}
	notSupported := []string{"SR_BACKEND_FAILURE", "Operation 'sr_probe' not supported by this SR type", "", ""}

	p.expectErrors([]errorCase{
		{"unknown type", "SR.probe", []any{master, none, "Weird", none}, []string{"SR_UNKNOWN_DRIVER", "weird"}},
		{"unknown type, probe_ext", "SR.probe_ext", []any{master, none, "weird", none}, []string{"SR_UNKNOWN_DRIVER", "weird"}},
		{"iso cannot probe", "SR.probe", []any{master, map[string]any{"location": "10.0.0.5:/export/iso"}, "iso", none}, notSupported},
		{"iso cannot probe, probe_ext", "SR.probe_ext", []any{master, none, "iso", none}, notSupported},
		{"udev cannot probe", "SR.probe", []any{master, none, "udev", none}, notSupported},
		{"no such host", "SR.probe", []any{"OpaqueRef:nope", nfs, "nfs", none}, []string{"HANDLE_INVALID", "host", "OpaqueRef:nope"}},
		{"no such host before the type", "SR.probe_ext", []any{"OpaqueRef:nope", none, "weird", none}, []string{"HANDLE_INVALID", "host", "OpaqueRef:nope"}},
	})

	t.Run("gfs2 is SMAPIv3: nothing found, as a document or as records", func(t *testing.T) {
		assert.Equal(t, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SRlist/>\n", p.ok("SR.probe", master, none, "gfs2", none))
		assert.Equal(t, []any{}, p.ok("SR.probe_ext", master, none, "gfs2", none))
	})

	t.Run("a host that is down", func(t *testing.T) {
		p.ok("SR.probe", other, nfs, "nfs", none)
		p.ok("host.disable", other)
		p.ok("host.shutdown", other)
		p.expectErrors([]errorCase{
			{"probe", "SR.probe", []any{other, nfs, "nfs", none}, []string{"HOST_OFFLINE", other}},
			{"probe_ext", "SR.probe_ext", []any{other, none, "weird", none}, []string{"HOST_OFFLINE", other}},
		})
		p.ok("SR.probe", master, nfs, "nfs", none)
	})
}

package cluster

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// SR.probe and SR.probe_ext (xapi_sr.ml, sm.ml): xapi forwards the call to the host, which
// asks the type's SM driver to scan the storage named by device_config. Every driver of
// the pool is SMAPIv1 except gfs2 (SMAPIv3): an SMAPIv1 driver answers an XML document,
// which probe returns as it is and probe_ext refuses; a SMAPIv3 plugin answers records,
// which probe_ext returns and probe renders as an SRlist document.
//
// The storage world is simulated: one NFS server at nfsServer exporting nfsSRPath (where
// the pool's NFS SR lives) and nfsISOPath (the ISO library), plus the serverpath of any
// other nfs SR on it; each host's local disk is localDisk. An SR is found where a PBD of
// its type says it is: an nfs SR under its server and serverpath, an lvm or ext SR on its
// host's devices. The gfs2 plugin finds nothing: there is no shared block device.

// The simulated storage world.
const (
	nfsServer  = "10.0.0.5"
	nfsSRPath  = "/export/xapisim"
	nfsISOPath = "/export/iso"
	localDisk  = "/dev/disk/by-id/scsi-3600508b1001c-part3"
)

// SM's error codes (XE_SR_ERRORCODES.xml) and messages for the failures a probe can meet.
var (
	smConfigDeviceMissing     = smError{90, "The request is missing the device parameter"}
	smConfigServerPathMissing = smError{101, "The request is missing the serverpath parameter"}
	smConfigServerMissing     = smError{102, "The request is missing the server parameter"}
	smNFSMount                = smError{73, "NFS mount error"}
	smNFSTarget               = smError{108, "Unable to detect an NFS service on this target."}
	smDNSError                = smError{140, "Incorrect DNS name, unable to resolve."}
)

// smError is an error an SM driver raises.
type smError struct {
	code    int
	message string
}

// reply is the error as xapi passes it on: SR_BACKEND_FAILURE_<code> with the message,
// opterr appended when given, and what the driver wrote on stderr.
func (e smError) reply(opterr, stderr string) error {
	msg := e.message
	if opterr != "" {
		msg += " [opterr=" + opterr + "]"
	}
	return apierror.New(fmt.Sprintf("SR_BACKEND_FAILURE_%d", e.code), "", msg, stderr)
}

// smapiV3 are the types served by a SMAPIv3 plugin.
var smapiV3 = map[string]bool{"gfs2": true}

func (p *Sim) registerSRProbe() {
	s := p.srv
	s.Handle("SR.probe", func(c *xapi.Call) (any, error) {
		doc, _, err := p.probe(c)
		return doc, err
	})
	s.Handle("SR.probe_ext", func(c *xapi.Call) (any, error) {
		_, results, err := p.probe(c)
		if err == nil && results == nil {
			// An SMAPIv1 driver answered a document xapi cannot turn into records.
			return nil, apierror.New("SR_OPERATION_NOT_SUPPORTED")
		}
		return results, err
	})
}

// probe runs a probe on its host: the SMAPIv1 driver's document, or the SMAPIv3 plugin's
// records (a non-nil slice) with their SRlist rendering.
func (p *Sim) probe(c *xapi.Call) (doc string, results []any, err error) {
	host, typ := c.StringArg(0), c.StringArg(2)
	dconf := stringMap(c.Arg(1).(map[string]any))
	smConfig := stringMap(c.Arg(3).(map[string]any))
	p.srv.Store.View(func(r store.Reader) {
		doc, results, err = probeOn(r, host, typ, dconf, smConfig)
	})
	return doc, results, err
}

// probeOn is a probe of a type's driver on a host (which must be live).
func probeOn(r store.Reader, host, typ string, dconf, smConfig map[string]string) (doc string, results []any, err error) {
	typ = strings.ToLower(typ)
	if _, err = liveHost(r, host); err != nil {
		return "", nil, err
	}
	sm := smFor(r, typ)
	if sm == nil {
		return "", nil, apierror.New("SR_UNKNOWN_DRIVER", typ)
	}
	if smapiV3[typ] {
		return xmlmEmptySRList, []any{}, nil
	}
	if _, ok := xapi.Map(sm, "features")["SR_PROBE"]; !ok {
		return "", nil, apierror.New("SR_BACKEND_FAILURE", "Operation 'sr_probe' not supported by this SR type", "", "")
	}
	switch typ {
	case "nfs":
		doc, err = probeNFS(r, dconf)
	case "lvm", "ext":
		doc, err = probeLocal(r, host, typ, dconf, smConfig)
	default:
		err = apierror.Internal("SR.probe is not simulated for SR type %s", typ)
	}
	return doc, nil, err
}

func stringMap(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, _ := v.(string)
		out[k] = s
	}
	return out
}

// probeNFS is NFSSR's probe: the server must answer; without a serverpath the driver
// writes the server's exports on stderr and fails; else it mounts the path and lists the
// SR directories there.
func probeNFS(r store.Reader, dconf map[string]string) (string, error) {
	server, ok := dconf["server"]
	if !ok {
		return "", smConfigServerMissing.reply("", "")
	}
	if server != nfsServer {
		if _, err := netip.ParseAddr(strings.Trim(server, "[]")); err != nil {
			return "", smDNSError.reply("", "")
		}
		return "", smNFSTarget.reply("", "")
	}
	exports := nfsExports(r)
	path, ok := dconf["serverpath"]
	if !ok {
		var list []xmlNode
		for _, e := range exports {
			list = append(list, xmlElem("Export", xmlLeaf("Target", server), xmlLeaf("Path", e), xmlLeaf("Accesslist", "*")))
		}
		return "", smConfigServerPathMissing.reply("", minidomXML(xmlElem("nfs-exports", list...))+"\n")
	}
	path = cleanNFSPath(path)
	if !slices.Contains(exports, path) {
		return "", smNFSMount.reply(fmt.Sprintf("mount failed on server `%s` with return code 32", server), "")
	}
	var srs []xmlNode
	for _, uuid := range srsWhere(r, "nfs", func(dc map[string]string) bool {
		return dc["server"] == server && cleanNFSPath(dc["serverpath"]) == path
	}) {
		srs = append(srs, xmlElem("SR", xmlLeaf("UUID", uuid)))
	}
	return minidomXML(xmlElem("SRlist", srs...)), nil
}

// nfsExports are the paths the simulated server exports, sorted.
func nfsExports(r store.Reader) []string {
	exports := []string{nfsSRPath, nfsISOPath}
	for _, pbd := range r.All("PBD") {
		if sr := r.Get("SR", xapi.Str(pbd, "SR")); sr != nil && xapi.Str(sr, "type") == "nfs" {
			if dc := xapi.StringMap(pbd, "device_config"); dc["server"] == nfsServer && dc["serverpath"] != "" {
				exports = append(exports, cleanNFSPath(dc["serverpath"]))
			}
		}
	}
	slices.Sort(exports)
	return slices.Compact(exports)
}

// cleanNFSPath drops trailing slashes: "/export/" and "/export" name one directory.
func cleanNFSPath(path string) string {
	if trimmed := strings.TrimRight(path, "/"); trimmed != "" {
		return trimmed
	}
	return path
}

// srsWhere are the uuids of the SRs of a type with a PBD whose device_config matches, in
// the order of the SRs' records.
func srsWhere(r store.Reader, typ string, match func(map[string]string) bool) []string {
	var uuids []string
	for _, sr := range r.All("SR") {
		if xapi.Str(sr, "type") != typ {
			continue
		}
		for _, ref := range xapi.Refs(sr, "PBDs") {
			if pbd := r.Get("PBD", ref); pbd != nil && match(xapi.StringMap(pbd, "device_config")) {
				uuids = append(uuids, xapi.Str(sr, "uuid"))
				break
			}
		}
	}
	return uuids
}

// probeLocal is LVHDSR's and EXTSR's probe: each device of the comma-separated list that
// holds a volume group of the type names its SR; other devices are passed over. lvm adds
// the SR's metadata when sm_config asks for it.
func probeLocal(r store.Reader, host, typ string, dconf, smConfig map[string]string) (string, error) {
	devices, ok := dconf["device"]
	if !ok {
		return "", smConfigDeviceMissing.reply("", "")
	}
	var order []*store.Object
	devlist := map[*store.Object][]string{}
	for _, dev := range strings.Split(devices, ",") {
		sr := localSROn(r, host, typ, dev)
		if sr == nil {
			continue
		}
		if _, seen := devlist[sr]; !seen {
			order = append(order, sr)
		}
		devlist[sr] = append(devlist[sr], dev)
	}
	var srs []xmlNode
	for _, sr := range order {
		fields := []xmlNode{
			xmlLeaf("UUID", xapi.Str(sr, "uuid")),
			xmlLeaf("Devlist", strings.Join(devlist[sr], ",")),
			xmlLeaf("size", fmt.Sprint(xapi.Int(sr, "physical_size"))),
		}
		if typ == "lvm" && smConfig["metadata"] == "true" {
			fields = append(fields, xmlLeaf("name_label", xapi.Str(sr, "name_label")),
				xmlLeaf("name_description", xapi.Str(sr, "name_description")), xmlLeaf("pool_metadata_detected", "false"))
		}
		srs = append(srs, xmlElem("SR", fields...))
	}
	return minidomXML(xmlElem("SRlist", srs...)), nil
}

// localSROn is the SR of a type whose volume group is on a device of the host.
func localSROn(r store.Reader, host, typ, dev string) *store.Object {
	for _, ref := range xapi.Refs(r.Get("host", host), "PBDs") {
		pbd := r.Get("PBD", ref)
		if pbd == nil {
			continue
		}
		sr := r.Get("SR", xapi.Str(pbd, "SR"))
		if sr != nil && xapi.Str(sr, "type") == typ && slices.Contains(strings.Split(xapi.StringMap(pbd, "device_config")["device"], ","), dev) {
			return sr
		}
	}
	return nil
}

// xmlNode is an element of an SM document: text only (a leaf) or elements only.
type xmlNode struct {
	name     string
	text     string
	leaf     bool
	children []xmlNode
}

func xmlLeaf(name, text string) xmlNode { return xmlNode{name: name, text: text, leaf: true} }
func xmlElem(name string, children ...xmlNode) xmlNode {
	return xmlNode{name: name, children: children}
}

// minidomXML renders a document as SM's Python prints it (minidom's toprettyxml): tab
// indents, a leaf's text inline, an empty element self-closed.
func minidomXML(root xmlNode) string {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" ?>\n")
	var write func(n xmlNode, indent string)
	write = func(n xmlNode, indent string) {
		switch {
		case n.leaf:
			b.WriteString(indent + "<" + n.name + ">" + minidomEscape.Replace(n.text) + "</" + n.name + ">\n")
		case len(n.children) == 0:
			b.WriteString(indent + "<" + n.name + "/>\n")
		default:
			b.WriteString(indent + "<" + n.name + ">\n")
			for _, c := range n.children {
				write(c, indent+"\t")
			}
			b.WriteString(indent + "</" + n.name + ">\n")
		}
	}
	write(root, "")
	return b.String()
}

// minidomEscape escapes text as minidom does.
var minidomEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", "\"", "&quot;", ">", "&gt;")

// xmlmEmptySRList is the document xapi renders for probe from a SMAPIv3 plugin's
// answer that found no SR (Xmlm's output).
const xmlmEmptySRList = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SRlist/>\n"

package cluster

import (
	"math"
	"slices"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// SR administration (xapi_sr.ml, xha_statefile.ml, cluster_stack_constraints.ml): whether
// an SR can hold HA's statefile and redo log or the pool's replicated database, and the
// SR's data sources.
//
// The HA cluster stack is corosync when an SR plugged on the master needs it (gfs2),
// else xhad. The stacks' ha_supported_srs files are a model: xhad's lists the shared
// block and file types, corosync's gfs2 only.

// defaultHAClusterStack is xapi's default cluster stack for HA.
const defaultHAClusterStack = "xhad"

// haSupportedSRs are the SR types each cluster stack can keep HA's statefile on.
var haSupportedSRs = map[string][]string{
	defaultHAClusterStack: {"nfs", "lvmoiscsi", "lvmohba", "lvmofcoe", "gfs2", "smb"},
	clusterStack:          {"gfs2"},
}

// Sizes xapi requires of HA and redo-log VDIs.
const (
	haStatefileMinSize = 4096 + 64*4096                        // a global section and one per host, for 64 hosts
	redoLogMinSize     = (4_000_000_000/(4*mib) - 2) * 4 * mib // 4 GB with room for the statefile
)

// haMinimumSRSize is the free space an SR needs for a fresh statefile and redo log, each
// rounded up to the 4 MiB SM allocates at least.
var haMinimumSRSize = roundUp(haStatefileMinSize, 4*mib) + roundUp(redoLogMinSize, 4*mib)

func roundUp(n, align int64) int64 { return (n + align - 1) / align * align }

func (p *Sim) registerSRAdmin() {
	s := p.srv
	s.Handle("SR.assert_can_host_ha_statefile", func(c *xapi.Call) (any, error) {
		sr, err := c.Get("SR", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		return nil, statefileSRError(s.Store, sr, haClusterStack(s.Store))
	})
	s.Handle("SR.assert_supports_database_replication", func(c *xapi.Call) (any, error) {
		sr, err := c.Get("SR", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		return nil, databaseReplicationError(s.Store, sr)
	})
	p.registerSRDataSources()
}

// pluggedEverywhere is xapi's check that an SR has a PBD on every host and that each of
// its PBDs is plugged; either failure is SR_HAS_NO_PBDS.
func pluggedEverywhere(r store.Reader, sr *store.Object) error {
	hosts := map[string]bool{}
	var pbds []*store.Object
	for _, ref := range xapi.Refs(sr, "PBDs") {
		pbd, err := xapi.GetObject(r, "PBD", ref)
		if err != nil {
			return err
		}
		hosts[xapi.Str(pbd, "host")] = true
		pbds = append(pbds, pbd)
	}
	if len(hosts) < r.Count("host") {
		return apierror.New("SR_HAS_NO_PBDS", sr.Ref)
	}
	for _, pbd := range pbds {
		if !xapi.Bool(pbd, "currently_attached") {
			return apierror.New("SR_HAS_NO_PBDS", sr.Ref)
		}
	}
	return nil
}

// smFeatureOf reports whether the SR's driver has a feature; a type without an SM record
// is xapi's internal error.
func smFeatureOf(r store.Reader, sr *store.Object, features ...string) (bool, error) {
	sm := smFor(r, xapi.Str(sr, "type"))
	if sm == nil {
		return false, apierror.Internal("SR does not have corresponding SM record: %s %s", sr.Ref, xapi.Str(sr, "type"))
	}
	have := xapi.Map(sm, "features")
	for _, f := range features {
		if _, ok := have[f]; ok {
			return true, nil
		}
	}
	return false, nil
}

// haClusterStack is xapi's choose_cluster_stack: the stack the SRs plugged on the master
// require, else that of an existing cluster, else the default.
func haClusterStack(r store.Reader) string {
	master := xapi.Str(firstPool(r), "master")
	for _, ref := range xapi.Refs(r.Get("host", master), "PBDs") {
		pbd := r.Get("PBD", ref)
		if pbd == nil || !xapi.Bool(pbd, "currently_attached") {
			continue
		}
		if sr := r.Get("SR", xapi.Str(pbd, "SR")); sr != nil {
			if stacks := xapi.Refs(smFor(r, xapi.Str(sr, "type")), "required_cluster_stack"); len(stacks) > 0 {
				return stacks[0]
			}
		}
	}
	for _, cl := range r.All("Cluster") {
		return xapi.Str(cl, "cluster_stack")
	}
	return defaultHAClusterStack
}

// statefileSRError is xapi's assert_sr_can_host_statefile: plugged on every host, a type
// the cluster stack supports, a driver that can attach a VDI offline, and room for (or
// an existing) statefile and redo log.
func statefileSRError(r store.Reader, sr *store.Object, stack string) error {
	if err := pluggedEverywhere(r, sr); err != nil {
		return err
	}
	if supported, ok := haSupportedSRs[stack]; ok && !slices.Contains(supported, xapi.Str(sr, "type")) {
		return apierror.New("INCOMPATIBLE_STATEFILE_SR", xapi.Str(sr, "type"))
	}
	ok, err := smFeatureOf(r, sr, "VDI_GENERATE_CONFIG", "VDI_ATTACH_OFFLINE")
	if err != nil {
		return err
	}
	if !ok {
		return apierror.New("SR_OPERATION_NOT_SUPPORTED", sr.Ref)
	}
	for _, need := range []struct {
		typ  string
		size int64
	}{{"ha_statefile", haStatefileMinSize}, {"redo_log", redoLogMinSize}} {
		if err := haFitsSR(r, sr, need.typ, need.size); err != nil {
			return err
		}
	}
	return nil
}

// haFitsSR is xapi's ha_fits_sr: an existing VDI of the type and size will do, else the
// SR needs room for a fresh statefile and redo log.
func haFitsSR(r store.Reader, sr *store.Object, typ string, size int64) error {
	for _, ref := range xapi.Refs(sr, "VDIs") {
		if vdi := r.Get("VDI", ref); vdi != nil && xapi.Str(vdi, "type") == typ && xapi.Int(vdi, "virtual_size") >= size {
			return nil
		}
	}
	if xapi.Int(sr, "physical_size")-xapi.Int(sr, "physical_utilisation") < haMinimumSRSize {
		return apierror.New("SR_SOURCE_SPACE_INSUFFICIENT", sr.Ref)
	}
	return nil
}

// databaseReplicationError is xapi's assert_supports_database_replication: plugged on
// every host, and a driver with the SR_METADATA feature.
func databaseReplicationError(r store.Reader, sr *store.Object) error {
	if err := pluggedEverywhere(r, sr); err != nil {
		return err
	}
	ok, err := smFeatureOf(r, sr, "SR_METADATA")
	if err != nil {
		return err
	}
	if !ok {
		return apierror.New("SR_OPERATION_NOT_SUPPORTED", sr.Ref)
	}
	return nil
}

// srDataSources are an SR's sources in the simulated rrdd: the simulated disks are idle,
// so throughput, IOPS and latency read 0; the sizes are the SR's.
func srDataSources(sr *store.Object) []dataSource {
	zero := func(store.Reader) float64 { return 0 }
	field := func(name string) func(store.Reader) float64 {
		return func(r store.Reader) float64 { return float64(xapi.Int(r.Get("SR", sr.Ref), name)) }
	}
	inf := math.Inf(1)
	return []dataSource{
		{"io_throughput_read", "Data read from SR", "MiB/s", 0, inf, zero},
		{"io_throughput_total", "All SR I/O", "MiB/s", 0, inf, zero},
		{"io_throughput_write", "Data written to SR", "MiB/s", 0, inf, zero},
		{"iops_read", "Read requests per second", "requests/s", 0, inf, zero},
		{"iops_total", "I/O requests per second", "requests/s", 0, inf, zero},
		{"iops_write", "Write requests per second", "requests/s", 0, inf, zero},
		{"physical_size", "Physical size of the SR", "B", 0, inf, field("physical_size")},
		{"physical_utilisation", "Physical space used in the SR", "B", 0, inf, field("physical_utilisation")},
		{"read_latency", "Average read latency", "milliseconds", 0, inf, zero},
		{"write_latency", "Average write latency", "milliseconds", 0, inf, zero},
	}
}

// srDataSourceHost is where xapi forwards an SR's data-source call (forward_sr_op): the
// host of a plugged PBD, the master's for a shared SR; it must be live.
func srDataSourceHost(r store.Reader, sr *store.Object) error {
	master := xapi.Str(firstPool(r), "master")
	for _, host := range srHosts(r, sr.Ref) {
		if !xapi.Bool(sr, "shared") || host == master {
			return forwardTo(r, host)
		}
	}
	return apierror.New("SR_HAS_NO_PBDS", sr.Ref)
}

func (p *Sim) registerSRDataSources() {
	s := p.srv
	onSR := func(fn func(sr *store.Object, name string) (any, error)) func(c *xapi.Call) (any, error) {
		return dsHandler(s, "SR", srDataSourceHost, fn)
	}
	s.Handle("SR.get_data_sources", onSR(func(sr *store.Object, _ string) (any, error) {
		return p.archives.records(sr.Ref, srDataSources(sr)), nil
	}))
	s.Handle("SR.query_data_source", onSR(func(sr *store.Object, name string) (any, error) {
		return p.archives.query(s.Store, sr.Ref, srDataSources(sr), name)
	}))
	s.Handle("SR.record_data_source", onSR(func(sr *store.Object, name string) (any, error) {
		return nil, p.archives.record(sr.Ref, srDataSources(sr), name)
	}))
	s.Handle("SR.forget_data_source_archives", onSR(func(sr *store.Object, name string) (any, error) {
		p.archives.set(sr.Ref, name, false)
		return nil, nil
	}))
}

package cluster

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Data sources (xapi_host.ml, xapi_vm.ml over xcp-rrdd). rrdd is a closed daemon here, so
// the metrics are a model (docs/architecture.md, "Data sources"): a host offers cpu<i>,
// cpu_avg, loadavg, memory_total_kib and memory_free_kib; a running VM cpu<i>, memory and
// memory_target, all standard, hence recorded from the start. forget_data_source_archives
// drops a source's archive (it is then listed as not enabled and cannot be queried);
// record_data_source records it again. rrdd's errors reach the caller as xapi's
// INTERNAL_ERROR with the printed IDL error.

// dataSource is one metric: its description and how to read it now.
type dataSource struct {
	name, description, units string
	min, max                 float64
	value                    func(r store.Reader) float64
}

// guestCPULoad is the simulated load of one running VCPU.
const guestCPULoad = 0.1

// dsArchives holds, per host or VM ref, the sources whose archives were forgotten.
type dsArchives struct {
	mu        sync.Mutex
	forgotten map[string]map[string]bool
}

func (a *dsArchives) enabled(obj, name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.forgotten[obj][name]
}

func (a *dsArchives) set(obj, name string, enabled bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.forgotten == nil {
		a.forgotten = map[string]map[string]bool{}
	}
	if a.forgotten[obj] == nil {
		a.forgotten[obj] = map[string]bool{}
	}
	if enabled {
		delete(a.forgotten[obj], name)
	} else {
		a.forgotten[obj][name] = true
	}
}

// hostDataSources are a host's sources.
func hostDataSources(r store.Reader, h *store.Object) []dataSource {
	load := func(r store.Reader) float64 {
		vcpus := int64(0)
		for _, ref := range xapi.Refs(r.Get("host", h.Ref), "resident_VMs") {
			if vm := r.Get("VM", ref); vm != nil && !xapi.Bool(vm, "is_control_domain") && xapi.Str(vm, "power_state") == "Running" {
				vcpus += xapi.Int(vm, "VCPUs_at_startup")
			}
		}
		cpus := max(len(xapi.Refs(h, "host_CPUs")), 1)
		return math.Min(1, float64(vcpus)*guestCPULoad/float64(cpus))
	}
	kib := func(field string) func(store.Reader) float64 {
		return func(r store.Reader) float64 {
			return float64(xapi.Int(r.Get("host_metrics", xapi.Str(r.Get("host", h.Ref), "metrics")), field) / 1024)
		}
	}
	var out []dataSource
	for i := range xapi.Refs(h, "host_CPUs") {
		out = append(out, dataSource{"cpu" + strconv.Itoa(i), "Physical cpu usage for cpu " + strconv.Itoa(i), "(fraction)", 0, 1, load})
	}
	return append(out,
		dataSource{"cpu_avg", "Average physical cpu usage", "(fraction)", 0, 1, load},
		dataSource{"loadavg", "Domain0 loadavg", "(fraction)", math.Inf(-1), math.Inf(1), load},
		dataSource{"memory_free_kib", "Total amount of free memory", "KiB", 0, math.Inf(1), kib("memory_free")},
		dataSource{"memory_total_kib", "Total amount of memory in the host", "KiB", 0, math.Inf(1), kib("memory_total")})
}

// vmDataSources are a running VM's sources.
func vmDataSources(vm *store.Object) []dataSource {
	var out []dataSource
	for i := range int(xapi.Int(vm, "VCPUs_at_startup")) {
		out = append(out, dataSource{"cpu" + strconv.Itoa(i), fmt.Sprintf("CPU%d usage", i), "(fraction)", 0, 1,
			func(store.Reader) float64 { return guestCPULoad }})
	}
	return append(out,
		dataSource{"memory", "Memory currently allocated to VM", "B", 0, math.Inf(1), func(r store.Reader) float64 {
			return float64(xapi.Int(r.Get("VM_metrics", xapi.Str(r.Get("VM", vm.Ref), "metrics")), "memory_actual"))
		}},
		dataSource{"memory_target", "Target of VM balloon driver", "B", 0, math.Inf(1), func(r store.Reader) float64 {
			return float64(xapi.Int(r.Get("VM", vm.Ref), "memory_target"))
		}})
}

// rrddError is how xapi reports an error of rrdd's: the IDL error printed into
// INTERNAL_ERROR, with rrdd's own exception wrapped as Rrdd_internal_error.
func rrddError(exn string) error {
	return apierror.Internal("IDL Error: [S(Rrdd_internal_error);S(%s)]", exn)
}

// invalidDataSource is rrdd's answer to a query of a source with no archive.
func invalidDataSource(name string) error {
	return rrddError(fmt.Sprintf("Rrd.Invalid_data_source(%q)", name))
}

// dataSourceMissing is rrdd's answer to recording a source that does not exist.
func dataSourceMissing(name string) error {
	return rrddError(fmt.Sprintf("Rrd_interface.Rrdd_error([S(Datasource_missing);S(%s)])", name))
}

// dsRecords lists sources as Data_source records (value is always 0, as xapi says).
func (a *dsArchives) records(obj string, dss []dataSource) []any {
	out := make([]any, 0, len(dss))
	for _, ds := range dss {
		out = append(out, []any{ds.name, ds.description, a.enabled(obj, ds.name), true, ds.units, ds.min, ds.max, 0.0})
	}
	return out
}

func findDS(dss []dataSource, name string) *dataSource {
	for i := range dss {
		if dss[i].name == name {
			return &dss[i]
		}
	}
	return nil
}

// query reads a source that has an archive.
func (a *dsArchives) query(r store.Reader, obj string, dss []dataSource, name string) (any, error) {
	ds := findDS(dss, name)
	if ds == nil || !a.enabled(obj, name) {
		return nil, invalidDataSource(name)
	}
	return ds.value(r), nil
}

// record starts an archive for a source that exists.
func (a *dsArchives) record(obj string, dss []dataSource, name string) error {
	if findDS(dss, name) == nil {
		return dataSourceMissing(name)
	}
	a.set(obj, name, true)
	return nil
}

// dsHandler is a data-source call on an object of class: the object, where to forward
// (an error when there is no host to run it), then fn with the source's name, if any.
func dsHandler(s *xapi.Server, class string, forward func(r store.Reader, obj *store.Object) error,
	fn func(obj *store.Object, name string) (any, error)) func(c *xapi.Call) (any, error) {
	return func(c *xapi.Call) (any, error) {
		obj, err := c.Get(class, c.StringArg(0))
		if err != nil {
			return nil, err
		}
		if err := forward(s.Store, obj); err != nil {
			return nil, err
		}
		name := ""
		if len(c.Args) > 1 {
			name = c.StringArg(1)
		}
		return fn(obj, name)
	}
}

func (p *Sim) registerDataSources() {
	s := p.srv
	// onHost runs a host's data-source call where xapi forwards it: on the host, live.
	onHost := func(fn func(h *store.Object, name string) (any, error)) func(c *xapi.Call) (any, error) {
		return dsHandler(s, "host", func(r store.Reader, h *store.Object) error { return forwardTo(r, h.Ref) }, fn)
	}
	s.Handle("host.get_data_sources", onHost(func(h *store.Object, _ string) (any, error) {
		return p.archives.records(h.Ref, hostDataSources(s.Store, h)), nil
	}))
	s.Handle("host.query_data_source", onHost(func(h *store.Object, name string) (any, error) {
		return p.archives.query(s.Store, h.Ref, hostDataSources(s.Store, h), name)
	}))
	s.Handle("host.record_data_source", onHost(func(h *store.Object, name string) (any, error) {
		return nil, p.archives.record(h.Ref, hostDataSources(s.Store, h), name)
	}))
	s.Handle("host.forget_data_source_archives", onHost(func(h *store.Object, name string) (any, error) {
		p.archives.set(h.Ref, name, false)
		return nil, nil
	}))

	// A VM's calls run under its data_source_op operation (the VM must be running),
	// except query, which only asks for a running or paused VM.
	underOp := func(fn func(vm *store.Object, name string) (any, error)) func(c *xapi.Call) (any, error) {
		return func(c *xapi.Call) (any, error) {
			var out any
			o := forwardedVMOp(c.StringArg(0), "data_source_op")
			err := p.withOp(c, o, func() error {
				name := ""
				if len(c.Args) > 1 {
					name = c.StringArg(1)
				}
				// The VM may have gone while the call waited for its operation.
				vm, err := xapi.GetObject(s.Store, "VM", c.StringArg(0))
				if err != nil {
					return err
				}
				out, err = fn(vm, name)
				return err
			})
			return out, err
		}
	}
	s.Handle("VM.get_data_sources", underOp(func(vm *store.Object, _ string) (any, error) {
		return p.archives.records(vm.Ref, vmDataSources(vm)), nil
	}))
	s.Handle("VM.record_data_source", underOp(func(vm *store.Object, name string) (any, error) {
		return nil, p.archives.record(vm.Ref, vmDataSources(vm), name)
	}))
	s.Handle("VM.forget_data_source_archives", underOp(func(vm *store.Object, name string) (any, error) {
		p.archives.set(vm.Ref, name, false)
		return nil, nil
	}))
	s.Handle("VM.query_data_source", func(c *xapi.Call) (any, error) {
		vm, err := c.Get("VM", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		if ps := xapi.Str(vm, "power_state"); ps != "Running" && ps != "Paused" {
			return nil, apierror.New("VM_BAD_POWER_STATE", vm.Ref, "running;paused", strings.ToLower(ps))
		}
		if err := forwardTo(s.Store, xapi.Str(vm, "resident_on")); err != nil {
			return nil, err
		}
		return p.archives.query(s.Store, vm.Ref, vmDataSources(vm), c.StringArg(1))
	})
}

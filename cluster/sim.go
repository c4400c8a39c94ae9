// Package cluster is the simulated pool behind the XenAPI surface: the default inventory
// and the behaviour of the messages that do more than read and write fields, one file per
// XenAPI class (vm.go, host.go, pool.go, …). It registers its handlers on an
// xapi.Server.
//
// The simulation keeps xapi's invariants: allowed_operations and current_operations are
// recomputed around every operation, host memory adds up to what its resident VMs use,
// and SR usage adds up to its VDIs.
package cluster

import (
	"flag"
	"sync"
	"time"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
)

// Spec sizes the default pool built on first start.
type Spec struct {
	Hosts int // hosts; the first is the master
	VMs   int // guest VMs spread over the hosts, about half of them running
	CPUs  int // logical CPUs per host
	// MemoryGiB is the memory of each host.
	MemoryGiB int
}

// AddFlags registers the pool-sizing flags.
func (s *Spec) AddFlags(fs *flag.FlagSet) {
	fs.IntVar(&s.Hosts, "hosts", 3, "number of hosts in the default pool")
	fs.IntVar(&s.VMs, "vms", 6, "number of guest VMs in the default pool")
	fs.IntVar(&s.CPUs, "host-cpus", 16, "logical CPUs per host")
	fs.IntVar(&s.MemoryGiB, "host-memory", 256, "memory of each host, in GiB")
}

// Sim is the simulated pool.
type Sim struct {
	srv  *xapi.Server
	spec Spec

	// liveness hooks run inside the transaction that changes a host's liveness.
	mu         sync.Mutex
	liveness   []LivenessHook
	ejects     []EjectHook
	destroys   []HostDestroyHook
	plugChecks []PlugCheck
	pifChecks  []PIFCheck

	ha          haState
	pluginCalls pluginCalls
	archives    dsArchives

	// scheduleBackup is the VMSS schedule the last VMSS.remove_from_schedule saw.
	scheduleBackup map[string]string
}

// LivenessHook is told, inside the transaction that makes the change, that a host
// became live or not live (it booted, shut down, crashed). Clustering follows host
// liveness through it.
type LivenessHook func(tx *store.Tx, host string, live bool) error

// OnLiveness registers a liveness hook.
func (p *Sim) OnLiveness(h LivenessHook) {
	p.mu.Lock()
	p.liveness = append(p.liveness, h)
	p.mu.Unlock()
}

// New registers the simulation's handlers on srv.
func New(srv *xapi.Server, spec Spec) *Sim {
	if spec.Hosts < 1 {
		spec.Hosts = 1
	}
	if spec.CPUs < 1 {
		spec.CPUs = 16
	}
	if spec.MemoryGiB < 8 {
		spec.MemoryGiB = 256
	}
	p := &Sim{srv: srv, spec: spec, ha: haState{lastAttempt: map[string]time.Time{}, alerted: map[string]bool{}}}
	p.registerVM()
	p.registerVMSettings()
	p.registerVMTuning()
	p.registerHost()
	p.registerPool()
	p.registerVMGroup()
	p.registerVMAppliance()
	p.registerSR()
	p.registerSRAdmin()
	p.registerSRProbe()
	p.registerPBD()
	p.registerVDI()
	p.registerNBD()
	p.registerVBD()
	p.registerVIF()
	p.registerNetwork()
	p.registerPIF()
	p.registerVLANAndBond()
	p.registerClustering()
	p.registerPlugins()
	p.registerDataSources()
	p.registerPoolHA()
	p.registerBlobs()
	p.registerPoolSettings()
	p.registerHostAdmin()
	p.registerVTPM()
	p.registerUSB()
	p.registerTunnel()
	p.registerSRIOV()
	p.registerVMSS()
	p.registerPIFConfig()
	p.registerHostMisc()
	p.registerCertificates()
	p.registerTLS()
	p.registerRepositories()
	p.registerObserver()
	p.registerSDNController()
	p.registerHostExtension()
	p.registerWLB()
	p.registerGPU()
	p.registerPVS()
	p.registerUEFIAndLVHD()
	p.registerExternalAuth()
	p.registerUpdates()
	p.registerDR()
	p.registerPoolJoin()
	p.registerSRMake()
	p.registerCrashdumps()
	p.registerHostUpdates()
	p.registerEmergency()
	return p
}

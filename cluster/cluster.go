// Package cluster is the simulated pool behind the XenAPI surface: the default inventory
// and the behaviour of the messages that do more than read and write fields, one file per
// XenAPI class. It registers its handlers on an xapi.Server.
package cluster

import (
	"flag"

	"github.com/xapisim/xapisim/xapi"
)

// Spec sizes the default pool built on first start.
type Spec struct {
	Hosts int // number of hosts, the first is the master
}

// AddFlags registers the pool-sizing flags.
func (s *Spec) AddFlags(fs *flag.FlagSet) {
	fs.IntVar(&s.Hosts, "hosts", 3, "number of hosts in the default pool")
}

// Sim is the simulated pool.
type Sim struct {
	srv  *xapi.Server
	spec Spec
}

// New registers the simulation's handlers on srv.
func New(srv *xapi.Server, spec Spec) *Sim {
	if spec.Hosts < 1 {
		spec.Hosts = 1
	}
	return &Sim{srv: srv, spec: spec}
}

// Start starts the simulation's background work.
func (p *Sim) Start() {}

// Stop stops it.
func (p *Sim) Stop() {}

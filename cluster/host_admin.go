package cluster

// Host administration (xapi_host.ml): the management interface (host_management.go).

func (p *Sim) registerHostAdmin() {
	p.registerManagement()
}

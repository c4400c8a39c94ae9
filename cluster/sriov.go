package cluster

import (
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// SR-IOV (xapi_network_sriov.ml). The simulated NICs have no SR-IOV capability, so
// network_sriov.create ends at xapi's capability check and no network_sriov object is
// ever made; destroy and get_remaining_capacity act on one that exists all the same.

func (p *Sim) registerSRIOV() {
	s := p.srv
	s.Handle("network_sriov.create", func(c *xapi.Call) (any, error) {
		err := func(r store.Reader) error {
			pif, err := xapi.GetObject(r, "PIF", c.StringArg(0))
			if err != nil {
				return err
			}
			net, err := xapi.GetObject(r, "network", c.StringArg(1))
			if err != nil {
				return err
			}
			if err := forwardTo(r, xapi.Str(pif, "host")); err != nil {
				return err
			}
			if err := licenceRestriction(r, "restrict_network_sriov", "Network_sriov", false); err != nil {
				return err
			}
			if !xapi.Bool(net, "managed") {
				return apierror.New("NETWORK_UNMANAGED", net.Ref)
			}
			if !xapi.Bool(pif, "managed") {
				return apierror.New("PIF_UNMANAGED", pif.Ref)
			}
			// Only a physical PIF: not a tunnel access PIF, VLAN, SR-IOV logical PIF or
			// bond master, whatever its physical flag says.
			if len(xapi.Refs(pif, "tunnel_access_PIF_of")) > 0 || !isNull(xapi.Str(pif, "VLAN_master_of")) ||
				len(xapi.Refs(pif, "sriov_logical_PIF_of")) > 0 || len(xapi.Refs(pif, "bond_master_of")) > 0 ||
				!xapi.Bool(pif, "physical") {
				return apierror.New("PIF_IS_NOT_PHYSICAL", pif.Ref)
			}
			if len(xapi.Refs(pif, "sriov_physical_PIF_of")) > 0 {
				return apierror.New("NETWORK_SRIOV_ALREADY_ENABLED", pif.Ref)
			}
			return apierror.New("PIF_IS_NOT_SRIOV_CAPABLE", pif.Ref)
		}(s.Store)
		return nil, err
	})
	s.Handle("network_sriov.destroy", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			sriov, err := xapi.GetObject(tx, "network_sriov", c.StringArg(0))
			if err != nil {
				return err
			}
			physical, err := xapi.GetObject(tx, "PIF", xapi.Str(sriov, "physical_PIF"))
			if err != nil {
				return err
			}
			host := xapi.Str(physical, "host")
			if err := forwardTo(tx, host); err != nil {
				return err
			}
			logical, err := xapi.GetObject(tx, "PIF", xapi.Str(sriov, "logical_PIF"))
			if err != nil {
				return err
			}
			if len(xapi.Refs(logical, "VLAN_slave_of")) > 0 {
				return apierror.New("PIF_VLAN_STILL_EXISTS", logical.Ref)
			}
			if err := pifUnplugError(tx, logical, host); err != nil {
				return err
			}
			// The logical PIF shares the physical PIF's metrics, which stay.
			tx.Delete("PIF", logical.Ref)
			tx.Delete("network_sriov", sriov.Ref)
			return nil
		})
		return nil, err
	})
	// xapi counts the virtual functions of the physical PIF's PCI device that no VM uses;
	// the simulated PCI devices have no virtual functions.
	s.Handle("network_sriov.get_remaining_capacity", func(c *xapi.Call) (any, error) {
		sriov, err := c.Get("network_sriov", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		physical, err := c.Get("PIF", xapi.Str(sriov, "physical_PIF"))
		if err != nil {
			return nil, err
		}
		if _, err := c.Get("PCI", xapi.Str(physical, "PCI")); err != nil {
			return nil, err
		}
		return int64(0), nil
	})
}

package cluster

import (
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Calls xapi refuses in this version whatever their arguments (xapi_pool.ml,
// xapi_host.ml), and the LVHD call served by a dom0 extension that no host has.

func (p *Sim) registerUEFIAndLVHD() {
	s := p.srv
	// Setting the pool's UEFI certificates is deprecated; custom ones need xapi.conf's
	// allow-custom-uefi-certs, false by default and on the simulated hosts.
	s.Handle("pool.set_uefi_certificates", func(*xapi.Call) (any, error) {
		return nil, apierror.New(apierror.OperationNotAllowed,
			"Setting UEFI certificates is deprecated, please use `set_custom_uefi_certificates`")
	})
	s.Handle("pool.set_custom_uefi_certificates", func(*xapi.Call) (any, error) {
		return nil, apierror.New(apierror.OperationNotAllowed,
			"Setting UEFI certificates is not possible when allow_custom_uefi_certs is false")
	})
	s.Handle("host.set_uefi_certificates", func(*xapi.Call) (any, error) {
		return nil, apierror.New(apierror.OperationNotAllowed,
			"To set UEFI certificates use: `Pool.set_custom_uefi_certificates`")
	})
	// xapi forwards the call to the host's extension of that name; without one (and
	// whatever else fails on the way) the answer is MESSAGE_METHOD_UNKNOWN.
	s.Handle("LVHD.enable_thin_provisioning", func(*xapi.Call) (any, error) {
		return nil, apierror.New(apierror.MessageMethodUnknown, "LVHD.enable_thin_provisioning")
	})
}

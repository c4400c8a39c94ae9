package cluster

import (
	"strconv"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// SDN controllers (xapi_sdn_controller.ml): one per pool, for Open vSwitch. Pointing the
// hosts' vswitches at it has no visible effect in the simulation.

// defaultSDNPort is the port of an SSL controller introduced with port 0.
const defaultSDNPort = 6632

// sdnControllerError is xapi's check of a new controller, in its order.
func sdnControllerError(r store.Reader, protocol, address string, port int64) error {
	if len(r.All("SDN_controller")) > 0 {
		return apierror.New(apierror.OperationNotAllowed, "SDN controller has been configured. Please forget it first.")
	}
	if protocol == "pssl" {
		if address != "" {
			return apierror.New(apierror.InvalidValue, "address", address)
		}
		if port != 0 {
			return apierror.New(apierror.InvalidValue, "port", strconv.FormatInt(port, 10))
		}
	}
	if protocol == "ssl" {
		if address == "" {
			return apierror.New(apierror.InvalidValue, "address", address)
		}
		if !isIPv4(address) {
			return apierror.New("INVALID_IP_ADDRESS_SPECIFIED", "address")
		}
	}
	if port != 0 && (port < 1 || port > 65535) {
		return apierror.New("VALUE_NOT_SUPPORTED", "port", strconv.FormatInt(port, 10), "Port out of range")
	}
	return nil
}

func (p *Sim) registerSDNController() {
	s := p.srv
	s.Handle("SDN_controller.introduce", func(c *xapi.Call) (any, error) {
		protocol, address, port := c.StringArg(0), c.StringArg(1), c.Arg(2).(int64)
		var ref string
		_, err := s.Store.Update(func(tx *store.Tx) error {
			if !usingVSwitch(tx) {
				return apierror.New(apierror.OperationNotAllowed, "host not configured for vswitch operation")
			}
			if err := sdnControllerError(tx, protocol, address, port); err != nil {
				return err
			}
			if protocol == "ssl" && port == 0 {
				port = defaultSDNPort
			}
			ctl := s.NewObject("SDN_controller")
			xapi.Set(ctl, "protocol", protocol)
			xapi.Set(ctl, "address", address)
			xapi.Set(ctl, "port", port)
			tx.Put(ctl)
			ref = ctl.Ref
			return nil
		})
		return ref, err
	})
	s.Handle("SDN_controller.forget", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			if _, err := xapi.GetObject(tx, "SDN_controller", c.StringArg(0)); err != nil {
				return err
			}
			tx.Delete("SDN_controller", c.StringArg(0))
			return nil
		})
		return nil, err
	})
}

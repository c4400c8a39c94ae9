package cluster

import (
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// SR.make (xapi_sr.ml, message_forwarding.ml) is deprecated: the forwarding layer still
// moves the device_config passwords into secrets, which stay behind, and forwards the call
// to the host, whose implementation refuses it.

func (p *Sim) registerSRMake() {
	s := p.srv
	s.Handle("SR.make", func(c *xapi.Call) (any, error) {
		host, config := c.StringArg(0), c.Arg(1).(map[string]any)
		if _, err := c.Get("host", host); err != nil {
			return nil, err
		}
		if _, err := s.Store.Update(func(tx *store.Tx) error {
			p.hideSecrets(tx, config)
			return nil
		}); err != nil {
			return nil, err
		}
		if err := forwardTo(s.Store, host); err != nil {
			return nil, err
		}
		return nil, apierror.New("MESSAGE_DEPRECATED")
	})
}

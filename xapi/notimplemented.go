package xapi

import (
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// notImplemented answers a message the simulation does not cover yet. It first checks the
// object refs among the arguments, as any xapi implementation would by reading them, so
// that a bad ref still gets HANDLE_INVALID; then NOT_IMPLEMENTED [message], xapi's answer
// for a stub. Never a silent success.
func notImplemented(c *Call) (any, error) {
	for i, p := range c.Msg.Params {
		if p.Type.Kind != datamodel.Ref || p.Type.Class == nil || !p.Type.Class.InDB() {
			continue
		}
		ref := c.StringArg(i)
		if ref == datamodel.NullRef {
			continue
		}
		if _, err := c.Get(p.Type.Class.Name, ref); err != nil {
			return nil, err
		}
	}
	return nil, apierror.New(apierror.NotImplemented, c.Msg.WireName)
}

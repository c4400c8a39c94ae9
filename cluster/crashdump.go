package cluster

import (
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Crash dumps (xapi_host_crashdump.ml, xapi_crashdump.ml, xapi_support.ml). A
// host_crashdump is a directory in the host's /var/crash; xapi drops the records whose
// directory went at boot, so every record's directory is there and destroy removes both.
// upload runs dom0's upload-wrapper, whose exit status is that of its last command (the
// removal of its temporary file), not curl's: with no network nothing is sent, and the
// call still succeeds. A crashdump (of a VM) is a VDI that destroy tries to destroy,
// ignoring any failure, before dropping the record.

func (p *Sim) registerCrashdumps() {
	s := p.srv
	// onCrashdumpHost is the forwarding to the host that has the dump.
	onCrashdumpHost := func(c *xapi.Call) (*store.Object, error) {
		hc, err := c.Get("host_crashdump", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		return hc, forwardTo(s.Store, xapi.Str(hc, "host"))
	}
	s.Handle("host_crashdump.destroy", func(c *xapi.Call) (any, error) {
		if _, err := onCrashdumpHost(c); err != nil {
			return nil, err
		}
		return nil, deleteIfPresent(s, "host_crashdump", c.StringArg(0))
	})
	s.Handle("host_crashdump.upload", func(c *xapi.Call) (any, error) {
		if _, err := onCrashdumpHost(c); err != nil {
			return nil, err
		}
		if c.StringArg(1) == "" {
			return nil, apierror.New("INVALID_VALUE", "url", "")
		}
		return nil, nil
	})
	s.Handle("crashdump.destroy", func(c *xapi.Call) (any, error) {
		ref := c.StringArg(0)
		cd, err := c.Get("crashdump", ref)
		if err != nil {
			return nil, err
		}
		// Forwarded as an operation on the VDI's SR.
		vdi, err := xapi.GetObject(s.Store, "VDI", xapi.Str(cd, "VDI"))
		if err != nil {
			return nil, err
		}
		sr, err := xapi.GetObject(s.Store, "SR", xapi.Str(vdi, "SR"))
		if err != nil {
			return nil, err
		}
		if err := srDataSourceHost(s.Store, sr); err != nil {
			return nil, err
		}
		_, _ = p.vdiDestroy(withArgs(c, vdi.Ref)) // xapi logs the failure and goes on
		return nil, deleteIfPresent(s, "crashdump", ref)
	})
}

// deleteIfPresent deletes an object unless it is already gone.
func deleteIfPresent(s *xapi.Server, class, ref string) error {
	_, err := s.Store.Update(func(tx *store.Tx) error {
		if tx.Get(class, ref) != nil {
			tx.Delete(class, ref)
		}
		return nil
	})
	return err
}

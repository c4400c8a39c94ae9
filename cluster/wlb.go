package cluster

import (
	"fmt"
	"net"
	"net/url"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Workload balancing and the pool's other remote servers (workload_balancing.ml,
// remote_requests.ml, xapi_pool.ml). The simulated network has no WLB appliance and no
// other server: a connection to an IP address is refused and a name does not resolve.

// splitWLBURL is xapi's split of a WLB URL, "host:port" without a scheme.
func splitWLBURL(raw string) (host, port string, err error) {
	u, perr := url.Parse("//" + raw)
	if perr != nil || u.Hostname() == "" || u.Port() == "" {
		return "", "", apierror.New("WLB_URL_INVALID", raw)
	}
	return u.Hostname(), u.Port(), nil
}

// unreachable is how a connection to host fails: refused at an IP address, no such host
// for a name.
func unreachable(host string) (refused bool) { return net.ParseIP(host) != nil }

// contactWLB is a request to the WLB server at raw: its URL is checked, then the
// connection fails as stunnel reports it.
func contactWLB(raw string) error {
	host, _, err := splitWLBURL(raw)
	if err != nil {
		return err
	}
	if unreachable(host) {
		return apierror.New("WLB_CONNECTION_REFUSED")
	}
	return apierror.New("WLB_UNKNOWN_HOST")
}

// wlbInitialized is xapi's assert_wlb_licensed then assert_wlb_initialized.
func wlbInitialized(r store.Reader) error {
	if err := licenceRestriction(r, "restrict_wlb", "WLB", false); err != nil {
		return err
	}
	if xapi.Str(firstPool(r), "wlb_url") == "" {
		return apierror.New("WLB_NOT_INITIALIZED")
	}
	return nil
}

// wlbEnabled is xapi's assert_wlb_enabled.
func wlbEnabled(r store.Reader) error {
	if err := wlbInitialized(r); err != nil {
		return err
	}
	if !xapi.Bool(firstPool(r), "wlb_enabled") {
		return apierror.New("WLB_DISABLED")
	}
	return nil
}

func (p *Sim) registerWLB() {
	s := p.srv
	s.Handle("pool.initialize_wlb", func(c *xapi.Call) (any, error) {
		if err := licenceRestriction(s.Store, "restrict_wlb", "WLB", false); err != nil {
			return nil, err
		}
		// The server's answer would record the URL, user and password; none answers.
		return nil, contactWLB(c.StringArg(0))
	})
	// xapi clears the configuration whatever the server answers.
	s.Handle("pool.deconfigure_wlb", func(*xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			pool := firstPool(tx)
			if xapi.Str(pool, "wlb_url") == "" {
				return apierror.New("WLB_NOT_INITIALIZED")
			}
			// The password's secret exists only once a server accepted initialize_wlb.
			pool = pool.Clone()
			xapi.Set(pool, "wlb_username", "")
			xapi.Set(pool, "wlb_url", "")
			xapi.Set(pool, "wlb_enabled", false)
			tx.Put(pool)
			return nil
		})
		return nil, err
	})
	// fromWLB is a call that needs the pool's WLB server (check says whether it may ask).
	fromWLB := func(check func(store.Reader) error) func() error {
		return func() error {
			if err := check(s.Store); err != nil {
				return err
			}
			return contactWLB(xapi.Str(firstPool(s.Store), "wlb_url"))
		}
	}
	configured, enabled := fromWLB(wlbInitialized), fromWLB(wlbEnabled)
	s.Handle("pool.send_wlb_configuration", func(*xapi.Call) (any, error) { return nil, configured() })
	s.Handle("pool.retrieve_wlb_configuration", func(*xapi.Call) (any, error) { return nil, configured() })
	s.Handle("pool.retrieve_wlb_recommendations", func(*xapi.Call) (any, error) { return nil, enabled() })
	s.Handle("VM.retrieve_wlb_recommendations", func(c *xapi.Call) (any, error) {
		if _, err := c.Get("VM", c.StringArg(0)); err != nil {
			return nil, err
		}
		return nil, enabled()
	})
	s.Handle("host.retrieve_wlb_evacuate_recommendations", func(c *xapi.Call) (any, error) {
		if _, err := c.Get("host", c.StringArg(0)); err != nil {
			return nil, err
		}
		return nil, enabled()
	})
	// send_test_post lets only a timeout or a certificate failure become an API error;
	// stunnel's own failure reaches the client as the exception.
	s.Handle("pool.send_test_post", func(c *xapi.Call) (any, error) {
		reason := "No host resolved"
		if unreachable(c.StringArg(0)) {
			reason = "Connection refused"
		}
		return nil, apierror.New(apierror.InternalError, fmt.Sprintf("Stunnel.Stunnel_error(%q)", reason))
	})
	// xapi removed archiving of performance data to a remote target.
	s.Handle("pool.test_archive_target", func(*xapi.Call) (any, error) {
		return nil, apierror.New(apierror.MessageRemoved)
	})
}

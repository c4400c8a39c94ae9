package cluster

import (
	"encoding/base64"
	"slices"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Licensing (xapi_host.ml apply_edition, license_add, license_remove; xapi_pool.ml
// apply_edition). xapi hands the edition to the licensing daemon, v6d, on the host; the
// simulated one is XCP-ng's: it knows the editions in simEditions, refuses any other
// with INVALID_EDITION [edition], and keeps the current edition for "" (what
// license_add and license_remove ask for). XCP-ng has no licence files: a file that
// decodes is accepted and changes nothing.

func (p *Sim) registerLicensing() {
	s := p.srv
	s.Handle("host.apply_edition", func(c *xapi.Call) (any, error) {
		return nil, p.applyEdition(c.StringArg(0), c.StringArg(1))
	})
	s.Handle("host.license_add", func(c *xapi.Call) (any, error) {
		contents := c.StringArg(1)
		_, err := s.Store.Update(func(tx *store.Tx) error {
			if _, err := liveHost(tx, c.StringArg(0)); err != nil {
				return err
			}
			if _, err := base64.StdEncoding.DecodeString(contents); err != nil {
				return apierror.New("LICENSE_PROCESSING_ERROR")
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return nil, p.applyEdition(c.StringArg(0), "")
	})
	s.Handle("host.license_remove", func(c *xapi.Call) (any, error) {
		return nil, p.applyEdition(c.StringArg(0), "")
	})
	// pool.apply_edition ignores its pool ref and applies the edition to every host in
	// turn; on a failure the hosts already done get their old edition back and the
	// first error is the answer.
	s.Handle("pool.apply_edition", func(c *xapi.Call) (any, error) {
		edition := c.StringArg(1)
		_, err := s.Store.Update(func(tx *store.Tx) error {
			for _, h := range tx.All("host") {
				if err := v6dApply(tx, h.Ref, edition); err != nil {
					return err
				}
			}
			return nil
		})
		return nil, err
	})
}

// applyEdition is host.apply_edition, forwarded to the host.
func (p *Sim) applyEdition(host, edition string) error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error { return v6dApply(tx, host, edition) })
	return err
}

// v6dApply applies an edition on a host after forwarding to it.
func v6dApply(tx *store.Tx, host, edition string) error {
	h, err := liveHost(tx, host)
	if err != nil {
		return err
	}
	if edition == "" {
		edition = xapi.Str(h, "edition")
	}
	if !slices.Contains(simEditions, edition) {
		return apierror.New("INVALID_EDITION", edition)
	}
	if xapi.Str(h, "edition") != edition {
		h = h.Clone()
		xapi.Set(h, "edition", edition)
		tx.Put(h)
	}
	return nil
}

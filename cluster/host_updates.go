package cluster

import (
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// host.apply_updates and host.emergency_clear_mandatory_guidance (xapi_host.ml,
// repository.ml, repository_helpers.ml). apply_updates runs on the coordinator: under the
// pool's apply_updates operation it disables the host (which stays disabled when a later
// check fails), then under the host's own operation checks the pending guidances, the one
// enabled update repository and the hash the client saw. pool.sync_updates never reaches
// a repository, so no repository data is ever on the coordinator: past the hash check,
// reading it fails and xapi reports APPLY_UPDATES_FAILED.

func (p *Sim) registerHostUpdates() {
	s := p.srv
	s.Handle("host.apply_updates", p.applyUpdates)
	s.Handle("host.emergency_clear_mandatory_guidance", func(c *xapi.Call) (any, error) {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			h := tx.Get("host", xapi.Str(firstPool(tx), "master"))
			if h == nil || len(xapi.Refs(h, "pending_guidances")) == 0 {
				return nil
			}
			h = h.Clone()
			xapi.Set(h, "pending_guidances", xapi.StringSet())
			tx.Put(h)
			return nil
		})
		return nil, err
	})
}

func (p *Sim) applyUpdates(c *xapi.Call) (any, error) {
	s := p.srv
	host, hash := c.StringArg(0), c.StringArg(1)
	if _, err := c.Get("host", host); err != nil {
		return nil, err
	}
	if err := licenceRestriction(s.Store, "restrict_updates", "Updates", true); err != nil {
		return nil, err
	}
	hostOp := objectOp{class: "host", ref: host, op: "apply_updates",
		check: func(tx *store.Tx, h *store.Object) error {
			var current []string
			for _, v := range xapi.Map(h, "current_operations") {
				current = append(current, v.(string))
			}
			return hostOpError(h, "apply_updates", hostLive(tx, h.Ref), xapi.Bool(h, "enabled"), current)
		},
		refresh: setHostAllowedOps}
	return nil, p.withOp(c, poolOp(firstPool(s.Store).Ref, "apply_updates"), func() error {
		_, err := s.Store.Update(func(tx *store.Tx) error {
			if xapi.Bool(firstPool(tx), "ha_enabled") {
				return apierror.New("HA_IS_ENABLED")
			}
			h, err := xapi.GetObject(tx, "host", host)
			if err != nil {
				return err
			}
			if xapi.Bool(h, "enabled") {
				h = h.Clone()
				xapi.Set(h, "enabled", false)
				tx.Put(h)
				setHostAllowedOps(tx, host)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return p.withOp(c, hostOp, func() error {
			if err := c.Work(); err != nil {
				return err
			}
			return applyUpdatesChecks(s.Store, host, hash)
		})
	})
}

// applyUpdatesChecks is Repository.apply_updates up to where it reads the synced
// repository, which the simulated coordinator never has.
func applyUpdatesChecks(r store.Reader, host, hash string) error {
	h, err := xapi.GetObject(r, "host", host)
	if err != nil {
		return err
	}
	if len(xapi.Refs(h, "pending_guidances")) > 0 {
		return apierror.New("HOST_PENDING_MANDATORY_GUIDANCE_NOT_EMPTY", host)
	}
	var enabled []*store.Object
	for _, ref := range xapi.Refs(firstPool(r), "repositories") {
		if repo := r.Get("Repository", ref); repo != nil && xapi.Bool(repo, "update") {
			enabled = append(enabled, repo)
		}
	}
	switch {
	case len(enabled) == 0:
		return apierror.New("NO_REPOSITORY_ENABLED")
	case len(enabled) > 1:
		return apierror.New("MULTIPLE_UPDATE_REPOSITORIES_ENABLED")
	case hash == "" || hash != xapi.Str(enabled[0], "hash"):
		return apierror.New("UPDATEINFO_HASH_MISMATCH")
	}
	return apierror.New("APPLY_UPDATES_FAILED", host)
}

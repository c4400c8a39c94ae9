package cluster

import (
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// Update repositories (repository.ml, repository_helpers.ml, xapi_pool.ml). Every
// repository this schema can hold is a remote one (no origin field). xapi's domain
// allowlist and URL blocklist are empty by default, so any http(s) URL with a valid host
// is accepted. The simulated pool has no network: pool.sync_updates stops where reposync
// would fail to reach the repository (REPOSYNC_FAILED) and records nothing.

func (p *Sim) registerRepositories() {
	s := p.srv
	s.Handle("Repository.introduce", p.introduceRepository)
	s.Handle("Repository.forget", func(c *xapi.Call) (any, error) {
		ref := c.StringArg(0)
		_, err := s.Store.Update(func(tx *store.Tx) error {
			if _, err := xapi.GetObject(tx, "Repository", ref); err != nil {
				return err
			}
			if slices.Contains(xapi.Refs(firstPool(tx), "repositories"), ref) {
				return apierror.New("REPOSITORY_IS_IN_USE")
			}
			tx.Delete("Repository", ref)
			return nil
		})
		return nil, err
	})
	s.Handle("Repository.set_gpgkey_path", func(c *xapi.Call) (any, error) {
		ref, value := c.StringArg(0), c.StringArg(1)
		_, err := s.Store.Update(func(tx *store.Tx) error {
			repo, err := xapi.GetObject(tx, "Repository", ref)
			if err != nil {
				return err
			}
			if err := checkGPGKeyPath(value); err != nil {
				return err
			}
			repo = repo.Clone()
			xapi.Set(repo, "gpgkey_path", value)
			tx.Put(repo)
			return nil
		})
		return nil, err
	})

	s.Handle("pool.set_repositories", func(c *xapi.Call) (any, error) {
		var value []string
		for _, v := range c.Arg(1).([]any) {
			value = append(value, v.(string))
		}
		return nil, p.configureRepositories(c, value, func(tx *store.Tx, pool *store.Object) {
			existing := xapi.Refs(pool, "repositories")
			for _, ref := range value {
				if !slices.Contains(existing, ref) {
					resetRepository(tx, pool, ref)
				}
			}
			xapi.Set(pool, "repositories", xapi.StringSet(value...))
			if len(value) == 0 {
				xapi.Set(pool, "last_update_sync", epoch)
				// sync_updates cannot refresh latest_synced_updates_applied any more.
				for _, h := range tx.All("host") {
					h = h.Clone()
					xapi.Set(h, "latest_synced_updates_applied", "unknown")
					tx.Put(h)
				}
			}
		})
	})
	s.Handle("pool.add_repository", func(c *xapi.Call) (any, error) {
		ref := c.StringArg(1)
		return nil, p.configureRepositories(c, []string{ref}, func(tx *store.Tx, pool *store.Object) {
			existing := xapi.Refs(pool, "repositories")
			if !slices.Contains(existing, ref) {
				xapi.Set(pool, "repositories", xapi.StringSet(append(existing, ref)...))
				resetRepository(tx, pool, ref)
			}
		})
	})
	s.Handle("pool.remove_repository", func(c *xapi.Call) (any, error) {
		ref := c.StringArg(1)
		return nil, p.configureRepositories(c, []string{ref}, func(tx *store.Tx, pool *store.Object) {
			rest := slices.DeleteFunc(slices.Clone(xapi.Refs(pool, "repositories")), func(r string) bool { return r == ref })
			xapi.Set(pool, "repositories", xapi.StringSet(rest...))
			if len(rest) == 0 {
				xapi.Set(pool, "last_update_sync", epoch)
			}
		})
	})
	s.Handle("pool.sync_updates", func(c *xapi.Call) (any, error) {
		pool := c.StringArg(0)
		if _, err := c.Get("pool", pool); err != nil {
			return nil, err
		}
		if err := licenceRestriction(s.Store, "restrict_updates", "Updates", true); err != nil {
			return nil, err
		}
		return nil, p.withOp(c, poolOp(pool, "sync_updates"), func() error {
			if err := c.Work(); err != nil {
				return err
			}
			if len(xapi.Refs(s.Store.Get("pool", pool), "repositories")) == 0 {
				return apierror.New("NO_REPOSITORY_ENABLED")
			}
			return apierror.New("REPOSYNC_FAILED")
		})
	})
	s.Handle("pool.configure_repository_proxy", p.configureRepositoryProxy)
	s.Handle("pool.disable_repository_proxy", func(c *xapi.Call) (any, error) {
		return nil, p.setRepositoryProxy(c.StringArg(0), "", "", "")
	})
}

var epoch = time.Unix(0, 0).UTC()

// resetRepository is what enabling a repository does: its hash is forgotten and the pool
// must sync again.
func resetRepository(tx *store.Tx, pool *store.Object, ref string) {
	repo := tx.Get("Repository", ref).Clone()
	xapi.Set(repo, "hash", "")
	tx.Put(repo)
	xapi.Set(pool, "last_update_sync", epoch)
}

// configureRepositories runs fn on the pool under its configure_repositories operation,
// once the pool and the repositories exist (xapi's forwarding layer logs their UUIDs).
func (p *Sim) configureRepositories(c *xapi.Call, repos []string, fn func(tx *store.Tx, pool *store.Object)) error {
	ref := c.StringArg(0)
	if _, err := c.Get("pool", ref); err != nil {
		return err
	}
	for _, r := range repos {
		if _, err := c.Get("Repository", r); err != nil {
			return err
		}
	}
	return p.withOp(c, poolOp(ref, "configure_repositories"), func() error {
		_, err := p.srv.Store.Update(func(tx *store.Tx) error {
			pool, err := xapi.GetObject(tx, "pool", ref)
			if err != nil {
				return err
			}
			for _, r := range repos {
				if _, err := xapi.GetObject(tx, "Repository", r); err != nil {
					return err
				}
			}
			pool = pool.Clone()
			fn(tx, pool)
			tx.Put(pool)
			return nil
		})
		return err
	})
}

// introduceRepository is Repository.introduce: both URLs valid, a valid GPG key name,
// and neither the name nor the binary URL already used.
func (p *Sim) introduceRepository(c *xapi.Call) (any, error) {
	name, description, binary, source := c.StringArg(0), c.StringArg(1), c.StringArg(2), c.StringArg(3)
	update, gpgkey := c.Arg(4).(bool), c.StringArg(5)
	for _, u := range []string{binary, source} {
		if !validRepositoryURL(u) {
			return nil, apierror.New("INVALID_BASE_URL", u)
		}
	}
	if err := checkGPGKeyPath(gpgkey); err != nil {
		return nil, err
	}
	repo := p.srv.NewObject("Repository")
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		for _, r := range tx.All("Repository") {
			if xapi.Str(r, "name_label") == name || xapi.Str(r, "binary_url") == binary {
				return apierror.New("REPOSITORY_ALREADY_EXISTS", r.Ref)
			}
		}
		for field, v := range map[string]any{"name_label": name, "name_description": description,
			"binary_url": binary, "source_url": source, "update": update, "gpgkey_path": gpgkey} {
			xapi.Set(repo, field, v)
		}
		tx.Put(repo)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return repo.Ref, nil
}

// validRepositoryURL is assert_url_is_valid with an empty allowlist: http or https and a
// host that is an IP address or a host name.
func validRepositoryURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil {
		return true
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' ||
			strings.IndexFunc(label, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-')
			}) >= 0 {
			return false
		}
	}
	return true
}

// checkGPGKeyPath is assert_gpgkey_path_is_valid: a key name of letters, digits, _ and -.
func checkGPGKeyPath(path string) error {
	if strings.IndexFunc(path, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	}) >= 0 {
		return apierror.New("INVALID_GPGKEY_PATH", path)
	}
	return nil
}

// configureRepositoryProxy is pool.configure_repository_proxy: an http(s) URL, and a user
// name and password given together, neither with a newline.
func (p *Sim) configureRepositoryProxy(c *xapi.Call) (any, error) {
	pool, proxy, user, password := c.StringArg(0), c.StringArg(1), c.StringArg(2), c.StringArg(3)
	if _, err := c.Get("pool", pool); err != nil {
		return nil, err
	}
	if u, err := url.Parse(proxy); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, apierror.New("INVALID_REPOSITORY_PROXY_URL", proxy)
	}
	if (user == "") != (password == "") || strings.Contains(user, "\n") || strings.Contains(password, "\n") {
		return nil, apierror.New("INVALID_REPOSITORY_PROXY_CREDENTIAL")
	}
	return nil, p.setRepositoryProxy(pool, proxy, user, password)
}

// setRepositoryProxy records the proxy; the password goes in a new secret and the old
// secret goes.
func (p *Sim) setRepositoryProxy(ref, proxy, user, password string) error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		pool, err := xapi.GetObject(tx, "pool", ref)
		if err != nil {
			return err
		}
		pool = pool.Clone()
		old := xapi.Str(pool, "repository_proxy_password")
		secret := datamodel.NullRef
		if password != "" {
			o := p.srv.NewObject("secret")
			xapi.Set(o, "value", password)
			tx.Put(o)
			secret = o.Ref
		}
		xapi.Set(pool, "repository_proxy_url", proxy)
		xapi.Set(pool, "repository_proxy_username", user)
		xapi.Set(pool, "repository_proxy_password", secret)
		tx.Put(pool)
		if tx.Get("secret", old) != nil {
			tx.Delete("secret", old)
		}
		return nil
	})
	return err
}

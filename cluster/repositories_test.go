package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

func TestRepositories(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	pool := p.first("pool", "true")
	base := "https://updates.example.com/8.3/base"
	src := "https://updates.example.com/8.3/source"
	base2 := "http://10.0.0.9/updates"
	repo := p.ok("Repository.introduce", "base", "the base", base, src, true, "RPM-GPG-KEY-xcpng").(string)
	rec := p.ok("Repository.get_record", repo).(map[string]any)
	assert.Equal(t, "base", rec["name_label"])
	assert.Equal(t, base, rec["binary_url"])
	assert.Equal(t, true, rec["update"])
	assert.Equal(t, false, rec["up_to_date"])
	repo2 := p.ok("Repository.introduce", "other", "", base2, src, false, "").(string)

	p.expectErrors([]errorCase{
		{"same name", "Repository.introduce", []any{"base", "", "https://x.example.com/", src, false, ""}, []string{"REPOSITORY_ALREADY_EXISTS", repo}},
		{"same URL", "Repository.introduce", []any{"new", "", base2, src, false, ""}, []string{"REPOSITORY_ALREADY_EXISTS", repo2}},
		{"ftp URL", "Repository.introduce", []any{"new", "", "ftp://x.example.com/", src, false, ""}, []string{"INVALID_BASE_URL", "ftp://x.example.com/"}},
		{"no host", "Repository.introduce", []any{"new", "", "https:///path", src, false, ""}, []string{"INVALID_BASE_URL", "https:///path"}},
		{"bad host", "Repository.introduce", []any{"new", "", "https://bad_host/", src, false, ""}, []string{"INVALID_BASE_URL", "https://bad_host/"}},
		{"empty source URL", "Repository.introduce", []any{"new", "", "https://x.example.com/", "", false, ""}, []string{"INVALID_BASE_URL", ""}},
		{"bad GPG key", "Repository.introduce", []any{"new", "", "https://x.example.com/", src, false, "../key"}, []string{"INVALID_GPGKEY_PATH", "../key"}},
		{"bad GPG key later", "Repository.set_gpgkey_path", []any{repo, "a/b"}, []string{"INVALID_GPGKEY_PATH", "a/b"}},
		{"set_gpgkey_path bogus", "Repository.set_gpgkey_path", []any{bogus, "k"}, []string{"HANDLE_INVALID", "Repository", bogus}},
		{"forget bogus", "Repository.forget", []any{bogus}, []string{"HANDLE_INVALID", "Repository", bogus}},
		{"add bogus", "pool.add_repository", []any{pool, bogus}, []string{"HANDLE_INVALID", "Repository", bogus}},
		{"add to bogus pool", "pool.add_repository", []any{bogus, repo}, []string{"HANDLE_INVALID", "pool", bogus}},
		{"set bogus", "pool.set_repositories", []any{pool, []any{repo, bogus}}, []string{"HANDLE_INVALID", "Repository", bogus}},
		{"remove bogus", "pool.remove_repository", []any{pool, bogus}, []string{"HANDLE_INVALID", "Repository", bogus}},
		{"sync without repositories", "pool.sync_updates", []any{pool, false, "", ""}, []string{"NO_REPOSITORY_ENABLED"}},
	})
	p.ok("Repository.set_gpgkey_path", repo, "RPM-GPG-KEY-2")
	assert.Equal(t, "RPM-GPG-KEY-2", p.ok("Repository.get_gpgkey_path", repo))

	p.ok("pool.add_repository", pool, repo)
	p.ok("pool.add_repository", pool, repo) // already there: nothing changes
	assert.Equal(t, []any{repo}, p.ok("pool.get_repositories", pool))
	p.expectErrors([]errorCase{
		{"forget in use", "Repository.forget", []any{repo}, []string{"REPOSITORY_IS_IN_USE"}},
		{"sync cannot reach the repository", "pool.sync_updates", []any{pool, true, "token", "id"}, []string{"REPOSYNC_FAILED"}},
	})
	assert.Empty(t, xapi.Map(p.get("pool", pool), "current_operations"))
	p.restrict("restrict_updates", "true")
	p.expectErrors([]errorCase{{"unlicensed", "pool.sync_updates", []any{pool, false, "", ""}, []string{"LICENCE_RESTRICTION", "Updates"}}})
	p.restrict("restrict_updates", "false")

	p.ok("pool.set_repositories", pool, []any{repo, repo2})
	assert.ElementsMatch(t, []any{repo, repo2}, p.ok("pool.get_repositories", pool))
	p.ok("pool.remove_repository", pool, repo)
	assert.Equal(t, []any{repo2}, p.ok("pool.get_repositories", pool))
	p.ok("Repository.forget", repo)
	p.ok("pool.set_repositories", pool, []any{})
	assert.Equal(t, []any{}, p.ok("pool.get_repositories", pool))
	for _, h := range p.where("host", "true") {
		assert.Equal(t, "unknown", p.ok("host.get_latest_synced_updates_applied", h))
	}
	p.ok("Repository.forget", repo2)
	assert.Empty(t, p.where("Repository", "true"))
}

func TestRepositoryProxy(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 0})
	pool := p.first("pool", "true")
	p.ok("pool.configure_repository_proxy", pool, "http://proxy.example.com:3128", "user", "secret")
	rec := p.ok("pool.get_record", pool).(map[string]any)
	assert.Equal(t, "http://proxy.example.com:3128", rec["repository_proxy_url"])
	assert.Equal(t, "user", rec["repository_proxy_username"])
	secret := rec["repository_proxy_password"].(string)
	assert.Equal(t, "secret", p.ok("secret.get_value", secret))

	p.ok("pool.configure_repository_proxy", pool, "https://proxy.example.com", "", "")
	_, err := p.call("secret.get_record", secret)
	require.NotNil(t, err, "the old secret goes")
	assert.Equal(t, "OpaqueRef:NULL", p.ok("pool.get_repository_proxy_password", pool))

	p.expectErrors([]errorCase{
		{"bogus pool", "pool.configure_repository_proxy", []any{bogus, "http://p", "", ""}, []string{"HANDLE_INVALID", "pool", bogus}},
		{"not http", "pool.configure_repository_proxy", []any{pool, "socks5://p", "", ""}, []string{"INVALID_REPOSITORY_PROXY_URL", "socks5://p"}},
		{"no scheme", "pool.configure_repository_proxy", []any{pool, "proxy:3128", "", ""}, []string{"INVALID_REPOSITORY_PROXY_URL", "proxy:3128"}},
		{"user without password", "pool.configure_repository_proxy", []any{pool, "http://p", "u", ""}, []string{"INVALID_REPOSITORY_PROXY_CREDENTIAL"}},
		{"password without user", "pool.configure_repository_proxy", []any{pool, "http://p", "", "pw"}, []string{"INVALID_REPOSITORY_PROXY_CREDENTIAL"}},
		{"newline", "pool.configure_repository_proxy", []any{pool, "http://p", "u\n", "pw"}, []string{"INVALID_REPOSITORY_PROXY_CREDENTIAL"}},
		{"disable bogus", "pool.disable_repository_proxy", []any{bogus}, []string{"HANDLE_INVALID", "pool", bogus}},
	})
	p.ok("pool.configure_repository_proxy", pool, "http://p", "u", "pw")
	p.ok("pool.disable_repository_proxy", pool)
	rec = p.ok("pool.get_record", pool).(map[string]any)
	assert.Equal(t, "", rec["repository_proxy_url"])
	assert.Equal(t, "", rec["repository_proxy_username"])
	assert.Equal(t, "OpaqueRef:NULL", rec["repository_proxy_password"])
	assert.Empty(t, p.where("secret", `field "value"="pw"`))
}

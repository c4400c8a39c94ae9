package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clusterPool is a started pool with the facts the cluster tests need.
type clusterPool struct {
	c       *JSONRPC
	pool    string
	hosts   []string // master first
	storage []string // each host's eth1 PIF, on the storage network
	network string   // the storage network
}

func newClusterPool(t *testing.T, hosts int, extra ...string) (*Server, *clusterPool) {
	s := Start(t, append([]string{"--hosts", fmt.Sprint(hosts), "--vms", "0"}, extra...)...)
	c := Login(t, s)
	p := &clusterPool{c: c, pool: c.S(t, "pool.get_all").([]any)[0].(string)}
	master := c.S(t, "pool.get_master", p.pool).(string)
	p.hosts = []string{master}
	for _, h := range c.S(t, "host.get_all").([]any) {
		if h != master {
			p.hosts = append(p.hosts, h.(string))
		}
	}
	for _, h := range p.hosts {
		p.storage = append(p.storage, p.pif(t, h, "eth1"))
	}
	p.network = c.S(t, "PIF.get_network", p.storage[0]).(string)
	return s, p
}

func (p *clusterPool) pif(t *testing.T, host, device string) string {
	for _, ref := range p.c.S(t, "host.get_PIFs", host).([]any) {
		if p.c.S(t, "PIF.get_device", ref) == device {
			return ref.(string)
		}
	}
	t.Fatalf("host %s has no %s", host, device)
	return ""
}

func (p *clusterPool) record(t *testing.T, class, ref string) map[string]any {
	return p.c.S(t, class+".get_record", ref).(map[string]any)
}

func (p *clusterPool) clusterHostOf(t *testing.T, host string) string {
	for ref, rec := range p.c.S(t, "Cluster_host.get_all_records").(map[string]any) {
		if rec.(map[string]any)["host"] == host {
			return ref
		}
	}
	return ""
}

// messages returns the names of the messages about an object, oldest first.
func (p *clusterPool) messages(t *testing.T, uuid string) []string {
	var names []string
	recs := p.c.S(t, "message.get_all_records").(map[string]any)
	ids := make([]string, 0, len(recs))
	for ref, rec := range recs {
		if rec.(map[string]any)["obj_uuid"] == uuid {
			ids = append(ids, ref)
		}
	}
	for _, ref := range ids {
		names = append(names, recs[ref].(map[string]any)["name"].(string))
	}
	return names
}

// TestClusterCreateChecksInOrder walks Cluster.create's checks in xapi's order
// (semantics.md §1.3: pool operation, stack, timeouts, then the PIF) and the state a
// successful create leaves.
func TestClusterCreateChecksInOrder(t *testing.T) {
	_, p := newClusterPool(t, 3)
	c, pif := p.c, p.storage[0]
	create := func(pif, stack string, timeout, coefficient float64) APIError {
		return c.Err(t, "Cluster.create", pif, stack, true, timeout, coefficient)
	}
	assert.Equal(t, APIError{"INVALID_CLUSTER_STACK", "xhad"}, create(pif, "xhad", 0.5, 0.1), "the stack is checked first")
	assert.Equal(t, APIError{"INVALID_VALUE", "token_timeout", "0.5"}, create(pif, "corosync", 0.5, 0.1))
	assert.Equal(t, APIError{"INVALID_VALUE", "token_timeout", "0."}, create(pif, "corosync", 0, 1))
	assert.Equal(t, APIError{"INVALID_VALUE", "token_timeout_coefficient", "0.6"}, create(pif, "corosync", 20, 0.6))
	assert.Equal(t, APIError{"HANDLE_INVALID", "PIF", "OpaqueRef:bogus"}, create("OpaqueRef:bogus", "corosync", 20, 1))
	assert.Equal(t, APIError{"PIF_ALLOWS_UNPLUG", pif}, create(pif, "corosync", 20, 1), "the PIF comes after the timeouts")

	c.S(t, "PIF.unplug", pif)
	c.S(t, "PIF.set_disallow_unplug", pif, true)
	assert.Equal(t, APIError{"REQUIRED_PIF_IS_UNPLUGGED", pif}, create(pif, "corosync", 20, 1))
	c.S(t, "PIF.plug", pif)
	ip := c.S(t, "PIF.get_IP", pif).(string)
	c.S(t, "PIF.reconfigure_ip", pif, "None", "", "", "", "")
	assert.Equal(t, APIError{"PIF_HAS_NO_NETWORK_CONFIGURATION", pif}, create(pif, "corosync", 20, 1))
	c.S(t, "PIF.reconfigure_ip", pif, "Static", ip, "255.255.255.0", "", "")
	assert.Contains(t, c.S(t, "pool.get_allowed_operations", p.pool), "cluster_create")

	cluster := c.S(t, "Cluster.create", pif, "corosync", true, 20.0, 1.0).(string)
	rec := p.record(t, "Cluster", cluster)
	assert.Equal(t, "corosync", rec["cluster_stack"])
	assert.Equal(t, json.Number("3"), rec["cluster_stack_version"], "XCP-ng does not restrict corosync 3")
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{32}$`), rec["cluster_token"])
	assert.Equal(t, true, rec["pool_auto_join"])
	assert.Equal(t, json.Number("20.0"), rec["token_timeout"])
	assert.Equal(t, json.Number("1.0"), rec["token_timeout_coefficient"])
	assert.Equal(t, true, rec["is_quorate"])
	assert.Equal(t, json.Number("1"), rec["quorum"])
	assert.Equal(t, json.Number("1"), rec["live_hosts"])
	assert.Equal(t, []any{"destroy", "disable", "enable", "remove", "add"}, rec["allowed_operations"])
	require.Len(t, rec["cluster_hosts"], 1)
	ch := p.record(t, "Cluster_host", rec["cluster_hosts"].([]any)[0].(string))
	assert.Equal(t, p.hosts[0], ch["host"])
	assert.Equal(t, pif, ch["PIF"])
	assert.Equal(t, true, ch["enabled"])
	assert.Equal(t, true, ch["joined"])
	assert.Equal(t, true, ch["live"])
	assert.Equal(t, []any{"disable", "enable"}, ch["allowed_operations"])
	assert.Equal(t, "corosync", c.S(t, "pool.get_ha_cluster_stack", p.pool))
	assert.NotContains(t, c.S(t, "pool.get_allowed_operations", p.pool), "cluster_create")
	assert.Equal(t, APIError{"CLUSTER_ALREADY_EXISTS"}, create(pif, "corosync", 20, 1))
	assert.Equal(t, p.network, c.S(t, "Cluster.get_network", cluster))

	only := rec["cluster_hosts"].([]any)[0].(string)
	assert.Equal(t, APIError{"CLUSTER_HOST_IS_LAST", only}, c.Err(t, "Cluster_host.destroy", only))
	c.S(t, "Cluster.destroy", cluster)
	assert.Empty(t, c.S(t, "Cluster_host.get_all"))
	assert.Equal(t, "xhad", c.S(t, "pool.get_ha_cluster_stack", p.pool))
	assert.Contains(t, c.S(t, "pool.get_allowed_operations", p.pool), "cluster_create")
}

// TestClusterHostErrors walks Cluster_host's messages and errors on a 3-host pool.
func TestClusterHostErrors(t *testing.T) {
	_, p := newClusterPool(t, 3)
	c := p.c
	c.S(t, "PIF.set_disallow_unplug", p.storage[0], true)
	cluster := c.S(t, "Cluster.create", p.storage[0], "corosync", false, 20.0, 1.0).(string)
	masterCH := p.clusterHostOf(t, p.hosts[0])
	h2, h3 := p.hosts[1], p.hosts[2]

	assert.Equal(t, APIError{"PIF_NOT_ATTACHED_TO_HOST", p.storage[0], h2}, c.Err(t, "Cluster_host.create", cluster, h2, p.storage[0]))
	assert.Equal(t, APIError{"HANDLE_INVALID", "Cluster", "OpaqueRef:bogus"}, c.Err(t, "Cluster_host.create", "OpaqueRef:bogus", h2, p.storage[1]))

	// A host whose only peer address is its own cannot reach anyone: the record stays,
	// not joined, with an alert.
	ip2 := c.S(t, "PIF.get_IP", p.storage[1]).(string)
	c.S(t, "PIF.reconfigure_ip", p.storage[1], "Static", c.S(t, "PIF.get_IP", p.storage[0]), "255.255.255.0", "", "")
	assert.Equal(t, APIError{"NO_CLUSTER_HOSTS_REACHABLE", cluster}, c.Err(t, "Cluster_host.create", cluster, h2, p.storage[1]))
	stale := p.clusterHostOf(t, h2)
	require.NotEmpty(t, stale, "a failed join keeps the record")
	assert.Equal(t, false, c.S(t, "Cluster_host.get_joined", stale))
	assert.Equal(t, []any{}, c.S(t, "Cluster_host.get_allowed_operations", stale))
	assert.Contains(t, p.messages(t, c.S(t, "host.get_uuid", h2).(string)), "CLUSTER_HOST_ENABLE_FAILED")
	assert.Equal(t, APIError{"CLUSTER_HOST_NOT_JOINED", stale}, c.Err(t, "Cluster_host.enable", stale))
	assert.Equal(t, APIError{"INTERNAL_ERROR", "Cluster host cannot be created because it already exists"},
		c.Err(t, "Cluster_host.create", cluster, h2, p.storage[1]))
	c.S(t, "Cluster_host.force_destroy", stale)

	// Joining plugs the PIF for good (the failed join above already had).
	c.S(t, "PIF.reconfigure_ip", p.storage[1], "Static", ip2, "255.255.255.0", "", "")
	c.S(t, "PIF.set_disallow_unplug", p.storage[1], false)
	assert.Equal(t, false, c.S(t, "PIF.get_disallow_unplug", p.storage[1]))
	ch2 := c.S(t, "Cluster_host.create", cluster, h2, p.storage[1]).(string)
	assert.Equal(t, true, c.S(t, "PIF.get_disallow_unplug", p.storage[1]))
	assert.Equal(t, true, c.S(t, "Cluster_host.get_live", ch2))
	assert.EqualValues(t, 2, num(t, c.S(t, "Cluster.get_quorum", cluster)))
	assert.Contains(t, p.messages(t, c.S(t, "host.get_uuid", h2).(string)), "CLUSTER_HOST_JOINING")

	// An enabled member's PIF is locked.
	assert.Equal(t, APIError{"CLUSTERING_ENABLED", ch2}, c.Err(t, "PIF.set_disallow_unplug", p.storage[1], false))
	assert.Equal(t, APIError{"CLUSTERING_ENABLED", ch2}, c.Err(t, "PIF.forget", p.storage[1]))
	assert.Equal(t, APIError{"CLUSTERING_ENABLED", ch2}, c.Err(t, "PIF.reconfigure_ip", p.storage[1], "DHCP", "", "", "", ""))

	assert.Equal(t, APIError{"CLUSTER_DOES_NOT_HAVE_ONE_NODE", "2"}, c.Err(t, "Cluster.destroy", cluster))
	c.S(t, "Cluster_host.disable", ch2)
	assert.Equal(t, false, c.S(t, "Cluster_host.get_live", ch2), "a disabled member leaves the membership")
	assert.EqualValues(t, 1, num(t, c.S(t, "Cluster.get_quorum", cluster)))
	assert.Equal(t, APIError{"CLUSTERING_DISABLED", ch2}, c.Err(t, "Cluster_host.destroy", ch2))
	c.S(t, "PIF.set_disallow_unplug", p.storage[1], false) // allowed once clustering is disabled there
	assert.Equal(t, APIError{"PIF_ALLOWS_UNPLUG", p.storage[1]}, c.Err(t, "Cluster_host.enable", ch2), "enable does not fix the PIF")
	c.S(t, "PIF.set_disallow_unplug", p.storage[1], true)
	c.S(t, "Cluster_host.enable", ch2)
	assert.Equal(t, true, c.S(t, "Cluster_host.get_live", ch2))

	// A member on another network breaks get_network.
	ch3 := c.S(t, "Cluster_host.create", cluster, h3, p.pif(t, h3, "eth0")).(string)
	assert.Equal(t, APIError{"INTERNAL_ERROR", fmt.Sprintf("Failure(\"No common network found for cluster %s\")", cluster)},
		c.Err(t, "Cluster.get_network", cluster))
	c.S(t, "Cluster_host.forget", ch3)
	assert.Equal(t, p.network, c.S(t, "Cluster.get_network", cluster))

	// A host that is down cannot be reached.
	c.S(t, "host.disable", h3)
	c.S(t, "host.shutdown", h3)
	assert.Equal(t, APIError{"HOST_OFFLINE", h3}, c.Err(t, "Cluster_host.create", cluster, h3, p.storage[2]))

	// A clustered SR pins clustering on its hosts.
	sr := c.S(t, "SR.create", p.hosts[0], map[string]any{"SCSIid": "3600a0"}, 0, "gfs2", "", "gfs2", "user", false, map[string]any{}).(string)
	assert.Equal(t, APIError{"CLUSTER_STACK_IN_USE", "corosync"}, c.Err(t, "Cluster_host.disable", masterCH))
	assert.Equal(t, APIError{"CLUSTER_STACK_IN_USE", "corosync"}, c.Err(t, "Cluster_host.force_destroy", masterCH))
	c.S(t, "PBD.unplug", c.S(t, "SR.get_PBDs", sr).([]any)[0])

	c.S(t, "Cluster_host.destroy", ch2)
	assert.Equal(t, APIError{"NO_COMPATIBLE_CLUSTER_HOST", h2},
		c.Err(t, "SR.create", h2, map[string]any{}, 0, "gfs2", "", "gfs2", "user", false, map[string]any{}))
	assert.Equal(t, APIError{"CLUSTER_HOST_IS_LAST", masterCH}, c.Err(t, "Cluster_host.destroy", masterCH))
	c.S(t, "Cluster_host.force_destroy", masterCH)
	assert.Equal(t, APIError{"INTERNAL_ERROR", fmt.Sprintf("Failure(\"No cluster_hosts found for cluster %s\")", cluster)},
		c.Err(t, "Cluster.get_network", cluster))
	c.S(t, "Cluster.destroy", cluster)
}

// TestClusterDaemonFailureOnDemand makes the simulated xapi-clusterd fail on one host:
// pool_create reports the failure and cleans up after itself.
func TestClusterDaemonFailureOnDemand(t *testing.T) {
	_, p := newClusterPool(t, 3)
	c := p.c
	c.S(t, "PIF.set_disallow_unplug", p.storage[0], true)
	c.S(t, "host.add_to_other_config", p.hosts[2], "xapisim-clusterd-error", "corosync join timed out")
	assert.Equal(t, APIError{"INTERNAL_ERROR", "corosync join timed out"}, c.Err(t, "Cluster.pool_create", p.network, "corosync", 20.0, 1.0))
	assert.Empty(t, c.S(t, "Cluster.get_all"), "pool_create force-destroys the half-made cluster")
	assert.Empty(t, c.S(t, "Cluster_host.get_all"))
	assert.Equal(t, "xhad", c.S(t, "pool.get_ha_cluster_stack", p.pool))
	assert.Contains(t, p.messages(t, c.S(t, "host.get_uuid", p.hosts[2]).(string)), "CLUSTER_HOST_ENABLE_FAILED")
	assert.Equal(t, APIError{"INTERNAL_ERROR", "No PIF found for host:" + p.hosts[0] + " and network:OpaqueRef:bogus"},
		c.Err(t, "Cluster.pool_create", "OpaqueRef:bogus", "corosync", 20.0, 1.0))

	c.S(t, "host.remove_from_other_config", p.hosts[2], "xapisim-clusterd-error")
	cluster := c.S(t, "Cluster.pool_create", p.network, "corosync", 20.0, 1.0).(string)
	assert.Len(t, c.S(t, "Cluster.get_cluster_hosts", cluster), 3)
}

// TestClusterPoolLifecycle covers pool_create, pool_resync, pool.eject, pool_destroy and
// pool_force_destroy.
func TestClusterPoolLifecycle(t *testing.T) {
	_, p := newClusterPool(t, 4)
	c := p.c
	c.S(t, "PIF.set_disallow_unplug", p.storage[0], true)
	cluster := c.S(t, "Cluster.pool_create", p.network, "corosync", 20.0, 1.0).(string)
	for _, h := range p.hosts {
		ch := p.clusterHostOf(t, h)
		require.NotEmpty(t, ch, "every host joins")
		assert.Equal(t, true, c.S(t, "Cluster_host.get_enabled", ch))
		assert.Equal(t, true, c.S(t, "Cluster_host.get_joined", ch))
	}
	assert.EqualValues(t, 3, num(t, c.S(t, "Cluster.get_quorum", cluster)))

	// A member that was forced out comes back on resync while the cluster auto-joins.
	c.S(t, "Cluster_host.force_destroy", p.clusterHostOf(t, p.hosts[3]))
	assert.Empty(t, p.clusterHostOf(t, p.hosts[3]))
	c.S(t, "Cluster.pool_resync", cluster)
	assert.NotEmpty(t, p.clusterHostOf(t, p.hosts[3]))
	assert.EqualValues(t, 4, num(t, c.S(t, "Cluster.get_live_hosts", cluster)))

	// Ejecting a host leaves the cluster first.
	c.S(t, "pool.eject", p.hosts[3])
	assert.Len(t, c.S(t, "Cluster.get_cluster_hosts", cluster), 3)
	assert.EqualValues(t, 2, num(t, c.S(t, "Cluster.get_quorum", cluster)))

	// pool_destroy stops at a disabled member, having turned auto-join off.
	ch2 := p.clusterHostOf(t, p.hosts[1])
	c.S(t, "Cluster_host.disable", ch2)
	assert.Equal(t, APIError{"CLUSTERING_DISABLED", ch2}, c.Err(t, "Cluster.pool_destroy", cluster))
	assert.Equal(t, false, c.S(t, "Cluster.get_pool_auto_join", cluster))
	c.S(t, "Cluster.pool_force_destroy", cluster)
	assert.Empty(t, c.S(t, "Cluster.get_all"))
	assert.Empty(t, c.S(t, "Cluster_host.get_all"))

	cluster = c.S(t, "Cluster.pool_create", p.network, "corosync", 20.0, 1.0).(string)
	c.S(t, "Cluster.pool_destroy", cluster)
	assert.Empty(t, c.S(t, "Cluster.get_all"))
	assert.Equal(t, "xhad", c.S(t, "pool.get_ha_cluster_stack", p.pool))
}

// TestClusterOperationsShowInProgress: while a Cluster_host.disable runs (simulated for a
// second), both objects list it and allow nothing else; then they are free again.
func TestClusterOperationsShowInProgress(t *testing.T) {
	_, p := newClusterPool(t, 2, "--duration", "Cluster_host.disable=1s")
	c := p.c
	c.S(t, "PIF.set_disallow_unplug", p.storage[0], true)
	cluster := c.S(t, "Cluster.pool_create", p.network, "corosync", 20.0, 1.0).(string)
	ch := p.clusterHostOf(t, p.hosts[1])
	task := c.S(t, "Async.Cluster_host.disable", ch).(string)
	require.Eventually(t, func() bool {
		return len(c.S(t, "Cluster_host.get_current_operations", ch).(map[string]any)) == 1
	}, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, map[string]any{task: "disable"}, c.S(t, "Cluster.get_current_operations", cluster))
	assert.Equal(t, []any{}, c.S(t, "Cluster.get_allowed_operations", cluster))
	assert.Equal(t, []any{}, c.S(t, "Cluster_host.get_allowed_operations", ch))
	require.Eventually(t, func() bool { return c.S(t, "task.get_status", task) == "success" }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, map[string]any{}, c.S(t, "Cluster.get_current_operations", cluster))
	assert.Len(t, c.S(t, "Cluster.get_allowed_operations", cluster), 5)
	assert.Equal(t, false, c.S(t, "Cluster_host.get_enabled", ch))
}

// TestClusterQuorumFollowsHosts: on 3- and 5-host pools, shutting members down one at a
// time lowers live_hosts and loses quorum exactly when fewer than quorum remain;
// powering them on restores it; each change arrives through event.from.
func TestClusterQuorumFollowsHosts(t *testing.T) {
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d hosts", n), func(t *testing.T) {
			_, p := newClusterPool(t, n)
			c := p.c
			c.S(t, "PIF.set_disallow_unplug", p.storage[0], true)
			cluster := c.S(t, "Cluster.pool_create", p.network, "corosync", 20.0, 1.0).(string)
			quorum := int64(n/2 + 1)
			check := func(live int64) {
				t.Helper()
				rec := p.record(t, "Cluster", cluster)
				assert.EqualValues(t, quorum, num(t, rec["quorum"]))
				assert.EqualValues(t, live, num(t, rec["live_hosts"]))
				assert.EqualValues(t, live, num(t, rec["expected_hosts"]), "xapi writes the live votes to expected_hosts too")
				assert.Equal(t, live >= quorum, rec["is_quorate"])
			}
			check(int64(n))
			token := c.events(t, []string{"cluster"}, "", 0).Token
			// next waits for the Cluster's next change and returns its snapshot.
			next := func() map[string]any {
				t.Helper()
				b := c.events(t, []string{"cluster"}, token, 5)
				require.NotEmpty(t, b.Events)
				token = b.Token
				ev := b.Events[len(b.Events)-1]
				assert.Equal(t, "mod", ev.Operation)
				assert.Equal(t, cluster, ev.Ref)
				return ev.Snapshot
			}
			for i := 1; i < n; i++ {
				h := p.hosts[n-i]
				c.S(t, "host.disable", h)
				c.S(t, "host.shutdown", h)
				live := int64(n - i)
				snap := next()
				assert.EqualValues(t, live, num(t, snap["live_hosts"]))
				assert.Equal(t, live >= quorum, snap["is_quorate"], "with %d of %d hosts up", live, n)
				check(live)
				assert.Equal(t, false, c.S(t, "Cluster_host.get_live", p.clusterHostOf(t, h)))
				assert.Contains(t, p.messages(t, c.S(t, "host.get_uuid", h).(string)), "CLUSTER_HOST_LEAVING")
			}
			assert.Contains(t, p.messages(t, c.S(t, "pool.get_uuid", p.pool).(string)), "CLUSTER_QUORUM_APPROACHING_LOST")
			for i := n - 1; i >= 1; i-- {
				h := p.hosts[n-i]
				c.S(t, "host.set_power_on_mode", h, "wake-on-lan", map[string]string{})
				c.S(t, "host.power_on", h)
				snap := next()
				live := int64(n - i + 1)
				assert.EqualValues(t, live, num(t, snap["live_hosts"]))
				check(live)
				assert.Contains(t, p.messages(t, c.S(t, "host.get_uuid", h).(string)), "CLUSTER_HOST_JOINING")
			}
			check(int64(n))
		})
	}
}

// TestClusterRoles: a pool-operator may create a cluster, a vm-admin may not, and only
// root may forget a member.
func TestClusterRoles(t *testing.T) {
	users := []map[string]any{
		{"name": "poolop", "password": "p-pw", "roles": []string{"pool-operator"}},
		{"name": "vmadmin", "password": "v-pw", "roles": []string{"vm-admin"}},
	}
	data, _ := json.Marshal(users)
	path := filepath.Join(t.TempDir(), "users.json")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	_, p := newClusterPool(t, 2, "--users", path)
	p.c.S(t, "PIF.set_disallow_unplug", p.storage[0], true)

	s := &Server{URL: p.c.URL}
	vmadmin := loginAs(t, s, "vmadmin", "v-pw")
	denied := vmadmin.Err(t, "Cluster.pool_create", p.network, "corosync", 20.0, 1.0)
	require.Len(t, denied, 3)
	assert.Equal(t, APIError{"RBAC_PERMISSION_DENIED", "cluster.pool_create"}, denied[:2])

	poolop := loginAs(t, s, "poolop", "p-pw")
	cluster := poolop.S(t, "Cluster.pool_create", p.network, "corosync", 20.0, 1.0).(string)
	assert.Equal(t, p.network, vmadmin.S(t, "Cluster.get_network", cluster), "every role may read")
	ch := p.clusterHostOf(t, p.hosts[1])
	assert.Equal(t, "RBAC_PERMISSION_DENIED", poolop.Err(t, "Cluster_host.forget", ch)[0], "forget is for local root only")
	poolop.S(t, "Cluster.pool_destroy", cluster)
}

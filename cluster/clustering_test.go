package cluster_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

// clustered builds a pool of n hosts and runs Cluster.pool_create on the storage network.
func clustered(t *testing.T, n int) (*pool, string) {
	p := newPool(t, cluster.Spec{Hosts: n, VMs: 0})
	master := p.ok("pool.get_master", p.first("pool", "true")).(string)
	pif := p.first("PIF", fmt.Sprintf(`field "host"=%q and field "device"="eth1"`, master))
	p.ok("PIF.set_disallow_unplug", pif, true)
	network := xapi.Str(p.get("PIF", pif), "network")
	return p, p.ok("Cluster.pool_create", network, "corosync", 20.0, 1.0).(string)
}

// TestQuorumModel: one vote per joined and enabled member, quorum floor(votes/2)+1,
// members are the voters whose host is up.
func TestQuorumModel(t *testing.T) {
	for _, tc := range []struct {
		hosts, disabled, down int
		quorum, live          int64
		quorate               bool
	}{
		{hosts: 1, quorum: 1, live: 1, quorate: true},
		{hosts: 2, quorum: 2, live: 2, quorate: true},
		{hosts: 2, down: 1, quorum: 2, live: 1, quorate: false},
		{hosts: 3, down: 1, quorum: 2, live: 2, quorate: true},
		{hosts: 3, down: 2, quorum: 2, live: 1, quorate: false},
		{hosts: 4, down: 1, quorum: 3, live: 3, quorate: true},
		{hosts: 4, down: 2, quorum: 3, live: 2, quorate: false},
		{hosts: 5, disabled: 1, quorum: 3, live: 4, quorate: true},
		{hosts: 5, disabled: 1, down: 2, quorum: 3, live: 2, quorate: false},
		{hosts: 5, disabled: 2, down: 1, quorum: 2, live: 2, quorate: true},
	} {
		name := fmt.Sprintf("%d hosts, %d disabled, %d down", tc.hosts, tc.disabled, tc.down)
		t.Run(name, func(t *testing.T) {
			p, cl := clustered(t, tc.hosts)
			chs := p.where("Cluster_host", "true")
			require.Len(t, chs, tc.hosts)
			for i := 1; i <= tc.disabled; i++ {
				p.ok("Cluster_host.disable", chs[i])
			}
			for i := tc.disabled + 1; i <= tc.disabled+tc.down; i++ {
				host := xapi.Str(p.get("Cluster_host", chs[i]), "host")
				p.ok("host.disable", host)
				p.ok("host.shutdown", host)
			}
			o := p.get("Cluster", cl)
			assert.Equal(t, tc.quorum, xapi.Int(o, "quorum"))
			assert.Equal(t, tc.live, xapi.Int(o, "live_hosts"))
			assert.Equal(t, tc.live, xapi.Int(o, "expected_hosts"))
			assert.Equal(t, tc.quorate, xapi.Bool(o, "is_quorate"))
		})
	}
}

// TestClusterAlerts: the watcher's alerts carry xapi's names, priorities and bodies.
func TestClusterAlerts(t *testing.T) {
	p, _ := clustered(t, 3)
	host := p.where("host", `field "name__label"="host3"`)[0]
	p.ok("host.disable", host)
	p.ok("host.shutdown", host)
	hostUUID := xapi.Str(p.get("host", host), "uuid")
	leaving := messagesNamed(p, "CLUSTER_HOST_LEAVING")
	require.Len(t, leaving, 1)
	m := p.get("message", leaving[0])
	assert.Equal(t, hostUUID, xapi.Str(m, "obj_uuid"))
	assert.Equal(t, "Host", xapi.Str(m, "cls"))
	assert.Equal(t, int64(3), xapi.Int(m, "priority"))
	assert.Equal(t, "<body><message>Host has left the cluster</message><host>host3</host><total_hosts>2</total_hosts><quorum>2</quorum></body>", xapi.Str(m, "body"))
	lost := messagesNamed(p, "CLUSTER_QUORUM_APPROACHING_LOST")
	require.Len(t, lost, 1)
	m = p.get("message", lost[0])
	assert.Equal(t, "Pool", xapi.Str(m, "cls"))
	assert.Equal(t, int64(2), xapi.Int(m, "priority"))
	assert.Equal(t, "<body><message>Cluster is losing quorum</message><total_hosts>2</total_hosts><quorum>2</quorum></body>", xapi.Str(m, "body"))
	// pool_create's joins were announced too, one per host that joined after the master.
	assert.Len(t, messagesNamed(p, "CLUSTER_HOST_JOINING"), 2)
}

// messagesNamed returns the refs of the messages with that name (message has no
// get_all_where in the API).
func messagesNamed(p *pool, name string) []string {
	var out []string
	for _, m := range p.srv.Store.All("message") {
		if xapi.Str(m, "name") == name {
			out = append(out, m.Ref)
		}
	}
	return out
}

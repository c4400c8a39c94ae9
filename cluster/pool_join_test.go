package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/xapitest"
)

func TestPoolJoin(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	pool := p.first("pool", "true")
	master := p.ok("pool.get_master", pool).(string)
	slave := p.otherHost(master)
	masterIP := xapi.Str(p.get("host", master), "address")
	slaveIP := xapi.Str(p.get("host", slave), "address")
	p.expectErrors([]errorCase{
		{"nobody answers there", "pool.join", []any{"192.0.2.1", "root", xapitest.Password}, []string{"JOINING_HOST_CONNECTION_FAILED"}},
		{"a slave answers with its master", "pool.join", []any{slaveIP, "root", "wrong"}, []string{"HOST_IS_SLAVE", masterIP}},
		{"the master refuses bad credentials", "pool.join", []any{masterIP, "root", "wrong"}, []string{"SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"}},
		{"joining one's own pool", "pool.join", []any{masterIP, "root", xapitest.Password}, []string{"OPERATION_NOT_ALLOWED", "Host is already part of a pool"}},
		{"force changes nothing here", "pool.join_force", []any{masterIP, "root", xapitest.Password}, []string{"OPERATION_NOT_ALLOWED", "Host is already part of a pool"}},
	})
	sessions := len(p.srv.Store.All("session"))
	p.call("pool.join", masterIP, "root", xapitest.Password)
	assert.Equal(t, sessions, len(p.srv.Store.All("session")), "the join's session at the master is logged out")

	p.restrict("restrict_pooling", "true")
	p.expectErrors([]errorCase{{"pooling not licensed", "pool.join", []any{masterIP, "root", xapitest.Password}, []string{"LICENCE_RESTRICTION"}}})
	p.restrict("restrict_pooling", "false")

	p.ok("host.disable", slave)
	p.ok("host.shutdown", slave)
	p.expectErrors([]errorCase{{"a slave that is down", "pool.join", []any{slaveIP, "root", xapitest.Password}, []string{"JOINING_HOST_CONNECTION_FAILED"}}})
	p.edit("pool", pool, "ha_enabled", func(any) any { return true })
	p.expectErrors([]errorCase{{"HA on the joiner", "pool.join", []any{masterIP, "root", xapitest.Password}, []string{"HA_IS_ENABLED"}}})
}

func TestPoolJoinAlone(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 0})
	masterIP := xapi.Str(p.get("host", p.first("host", "true")), "address")
	p.expectErrors([]errorCase{
		{"a single host joining itself", "pool.join", []any{masterIP, "root", xapitest.Password}, []string{"OPERATION_NOT_ALLOWED", "Host cannot become slave of itself"}},
	})
}

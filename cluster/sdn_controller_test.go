package cluster_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/xapisim/xapisim/cluster"
)

func TestSDNControllerIntroduceForget(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 0})
	for _, tc := range []struct {
		name             string
		protocol, addr   string
		port, wantedPort int64
	}{
		{"ssl default port", "ssl", "10.0.0.7", 0, 6632},
		{"ssl given port", "ssl", "10.0.0.7", 6640, 6640},
		{"pssl listens", "pssl", "", 0, 0},
	} {
		ref := p.ok("SDN_controller.introduce", tc.protocol, tc.addr, tc.port).(string)
		rec := p.ok("SDN_controller.get_record", ref).(map[string]any)
		assert.Equal(t, tc.protocol, rec["protocol"], tc.name)
		assert.Equal(t, tc.addr, rec["address"], tc.name)
		assert.Equal(t, json.Number(strconv.FormatInt(tc.wantedPort, 10)), rec["port"], tc.name)
		p.expectErrors([]errorCase{{"second controller", "SDN_controller.introduce", []any{"pssl", "", int64(0)},
			[]string{"OPERATION_NOT_ALLOWED", "SDN controller has been configured. Please forget it first."}}})
		p.ok("SDN_controller.forget", ref)
		assert.Empty(t, p.ok("SDN_controller.get_all"), tc.name)
	}

	p.expectErrors([]errorCase{
		{"pssl with address", "SDN_controller.introduce", []any{"pssl", "10.0.0.7", int64(0)}, []string{"INVALID_VALUE", "address", "10.0.0.7"}},
		{"pssl with port", "SDN_controller.introduce", []any{"pssl", "", int64(6632)}, []string{"INVALID_VALUE", "port", "6632"}},
		{"ssl without address", "SDN_controller.introduce", []any{"ssl", "", int64(6632)}, []string{"INVALID_VALUE", "address", ""}},
		{"ssl with a name", "SDN_controller.introduce", []any{"ssl", "sdn.example.com", int64(0)}, []string{"INVALID_IP_ADDRESS_SPECIFIED", "address"}},
		{"ssl with IPv6", "SDN_controller.introduce", []any{"ssl", "fd00::1", int64(0)}, []string{"INVALID_IP_ADDRESS_SPECIFIED", "address"}},
		{"port too big", "SDN_controller.introduce", []any{"ssl", "10.0.0.7", int64(65536)}, []string{"VALUE_NOT_SUPPORTED", "port", "65536", "Port out of range"}},
		{"negative port", "SDN_controller.introduce", []any{"ssl", "10.0.0.7", int64(-1)}, []string{"VALUE_NOT_SUPPORTED", "port", "-1", "Port out of range"}},
		{"forget bogus", "SDN_controller.forget", []any{"OpaqueRef:x"}, []string{"HANDLE_INVALID", "SDN_controller", "OpaqueRef:x"}},
	})
	assert.Empty(t, p.ok("SDN_controller.get_all"))
}

func TestSDNControllerNeedsVSwitch(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 0})
	p.networkBackend("bridge")
	p.expectErrors([]errorCase{{"bridge backend", "SDN_controller.introduce", []any{"ssl", "10.0.0.7", int64(0)},
		[]string{"OPERATION_NOT_ALLOWED", "host not configured for vswitch operation"}}})
}

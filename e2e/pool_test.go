package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// provisioned makes a halted VM from the Debian template, its disk on the default SR.
func provisioned(t *testing.T, c *JSONRPC, name string) string {
	t.Helper()
	tmpl := c.S(t, "VM.get_by_name_label", "Debian Bookworm 12").([]any)[0]
	vm := c.S(t, "VM.clone", tmpl, name).(string)
	sr := c.S(t, "pool.get_default_SR", c.S(t, "pool.get_all").([]any)[0])
	other := c.S(t, "VM.get_other_config", vm).(map[string]any)
	other["disks"] = strings.ReplaceAll(other["disks"].(string), `sr=""`, `sr="`+c.S(t, "SR.get_uuid", sr).(string)+`"`)
	c.S(t, "VM.set_other_config", vm, other)
	c.S(t, "VM.provision", vm)
	return vm
}

func TestAntiAffinitySpreadsVMs(t *testing.T) {
	s := Start(t, "--hosts", "3", "--vms", "0")
	c := Login(t, s)
	group := c.S(t, "VM_group.create", map[string]any{"name_label": "spread", "name_description": "", "placement": "anti_affinity"}).(string)
	perHost := map[string]int{}
	for i := 0; i < 6; i++ {
		vm := provisioned(t, c, "spread-"+string(rune('a'+i)))
		c.S(t, "VM.set_groups", vm, []string{group})
		c.S(t, "VM.start", vm, false, false)
		perHost[c.S(t, "VM.get_resident_on", vm).(string)]++
	}
	require.Len(t, perHost, 3)
	for host, n := range perHost {
		assert.Equal(t, 2, n, "host %s", host)
	}
	assert.Len(t, c.S(t, "VM_group.get_VMs", group), 6)
}

func TestMemoryPlacementErrors(t *testing.T) {
	s := Start(t, "--hosts", "3", "--vms", "0", "--host-memory", "16")
	c := Login(t, s)
	vm := provisioned(t, c, "huge")
	big := int64(64) << 30
	c.S(t, "VM.set_memory_limits", vm, big, big, big, big)
	assert.Equal(t, APIError{"NO_HOSTS_AVAILABLE"}, c.Err(t, "VM.start", vm, false, false))
	host := c.S(t, "host.get_all").([]any)[1].(string)
	err := c.Err(t, "VM.start_on", vm, host, false, false)
	require.Len(t, err, 3)
	assert.Equal(t, "HOST_NOT_ENOUGH_FREE_MEMORY", err[0])
	over, _ := strconv.ParseInt(fmt.Sprint(c.S(t, "VM.get_memory_overhead", vm)), 10, 64)
	assert.Equal(t, strconv.FormatInt(big+over, 10), err[1], "needed: dynamic_min plus overhead")
	metrics := c.S(t, "host_metrics.get_record", c.S(t, "host.get_metrics", host)).(map[string]any)
	assert.Equal(t, fmt.Sprint(metrics["memory_free"]), err[2], "available: the host's free memory")
	assert.Equal(t, "MEMORY_CONSTRAINT_VIOLATION_ORDER", c.Err(t, "VM.set_memory_limits", vm, big, big/2, big, big)[0])
}

func TestHostShutdownAndPowerOn(t *testing.T) {
	s := Start(t, "--hosts", "3", "--vms", "3")
	c := Login(t, s)
	hosts := c.S(t, "host.get_all").([]any)
	host := hosts[2].(string)
	metrics := c.S(t, "host.get_metrics", host).(string)
	assert.Equal(t, APIError{"HOST_NOT_DISABLED"}, c.Err(t, "host.shutdown", host))
	c.S(t, "host.disable", host)
	assert.Contains(t, c.S(t, "host.get_allowed_operations", host), "shutdown")
	c.S(t, "host.shutdown", host)
	assert.Equal(t, false, c.S(t, "host_metrics.get_live", metrics))
	for _, ref := range c.S(t, "host.get_resident_VMs", host).([]any) {
		vm := c.S(t, "VM.get_record", ref).(map[string]any)
		if vm["is_control_domain"] == false {
			t.Errorf("guest %s still resident on a host that is down", ref)
		}
	}
	vm := provisioned(t, c, "pinned")
	assert.Equal(t, APIError{"HOST_NOT_LIVE"}, c.Err(t, "VM.start_on", vm, host, false, false))
	assert.Equal(t, APIError{"HOST_POWER_ON_MODE_DISABLED"}, c.Err(t, "host.power_on", host))
	c.S(t, "host.set_power_on_mode", host, "wake-on-lan", map[string]string{})
	c.S(t, "host.power_on", host)
	assert.Equal(t, true, c.S(t, "host_metrics.get_live", metrics))
	c.S(t, "VM.start_on", vm, host, false, false)
	assert.Equal(t, host, c.S(t, "VM.get_resident_on", vm))
	assert.Equal(t, APIError{"HOST_IS_LIVE", host}, c.Err(t, "host.power_on", host))
}

func TestSeedGivesIdenticalPools(t *testing.T) {
	dump := func() map[string]any {
		s := Start(t, "--seed", "1")
		c := Login(t, s)
		out := map[string]any{}
		for _, class := range []string{"host", "VM", "SR", "VDI", "network", "PIF", "VBD", "VIF", "pool"} {
			recs := c.S(t, class+".get_all_records").(map[string]any)
			for ref, r := range recs {
				out[class+"/"+ref] = r.(map[string]any)["uuid"]
			}
		}
		s.Stop()
		return out
	}
	first, second := dump(), dump()
	assert.Greater(t, len(first), 50)
	assert.Equal(t, first, second)
}

func TestAsyncTasksOnTheWire(t *testing.T) {
	s := Start(t, "--duration", "VM.copy=3s")
	c := Login(t, s)
	tmpl := c.S(t, "VM.get_by_name_label", "Debian Bookworm 12").([]any)[0]
	wait := func(task string) map[string]any {
		var rec map[string]any
		require.Eventually(t, func() bool {
			rec = c.S(t, "task.get_record", task).(map[string]any)
			return rec["status"] != "pending"
		}, 15*time.Second, 20*time.Millisecond)
		return rec
	}
	rec := wait(c.S(t, "Async.VM.clone", tmpl, "async-clone").(string))
	assert.Equal(t, "success", rec["status"])
	assert.Regexp(t, `^<value>OpaqueRef:[0-9a-f-]+</value>$`, rec["result"])
	assert.Equal(t, "Async.VM.clone", rec["name_label"])

	rec = wait(c.S(t, "Async.VM.destroy", "OpaqueRef:bogus").(string))
	assert.Equal(t, "failure", rec["status"])
	assert.Equal(t, []any{"HANDLE_INVALID", "VM", "OpaqueRef:bogus"}, rec["error_info"])

	task := c.S(t, "Async.VM.copy", tmpl, "slow-copy", "OpaqueRef:NULL").(string)
	require.Eventually(t, func() bool {
		p, _ := c.S(t, "task.get_progress", task).(interface{ String() string })
		return p != nil && p.String() != "0.0" && p.String() != "0"
	}, 5*time.Second, 20*time.Millisecond, "progress moves while the copy runs")
	c.S(t, "task.cancel", task)
	rec = wait(task)
	assert.Equal(t, "cancelled", rec["status"])
	assert.Equal(t, []any{"TASK_CANCELLED", task}, rec["error_info"])
	assert.Empty(t, c.S(t, "VM.get_by_name_label", "slow-copy"), "a cancelled copy leaves nothing behind")
}

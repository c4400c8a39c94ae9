package e2e

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type eventBatch struct {
	Events []struct {
		ID        string         `json:"id"`
		Timestamp string         `json:"timestamp"`
		Class     string         `json:"class"`
		Operation string         `json:"operation"`
		Ref       string         `json:"ref"`
		Snapshot  map[string]any `json:"snapshot"`
	} `json:"events"`
	Counts map[string]json.Number `json:"valid_ref_counts"`
	Token  string                 `json:"token"`
}

func (c *JSONRPC) events(t *testing.T, classes []string, token string, timeout float64) eventBatch {
	t.Helper()
	v := c.S(t, "event.from", classes, token, timeout)
	data, _ := json.Marshal(v)
	var b eventBatch
	require.NoError(t, json.Unmarshal(data, &b))
	return b
}

// TestEventsOverTheWire covers event.from and event.next over JSON-RPC against the
// built binary.
func TestEventsOverTheWire(t *testing.T) {
	s := Start(t, "--hosts", "2")
	c := Login(t, s)

	first := c.events(t, []string{"*"}, "", 5)
	vms := 0
	for _, e := range first.Events {
		require.Equal(t, "add", e.Operation, "token \"\" gives every object as add")
		if e.Class == "vm" {
			vms++
		}
	}
	assert.Equal(t, json.Number(strconv.Itoa(vms)), first.Counts["vm"])
	vm := c.S(t, "VM.get_all").([]any)[0].(string)

	waiting := make(chan eventBatch, 1)
	go func() { waiting <- c.events(t, []string{"vm"}, first.Token, 30) }()
	time.Sleep(200 * time.Millisecond)
	c.S(t, "VM.set_name_label", vm, "woken")
	var b eventBatch
	select {
	case b = <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("event.from was not woken by set_name_label")
	}
	require.Len(t, b.Events, 1)
	assert.Equal(t, "mod", b.Events[0].Operation)
	assert.Equal(t, vm, b.Events[0].Ref)
	assert.Equal(t, "woken", b.Events[0].Snapshot["name_label"])

	group := c.S(t, "VM_group.create", map[string]any{"name_label": "g", "name_description": "", "placement": "normal"}).(string)
	b2 := c.events(t, []string{"vm_group"}, b.Token, 5)
	require.Len(t, b2.Events, 1)
	assert.Equal(t, "add", b2.Events[0].Operation)
	c.S(t, "VM_group.destroy", group)
	b3 := c.events(t, []string{"vm_group"}, b2.Token, 5)
	require.Len(t, b3.Events, 1)
	assert.Equal(t, "del", b3.Events[0].Operation)
	assert.Nil(t, b3.Events[0].Snapshot)

	start := time.Now()
	empty := c.events(t, []string{"vm_group"}, b3.Token, 0.5)
	assert.Empty(t, empty.Events)
	assert.GreaterOrEqual(t, time.Since(start), 500*time.Millisecond)

	// Logging out a session that waits ends its wait with SESSION_INVALID.
	other := Login(t, s)
	gone := make(chan APIError, 1)
	go func() { gone <- other.Err(t, "event.from", []string{"vm"}, b3.Token, 30.0) }()
	time.Sleep(200 * time.Millisecond)
	other.S(t, "session.logout")
	select {
	case err := <-gone:
		assert.Equal(t, APIError{"SESSION_INVALID", other.Session}, err)
	case <-time.After(10 * time.Second):
		t.Fatal("logout did not end the wait")
	}

	// The legacy interface delivers the same change.
	c.S(t, "event.register", []string{"vm"})
	c.S(t, "VM.set_name_label", vm, "legacy")
	next := c.S(t, "event.next").([]any)
	require.Len(t, next, 1)
	e := next[0].(map[string]any)
	assert.Equal(t, "mod", e["operation"])
	assert.Equal(t, vm, e["ref"])
	assert.Equal(t, "legacy", e["snapshot"].(map[string]any)["name_label"])
}

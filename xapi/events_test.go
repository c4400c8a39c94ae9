package xapi_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/xapitest"
)

// eventWorld is a server with a few VMs and a root session.
type eventWorld struct {
	srv     *xapi.Server
	session string
	vms     []string
}

func newEventWorld(t *testing.T, options ...func(*xapi.Config)) *eventWorld {
	srv := xapitest.NewServer(t, options...)
	w := &eventWorld{srv: srv, session: xapitest.Login(t, srv)}
	_, err := srv.Store.Update(func(tx *store.Tx) error {
		for i := 0; i < 3; i++ {
			vm := srv.NewObject("VM")
			xapi.Set(vm, "name_label", "vm")
			tx.Put(vm)
			w.vms = append(w.vms, vm.Ref)
		}
		return nil
	})
	require.NoError(t, err)
	return w
}

func (w *eventWorld) call(t *testing.T, method string, args ...any) any {
	t.Helper()
	v, err := xapitest.JSON(xapitest.Call(w.srv, method, append([]any{w.session}, args...)...))
	require.Nil(t, err, "%s: %v", method, err)
	return v
}

type batch struct {
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

func (w *eventWorld) from(t *testing.T, classes []any, token string, timeout float64) batch {
	t.Helper()
	raw := w.call(t, "event.from", classes, token, timeout)
	data, err := json.Marshal(raw)
	require.NoError(t, err)
	var b batch
	require.NoError(t, json.Unmarshal(data, &b))
	return b
}

func TestEventFromEverythingAsAdd(t *testing.T) {
	w := newEventWorld(t)
	b := w.from(t, []any{"*"}, "", 1)
	kinds := map[string]int{}
	for _, e := range b.Events {
		assert.Equal(t, "add", e.Operation)
		assert.Equal(t, "0.0", e.Timestamp)
		assert.NotEmpty(t, e.Snapshot)
		kinds[e.Class]++
	}
	assert.Equal(t, 3, kinds["vm"])
	assert.Zero(t, kinds["session"], "sessions generate no events")
	assert.Equal(t, "3", b.Counts["vm"].String())
	assert.Contains(t, b.Counts, "session")
	assert.Contains(t, b.Counts, "task")
	assert.Regexp(t, `^\d{20},\d{20}$`, b.Token)

	vmOnly := w.from(t, []any{"VM"}, "", 1)
	assert.Len(t, vmOnly.Events, 3, "class names ignore case")
	one := w.from(t, []any{"vm/" + w.vms[1]}, "", 1)
	require.Len(t, one.Events, 1)
	assert.Equal(t, w.vms[1], one.Events[0].Ref)
	snap := w.call(t, "VM.get_record", w.vms[1])
	data, _ := json.Marshal(snap)
	var rec map[string]any
	require.NoError(t, json.Unmarshal(data, &rec))
	assert.Equal(t, rec, one.Events[0].Snapshot, "the snapshot is get_record")
}

func TestEventFromWakesOnChange(t *testing.T) {
	w := newEventWorld(t)
	token := w.from(t, []any{"vm"}, "", 1).Token
	got := make(chan batch, 1)
	go func() { got <- w.from(t, []any{"vm"}, token, 30) }()
	time.Sleep(100 * time.Millisecond)
	w.call(t, "VM.set_name_label", w.vms[0], "renamed")
	select {
	case b := <-got:
		require.Len(t, b.Events, 1)
		e := b.Events[0]
		assert.Equal(t, "mod", e.Operation)
		assert.Equal(t, w.vms[0], e.Ref)
		assert.Equal(t, "renamed", e.Snapshot["name_label"])
		token = b.Token
	case <-time.After(10 * time.Second):
		t.Fatal("event.from did not wake")
	}

	w.call(t, "VM.add_to_other_config", w.vms[1], "k", "v")
	b := w.from(t, []any{"vm"}, token, 5)
	require.Len(t, b.Events, 1, "a map edit is a mod")
	assert.Equal(t, "mod", b.Events[0].Operation)
	token = b.Token

	w.call(t, "VM.destroy", w.vms[2])
	b = w.from(t, []any{"vm"}, token, 5)
	require.Len(t, b.Events, 1)
	assert.Equal(t, "del", b.Events[0].Operation)
	assert.Nil(t, b.Events[0].Snapshot, "del carries no snapshot")

	// Created and destroyed within one window: nothing to report.
	token = b.Token
	ref := w.call(t, "VM_group.create", map[string]any{"name_label": "g"}).(string)
	w.call(t, "VM_group.destroy", ref)
	w.call(t, "VM.set_name_label", w.vms[0], "again")
	b = w.from(t, []any{"*"}, token, 5)
	for _, e := range b.Events {
		assert.NotEqual(t, ref, e.Ref)
	}
}

func TestEventFromTimeout(t *testing.T) {
	w := newEventWorld(t)
	token := w.from(t, []any{"vm"}, "", 1).Token
	start := time.Now()
	b := w.from(t, []any{"vm"}, token, 0.3)
	assert.Empty(t, b.Events)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	// A change to another class does not end the wait.
	start = time.Now()
	go func() {
		time.Sleep(50 * time.Millisecond)
		w.call(t, "pool.get_all")
		xapitest.Call(w.srv, "VM_group.create", w.session, map[string]any{"name_label": "g"})
	}()
	b = w.from(t, []any{"vm"}, token, 0.4)
	assert.Empty(t, b.Events)
	assert.GreaterOrEqual(t, time.Since(start), 400*time.Millisecond)
}

func TestEventFromErrors(t *testing.T) {
	w := newEventWorld(t)
	_, err := xapitest.JSON(xapitest.Call(w.srv, "event.from", w.session, []any{"*"}, "garbage", 1.0))
	assert.Equal(t, []string{"EVENT_FROM_TOKEN_PARSE_FAILURE", "garbage"}, err)
	_, err = xapitest.JSON(xapitest.Call(w.srv, "event.from", w.session, []any{"*"}, "", "1.5"))
	assert.Nil(t, err, "a numeric string is a float")

	token := w.from(t, []any{"vm"}, "", 1).Token
	other := xapitest.Login(t, w.srv)
	done := make(chan []string, 1)
	go func() {
		_, err := xapitest.JSON(xapitest.Call(w.srv, "event.from", other, []any{"vm"}, token, 30.0))
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	xapitest.Call(w.srv, "session.logout", other)
	select {
	case err := <-done:
		assert.Equal(t, []string{"SESSION_INVALID", other}, err)
	case <-time.After(10 * time.Second):
		t.Fatal("logout did not end the wait")
	}
}

func TestEventInject(t *testing.T) {
	w := newEventWorld(t)
	token := w.call(t, "event.inject", "VM", w.vms[0]).(string)
	b := w.from(t, []any{"vm"}, token, 1)
	require.Len(t, b.Events, 1)
	assert.Equal(t, w.vms[0], b.Events[0].Ref)
	assert.Equal(t, "mod", b.Events[0].Operation)
	_, err := xapitest.JSON(xapitest.Call(w.srv, "event.inject", w.session, "vm", w.vms[0]))
	assert.Equal(t, []string{"HANDLE_INVALID", "vm", w.vms[0]}, err, "the class must be spelled exactly")
	_, err = xapitest.JSON(xapitest.Call(w.srv, "event.inject", w.session, "host", w.vms[0]))
	assert.Equal(t, []string{"HANDLE_INVALID", "host", w.vms[0]}, err)
}

func TestLegacyEvents(t *testing.T) {
	w := newEventWorld(t, func(c *xapi.Config) { c.LegacyQueue = 20 })
	_, err := xapitest.JSON(xapitest.Call(w.srv, "event.next", w.session))
	require.NotNil(t, err)
	assert.Equal(t, "SESSION_NOT_REGISTERED", err[0])
	assert.True(t, strings.HasPrefix(err[1], "trackid="))
	assert.NotContains(t, err[1], w.session)

	w.call(t, "event.register", []any{"vm"})
	w.call(t, "VM.set_name_label", w.vms[0], "x")
	w.call(t, "pool.get_all")
	got := w.call(t, "event.next").([]any)
	require.Len(t, got, 1)
	e := got[0].(map[string]any)
	assert.Equal(t, "vm", e["class"])
	assert.Equal(t, "mod", e["operation"])
	assert.Equal(t, w.vms[0], e["ref"])
	assert.True(t, strings.HasSuffix(e["timestamp"].(string), "."))
	assert.Equal(t, w.call(t, "event.get_current_id").(json.Number).String(), e["id"])

	for i := 0; i < 30; i++ {
		w.call(t, "VM.set_name_label", w.vms[1], strings.Repeat("y", i))
	}
	_, err = xapitest.JSON(xapitest.Call(w.srv, "event.next", w.session))
	assert.Equal(t, []string{"EVENTS_LOST"}, err)
	w.call(t, "event.unregister", []any{"vm"})
}

func TestMessagesAreEvents(t *testing.T) {
	w := newEventWorld(t)
	token := w.from(t, []any{"message"}, "", 1).Token
	uuid := w.call(t, "VM.get_uuid", w.vms[0]).(string)
	ref := w.call(t, "message.create", "VM_STARTED", "5", "VM", uuid, "body").(string)
	b := w.from(t, []any{"message"}, token, 5)
	require.Len(t, b.Events, 1)
	assert.Equal(t, "0", b.Events[0].ID)
	assert.Equal(t, "message", b.Events[0].Class)
	assert.Equal(t, ref, b.Events[0].Ref)
	assert.Equal(t, "VM_STARTED", b.Events[0].Snapshot["name"])

	_, err := xapitest.JSON(xapitest.Call(w.srv, "message.create", w.session, "X", "1", "VM", "nope", ""))
	assert.Equal(t, []string{"UUID_INVALID", "VM", "nope"}, err)
	all := w.call(t, "message.get_since", "19700101T00:00:00Z").(map[string]any)
	assert.Contains(t, all, ref)
	byObject := w.call(t, "message.get", "VM", uuid, "19700101T00:00:00Z").(map[string]any)
	assert.Contains(t, byObject, ref)
	_, err = xapitest.JSON(xapitest.Call(w.srv, "message.get", w.session, "VM", "nope", "19700101T00:00:00Z"))
	assert.Equal(t, []string{"UUID_INVALID"}, err, "xapi's message.get names neither class nor uuid")
	w.call(t, "message.destroy_many", []any{ref})
	_, err = xapitest.JSON(xapitest.Call(w.srv, "message.get_record", w.session, ref))
	assert.Equal(t, []string{"HANDLE_INVALID", "message", ref}, err)
}

func TestTasks(t *testing.T) {
	w := newEventWorld(t, func(c *xapi.Config) { c.Durations = xapi.Durations{"VM.clean_reboot": 2 * time.Second} })
	var ran sync.WaitGroup
	w.srv.Handle("VM.clean_reboot", func(c *xapi.Call) (any, error) {
		defer ran.Done()
		return nil, c.Work()
	})
	ran.Add(1)
	task := w.call(t, "Async.VM.clean_reboot", w.vms[0]).(string)
	assert.Equal(t, "pending", w.call(t, "task.get_status", task))
	assert.Equal(t, []any{"cancel"}, w.call(t, "task.get_allowed_operations", task))
	w.call(t, "task.cancel", task)
	ran.Wait()
	require.Eventually(t, func() bool { return w.call(t, "task.get_status", task) != "pending" }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, "cancelled", w.call(t, "task.get_status", task))
	assert.Equal(t, []any{"TASK_CANCELLED", task}, w.call(t, "task.get_error_info", task))
	w.call(t, "task.cancel", task) // a finished task: no error
	w.call(t, "task.destroy", task)
	_, err := xapitest.JSON(xapitest.Call(w.srv, "task.get_record", w.session, task))
	assert.Equal(t, []string{"HANDLE_INVALID", "task", task}, err)

	// task.create and the setters; another user may read but not change it.
	mine := w.call(t, "task.create", "label", "description").(string)
	rec := w.call(t, "task.get_record", mine).(map[string]any)
	assert.Equal(t, "label", rec["name_label"])
	assert.Equal(t, "pending", rec["status"])
	assert.Equal(t, "<none/>", rec["type"])
	assert.NotContains(t, rec, "session", "internal fields stay hidden")
	w.call(t, "task.set_progress", mine, 0.5)
	w.call(t, "task.set_status", mine, "success")
	w.call(t, "task.set_result", mine, "<value>x</value>")
	w.call(t, "task.set_error_info", mine, []any{"E"})
	w.call(t, "task.add_to_other_config", mine, "applies_to", "x")

	alice, errA := w.srv.NewSession("alice", "", xapi.Identity{SID: "S-alice", Subject: "OpaqueRef:NULL", Permissions: []string{"task.get_record", "task.destroy", "task.set_progress", "task.add_to_other_config"}})
	require.NoError(t, errA)
	_, err = xapitest.JSON(xapitest.Call(w.srv, "task.get_record", alice, mine))
	assert.Nil(t, err, "everyone reads every task")
	for _, call := range [][]any{{"task.destroy", alice, mine}, {"task.set_progress", alice, mine, 0.1}, {"task.add_to_other_config", alice, mine, "k", "v"}} {
		_, err = xapitest.JSON(xapitest.Call(w.srv, call[0].(string), call[1:]...))
		require.NotNil(t, err, call[0])
		assert.Equal(t, []string{"RBAC_PERMISSION_DENIED", "task.destroy/any"}, err[:2], call[0])
	}
}

func TestTaskGC(t *testing.T) {
	w := newEventWorld(t, func(c *xapi.Config) { c.TaskRetention = time.Nanosecond })
	w.srv.Handle("VM.clean_reboot", func(c *xapi.Call) (any, error) { return nil, nil })
	task := w.call(t, "Async.VM.clean_reboot", w.vms[0]).(string)
	require.Eventually(t, func() bool { return w.call(t, "task.get_status", task) == "success" }, 5*time.Second, 10*time.Millisecond)
	pending := w.call(t, "task.create", "p", "").(string)
	time.Sleep(1100 * time.Millisecond) // finished is kept to the second
	w.srv.CollectGarbage()
	assert.Nil(t, w.srv.Store.Get("task", task), "a completed task past its retention is collected")
	assert.NotNil(t, w.srv.Store.Get("task", pending), "a pending task is kept")
}

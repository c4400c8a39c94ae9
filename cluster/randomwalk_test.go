package cluster_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/datamodel"
	"github.com/xapisim/xapisim/xapi/wire"
	"github.com/xapisim/xapisim/xapi/xapitest"
)

// lockedBuffer collects the server's log from concurrent tasks.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRandomWalk drives the simulated pool with thousands of calls to simulated messages,
// each with arguments drawn from the objects that exist at that moment, so that the
// messages meet each other's leftovers (a VM mid-migration, an SR without PBDs, HA on,
// a cluster half gone…). Whatever happens, no handler may panic or hang, every error must
// be a XenAPI error code, and the pool must stay coherent.
func TestRandomWalk(t *testing.T) {
	for _, seed := range walkSeeds {
		w := newWalk(t)
		w.run(t, rand.New(rand.NewPCG(seed, seed)), 5000, fmt.Sprintf("seed %d", seed))
		w.check(t, fmt.Sprintf("seed %d", seed))
	}
}

// TestConcurrentWalk runs four walks at once on one pool, half of the calls Async, so
// that operations overlap: under -race this looks for data races and deadlocks.
func TestConcurrentWalk(t *testing.T) {
	w := newWalk(t)
	var wg sync.WaitGroup
	for i := uint64(0); i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(t, rand.New(rand.NewPCG(100+i, i)), 800, fmt.Sprintf("walker %d", i))
		}()
	}
	wg.Wait()
	w.check(t, "concurrent")
}

// walk is a pool under a random walk and what it logged.
type walk struct {
	srv      *xapi.Server
	session  string
	messages []*datamodel.Message
	log      *lockedBuffer
}

func newWalk(t *testing.T) *walk {
	log := &lockedBuffer{}
	srv := xapitest.NewServer(t, func(c *xapi.Config) { c.Log = zerolog.New(log).Level(zerolog.ErrorLevel) })
	if err := cluster.New(srv, cluster.Spec{Hosts: 3, VMs: 6}).BuildInventory(); err != nil {
		t.Fatal(err)
	}
	w := &walk{srv: srv, session: xapitest.Login(t, srv), log: log}
	for _, m := range srv.Schema.Messages() {
		// session.* would end the walk's session and event.* block by design; the rest
		// is fair game.
		if !m.Implicit && m.Session && m.Class.Name != "session" && m.Class.Name != "event" && srv.Simulated(m.WireName) {
			w.messages = append(w.messages, m)
		}
	}
	return w
}

// run makes steps random calls; Async ones (when the message has that form) half the time.
func (w *walk) run(t *testing.T, rng *rand.Rand, steps int, label string) {
	for step := 0; step < steps; step++ {
		m := w.messages[rng.IntN(len(w.messages))]
		args := []any{w.session}
		for _, prm := range m.Params {
			args = append(args, walkArg(w.srv, rng, prm.Type))
		}
		method := m.WireName
		if m.Async && rng.IntN(2) == 0 {
			method = "Async." + method
		}
		done := make(chan *wire.Reply, 1)
		go func() { done <- xapitest.Call(w.srv, method, args...) }()
		var reply *wire.Reply
		select {
		case reply = <-done:
		case <-time.After(20 * time.Second):
			buf := make([]byte, 1<<20)
			t.Errorf("%s step %d: %s%v hangs\n%s", label, step, method, args[1:], buf[:runtime.Stack(buf, true)])
			return
		}
		if reply.Err == nil {
			continue
		}
		if reply.Err.Code == "INTERNAL_ERROR" {
			// A Go runtime error is a bug, whatever xapi would have said.
			assert.NotContains(t, strings.Join(reply.Err.Params, "|"), "runtime error", "%s step %d %s%v", label, step, method, args[1:])
		}
		assert.Regexp(t, `^[A-Z][A-Z0-9_]*$`, reply.Err.Code, "%s step %d %s: %v is not a XenAPI error", label, step, method, reply.Err)
	}
}

// check fails on every handler panic the server logged (also those inside Async tasks)
// and on an incoherent pool.
func (w *walk) check(t *testing.T, label string) {
	for _, line := range strings.Split(w.log.String(), "\n") {
		var entry struct{ Method, Panic, Stack, Message string }
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Message == "handler panicked" {
			t.Errorf("%s: %s panicked: %s\n%s", label, entry.Method, entry.Panic, panicSite(entry.Stack))
		}
	}
	assertCoherent(t, w.srv, label)
}

// walkArg draws a value of type t: mostly an existing object for a ref, else NULL or junk.
func walkArg(srv *xapi.Server, rng *rand.Rand, t *datamodel.Type) any {
	switch t.Kind {
	case datamodel.Int:
		return int64(rng.IntN(5) - 1)
	case datamodel.Float:
		return float64(rng.IntN(40)) / 2
	case datamodel.Bool:
		return rng.IntN(2) == 0
	case datamodel.Enum:
		return t.Enum.Values[rng.IntN(len(t.Enum.Values))]
	case datamodel.Ref:
		if objs := srv.Store.All(t.Name); len(objs) > 0 && rng.IntN(10) > 0 {
			return objs[rng.IntN(len(objs))].Ref
		}
		return []string{datamodel.NullRef, "OpaqueRef:junk"}[rng.IntN(2)]
	case datamodel.Set:
		if t.Elem.Kind == datamodel.Ref {
			return []any{walkArg(srv, rng, t.Elem)}
		}
		return []any{}
	case datamodel.Map:
		return map[string]any{}
	case datamodel.DateTime:
		return "20250101T00:00:00Z"
	case datamodel.String:
		return []string{"", "x", "10.0.0.9", "eth0", "on", "true", "1"}[rng.IntN(7)]
	}
	return ""
}

// assertCoherent checks what must hold whatever the calls did: a VM with a domain lives on
// an existing host and one without has none, and no host gives out more memory than it has.
func assertCoherent(t *testing.T, srv *xapi.Server, label string) {
	for _, vm := range srv.Store.All("VM") {
		host := xapi.Str(vm, "resident_on")
		switch ps := xapi.Str(vm, "power_state"); ps {
		case "Running", "Paused":
			assert.NotNil(t, srv.Store.Get("host", host), "%s: %s VM %s resident on %s", label, ps, vm.Ref, host)
		default:
			assert.Equal(t, datamodel.NullRef, host, "%s: %s VM %s", label, ps, vm.Ref)
		}
	}
	for _, h := range srv.Store.All("host") {
		if m := srv.Store.Get("host_metrics", xapi.Str(h, "metrics")); m != nil {
			assert.GreaterOrEqual(t, xapi.Int(m, "memory_free"), int64(0), "%s: host %s", label, h.Ref)
		}
	}
}

// panicSite is the simulation's frames of a panic's stack.
func panicSite(stack string) string {
	var out []string
	lines := strings.Split(stack, "\n")
	for i, l := range lines {
		if strings.Contains(l, "xapisim/cluster.") && i+1 < len(lines) {
			out = append(out, l, lines[i+1])
		}
	}
	return strings.Join(out, "\n")
}

// walkSeeds are the walks make test runs; more find more (each takes about 0.1 s).
var walkSeeds = []uint64{1, 2, 3, 4, 5}

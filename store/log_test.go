package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChangeLogCompletenessWhenTheRingWraps(t *testing.T) {
	s, err := Open(testSchema(), Options{Path: filepath.Join(t.TempDir(), "state.db"), NoSync: true, LogSize: 5, Log: zerolog.Nop()})
	require.NoError(t, err)
	defer s.Close()
	start := s.Generation()
	g1 := put(t, s, vm("a", "ua", ""), vm("b", "ub", ""), vm("c", "uc", "")) // 3 entries
	g2 := put(t, s, vm("d", "ud", ""), vm("e", "ue", ""))                    // 2: the log is full
	changes, complete := s.Changes(start)
	assert.True(t, complete)
	assert.Len(t, changes, 5)

	g3 := put(t, s, vm("f", "uf", "")) // drops a, a part of g1
	for _, tc := range []struct {
		since    uint64
		complete bool
		n        int
	}{
		{start, false, 5}, // what is left is handed out all the same
		{g1, true, 3},
		{g2, true, 1},
		{g3, true, 0},
	} {
		changes, complete := s.Changes(tc.since)
		assert.Equal(t, tc.complete, complete, "since %d", tc.since)
		assert.Len(t, changes, tc.n, "since %d", tc.since)
		for _, c := range changes {
			assert.Greater(t, c.Gen, tc.since)
		}
	}

	// A commit larger than the whole log.
	g4 := update(t, s, func(tx *Tx) {
		for i := 0; i < 8; i++ {
			tx.Put(vm(fmt.Sprint("big", i), "", ""))
		}
	})
	changes, complete = s.Changes(g3)
	assert.False(t, complete)
	assert.Len(t, changes, 5)
	_, complete = s.Changes(g4)
	assert.True(t, complete)
}

func TestWaitWakesEveryWaiterOnce(t *testing.T) {
	s, _ := newStore(t)
	gen := s.Generation()
	var wg sync.WaitGroup
	for i := 0; i < 2000; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-s.Wait(gen)
		}()
	}
	next := s.Wait(gen + 1)
	put(t, s, vm("r", "u", "n"))
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("waiters not woken")
	}
	select {
	case <-next:
		// since was ahead of Generation(): it wakes at the next durable commit
	default:
		t.Fatal("a waiter ahead of the generation was not woken by the next commit")
	}
	select {
	case <-s.Wait(gen + 1):
		t.Fatal("woke with no commit after since")
	default:
	}
}

// TestChangeLogGrowsThenWraps drives the ring through its growth (from 1024 entries) to
// its capacity and past it.
func TestChangeLogGrowsThenWraps(t *testing.T) {
	l := newChangeLog(3000, 100)
	for gen := uint64(101); gen <= 3600; gen++ {
		l.append([]Change{{Gen: gen, Ref: fmt.Sprint(gen)}})
		if gen == 2000 {
			changes, complete := l.since(100, gen)
			require.True(t, complete)
			require.Len(t, changes, 1900)
			assert.Equal(t, "101", changes[0].Ref)
		}
	}
	assert.Len(t, l.entries, 3000)
	changes, complete := l.since(100, 3600)
	assert.False(t, complete)
	assert.Len(t, changes, 3000)
	assert.Equal(t, uint64(601), changes[0].Gen)
	changes, complete = l.since(600, 3500)
	assert.True(t, complete)
	assert.Len(t, changes, 2900, "nothing after upto")
	assert.Equal(t, uint64(3500), changes[len(changes)-1].Gen)
}

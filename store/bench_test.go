package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
)

func benchStore(b *testing.B) *Store {
	s, _ := newStore(b)
	for i := 0; i < 1000; i++ {
		put(b, s, vm(fmt.Sprint("r", i), fmt.Sprint("u", i), "n"))
	}
	return s
}

// BenchmarkGet is the lookup behind every get_record.
func BenchmarkGet(b *testing.B) {
	s := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if s.Get("VM", "r500") == nil {
			b.Fatal("missing")
		}
	}
}

// BenchmarkGetParallel is Get from every core at once: readers share the read lock.
func BenchmarkGetParallel(b *testing.B) {
	s := benchStore(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if s.Get("VM", "r500") == nil {
				b.Fatal("missing")
			}
		}
	})
}

// benchmarkUpdate commits b.N single-object replaces from 64 goroutines.
func benchmarkUpdate(b *testing.B, noSync bool) {
	path := filepath.Join(b.TempDir(), "state.db")
	s, err := Open(testSchema(), Options{Path: path, NoSync: noSync, Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for w := 0; w < 64; w++ {
		put(b, s, vm(fmt.Sprint("r", w), fmt.Sprint("u", w), "n"))
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ref := fmt.Sprint("r", w)
			for i := n.Add(1); i <= int64(b.N); i = n.Add(1) {
				_, err := s.Update(func(tx *Tx) error {
					o := tx.Get("VM", ref).Clone()
					o.Fields[1] = fmt.Sprint(i)
					tx.Put(o)
					return nil
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchmarkUpdateParallel64 measures durable (fsync'd) single-object commits from 64
// writers: group commit shares one fsync among the commits queued meanwhile.
func BenchmarkUpdateParallel64(b *testing.B) { benchmarkUpdate(b, false) }

// BenchmarkUpdateNoSync is the same without fsync (--ephemeral).
func BenchmarkUpdateNoSync(b *testing.B) { benchmarkUpdate(b, true) }

package store

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
)

func BenchmarkGet(b *testing.B) {
	s, _ := newStore(b)
	for i := 0; i < 1000; i++ {
		put(b, s, vm(fmt.Sprint("r", i), fmt.Sprint("u", i), "n"))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if s.Get("VM", "r500") == nil {
				b.Fatal("missing")
			}
		}
	})
}

func benchmarkUpdate(b *testing.B, noSync bool) {
	path := filepath.Join(b.TempDir(), "state.db")
	s, err := Open(testSchema(), Options{Path: path, NoSync: noSync, Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	put(b, s, vm("r", "u", "n"))
	var n atomic.Int64
	b.SetParallelism(32) // 64 goroutines on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			name := fmt.Sprint(n.Add(1))
			_, err := s.Update(func(tx *Tx) error {
				o := tx.Get("VM", "r").Clone()
				o.Fields[1] = name
				tx.Put(o)
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchmarkUpdateParallel64 measures durable (fsync'd) single-object commits from many
// writers: group commit shares one fsync among the commits queued meanwhile.
func BenchmarkUpdateParallel64(b *testing.B) { benchmarkUpdate(b, false) }

// BenchmarkUpdateNoSync is the same without fsync (--ephemeral).
func BenchmarkUpdateNoSync(b *testing.B) { benchmarkUpdate(b, true) }

package xapi

import (
	"crypto/rand"
	"encoding/binary"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
)

// IDs makes refs and UUIDs. With a seed it is deterministic, so that the same seed builds
// the same default pool with the same refs and UUIDs.
type IDs struct {
	mu  sync.Mutex
	rng *mrand.Rand // nil: crypto randomness
}

// NewIDs returns a generator; seed 0 means random.
func NewIDs(seed uint64) *IDs {
	if seed == 0 {
		return &IDs{}
	}
	return &IDs{rng: mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// UUID returns a new version-4 UUID.
func (g *IDs) UUID() string {
	var b [16]byte
	if g.rng == nil {
		_, _ = rand.Read(b[:])
	} else {
		g.mu.Lock()
		binary.LittleEndian.PutUint64(b[:8], g.rng.Uint64())
		binary.LittleEndian.PutUint64(b[8:], g.rng.Uint64())
		g.mu.Unlock()
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return uuid.UUID(b).String()
}

// Ref returns a new reference, OpaqueRef:<uuid> as xapi makes them.
func (g *IDs) Ref() string { return "OpaqueRef:" + g.UUID() }

// Clock tells the time; tests and deterministic runs may supply their own.
type Clock interface{ Now() time.Time }

// SystemClock is the real time, in UTC and whole seconds as xapi stores datetimes.
type SystemClock struct{}

// Now returns the current time truncated to the second.
func (SystemClock) Now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// FixedClock is a clock that never moves: every datetime the pool writes is this instant,
// so records are byte-stable from run to run (golden tests, reproducible snapshots).
// Time-based expiry (task and session garbage collection) never fires under it.
type FixedClock time.Time

// Now returns the fixed instant.
func (c FixedClock) Now() time.Time { return time.Time(c).UTC().Truncate(time.Second) }

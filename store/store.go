package store

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"
)

// Options configure Open.
type Options struct {
	Path   string // the bbolt file; created if missing
	NoSync bool   // skip fsync (for --ephemeral state that is deleted at exit anyway)
	Log    zerolog.Logger
	// LogSize is the capacity of the in-memory change log (default 1<<18 entries).
	LogSize int
}

// Store holds every object in memory and a durable copy in a bbolt file.
//
// Locking: writer serialises write transactions; mu guards the tables (readers take it
// shared, a commit takes it exclusively just to apply); the change log and the durable
// generation have their own small locks so that events never wait on readers.
type Store struct {
	classes map[string]*classInfo
	rel     *relations
	log     zerolog.Logger

	writer sync.Mutex
	gen    uint64 // last applied generation; guarded by writer
	closed bool   // guarded by writer

	mu     sync.RWMutex
	tables map[string]*table

	changes *changeLog
	durable atomic.Uint64
	waitMu  sync.Mutex
	waitCh  chan struct{}

	db      *bolt.DB
	flushQ  chan *commit
	flushed chan struct{}
	failed  atomic.Pointer[error]
	isNew   bool
}

// ErrClosed is returned by Update after Close.
var ErrClosed = errors.New("store: closed")

// Open loads the state file into memory.
func Open(schema Schema, opts Options) (*Store, error) {
	s := &Store{
		classes: map[string]*classInfo{},
		tables:  map[string]*table{},
		log:     opts.Log,
		waitCh:  make(chan struct{}),
		// Writers block once this many commits wait for the disk: back-pressure.
		flushQ:  make(chan *commit, 4096),
		flushed: make(chan struct{}),
	}
	for _, c := range schema.Classes {
		if len(c.Defaults) > len(c.Fields) || c.UUID >= len(c.Fields) || c.NameLabel >= len(c.Fields) {
			return nil, fmt.Errorf("store: class %s: defaults or indexes do not match its fields", c.Name)
		}
		ci := newClassInfo(c)
		s.classes[c.Name] = ci
		s.tables[c.Name] = newTable(ci)
	}
	var err error
	if s.rel, err = newRelations(schema.Relations, s.classes); err != nil {
		return nil, err
	}
	size := opts.LogSize
	if size <= 0 {
		size = 1 << 18
	}
	// The timeout turns a state file locked by another process into an error rather
	// than a hang; NoFreelistSync trades a slower Open for cheaper commits.
	s.db, err = bolt.Open(opts.Path, 0o600, &bolt.Options{NoSync: opts.NoSync, NoFreelistSync: true, Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", opts.Path, err)
	}
	gen, err := s.load()
	if err != nil {
		s.db.Close()
		return nil, err
	}
	s.gen = gen
	s.durable.Store(gen)
	s.changes = newChangeLog(size, gen)
	go s.flusher()
	return s, nil
}

// Close waits for the commits still being flushed and closes the state file. Update
// returns ErrClosed afterwards.
func (s *Store) Close() error {
	s.writer.Lock() // no transaction is running, and none will start
	defer s.writer.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.flushQ)
	<-s.flushed
	return s.db.Close()
}

// IsNew reports whether the state file held no objects when opened.
func (s *Store) IsNew() bool { return s.isNew }

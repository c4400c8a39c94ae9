package store

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

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
	mu     sync.RWMutex
	tables map[string]*table
	gen    uint64 // last applied generation; guarded by writer

	changes *changeLog
	durable atomic.Uint64
	waitMu  sync.Mutex
	waitCh  chan struct{}

	db      *bolt.DB
	flushQ  chan *commit
	flushed chan struct{}
	failed  atomic.Pointer[error]
	closed  atomic.Bool
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
		flushQ:  make(chan *commit, 4096),
		flushed: make(chan struct{}),
	}
	for _, c := range schema.Classes {
		ci := &classInfo{Class: c, index: map[string]int{}}
		for i, f := range c.Fields {
			ci.index[f] = i
		}
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
	s.db, err = bolt.Open(opts.Path, 0o600, &bolt.Options{NoSync: opts.NoSync, NoFreelistSync: true})
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

// Close drains the commits still being flushed and closes the state file.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.writer.Lock() // no transaction is running, and none will start
	close(s.flushQ)
	<-s.flushed
	s.writer.Unlock()
	return s.db.Close()
}

// IsNew reports whether the state file held no objects when opened.
func (s *Store) IsNew() bool { return s.isNew }

// View runs fn with a consistent read view: no commit is applied while fn runs, so keep
// it short.
func (s *Store) View(fn func(v Reader)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fn(committed{s})
}

// Get returns the object, or nil if there is none of that class with that ref.
func (s *Store) Get(class, ref string) *Object {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return committed{s}.Get(class, ref)
}

// All returns every object of the class, in insertion order.
func (s *Store) All(class string) []*Object {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return committed{s}.All(class)
}

// ByUUID returns the object of the class with that uuid, or nil.
func (s *Store) ByUUID(class, uuid string) *Object {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return committed{s}.ByUUID(class, uuid)
}

// ByNameLabel returns the objects of the class whose name_label is exactly label.
func (s *Store) ByNameLabel(class, label string) []*Object {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return committed{s}.ByNameLabel(class, label)
}

// Count returns the number of objects of the class.
func (s *Store) Count(class string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return committed{s}.Count(class)
}

// committed reads the committed tables; the caller holds mu (or writer, which also
// excludes changes).
type committed struct{ s *Store }

func (c committed) Get(class, ref string) *Object {
	if t := c.s.tables[class]; t != nil {
		return t.objs[ref]
	}
	return nil
}

func (c committed) All(class string) []*Object {
	if t := c.s.tables[class]; t != nil {
		return slices.Clone(t.list())
	}
	return nil
}

func (c committed) ByUUID(class, uuid string) *Object {
	if t := c.s.tables[class]; t != nil {
		return t.byUUID[uuid]
	}
	return nil
}

func (c committed) ByNameLabel(class, label string) []*Object {
	if t := c.s.tables[class]; t != nil {
		return t.withName(label)
	}
	return nil
}

func (c committed) Count(class string) int {
	if t := c.s.tables[class]; t != nil {
		return len(t.objs)
	}
	return 0
}

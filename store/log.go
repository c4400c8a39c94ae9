package store

import "sync"

// changeLog is the bounded, in-memory record of recent commits that events are built on.
// Entries are appended when a commit is applied, but only those up to the durable
// generation are handed out.
type changeLog struct {
	mu      sync.Mutex
	entries []Change // ring
	head    int      // index of the oldest entry
	n       int
	// start is the oldest generation whose entries are all still here: a reader asking
	// for changes after since is complete when since+1 >= start.
	start uint64
}

func newChangeLog(size int, gen uint64) *changeLog {
	return &changeLog{entries: make([]Change, size), start: gen + 1}
}

func (l *changeLog) append(cs []Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range cs {
		if l.n == len(l.entries) {
			dropped := l.entries[l.head]
			l.entries[l.head] = Change{}
			l.head = (l.head + 1) % len(l.entries)
			l.n--
			if dropped.Gen+1 > l.start {
				l.start = dropped.Gen + 1
			}
		}
		l.entries[(l.head+l.n)%len(l.entries)] = c
		l.n++
	}
}

// since returns the entries with since < Gen <= upto, oldest first.
func (l *changeLog) since(since, upto uint64) ([]Change, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	complete := since+1 >= l.start
	// Entries are in generation order: find the first one after since.
	lo, hi := 0, l.n
	for lo < hi {
		mid := (lo + hi) / 2
		if l.entries[(l.head+mid)%len(l.entries)].Gen <= since {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	var out []Change
	for i := lo; i < l.n; i++ {
		c := l.entries[(l.head+i)%len(l.entries)]
		if c.Gen > upto {
			break
		}
		out = append(out, c)
	}
	return out, complete
}

// Generation returns the generation of the last durable commit.
func (s *Store) Generation() uint64 { return s.durable.Load() }

// Changes returns the log entries of the durable commits after generation since, oldest
// first. complete is false when the log no longer reaches back to since (it is kept in
// memory only, so generations from before the process started are never complete).
func (s *Store) Changes(since uint64) (changes []Change, complete bool) {
	return s.changes.since(since, s.durable.Load())
}

// Wait returns a channel that is closed once a commit after generation since is durable.
// All waiters of a generation share one channel.
func (s *Store) Wait(since uint64) <-chan struct{} {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	if s.durable.Load() > since {
		return closedChan
	}
	return s.waitCh
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// advance publishes a new durable generation and wakes its waiters.
func (s *Store) advance(gen uint64) {
	s.waitMu.Lock()
	s.durable.Store(gen)
	close(s.waitCh)
	s.waitCh = make(chan struct{})
	s.waitMu.Unlock()
}

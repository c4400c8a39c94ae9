package store

import (
	"sort"
	"sync"
)

// changeLog is the bounded, in-memory record of recent commits that events are built on.
// Entries are appended when a commit is applied, but only those up to the durable
// generation are handed out.
type changeLog struct {
	mu sync.Mutex
	// entries is a ring that grows up to size, so that a store which sees few commits
	// (a test's) does not hold a large, pointer-filled array for the collector to scan.
	entries []Change
	size    int
	head    int // index of the oldest entry
	n       int
	// start is the oldest generation whose entries are all still here: a reader asking
	// for changes after since is complete when since+1 >= start.
	start uint64
}

func newChangeLog(size int, gen uint64) *changeLog {
	return &changeLog{entries: make([]Change, min(size, 1024)), size: size, start: gen + 1}
}

func (l *changeLog) at(i int) *Change { return &l.entries[(l.head+i)%len(l.entries)] }

func (l *changeLog) append(cs []Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range cs {
		if l.n == len(l.entries) && l.n < l.size {
			grown := make([]Change, min(2*l.n, l.size))
			for i := range l.n {
				grown[i] = *l.at(i)
			}
			l.entries, l.head = grown, 0
		}
		if l.n == len(l.entries) {
			dropped := l.at(0)
			l.start = max(l.start, dropped.Gen+1)
			*dropped = Change{}
			l.head = (l.head + 1) % len(l.entries)
			l.n--
		}
		*l.at(l.n) = c
		l.n++
	}
}

// since returns the entries with since < Gen <= upto, oldest first.
func (l *changeLog) since(since, upto uint64) ([]Change, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	complete := since+1 >= l.start
	// Entries are in generation order.
	lo := sort.Search(l.n, func(i int) bool { return l.at(i).Gen > since })
	hi := sort.Search(l.n, func(i int) bool { return l.at(i).Gen > upto })
	out := make([]Change, 0, max(hi-lo, 0))
	for i := lo; i < hi; i++ {
		out = append(out, *l.at(i))
	}
	return out, complete
}

// Changes returns the log entries of the durable commits after generation since, oldest
// first. complete is false when the log no longer reaches back to since (it is kept in
// memory only, so generations from before the process started are never complete).
func (s *Store) Changes(since uint64) (changes []Change, complete bool) {
	return s.changes.since(since, s.durable.Load())
}

package store

// Generation returns the generation of the last durable commit.
func (s *Store) Generation() uint64 { return s.durable.Load() }

// Wait returns a channel that is closed once a commit after generation since is durable.
// All waiters share the channel of the current durable generation, closed by the next
// durable commit; so a since ahead of Generation() wakes early, and callers re-check.
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

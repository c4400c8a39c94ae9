package store

import (
	"fmt"
	"runtime/debug"
)

// commit is a transaction on its way to disk.
type commit struct {
	gen  uint64
	puts []persisted
	dels []objKey
	done chan error
}

type persisted struct {
	key  objKey
	data []byte
}

// Update runs fn in a write transaction. Writers are serialised; fn sees the committed
// state plus its own writes. If fn returns an error or panics nothing is applied.
// Otherwise the changes are applied all at once, and Update returns the commit's
// generation once the commit is durable (group commit: concurrent commits share one
// fsync). A transaction that writes nothing commits nothing and returns Generation():
// never a generation that is not durable yet.
func (s *Store) Update(fn func(tx *Tx) error) (uint64, error) {
	s.writer.Lock()
	if err := s.refuse(); err != nil {
		s.writer.Unlock()
		return 0, err
	}
	tx := &Tx{s: s, writes: map[objKey]*Object{}, delta: s.rel.delta()}
	err := s.run(fn, tx)
	if err == nil {
		err = tx.err
	}
	if err != nil {
		s.writer.Unlock()
		return 0, err
	}
	if len(tx.writes) == 0 {
		s.writer.Unlock()
		return s.Generation(), nil
	}
	c, err := s.commit(tx)
	s.writer.Unlock()
	if err != nil {
		return 0, err
	}
	if err := <-c.done; err != nil {
		return 0, err
	}
	return c.gen, nil
}

// refuse returns why no transaction may start, if one may not.
func (s *Store) refuse() error {
	if s.closed {
		return ErrClosed
	}
	if err := s.failed.Load(); err != nil {
		return *err
	}
	return nil
}

// run calls fn, turning a panic into an error so that a bad handler can neither take the
// server down nor leave the writer lock held. A panic with an error value wraps it, so
// that a typed error thrown by a handler survives.
func (s *Store) run(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error().Interface("panic", r).Bytes("stack", debug.Stack()).Msg("store: transaction panicked")
			if e, ok := r.(error); ok {
				err = fmt.Errorf("store: transaction panicked: %w", e)
			} else {
				err = fmt.Errorf("store: transaction panicked: %v", r)
			}
		}
	}()
	return fn(tx)
}

// commit applies a transaction in memory and queues it for the flusher. The caller holds
// the writer lock. Everything that can fail (encoding) happens before anything is
// applied.
func (s *Store) commit(tx *Tx) (*commit, error) {
	gen := s.gen + 1
	c := &commit{gen: gen, done: make(chan error, 1)}
	changes := make([]Change, 0, len(tx.order))
	for _, k := range tx.order {
		o, old := tx.writes[k], tx.committed(k)
		ch := Change{Gen: gen, Class: k.class, Ref: k.ref, Object: o}
		switch {
		case o == nil && old == nil:
			continue // inserted and deleted within the transaction
		case o == nil:
			ch.Op = Del
			c.dels = append(c.dels, k)
			changes = append(changes, ch)
			continue
		case old == nil:
			o.Created, ch.Op = gen, Add
		default:
			o.Created, ch.Op = old.Created, Mod
		}
		o.Modified = gen
		data, err := encodeObject(nil, s.classes[k.class], o)
		if err != nil {
			return nil, err
		}
		c.puts = append(c.puts, persisted{key: k, data: data})
		changes = append(changes, ch)
	}
	s.mu.Lock()
	for _, k := range tx.order {
		t := s.tables[k.class]
		if o := tx.writes[k]; o != nil {
			o.frozen, o.origin = true, nil
			t.put(o)
		} else {
			t.delete(k.ref)
		}
	}
	s.mu.Unlock()
	tx.delta.apply()
	s.gen = gen
	s.changes.append(changes)
	s.flushQ <- c
	return c, nil
}

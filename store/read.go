package store

import "slices"

// View runs fn with a consistent read view: no commit is applied while fn runs, so keep
// it short. fn must read through v, not through the Store, and must not call Update: a
// nested read lock or a commit would wait on the view's own lock.
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

// ByNameLabel returns the objects of the class whose name_label is exactly label, in
// insertion order.
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

// committed reads the committed tables. The caller holds mu, or the writer lock, which
// also keeps commits out.
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

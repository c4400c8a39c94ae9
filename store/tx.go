package store

import (
	"fmt"
	"runtime/debug"
)

// Tx is a write transaction. It sees the committed state plus its own writes.
//
// Mirrored set fields are kept up to date within the transaction: after a Put of a VBD,
// tx.Get of its VM shows the VBD in VM.VBDs.
type Tx struct {
	s      *Store
	writes map[objKey]*Object // nil: deleted
	order  []objKey           // first-touch order, for a deterministic change log
	delta  *revDelta          // the transaction's changes to the relations
	err    error
}

type objKey struct{ class, ref string }

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
// fsync).
func (s *Store) Update(fn func(tx *Tx) error) (uint64, error) {
	if err := s.failed.Load(); err != nil {
		return 0, *err
	}
	s.writer.Lock()
	if s.closed.Load() {
		s.writer.Unlock()
		return 0, ErrClosed
	}
	tx := &Tx{s: s, writes: map[objKey]*Object{}, delta: s.rel.delta()}
	err := run(fn, tx)
	if err == nil {
		err = tx.err
	}
	if err != nil || len(tx.writes) == 0 {
		gen := s.gen
		s.writer.Unlock()
		return gen, err
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

// run calls fn, turning a panic into an error so that a bad handler cannot take the
// server down or leave the writer lock held.
func run(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: transaction panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return fn(tx)
}

// commit applies a transaction in memory and queues it for the flusher. The caller holds
// the writer lock.
func (s *Store) commit(tx *Tx) (*commit, error) {
	gen := s.gen + 1
	var changes []Change
	c := &commit{gen: gen, done: make(chan error, 1)}
	for _, k := range tx.order {
		o := tx.writes[k]
		old := s.tables[k.class].objs[k.ref]
		switch {
		case o == nil && old == nil:
			continue // inserted and deleted within the transaction
		case o == nil:
			changes = append(changes, Change{Gen: gen, Class: k.class, Ref: k.ref, Op: Del})
			c.dels = append(c.dels, k)
			continue
		case old == nil:
			o.Created = gen
			changes = append(changes, Change{Gen: gen, Class: k.class, Ref: k.ref, Op: Add, Object: o})
		default:
			o.Created = old.Created
			changes = append(changes, Change{Gen: gen, Class: k.class, Ref: k.ref, Op: Mod, Object: o})
		}
		o.Modified = gen
		data, err := encodeObject(nil, s.classes[k.class], o)
		if err != nil {
			return nil, err
		}
		c.puts = append(c.puts, persisted{key: k, data: data})
	}
	s.mu.Lock()
	for _, k := range tx.order {
		t := s.tables[k.class]
		if o := tx.writes[k]; o != nil {
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

// relate updates the relations for a write of o (nil: a delete) of class and ref: the
// reverse index changes from the transaction's previous view of the object to the new
// one, the mirrors of the targets that gained or lost it are rewritten, and a written
// target gets its true mirror whatever the caller put there.
func (tx *Tx) relate(class, ref string, o *Object) {
	r := tx.s.rel
	prev := tx.Get(class, ref)
	type target struct {
		rel int
		ref string
	}
	var affected []target
	for _, i := range r.bySource[class] {
		before, after := r.targets(i, prev), r.targets(i, o)
		tx.delta.change(i, ref, prev, o)
		for _, t := range append(before, after...) {
			affected = append(affected, target{i, t})
		}
	}
	if o != nil {
		for _, i := range r.byTarget[class] {
			o.Fields[r.list[i].TargetField] = mirror(tx.delta.sources(i, ref))
		}
	}
	tx.record(objKey{class, ref}, o)
	for _, a := range affected {
		tx.setMirror(a.rel, a.ref)
	}
}

// setMirror rewrites one target's mirrored field from the pending reverse index.
func (tx *Tx) setMirror(i int, target string) {
	rel := tx.s.rel.list[i]
	o := tx.Get(rel.Target, target)
	if o == nil {
		return
	}
	want := tx.delta.sources(i, target)
	if cur, ok := o.Fields[rel.TargetField].([]any); ok && sameRefs(cur, want) {
		return
	}
	k := objKey{rel.Target, target}
	if w, owned := tx.writes[k]; !owned || w == nil {
		o = o.Clone()
		tx.record(k, o)
	}
	o.Fields[rel.TargetField] = mirror(want)
}

func (tx *Tx) record(k objKey, o *Object) {
	if _, seen := tx.writes[k]; !seen {
		tx.order = append(tx.order, k)
	}
	tx.writes[k] = o
}

// Put inserts or replaces an object (the store sets Created and Modified at commit).
func (tx *Tx) Put(o *Object) {
	ci := tx.s.classes[o.Class]
	if ci == nil || len(o.Fields) != len(ci.Fields) {
		tx.err = fmt.Errorf("store: Put of a %s object with %d fields does not fit the schema", o.Class, len(o.Fields))
		return
	}
	tx.relate(o.Class, o.Ref, o)
}

// Delete removes an object; it reports whether there was one.
func (tx *Tx) Delete(class, ref string) bool {
	if tx.Get(class, ref) == nil {
		return false
	}
	tx.relate(class, ref, nil)
	return true
}

// Get returns the object as the transaction sees it, or nil.
func (tx *Tx) Get(class, ref string) *Object {
	if o, ok := tx.writes[objKey{class, ref}]; ok {
		return o
	}
	return (committed{tx.s}).Get(class, ref)
}

// All returns every object of the class as the transaction sees it.
func (tx *Tx) All(class string) []*Object {
	base := (committed{tx.s}).All(class)
	if len(tx.writes) == 0 {
		return base
	}
	out := base[:0]
	for _, o := range base {
		if w, ok := tx.writes[objKey{class, o.Ref}]; ok {
			if w != nil {
				out = append(out, w)
			}
			continue
		}
		out = append(out, o)
	}
	t := tx.s.tables[class]
	for _, k := range tx.order {
		if k.class == class && tx.writes[k] != nil && (t == nil || t.objs[k.ref] == nil) {
			out = append(out, tx.writes[k])
		}
	}
	return out
}

// ByUUID returns the object with that uuid as the transaction sees it, or nil.
func (tx *Tx) ByUUID(class, uuid string) *Object {
	ci := tx.s.classes[class]
	if ci == nil || ci.UUID < 0 {
		return nil
	}
	for _, k := range tx.order {
		if o := tx.writes[k]; k.class == class && o != nil && o.Fields[ci.UUID] == uuid {
			return o
		}
	}
	// A committed match counts unless the transaction changed or deleted it (a change
	// that kept the uuid was found above).
	if o := (committed{tx.s}).ByUUID(class, uuid); o != nil {
		if _, touched := tx.writes[objKey{class, o.Ref}]; !touched {
			return o
		}
	}
	return nil
}

// ByNameLabel returns the objects with that name_label as the transaction sees them.
func (tx *Tx) ByNameLabel(class, label string) []*Object {
	ci := tx.s.classes[class]
	if ci == nil || ci.NameLabel < 0 {
		return nil
	}
	var out []*Object
	for _, o := range tx.All(class) {
		if o.Fields[ci.NameLabel] == label {
			out = append(out, o)
		}
	}
	return out
}

// Count returns the number of objects of the class as the transaction sees it.
func (tx *Tx) Count(class string) int {
	n := (committed{tx.s}).Count(class)
	t := tx.s.tables[class]
	for k, o := range tx.writes {
		if k.class != class || t == nil {
			continue
		}
		_, existed := t.objs[k.ref]
		switch {
		case o == nil && existed:
			n--
		case o != nil && !existed:
			n++
		}
	}
	return n
}

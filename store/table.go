package store

import (
	"slices"
	"sync/atomic"
)

// classInfo is a class of the schema with what the store derives from it.
type classInfo struct {
	Class
	index map[string]int // field name -> position
	// mirrored marks the set fields that relations own. They are derived from the
	// references, so they are not persisted but rebuilt on Open.
	mirrored []bool
}

func newClassInfo(c Class) *classInfo {
	ci := &classInfo{Class: c, index: make(map[string]int, len(c.Fields)), mirrored: make([]bool, len(c.Fields))}
	for i, f := range c.Fields {
		ci.index[f] = i
	}
	return ci
}

// table holds the committed objects of one class with their indexes. It is changed only
// by a commit, which holds both the writer lock and the store's write lock; readers hold
// the read lock, or the writer lock (a transaction).
type table struct {
	info   *classInfo
	objs   map[string]*Object
	byUUID map[string]*Object
	byName map[string]map[string]*Object
	// order lists refs in insertion order and seq gives each live ref its position, so
	// that All and ByNameLabel are deterministic. A deleted ref leaves a stale slot
	// (seq no longer points at it) until enough of them pile up to compact.
	order []string
	seq   map[string]int
	stale int
	// all caches the result of list until the next commit that touches the class.
	all atomic.Pointer[[]*Object]
}

func newTable(c *classInfo) *table {
	return &table{
		info: c, objs: map[string]*Object{}, byUUID: map[string]*Object{},
		byName: map[string]map[string]*Object{}, seq: map[string]int{},
	}
}

func (t *table) uuidOf(o *Object) (string, bool) {
	if t.info.UUID < 0 {
		return "", false
	}
	s, ok := o.Fields[t.info.UUID].(string)
	return s, ok
}

func (t *table) nameOf(o *Object) (string, bool) {
	if t.info.NameLabel < 0 {
		return "", false
	}
	s, ok := o.Fields[t.info.NameLabel].(string)
	return s, ok
}

// put inserts or replaces an object, keeping the indexes right.
func (t *table) put(o *Object) {
	if old := t.objs[o.Ref]; old != nil {
		t.unindex(old)
	} else {
		t.seq[o.Ref] = len(t.order)
		t.order = append(t.order, o.Ref)
	}
	t.objs[o.Ref] = o
	if u, ok := t.uuidOf(o); ok {
		t.byUUID[u] = o
	}
	if n, ok := t.nameOf(o); ok {
		m := t.byName[n]
		if m == nil {
			m = map[string]*Object{}
			t.byName[n] = m
		}
		m[o.Ref] = o
	}
	t.all.Store(nil)
}

func (t *table) delete(ref string) {
	old := t.objs[ref]
	if old == nil {
		return
	}
	t.unindex(old)
	delete(t.objs, ref)
	delete(t.seq, ref)
	t.stale++
	if t.stale > 64 && t.stale > len(t.order)/2 {
		live := make([]string, 0, len(t.objs))
		for i, r := range t.order {
			if p, ok := t.seq[r]; ok && p == i {
				t.seq[r] = len(live)
				live = append(live, r)
			}
		}
		t.order, t.stale = live, 0
	}
	t.all.Store(nil)
}

func (t *table) unindex(o *Object) {
	// A uuid held by two objects (a caller bug) indexes the last one put; only remove
	// the entry if it is this object's.
	if u, ok := t.uuidOf(o); ok && t.byUUID[u] == o {
		delete(t.byUUID, u)
	}
	if n, ok := t.nameOf(o); ok {
		if m := t.byName[n]; m != nil {
			delete(m, o.Ref)
			if len(m) == 0 {
				delete(t.byName, n)
			}
		}
	}
}

// list returns every object in insertion order. The slice is shared and cached: callers
// must not change it.
func (t *table) list() []*Object {
	if p := t.all.Load(); p != nil {
		return *p
	}
	out := make([]*Object, 0, len(t.objs))
	for i, r := range t.order {
		if p, ok := t.seq[r]; ok && p == i {
			out = append(out, t.objs[r])
		}
	}
	t.all.Store(&out)
	return out
}

// withName returns the objects named label, in insertion order.
func (t *table) withName(label string) []*Object {
	m := t.byName[label]
	if len(m) == 0 {
		return nil
	}
	out := make([]*Object, 0, len(m))
	for _, o := range m {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b *Object) int { return t.seq[a.Ref] - t.seq[b.Ref] })
	return out
}

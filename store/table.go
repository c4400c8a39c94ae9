package store

import "sync/atomic"

// classInfo is a class of the schema with its field-name index.
type classInfo struct {
	Class
	index map[string]int
}

// table holds the committed objects of one class. It is changed only while the store's
// write lock is held; readers hold the read lock.
type table struct {
	info   *classInfo
	objs   map[string]*Object
	byUUID map[string]*Object
	byName map[string]map[string]*Object
	// order lists refs in insertion order (deleted ones are skipped and compacted away),
	// so that All is deterministic.
	order []string
	dead  int
	// all caches the result of All until the next commit that touches the class.
	all atomic.Pointer[[]*Object]
}

func newTable(c *classInfo) *table {
	return &table{info: c, objs: map[string]*Object{}, byUUID: map[string]*Object{}, byName: map[string]map[string]*Object{}}
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
	old := t.objs[o.Ref]
	if old != nil {
		t.unindex(old)
	} else {
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
	t.dead++
	if t.dead > 64 && t.dead > len(t.order)/2 {
		live := t.order[:0]
		for _, r := range t.order {
			if _, ok := t.objs[r]; ok {
				live = append(live, r)
			}
		}
		t.order, t.dead = live, 0
	}
	t.all.Store(nil)
}

func (t *table) unindex(o *Object) {
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
	seen := make(map[string]bool, len(t.objs))
	for _, r := range t.order {
		if o, ok := t.objs[r]; ok && !seen[r] {
			seen[r] = true
			out = append(out, o)
		}
	}
	t.all.Store(&out)
	return out
}

func (t *table) withName(label string) []*Object {
	m := t.byName[label]
	if len(m) == 0 {
		return nil
	}
	// Keep insertion order for determinism.
	out := make([]*Object, 0, len(m))
	for _, o := range t.list() {
		if m[o.Ref] == o {
			out = append(out, o)
		}
	}
	return out
}

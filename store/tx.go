package store

import "fmt"

// Tx is a write transaction. It sees the committed state plus its own writes, with the
// relations' mirrored sets kept up to date as it goes. It is only valid inside the
// function given to Update, which must not call Update itself (writers are serialised:
// it would wait for itself).
type Tx struct {
	s      *Store
	writes map[objKey]*Object // nil: deleted
	order  []objKey           // first-touch order, for a deterministic change log
	delta  *revDelta          // the transaction's changes to the reverse index
	err    error
}

type objKey struct{ class, ref string }

// record notes a write; the first one of an object fixes its place in the change log.
func (tx *Tx) record(k objKey, o *Object) {
	if _, seen := tx.writes[k]; !seen {
		tx.order = append(tx.order, k)
	}
	tx.writes[k] = o
}

// committed returns the object as committed before the transaction, or nil.
func (tx *Tx) committed(k objKey) *Object {
	if t := tx.s.tables[k.class]; t != nil {
		return t.objs[k.ref]
	}
	return nil
}

// Put inserts or replaces an object (the store sets Created and Modified at commit).
// Putting a committed object as it is (to touch it) is allowed: the store copies it,
// since committed objects never change.
//
// The sets that relations own are read as edits of the object the caller cloned, or of
// the transaction's current version for an object built from scratch, so that a copy
// taken before other writes of the transaction cannot undo them:
//   - a mirrored set (VM.VBDs) is not an edit: it becomes the true mirror;
//   - a many-to-many set's added and removed refs are applied to its current value, or
//     on the target side (VM_group.VMs) carried to the sources' sets (VM.groups), which
//     then mirror back; refs to missing objects are dropped.
//
// Deleting a many-to-many target removes it from its sources' sets, as xapi does; a
// one-to-many source keeps its ref to a deleted target.
func (tx *Tx) Put(o *Object) {
	ci := tx.s.classes[o.Class]
	if ci == nil || len(o.Fields) != len(ci.Fields) {
		tx.fail(fmt.Errorf("store: Put of a %s object with %d fields does not fit the schema", o.Class, len(o.Fields)))
		return
	}
	if o.frozen {
		o = o.Clone()
	}
	tx.write(objKey{o.Class, o.Ref}, o)
}

// fail makes the transaction fail at commit; the first error wins.
func (tx *Tx) fail(err error) {
	if tx.err == nil {
		tx.err = err
	}
}

// Delete removes an object; it reports whether there was one.
func (tx *Tx) Delete(class, ref string) bool {
	if tx.Get(class, ref) == nil {
		return false
	}
	tx.write(objKey{class, ref}, nil)
	return true
}

// Get returns the object as the transaction sees it, or nil.
func (tx *Tx) Get(class, ref string) *Object {
	if o, ok := tx.writes[objKey{class, ref}]; ok {
		return o
	}
	return tx.committed(objKey{class, ref})
}

// touches reports whether the transaction wrote an object of the class.
func (tx *Tx) touches(class string) bool {
	for _, k := range tx.order {
		if k.class == class {
			return true
		}
	}
	return false
}

// All returns every object of the class as the transaction sees it: the committed ones
// in insertion order (replaced by their new versions), then the inserted ones.
func (tx *Tx) All(class string) []*Object {
	base := committed{tx.s}.All(class)
	if !tx.touches(class) {
		return base
	}
	out := base[:0] // base is a copy
	for _, o := range base {
		if w, ok := tx.writes[objKey{class, o.Ref}]; ok {
			if w != nil {
				out = append(out, w)
			}
			continue
		}
		out = append(out, o)
	}
	for _, k := range tx.order {
		if w := tx.writes[k]; k.class == class && w != nil && tx.committed(k) == nil {
			out = append(out, w)
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
	if !tx.touches(class) {
		return committed{tx.s}.ByNameLabel(class, label)
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
	n := committed{tx.s}.Count(class)
	for _, k := range tx.order {
		if k.class != class {
			continue
		}
		existed := tx.committed(k) != nil
		switch o := tx.writes[k]; {
		case o == nil && existed:
			n--
		case o != nil && !existed:
			n++
		}
	}
	return n
}

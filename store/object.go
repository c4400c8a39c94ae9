package store

import "sync/atomic"

// Object is one stored object. A committed object is immutable: to change it, Clone it,
// set fields on the clone (replacing sets and maps, never mutating them in place) and Put
// the clone in a transaction. After Put the transaction owns the object.
//
// Field values are nil, string, int64, float64, bool, time.Time, []any or
// map[string]any, nested arbitrarily: the types the store can persist.
type Object struct {
	Class  string
	Ref    string
	Fields []any
	// Created and Modified are the generations of the commits that added the object and
	// last changed it.
	Created, Modified uint64

	memo [2]atomic.Pointer[[]byte]
	// origin is the object this one was cloned from, until it is committed: a Put
	// compares the relation-owned sets with it to tell the caller's edits from values
	// that other writes of the transaction have changed since (see Tx.write).
	origin *Object
	// frozen is set when the object is committed, before anyone else can see it, so
	// that a Put of a committed object copies it instead of changing it.
	frozen bool
}

// Clone returns a copy whose Fields slice may be changed. The copy has no memo.
func (o *Object) Clone() *Object {
	return &Object{
		Class:    o.Class,
		Ref:      o.Ref,
		Fields:   append([]any(nil), o.Fields...),
		Created:  o.Created,
		Modified: o.Modified,
		origin:   o,
	}
}

// Memo returns the cached bytes under slot (0 or 1: one per wire format), computing them
// with build on first use. Lock-free and safe because committed objects never change:
// two racing builders compute the same bytes and either may win.
func (o *Object) Memo(slot int, build func() []byte) []byte {
	if b := o.memo[slot].Load(); b != nil {
		return *b
	}
	b := build()
	o.memo[slot].Store(&b)
	return b
}

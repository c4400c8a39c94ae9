package store

import "sync/atomic"

// Object is one stored object. A committed object is immutable: to change it, Clone it,
// set fields on the clone (replacing sets and maps, never mutating them in place) and Put
// the clone in a transaction. After Put the transaction owns the object.
type Object struct {
	Class  string
	Ref    string
	Fields []any
	// Created and Modified are the generations of the commits that added the object and
	// last changed it.
	Created, Modified uint64

	memo [2]atomic.Pointer[[]byte]
}

// Clone returns a copy whose Fields slice may be changed. The copy has no memo.
func (o *Object) Clone() *Object {
	return &Object{
		Class:    o.Class,
		Ref:      o.Ref,
		Fields:   append([]any(nil), o.Fields...),
		Created:  o.Created,
		Modified: o.Modified,
	}
}

// Memo returns the cached bytes under slot (0 or 1: one per wire format), computing them
// with build on first use. Safe because committed objects never change; two racing
// builders compute the same bytes and either may win.
func (o *Object) Memo(slot int, build func() []byte) []byte {
	if b := o.memo[slot].Load(); b != nil {
		return *b
	}
	b := build()
	o.memo[slot].Store(&b)
	return b
}

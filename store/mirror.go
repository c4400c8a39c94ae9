package store

import "slices"

// write records a Put (o) or a Delete (nil) and keeps the relations up to date at once,
// so that the transaction itself sees true mirrors: after a Put of a VBD, tx.Get of its
// VM shows the VBD in VM.VBDs. Every object whose mirrored set changes is added to the
// transaction, which gives it a new version and a Mod in the change log, as xapi does.
// Put documents how the relation-owned sets of o are read.
func (tx *Tx) write(k objKey, o *Object) {
	r := tx.s.rel
	prev := tx.Get(k.class, k.ref)
	base := prev
	if o != nil && o.origin != nil && o.origin.Class == k.class && o.origin.Ref == k.ref {
		base = o.origin
	}
	var affected []relTarget
	for _, i := range r.bySource[k.class] {
		rel := r.list[i]
		if rel.ManyToMany && o != nil && prev != nil {
			o.Fields[rel.Field] = mergeSet(prev.Fields[rel.Field], base.Fields[rel.Field], o.Fields[rel.Field])
		}
		for _, t := range r.targets(i, prev) {
			affected = append(affected, relTarget{i, t})
		}
		for _, t := range r.targets(i, o) {
			affected = append(affected, relTarget{i, t})
		}
		tx.delta.change(i, k.ref, prev, o)
	}
	var edits []sourceEdit
	for _, i := range r.byTarget[k.class] {
		rel := r.list[i]
		if rel.ManyToMany {
			edits = tx.targetEdits(edits, i, k.ref, base, o)
		}
		if o != nil {
			if want := tx.delta.sources(i, k.ref); !mirrors(o.Fields[rel.TargetField], want) {
				o.Fields[rel.TargetField] = mirror(want)
			}
		}
	}
	tx.record(k, o)
	for _, a := range affected {
		tx.setMirror(a.rel, a.ref)
	}
	for _, e := range edits {
		tx.editSource(e)
	}
}

// sourceEdit adds a many-to-many target to, or removes it from, a source's set.
type sourceEdit struct {
	rel            int
	source, target string
	add            bool
}

// targetEdits appends the edits that a write of a many-to-many target (o; nil for a
// delete) makes to the sources of relation i, relative to base.
func (tx *Tx) targetEdits(edits []sourceEdit, i int, target string, base, o *Object) []sourceEdit {
	field := tx.s.rel.list[i].TargetField
	if o == nil {
		for _, s := range tx.delta.sources(i, target) {
			edits = append(edits, sourceEdit{i, s, target, false})
		}
		return edits
	}
	var before []string
	if base != nil {
		before = refSet(base.Fields[field])
	}
	after := refSet(o.Fields[field])
	for _, s := range after {
		if !slices.Contains(before, s) {
			edits = append(edits, sourceEdit{i, s, target, true})
		}
	}
	for _, s := range before {
		if !slices.Contains(after, s) {
			edits = append(edits, sourceEdit{i, s, target, false})
		}
	}
	return edits
}

// editSource applies one edit, as a write of the source; a missing source is skipped,
// which leaves the ref out of the target's mirror.
func (tx *Tx) editSource(e sourceEdit) {
	rel := tx.s.rel.list[e.rel]
	o := tx.Get(rel.Class, e.source)
	if o == nil {
		return
	}
	cur, _ := o.Fields[rel.Field].([]any)
	if slices.Contains(cur, any(e.target)) == e.add {
		return
	}
	o = o.Clone()
	if e.add {
		o.Fields[rel.Field] = append(slices.Clip(cur), e.target)
	} else {
		o.Fields[rel.Field] = slices.DeleteFunc(slices.Clone(cur), func(v any) bool { return v == e.target })
	}
	tx.write(objKey{rel.Class, e.source}, o)
}

// setMirror rewrites the mirrored set of relation i on target, if the target exists and
// its set differs from the sources pointing at it. The new version is a copy: an object
// the transaction holds is never changed behind a caller that may have cloned it.
func (tx *Tx) setMirror(i int, target string) {
	rel := tx.s.rel.list[i]
	o := tx.Get(rel.Target, target)
	if o == nil {
		return
	}
	want := tx.delta.sources(i, target)
	if mirrors(o.Fields[rel.TargetField], want) {
		return
	}
	o = o.Clone()
	o.Fields[rel.TargetField] = mirror(want)
	tx.record(objKey{rel.Target, target}, o)
}

// mergeSet applies the caller's edit of a set of refs, from base to next, to its current
// value. Sets are never changed in place: the committed objects share them.
func mergeSet(cur, base, next any) any {
	c, b, n := refSet(cur), refSet(base), refSet(next)
	switch {
	case slices.Equal(b, n):
		return cur // left alone
	case slices.Equal(b, c):
		return next // nothing else changed it
	}
	out := slices.DeleteFunc(c, func(s string) bool { return slices.Contains(b, s) && !slices.Contains(n, s) })
	for _, s := range n {
		if !slices.Contains(b, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return mirror(out)
}

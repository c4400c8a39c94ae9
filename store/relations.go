package store

import (
	"fmt"
	"slices"
)

// relations keeps the reverse index of every relation: for each referenced object, the
// refs of the objects that point at it, in the order they started to. The mirrored set
// fields are rebuilt from it, so they never drift from the references, and a commit only
// visits the targets its writes affect.
type relations struct {
	list     []Relation
	bySource map[string][]int // class -> relations whose Field it holds
	byTarget map[string][]int // class -> relations whose TargetField it holds
	// rev[i][target] lists the sources of relation i pointing at target. Only commits
	// change it, under the writer lock; only transactions read it.
	rev []map[string][]string
}

const nullRef = "OpaqueRef:NULL"

// newRelations checks the relations against the classes and marks the mirrored fields.
// A field may take part in one relation only: otherwise the store could not tell which
// side of which relation a write means to change.
func newRelations(rs []Relation, classes map[string]*classInfo) (*relations, error) {
	r := &relations{bySource: map[string][]int{}, byTarget: map[string][]int{}}
	used := map[string]bool{} // "class.field"
	claim := func(c *classInfo, field int) bool {
		if c == nil || field < 0 || field >= len(c.Fields) {
			return false
		}
		k := c.Name + "." + c.Fields[field]
		if used[k] {
			return false
		}
		used[k] = true
		return true
	}
	for _, x := range rs {
		src, dst := classes[x.Class], classes[x.Target]
		if !claim(src, x.Field) || !claim(dst, x.TargetField) {
			return nil, fmt.Errorf("store: relation %s.%d -> %s.%d names an unknown class or field, or one already in a relation", x.Class, x.Field, x.Target, x.TargetField)
		}
		dst.mirrored[x.TargetField] = true
		i := len(r.list)
		r.list = append(r.list, x)
		r.bySource[x.Class] = append(r.bySource[x.Class], i)
		r.byTarget[x.Target] = append(r.byTarget[x.Target], i)
		r.rev = append(r.rev, map[string][]string{})
	}
	return r, nil
}

// targets returns the refs an object points at through relation i.
func (r *relations) targets(i int, o *Object) []string {
	if o == nil {
		return nil
	}
	return refSet(o.Fields[r.list[i].Field])
}

// refSet reads a ref or a set of refs as a list without duplicates, skipping null refs.
func refSet(v any) []string {
	switch v := v.(type) {
	case string:
		if v != "" && v != nullRef {
			return []string{v}
		}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" && s != nullRef && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// mirror is the value of a mirrored set field.
func mirror(sources []string) []any {
	out := make([]any, len(sources))
	for i, s := range sources {
		out[i] = s
	}
	return out
}

// mirrors reports whether v is already the mirror of sources.
func mirrors(v any, sources []string) bool {
	cur, ok := v.([]any)
	if !ok || len(cur) != len(sources) {
		return false
	}
	for i := range cur {
		if cur[i] != sources[i] {
			return false
		}
	}
	return true
}

// relTarget names one mirrored set: relation and target ref.
type relTarget struct {
	rel int
	ref string
}

// revDelta collects a transaction's changes to the reverse index; commit applies it.
type revDelta struct {
	r       *relations
	pending map[relTarget][]string
	touched []relTarget // first-change order, so that mirrors are written deterministically
}

func (r *relations) delta() *revDelta { return &revDelta{r: r} }

// sources returns the refs pointing at target through relation i, as of the delta.
func (d *revDelta) sources(i int, target string) []string {
	if l, ok := d.pending[relTarget{i, target}]; ok {
		return l
	}
	return d.r.rev[i][target]
}

func (d *revDelta) set(i int, target string, l []string) {
	k := relTarget{i, target}
	if d.pending == nil {
		d.pending = map[relTarget][]string{}
	}
	if _, ok := d.pending[k]; !ok {
		d.touched = append(d.touched, k)
	}
	d.pending[k] = l
}

// change records that the source ref moved from the old object's targets to the new
// one's. Lists are copied, never changed in place: the committed index shares them.
func (d *revDelta) change(i int, ref string, old, new *Object) {
	before, after := d.r.targets(i, old), d.r.targets(i, new)
	for _, t := range before {
		if !slices.Contains(after, t) {
			d.set(i, t, slices.DeleteFunc(slices.Clone(d.sources(i, t)), func(s string) bool { return s == ref }))
		}
	}
	for _, t := range after {
		if l := d.sources(i, t); !slices.Contains(l, ref) {
			d.set(i, t, append(slices.Clip(l), ref))
		}
	}
}

// apply makes the delta the committed reverse index.
func (d *revDelta) apply() {
	for _, k := range d.touched {
		if l := d.pending[k]; len(l) == 0 {
			delete(d.r.rev[k.rel], k.ref)
		} else {
			d.r.rev[k.rel][k.ref] = l
		}
	}
}

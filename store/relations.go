package store

import (
	"fmt"
	"slices"
)

// relations keeps the reverse index of every relation: for each referenced object, the
// refs of the objects that point at it, in the order they started to. The mirrored set
// fields are rebuilt from it, so they never drift from the references.
type relations struct {
	list     []relation
	bySource map[string][]int
	byTarget map[string][]int
	// rev[i][target] lists the sources of relation i pointing at target. Only commits
	// touch it, under the store's writer lock.
	rev []map[string][]string
}

type relation struct {
	Relation
}

const nullRef = "OpaqueRef:NULL"

func newRelations(rs []Relation, classes map[string]*classInfo) (*relations, error) {
	r := &relations{bySource: map[string][]int{}, byTarget: map[string][]int{}}
	for _, x := range rs {
		src, dst := classes[x.Class], classes[x.Target]
		if src == nil || dst == nil || x.Field >= len(src.Fields) || x.TargetField >= len(dst.Fields) {
			return nil, fmt.Errorf("store: relation %s.%d -> %s.%d names an unknown class or field", x.Class, x.Field, x.Target, x.TargetField)
		}
		i := len(r.list)
		r.list = append(r.list, relation{x})
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
	switch v := o.Fields[r.list[i].Field].(type) {
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

// revDelta collects a transaction's changes to the reverse index before they are applied.
type revDelta struct {
	r       *relations
	pending []map[string][]string // relation -> target -> new source list
}

func (r *relations) delta() *revDelta {
	return &revDelta{r: r, pending: make([]map[string][]string, len(r.list))}
}

func (d *revDelta) sources(i int, target string) []string {
	if p := d.pending[i]; p != nil {
		if l, ok := p[target]; ok {
			return l
		}
	}
	return d.r.rev[i][target]
}

func (d *revDelta) set(i int, target string, l []string) {
	if d.pending[i] == nil {
		d.pending[i] = map[string][]string{}
	}
	d.pending[i][target] = l
}

// change records that source moved from the old object's targets to the new one's.
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
	for i, p := range d.pending {
		for t, l := range p {
			if len(l) == 0 {
				delete(d.r.rev[i], t)
			} else {
				d.r.rev[i][t] = l
			}
		}
	}
}

func sameRefs(a []any, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

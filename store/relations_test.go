package store

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func group(ref string, vms ...any) *Object {
	return &Object{Class: "group", Ref: ref, Fields: []any{ref, ref, append([]any{}, vms...)}}
}

func vbd(ref, target string) *Object {
	return &Object{Class: "VBD", Ref: ref, Fields: []any{ref, target}}
}

func update(t *testing.T, s *Store, fn func(tx *Tx)) uint64 {
	t.Helper()
	gen, err := s.Update(func(tx *Tx) error { fn(tx); return nil })
	require.NoError(t, err)
	return gen
}

// changesOf returns "op class ref" for each change of the commit gen.
func changesOf(t *testing.T, s *Store, gen uint64) []string {
	t.Helper()
	changes, complete := s.Changes(gen - 1)
	require.True(t, complete)
	var out []string
	for _, c := range changes {
		if c.Gen == gen {
			out = append(out, c.Op.String()+" "+c.Class+" "+c.Ref)
		}
	}
	return out
}

func TestOneToManyEvents(t *testing.T) {
	s, _ := newStore(t)
	put(t, s, vm("vmA", "a", "A"), vm("vmB", "b", "B"))
	gen := put(t, s, vbd("vbd1", "vmA"))
	assert.Equal(t, []string{"add VBD vbd1", "mod VM vmA"}, changesOf(t, s, gen))
	assert.Equal(t, gen, s.Get("VM", "vmA").Modified, "the target has a new version")
	assert.NotEqual(t, gen, s.Get("VM", "vmB").Modified)

	gen = put(t, s, vbd("vbd1", "vmB"))
	assert.Equal(t, []string{"mod VBD vbd1", "mod VM vmA", "mod VM vmB"}, changesOf(t, s, gen))

	gen = update(t, s, func(tx *Tx) { tx.Delete("VM", "vmB") })
	assert.Equal(t, []string{"del VM vmB"}, changesOf(t, s, gen), "the VBD keeps its dangling ref")
	assert.Equal(t, "vmB", s.Get("VBD", "vbd1").Fields[1])

	gen = update(t, s, func(tx *Tx) {
		o := tx.Get("VM", "vmA").Clone()
		o.Fields[1] = "renamed"
		tx.Put(o)
	})
	assert.Equal(t, []string{"mod VM vmA"}, changesOf(t, s, gen), "a change of the target alone touches nothing else")
}

func TestOneToManyOrderIsInsertionOrder(t *testing.T) {
	s, _ := newStore(t)
	put(t, s, vm("vm", "u", "n"))
	for _, r := range []string{"c", "a", "b"} {
		put(t, s, vbd(r, "vm"))
	}
	assert.Equal(t, []any{"c", "a", "b"}, s.Get("VM", "vm").Fields[2])
	put(t, s, vbd("a", "OpaqueRef:NULL"))
	put(t, s, vbd("a", "vm"))
	assert.Equal(t, []any{"c", "b", "a"}, s.Get("VM", "vm").Fields[2], "a source that comes back goes last")
}

func TestRollbackLeavesRelationsAlone(t *testing.T) {
	s, _ := newStore(t)
	put(t, s, vm("vmA", "a", "A"))
	_, err := s.Update(func(tx *Tx) error {
		tx.Put(vbd("vbd1", "vmA"))
		require.Equal(t, []any{"vbd1"}, tx.Get("VM", "vmA").Fields[2])
		return assert.AnError
	})
	require.ErrorIs(t, err, assert.AnError)
	assert.Equal(t, []any{}, s.Get("VM", "vmA").Fields[2])
	put(t, s, vbd("vbd2", "vmA"))
	assert.Equal(t, []any{"vbd2"}, s.Get("VM", "vmA").Fields[2], "the reverse index did not keep the rolled back source")
}

func TestSelfReferentialRelation(t *testing.T) {
	schema := Schema{
		Classes: []Class{{Name: "task", Fields: []string{"uuid", "subtask_of", "subtasks"},
			Defaults: []any{"", "OpaqueRef:NULL", []any{}}, UUID: 0, NameLabel: -1}},
		Relations: []Relation{{Class: "task", Field: 1, Target: "task", TargetField: 2}},
	}
	s := open(t, t.TempDir()+"/state.db", schema)
	defer s.Close()
	task := func(ref, parent string) *Object {
		return &Object{Class: "task", Ref: ref, Fields: []any{ref, parent, []any{}}}
	}
	update(t, s, func(tx *Tx) {
		tx.Put(task("parent", "OpaqueRef:NULL"))
		tx.Put(task("child", "parent"))
		tx.Put(task("grandchild", "child"))
	})
	assert.Equal(t, []any{"child"}, s.Get("task", "parent").Fields[2])
	assert.Equal(t, []any{"grandchild"}, s.Get("task", "child").Fields[2])
	update(t, s, func(tx *Tx) { tx.Delete("task", "child") })
	assert.Equal(t, []any{}, s.Get("task", "parent").Fields[2])
}

func TestManyToManyFromEitherSide(t *testing.T) {
	vmGroups := func(s *Store, ref string) any { return s.Get("VM", ref).Fields[3] }
	groupVMs := func(s *Store, ref string) any { return s.Get("group", ref).Fields[2] }
	setGroups := func(tx *Tx, ref string, groups ...any) {
		o := tx.Get("VM", ref).Clone()
		o.Fields[3] = groups
		tx.Put(o)
	}
	setVMs := func(tx *Tx, ref string, vms ...any) {
		o := tx.Get("group", ref).Clone()
		o.Fields[2] = vms
		tx.Put(o)
	}
	s, _ := newStore(t)
	put(t, s, vm("a", "a", "a"), vm("b", "b", "b"), group("g1"), group("g2"))

	gen := update(t, s, func(tx *Tx) { setGroups(tx, "a", "g1", "g2") })
	assert.Equal(t, []any{"a"}, groupVMs(s, "g1"))
	assert.Equal(t, []string{"mod VM a", "mod group g1", "mod group g2"}, changesOf(t, s, gen))

	gen = update(t, s, func(tx *Tx) { setVMs(tx, "g1", "a", "b", "missing") })
	assert.Equal(t, []any{"g1"}, vmGroups(s, "b"), "the target side is carried to the sources")
	assert.Equal(t, []any{"a", "b"}, groupVMs(s, "g1"), "a missing VM is not mirrored")
	assert.Equal(t, []string{"mod group g1", "mod VM b"}, changesOf(t, s, gen))

	update(t, s, func(tx *Tx) { setVMs(tx, "g1", "b") })
	assert.Equal(t, []any{"g2"}, vmGroups(s, "a"))

	gen = update(t, s, func(tx *Tx) { tx.Delete("group", "g1") })
	assert.Equal(t, []any{}, vmGroups(s, "b"), "a deleted target leaves the sources' sets")
	assert.Equal(t, []string{"del group g1", "mod VM b"}, changesOf(t, s, gen))

	gen = update(t, s, func(tx *Tx) { tx.Delete("VM", "a") })
	assert.Equal(t, []any{}, groupVMs(s, "g2"), "a deleted source leaves the targets' sets")
	assert.Equal(t, []string{"del VM a", "mod group g2"}, changesOf(t, s, gen))

	put(t, s, group("g3", "b"))
	assert.Equal(t, []any{"g3"}, vmGroups(s, "b"), "a new target's set counts as an edit")
}

func TestStaleCopiesDoNotUndoRelationEdits(t *testing.T) {
	s, _ := newStore(t)
	put(t, s, vm("a", "a", "a"), vm("b", "b", "b"), group("g1"), group("g2"))
	update(t, s, func(tx *Tx) {
		staleA := tx.Get("VM", "a").Clone()
		staleG1 := tx.Get("group", "g1").Clone()

		g2 := tx.Get("group", "g2").Clone()
		g2.Fields[2] = []any{"a"} // joins a to g2 from the target side
		tx.Put(g2)
		b := tx.Get("VM", "b").Clone()
		b.Fields[3] = []any{"g1"} // joins b to g1 from the source side
		tx.Put(b)
		require.Equal(t, []any{"g2"}, tx.Get("VM", "a").Fields[3])
		require.Equal(t, []any{"b"}, tx.Get("group", "g1").Fields[2])

		staleA.Fields[1] = "renamed"
		staleA.Fields[3] = []any{"g1"} // an edit made on a stale copy: add g1
		tx.Put(staleA)
		staleG1.Fields[1] = "renamed" // its set left alone
		tx.Put(staleG1)
	})
	assert.Equal(t, []any{"g2", "g1"}, s.Get("VM", "a").Fields[3], "the stale edit is merged, not replacing")
	assert.Equal(t, []any{"b", "a"}, s.Get("group", "g1").Fields[2])
	assert.Equal(t, []any{"a"}, s.Get("group", "g2").Fields[2])
	assert.Equal(t, "renamed", s.Get("group", "g1").Fields[1])
}

func TestRelationsMustNotShareFields(t *testing.T) {
	schema := testSchema()
	schema.Relations = append(schema.Relations, Relation{Class: "VBD", Field: 1, Target: "group", TargetField: 2})
	_, err := Open(schema, Options{Path: t.TempDir() + "/state.db"})
	assert.Error(t, err)
}

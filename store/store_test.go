package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testSchema is a small VM/VBD/group world: VBD.VM mirrors into VM.VBDs, VM.groups into
// group.VMs.
func testSchema() Schema {
	return Schema{
		Classes: []Class{
			{Name: "VM", Fields: []string{"uuid", "name_label", "VBDs", "groups", "other"}, Defaults: []any{"", "", []any{}, []any{}, map[string]any{}}, UUID: 0, NameLabel: 1},
			{Name: "VBD", Fields: []string{"uuid", "VM"}, Defaults: []any{"", "OpaqueRef:NULL"}, UUID: 0, NameLabel: -1},
			{Name: "group", Fields: []string{"uuid", "name_label", "VMs"}, Defaults: []any{"", "", []any{}}, UUID: 0, NameLabel: 1},
		},
		Relations: []Relation{
			{Class: "VBD", Field: 1, Target: "VM", TargetField: 2},
			{Class: "VM", Field: 3, Target: "group", TargetField: 2, ManyToMany: true},
		},
	}
}

func open(t testing.TB, path string, schema Schema) *Store {
	t.Helper()
	s, err := Open(schema, Options{Path: path, NoSync: true, Log: zerolog.Nop()})
	require.NoError(t, err)
	return s
}

func newStore(t testing.TB) (*Store, string) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path, testSchema())
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func vm(ref, uuid, name string) *Object {
	return &Object{Class: "VM", Ref: ref, Fields: []any{uuid, name, []any{}, []any{}, map[string]any{}}}
}

func put(t testing.TB, s *Store, objs ...*Object) uint64 {
	t.Helper()
	gen, err := s.Update(func(tx *Tx) error {
		for _, o := range objs {
			tx.Put(o)
		}
		return nil
	})
	require.NoError(t, err)
	return gen
}

func TestCRUDAndIndexes(t *testing.T) {
	s, _ := newStore(t)
	assert.True(t, s.IsNew())
	put(t, s, vm("r1", "u1", "web"), vm("r2", "u2", "web"), vm("r3", "u3", "db"))
	assert.Equal(t, 3, s.Count("VM"))
	assert.Equal(t, "r2", s.ByUUID("VM", "u2").Ref)
	assert.Nil(t, s.ByUUID("VM", "nope"))
	assert.Nil(t, s.ByUUID("VBD", "u2"), "uuids are per class")
	assert.Len(t, s.ByNameLabel("VM", "web"), 2)
	refs := func(objs []*Object) (out []string) {
		for _, o := range objs {
			out = append(out, o.Ref)
		}
		return
	}
	assert.Equal(t, []string{"r1", "r2", "r3"}, refs(s.All("VM")), "insertion order")

	o := s.Get("VM", "r2").Clone()
	o.Fields[1] = "db"
	put(t, s, o)
	assert.Equal(t, []string{"r2", "r3"}, refs(s.ByNameLabel("VM", "db")))
	assert.Equal(t, []string{"r1", "r2", "r3"}, refs(s.All("VM")), "a replace keeps the order")

	_, err := s.Update(func(tx *Tx) error {
		assert.True(t, tx.Delete("VM", "r1"))
		assert.False(t, tx.Delete("VM", "r1"))
		return nil
	})
	require.NoError(t, err)
	assert.Nil(t, s.Get("VM", "r1"))
	assert.Nil(t, s.ByUUID("VM", "u1"))
	assert.Equal(t, 2, s.Count("VM"))
}

func TestTransactionSeesItsOwnWrites(t *testing.T) {
	s, _ := newStore(t)
	put(t, s, vm("r1", "u1", "a"))
	_, err := s.Update(func(tx *Tx) error {
		tx.Put(vm("r2", "u2", "b"))
		o := tx.Get("VM", "r1").Clone()
		o.Fields[0] = "u1b"
		tx.Put(o)
		assert.Equal(t, 2, tx.Count("VM"))
		assert.Len(t, tx.All("VM"), 2)
		assert.Equal(t, "r2", tx.ByUUID("VM", "u2").Ref)
		assert.Nil(t, tx.ByUUID("VM", "u1"), "the old uuid is gone inside the transaction")
		assert.Equal(t, "r1", tx.ByUUID("VM", "u1b").Ref)
		assert.Len(t, tx.ByNameLabel("VM", "b"), 1)
		tx.Delete("VM", "r2")
		assert.Equal(t, 1, tx.Count("VM"))
		assert.Nil(t, s.Get("VM", "r2"), "readers do not see uncommitted writes")
		return nil
	})
	require.NoError(t, err)
	assert.Nil(t, s.Get("VM", "r2"))
	assert.Equal(t, "u1b", s.Get("VM", "r1").Fields[0])
}

func TestRollback(t *testing.T) {
	s, _ := newStore(t)
	gen := put(t, s, vm("r1", "u1", "a"))
	boom := errors.New("boom")
	_, err := s.Update(func(tx *Tx) error { tx.Put(vm("r2", "u2", "b")); return boom })
	assert.ErrorIs(t, err, boom)
	_, err = s.Update(func(tx *Tx) error { tx.Put(vm("r3", "u3", "c")); panic("handler bug") })
	assert.ErrorContains(t, err, "handler bug")
	_, err = s.Update(func(tx *Tx) error { tx.Put(&Object{Class: "VM", Ref: "bad", Fields: []any{"x"}}); return nil })
	assert.Error(t, err, "an object that does not fit the schema is refused")
	assert.Equal(t, 1, s.Count("VM"))
	assert.Equal(t, gen, s.Generation(), "nothing was committed")
	put(t, s, vm("r4", "u4", "d")) // the writer lock was released
	assert.Equal(t, 2, s.Count("VM"))
}

func TestOneToManyRelation(t *testing.T) {
	s, _ := newStore(t)
	put(t, s, vm("vmA", "a", "A"), vm("vmB", "b", "B"))
	vbd := func(ref, target string) *Object { return &Object{Class: "VBD", Ref: ref, Fields: []any{ref, target}} }
	put(t, s, vbd("vbd1", "vmA"), vbd("vbd2", "vmA"))
	assert.Equal(t, []any{"vbd1", "vbd2"}, s.Get("VM", "vmA").Fields[2])

	put(t, s, vbd("vbd1", "vmB")) // repoint
	assert.Equal(t, []any{"vbd2"}, s.Get("VM", "vmA").Fields[2])
	assert.Equal(t, []any{"vbd1"}, s.Get("VM", "vmB").Fields[2])

	// A Put of the target cannot overwrite the mirror.
	o := s.Get("VM", "vmB").Clone()
	o.Fields[2] = []any{"forged"}
	o.Fields[1] = "renamed"
	put(t, s, o)
	assert.Equal(t, []any{"vbd1"}, s.Get("VM", "vmB").Fields[2])

	_, err := s.Update(func(tx *Tx) error { tx.Delete("VBD", "vbd1"); return nil })
	require.NoError(t, err)
	assert.Equal(t, []any{}, s.Get("VM", "vmB").Fields[2])

	// Deleting and re-creating the target keeps dangling sources mirrored.
	_, err = s.Update(func(tx *Tx) error { tx.Delete("VM", "vmA"); return nil })
	require.NoError(t, err)
	put(t, s, vm("vmA", "a2", "A again"))
	assert.Equal(t, []any{"vbd2"}, s.Get("VM", "vmA").Fields[2])

	// A VBD pointing at nothing is not mirrored anywhere.
	put(t, s, vbd("vbd3", "OpaqueRef:NULL"))
}

func TestMirrorsInsideATransaction(t *testing.T) {
	s, _ := newStore(t)
	put(t, s, vm("vmA", "a", "A"))
	_, err := s.Update(func(tx *Tx) error {
		stale := tx.Get("VM", "vmA").Clone() // taken before the VBD exists
		tx.Put(&Object{Class: "VBD", Ref: "vbd1", Fields: []any{"v", "vmA"}})
		assert.Equal(t, []any{"vbd1"}, tx.Get("VM", "vmA").Fields[2], "the mirror is visible at once")
		stale.Fields[1] = "renamed"
		tx.Put(stale)
		assert.Equal(t, []any{"vbd1"}, tx.Get("VM", "vmA").Fields[2], "a stale copy cannot undo the mirror")
		tx.Delete("VBD", "vbd1")
		assert.Equal(t, []any{}, tx.Get("VM", "vmA").Fields[2])
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []any{}, s.Get("VM", "vmA").Fields[2])
	assert.Equal(t, "renamed", s.Get("VM", "vmA").Fields[1])
}

func TestManyToManyRelation(t *testing.T) {
	s, _ := newStore(t)
	put(t, s, &Object{Class: "group", Ref: "g1", Fields: []any{"g1", "g", []any{}}},
		&Object{Class: "group", Ref: "g2", Fields: []any{"g2", "g", []any{}}})
	a := vm("vmA", "a", "A")
	a.Fields[3] = []any{"g1", "g2"}
	put(t, s, a)
	assert.Equal(t, []any{"vmA"}, s.Get("group", "g1").Fields[2])
	assert.Equal(t, []any{"vmA"}, s.Get("group", "g2").Fields[2])
	a = s.Get("VM", "vmA").Clone()
	a.Fields[3] = []any{"g2"}
	put(t, s, a)
	assert.Equal(t, []any{}, s.Get("group", "g1").Fields[2])
	assert.Equal(t, []any{"vmA"}, s.Get("group", "g2").Fields[2])
}

func TestChangeLog(t *testing.T) {
	s, _ := newStore(t)
	g1 := put(t, s, vm("vmA", "a", "A"))
	g2 := put(t, s, &Object{Class: "VBD", Ref: "vbd1", Fields: []any{"v", "vmA"}})
	changes, complete := s.Changes(g1 - 1)
	require.True(t, complete)
	require.Len(t, changes, 3)
	assert.Equal(t, Change{Gen: g1, Class: "VM", Ref: "vmA", Op: Add, Object: changes[0].Object}, changes[0])
	kinds := map[string]Op{changes[1].Class: changes[1].Op, changes[2].Class: changes[2].Op}
	assert.Equal(t, map[string]Op{"VBD": Add, "VM": Mod}, kinds, "the mirrored target gets a mod")
	assert.Equal(t, g2, changes[2].Gen)
	assert.Equal(t, g2, s.Get("VM", "vmA").Modified)
	assert.Equal(t, g1, s.Get("VM", "vmA").Created)

	_, err := s.Update(func(tx *Tx) error { tx.Delete("VBD", "vbd1"); return nil })
	require.NoError(t, err)
	changes, _ = s.Changes(g2)
	assert.Len(t, changes, 2)
	assert.Equal(t, Del, changes[0].Op)
	assert.Nil(t, changes[0].Object)
}

func TestChangeLogWraps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(testSchema(), Options{Path: path, NoSync: true, LogSize: 4, Log: zerolog.Nop()})
	require.NoError(t, err)
	defer s.Close()
	var gens []uint64
	for i := 0; i < 6; i++ {
		gens = append(gens, put(t, s, vm("r", "u", string(rune('a'+i)))))
	}
	_, complete := s.Changes(gens[0])
	assert.False(t, complete)
	changes, complete := s.Changes(gens[2])
	assert.True(t, complete)
	assert.Len(t, changes, 3)
}

func TestWait(t *testing.T) {
	s, _ := newStore(t)
	gen := s.Generation()
	waiters := make([]<-chan struct{}, 100)
	for i := range waiters {
		waiters[i] = s.Wait(gen)
	}
	select {
	case <-waiters[0]:
		t.Fatal("woke before any commit")
	default:
	}
	put(t, s, vm("r", "u", "n"))
	for _, w := range waiters {
		select {
		case <-w:
		case <-time.After(5 * time.Second):
			t.Fatal("waiter not woken")
		}
	}
	select {
	case <-s.Wait(gen):
	default:
		t.Fatal("a past generation must not block")
	}
}

func TestPersistenceRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path, testSchema())
	when := time.Date(2024, 4, 20, 12, 0, 0, 123, time.UTC)
	o := vm("r1", "u1", "a")
	o.Fields[4] = map[string]any{"s": "x", "i": int64(-5), "f": 0.25, "b": true, "t": when, "l": []any{"a", []any{int64(1)}}, "n": nil, "m": map[string]any{"k": false}}
	put(t, s, o)
	put(t, s, &Object{Class: "VBD", Ref: "vbd", Fields: []any{"v", "r1"}})
	gen := s.Generation()
	require.NoError(t, s.Close())

	s = open(t, path, testSchema())
	defer s.Close()
	assert.False(t, s.IsNew())
	assert.Equal(t, gen, s.Generation())
	got := s.Get("VM", "r1")
	assert.Equal(t, o.Fields[4], got.Fields[4])
	assert.Equal(t, []any{"vbd"}, got.Fields[2], "mirrors are rebuilt")
	assert.Equal(t, "r1", s.ByUUID("VM", "u1").Ref)
	_, complete := s.Changes(gen - 1)
	assert.False(t, complete, "the log does not survive a restart")
	_, complete = s.Changes(gen)
	assert.True(t, complete)
}

func TestSchemaEvolution(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path, testSchema())
	put(t, s, vm("r1", "u1", "a"))
	require.NoError(t, s.Close())

	// The next version reorders fields, drops "other" and adds "power_state".
	next := testSchema()
	next.Classes[0] = Class{Name: "VM", Fields: []string{"power_state", "name_label", "uuid", "VBDs", "groups"},
		Defaults: []any{"Halted", "", "", []any{}, []any{}}, UUID: 2, NameLabel: 1}
	next.Relations[0].TargetField = 3
	next.Relations[1].Field = 4
	s = open(t, path, next)
	defer s.Close()
	got := s.Get("VM", "r1")
	assert.Equal(t, []any{"Halted", "a", "u1", []any{}, []any{}}, got.Fields)
	assert.Equal(t, "r1", s.ByUUID("VM", "u1").Ref)
}

func TestUpdateAfterClose(t *testing.T) {
	s, _ := newStore(t)
	require.NoError(t, s.Close())
	_, err := s.Update(func(tx *Tx) error { return nil })
	assert.ErrorIs(t, err, ErrClosed)
}

func TestMemo(t *testing.T) {
	o := vm("r", "u", "n")
	calls := 0
	build := func() []byte { calls++; return []byte("x") }
	assert.Equal(t, "x", string(o.Memo(0, build)))
	assert.Equal(t, "x", string(o.Memo(0, build)))
	assert.Equal(t, 1, calls)
	c := o.Clone()
	c.Memo(0, build)
	assert.Equal(t, 2, calls, "a clone starts without a memo")
}

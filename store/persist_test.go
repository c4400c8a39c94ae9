package store

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func TestEveryValueTypeRoundTrips(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	when := time.Date(2024, 4, 20, 12, 0, 0, 123456789, paris)
	for _, tc := range []struct {
		name      string
		in, want  any
		wantEqual bool
	}{
		{"nil", nil, nil, true},
		{"empty string", "", "", true},
		{"string", "héllo\x00wörld", "héllo\x00wörld", true},
		{"int64 min", int64(math.MinInt64), int64(math.MinInt64), true},
		{"int64 max", int64(math.MaxInt64), int64(math.MaxInt64), true},
		{"zero", int64(0), int64(0), true},
		{"float", -0.1, -0.1, true},
		{"infinity", math.Inf(1), math.Inf(1), true},
		{"true", true, true, true},
		{"false", false, false, true},
		{"time, as UTC with nanoseconds", when, when.UTC(), true},
		{"zero time", time.Time{}, time.Time{}, false},
		{"empty set", []any{}, []any{}, true},
		{"empty map", map[string]any{}, map[string]any{}, true},
		{"nested", map[string]any{"l": []any{"a", []any{int64(1), nil}, map[string]any{"t": when}}, "b": false},
			map[string]any{"l": []any{"a", []any{int64(1), nil}, map[string]any{"t": when.UTC()}}, "b": false}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			s := open(t, path, testSchema())
			o := vm("r", "u", "n")
			o.Fields[4] = tc.in
			put(t, s, o)
			require.NoError(t, s.Close())
			s = open(t, path, testSchema())
			defer s.Close()
			got := s.Get("VM", "r").Fields[4]
			if tc.wantEqual {
				assert.Equal(t, tc.want, got)
			} else {
				assert.True(t, got.(time.Time).Equal(tc.want.(time.Time)), "%v", got)
			}
		})
	}
	t.Run("NaN", func(t *testing.T) {
		data, err := encodeObject(nil, newClassInfo(testSchema().Classes[0]), &Object{Fields: []any{"", "", nil, nil, math.NaN()}})
		require.NoError(t, err)
		o, err := decodeObject(newClassInfo(testSchema().Classes[0]), "r", data)
		require.NoError(t, err)
		assert.True(t, math.IsNaN(o.Fields[4].(float64)))
	})
}

func TestReopenRestoresState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path, testSchema())
	assert.True(t, s.IsNew())
	put(t, s, vm("b", "ub", "x"), vm("a", "ua", "x"))
	put(t, s, vbd("vbd1", "a"), group("g", "a"))
	gen := update(t, s, func(tx *Tx) { tx.Delete("VM", "b") })
	aModified := s.Get("VM", "a").Modified
	require.NoError(t, s.Close())

	s = open(t, path, testSchema())
	assert.False(t, s.IsNew())
	assert.Equal(t, gen, s.Generation())
	assert.Nil(t, s.Get("VM", "b"))
	a := s.Get("VM", "a")
	assert.Equal(t, aModified, a.Modified, "a change of a mirror alone is persisted too")
	assert.Equal(t, []any{"vbd1"}, a.Fields[2])
	assert.Equal(t, []any{"g"}, a.Fields[3])
	assert.Equal(t, []any{"a"}, s.Get("group", "g").Fields[2])
	assert.Equal(t, []string{"a"}, refs(s.ByNameLabel("VM", "x")))
	next := put(t, s, vm("c", "uc", "x"))
	assert.Equal(t, gen+1, next, "generations go on from the persisted one")
	assert.Equal(t, []string{"a", "c"}, refs(s.All("VM")))
	require.NoError(t, s.Close())
}

func TestMirroredFieldsAreNotPersisted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path, testSchema())
	put(t, s, vm("a", "ua", "x"))
	put(t, s, vbd("vbd1", "a"))
	require.NoError(t, s.db.View(func(btx *bolt.Tx) error {
		ci := s.classes["VM"]
		o, err := decodeObject(ci, "a", btx.Bucket(classBucket("VM")).Get([]byte("a")))
		require.NoError(t, err)
		assert.Equal(t, []any{}, o.Fields[2], "the default, not the mirror")
		assert.Equal(t, s.Get("VM", "a").Modified, o.Modified)
		return nil
	}))
	require.NoError(t, s.Close())
}

func TestClassesOutsideTheSchemaAreLeftAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path, testSchema())
	put(t, s, vm("a", "ua", "x"), &Object{Class: "VBD", Ref: "v", Fields: []any{"v", "a"}})
	require.NoError(t, s.Close())

	older := testSchema()
	older.Classes = older.Classes[:1] // VM only
	older.Relations = nil
	s = open(t, path, older)
	assert.Equal(t, 1, s.Count("VM"))
	assert.Equal(t, []any{}, s.Get("VM", "a").Fields[2], "no relation, no mirror")
	put(t, s, vm("b", "ub", "y"))
	require.NoError(t, s.Close())

	s = open(t, path, testSchema())
	defer s.Close()
	assert.NotNil(t, s.Get("VBD", "v"), "the other class was kept on disk")
	assert.Equal(t, []any{"v"}, s.Get("VM", "a").Fields[2])
}

func TestOpenRefusesAFileOfAnotherFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(btx *bolt.Tx) error {
		m, err := btx.CreateBucket(metaBucket)
		require.NoError(t, err)
		return m.Put(formatKey, []byte("99"))
	}))
	require.NoError(t, db.Close())
	_, err = Open(testSchema(), Options{Path: path})
	assert.ErrorContains(t, err, "format")
}

func FuzzDecodeObject(f *testing.F) {
	ci := newClassInfo(testSchema().Classes[0])
	o := vm("r", "u", "n")
	o.Fields[4] = map[string]any{"l": []any{int64(-1), 2.5, true, time.Unix(1, 2), nil}}
	data, err := encodeObject(nil, ci, o)
	require.NoError(f, err)
	f.Add(data)
	f.Add([]byte{})
	f.Add([]byte{1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := decodeObject(ci, "r", data)
		if err != nil {
			return
		}
		// What decodes encodes again to the same object.
		again, err := encodeObject(nil, ci, o)
		require.NoError(t, err)
		o2, err := decodeObject(ci, "r", again)
		require.NoError(t, err)
		assert.Equal(t, len(o.Fields), len(o2.Fields))
	})
}

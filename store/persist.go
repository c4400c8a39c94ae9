package store

import (
	"encoding/binary"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// The file layout: one bucket per class ("c:<class>", key ref, value the encoded object)
// and a meta bucket with the format version and the last generation. Buckets of classes
// the schema does not have are left alone.
var (
	metaBucket = []byte("meta")
	genKey     = []byte("generation")
	formatKey  = []byte("format")
)

const formatVersion = "1"

func classBucket(class string) []byte { return []byte("c:" + class) }

// load reads every object of the schema's classes into memory, rebuilds the indexes and
// the relation mirrors, and returns the persisted generation.
func (s *Store) load() (uint64, error) {
	var gen uint64
	count := 0
	err := s.db.View(func(btx *bolt.Tx) error {
		if m := btx.Bucket(metaBucket); m != nil {
			if f := m.Get(formatKey); f != nil && string(f) != formatVersion {
				return fmt.Errorf("store: state file format %q, want %q", f, formatVersion)
			}
			if g := m.Get(genKey); len(g) == 8 {
				gen = binary.BigEndian.Uint64(g)
			}
		}
		for name, ci := range s.classes {
			b := btx.Bucket(classBucket(name))
			if b == nil {
				continue
			}
			var objs []*Object
			err := b.ForEach(func(k, v []byte) error {
				o, err := decodeObject(ci, string(k), v)
				if err != nil {
					return fmt.Errorf("store: %s %s: %w", name, k, err)
				}
				objs = append(objs, o)
				return nil
			})
			if err != nil {
				return err
			}
			// Insertion order as it was: by creation generation, then ref.
			sort.Slice(objs, func(i, j int) bool {
				if objs[i].Created != objs[j].Created {
					return objs[i].Created < objs[j].Created
				}
				return objs[i].Ref < objs[j].Ref
			})
			t := s.tables[name]
			for _, o := range objs {
				o.frozen = true
				t.put(o)
			}
			count += len(objs)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.isNew = count == 0
	s.rebuildMirrors()
	return gen, nil
}

// rebuildMirrors recomputes the reverse index and every mirrored field (which are not
// persisted) from the references, in creation order.
func (s *Store) rebuildMirrors() {
	for i, rel := range s.rel.list {
		rev := map[string][]string{}
		for _, o := range s.tables[rel.Class].list() {
			for _, t := range s.rel.targets(i, o) {
				rev[t] = append(rev[t], o.Ref)
			}
		}
		s.rel.rev[i] = rev
		for _, o := range s.tables[rel.Target].list() {
			o.Fields[rel.TargetField] = mirror(rev[o.Ref])
		}
	}
}

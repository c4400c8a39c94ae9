package store

import (
	"encoding/binary"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// The file layout: one bucket per class ("c:<class>", key ref, value the encoded object)
// and a meta bucket with the format version and the last generation.
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

// rebuildMirrors recomputes the reverse index and every mirrored field from the
// references, in creation order.
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

// flusher writes queued commits to disk, many per bbolt transaction (one fsync), in
// generation order, and releases their Update calls once durable. A write error fails
// every commit of the batch and the store.
func (s *Store) flusher() {
	defer close(s.flushed)
	for c := range s.flushQ {
		batch := []*commit{c}
	drain:
		for {
			select {
			case c, ok := <-s.flushQ:
				if !ok {
					break drain
				}
				batch = append(batch, c)
			default:
				break drain
			}
		}
		err := s.write(batch)
		if err != nil {
			s.log.Error().Err(err).Msg("store: commit failed; the store refuses further writes")
			s.failed.Store(&err)
		} else {
			s.advance(batch[len(batch)-1].gen)
		}
		for _, c := range batch {
			c.done <- err
		}
	}
}

func (s *Store) write(batch []*commit) error {
	return s.db.Update(func(btx *bolt.Tx) error {
		buckets := map[string]*bolt.Bucket{}
		bucket := func(class string) (*bolt.Bucket, error) {
			if b := buckets[class]; b != nil {
				return b, nil
			}
			b, err := btx.CreateBucketIfNotExists(classBucket(class))
			buckets[class] = b
			return b, err
		}
		for _, c := range batch {
			for _, p := range c.puts {
				b, err := bucket(p.key.class)
				if err != nil {
					return err
				}
				if err := b.Put([]byte(p.key.ref), p.data); err != nil {
					return err
				}
			}
			for _, k := range c.dels {
				b, err := bucket(k.class)
				if err != nil {
					return err
				}
				if err := b.Delete([]byte(k.ref)); err != nil {
					return err
				}
			}
		}
		m, err := btx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if err := m.Put(formatKey, []byte(formatVersion)); err != nil {
			return err
		}
		return m.Put(genKey, binary.BigEndian.AppendUint64(nil, batch[len(batch)-1].gen))
	})
}

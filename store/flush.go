package store

import (
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// flusher is the one goroutine that writes commits to disk. It takes every commit queued
// since its last write and writes them in one bbolt transaction (one fsync), in
// generation order, then publishes the last generation as durable and releases their
// Update calls. A write error fails every commit of the batch, and every later one
// without trying: a later commit must never reach the disk without an earlier one.
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
		var err error
		if failed := s.failed.Load(); failed != nil {
			err = *failed
		} else if err = s.write(batch); err != nil {
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

// write stores a batch of commits and the last generation in one bbolt transaction.
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

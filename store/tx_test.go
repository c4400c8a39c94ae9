package store

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func refs(objs []*Object) []string {
	out := []string{}
	for _, o := range objs {
		out = append(out, o.Ref)
	}
	return out
}

func TestTxReadsInOrder(t *testing.T) {
	s, _ := newStore(t)
	put(t, s, vm("r1", "u1", "x"), vm("r2", "u2", "y"), vm("r3", "u3", "x"))
	update(t, s, func(tx *Tx) {
		tx.Put(vm("r0", "u0", "x"))
		tx.Delete("VM", "r2")
		o := tx.Get("VM", "r3").Clone()
		o.Fields[1] = "z"
		tx.Put(o)
		assert.Equal(t, []string{"r1", "r3", "r0"}, refs(tx.All("VM")), "committed in order, then inserted")
		assert.Equal(t, []string{"r1", "r0"}, refs(tx.ByNameLabel("VM", "x")))
		assert.Equal(t, []string{}, refs(tx.ByNameLabel("VM", "y")))
		assert.Nil(t, tx.ByUUID("VM", "u2"))
		assert.Equal(t, 3, tx.Count("VM"))
		assert.Equal(t, 0, tx.Count("VBD"))
		assert.Equal(t, []string{"r1", "r2", "r3"}, refs(s.All("VM")), "readers see the committed state")
	})
	assert.Equal(t, []string{"r1", "r3", "r0"}, refs(s.All("VM")))
	assert.Equal(t, []string{"r1", "r0"}, refs(s.ByNameLabel("VM", "x")))
}

func TestUnknownClassAndRef(t *testing.T) {
	s, _ := newStore(t)
	assert.Nil(t, s.Get("nope", "r"))
	assert.Nil(t, s.All("nope"))
	assert.Nil(t, s.ByUUID("nope", "u"))
	assert.Nil(t, s.ByNameLabel("VBD", "n"), "VBD has no name_label")
	assert.Zero(t, s.Count("nope"))
	_, err := s.Update(func(tx *Tx) error { tx.Put(&Object{Class: "nope", Ref: "r"}); return nil })
	assert.Error(t, err)
}

func TestUpdateErrors(t *testing.T) {
	s, _ := newStore(t)
	gen := put(t, s, vm("r1", "u1", "a"))
	for _, tc := range []struct {
		name string
		fn   func(tx *Tx) error
		want string
	}{
		{"panic with a value", func(tx *Tx) error { tx.Put(vm("r2", "u2", "b")); panic("handler bug") }, "handler bug"},
		{"panic with an error", func(tx *Tx) error { tx.Put(vm("r2", "u2", "b")); panic(assert.AnError) }, assert.AnError.Error()},
		{"nil dereference", func(tx *Tx) error { var o *Object; tx.Put(o); return nil }, "panicked"},
		{"a value of a type the store cannot persist", func(tx *Tx) error {
			o := vm("r2", "u2", "b")
			o.Fields[4] = map[string]any{"k": 3} // int, not int64
			tx.Put(o)
			return nil
		}, "cannot persist a int"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Update(tc.fn)
			assert.ErrorContains(t, err, tc.want)
			assert.Nil(t, s.Get("VM", "r2"))
			assert.Equal(t, gen, s.Generation())
		})
	}
	_, err := s.Update(func(tx *Tx) error { panic(assert.AnError) })
	assert.ErrorIs(t, err, assert.AnError, "a panic's error is wrapped")

	got, err := s.Update(func(tx *Tx) error { tx.Get("VM", "r1"); return nil })
	require.NoError(t, err)
	assert.Equal(t, gen, got, "a transaction without writes commits nothing")
}

func TestPutOfACommittedObjectCopiesIt(t *testing.T) {
	s, _ := newStore(t)
	put(t, s, vm("r", "u", "n"))
	before := s.Get("VM", "r")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // races with the commit if the store changed the committed object
		defer wg.Done()
		for i := 0; i < 1000; i++ {
			_ = before.Modified
		}
	}()
	gen := update(t, s, func(tx *Tx) { tx.Put(tx.Get("VM", "r")) })
	wg.Wait()
	assert.Less(t, before.Modified, gen)
	assert.Equal(t, gen, s.Get("VM", "r").Modified, "a touch is a new version")
	assert.Equal(t, []string{"mod VM r"}, changesOf(t, s, gen))
}

// TestReadersSeeWholeCommits moves VBDs between two VMs while readers check, in views,
// that every VBD is mirrored by exactly the VM it points at.
func TestReadersSeeWholeCommits(t *testing.T) {
	s, _ := newStore(t)
	put(t, s, vm("vmA", "a", "A"), vm("vmB", "b", "B"))
	for i := 0; i < 4; i++ {
		put(t, s, vbd(fmt.Sprint("vbd", i), "vmA"))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s.View(func(v Reader) {
					n := len(v.Get("VM", "vmA").Fields[2].([]any)) + len(v.Get("VM", "vmB").Fields[2].([]any))
					assert.Equal(t, 4, n)
					for _, d := range v.All("VBD") {
						assert.Contains(t, v.Get("VM", d.Fields[1].(string)).Fields[2], d.Ref)
					}
				})
			}
		}()
	}
	for i := 0; i < 200; i++ {
		update(t, s, func(tx *Tx) {
			for _, d := range tx.All("VBD") {
				if (i+len(d.Ref))%3 == 0 {
					continue
				}
				o := d.Clone()
				o.Fields[1] = map[any]string{"vmA": "vmB", "vmB": "vmA"}[o.Fields[1]]
				tx.Put(o)
			}
		})
	}
	close(stop)
	wg.Wait()
}

// TestCommitsAreExposedOnceDurable holds bbolt's write lock so that the flusher cannot
// write, and checks what is visible meanwhile.
func TestCommitsAreExposedOnceDurable(t *testing.T) {
	s, _ := newStore(t)
	gen := put(t, s, vm("r1", "u1", "a"))
	block, err := s.db.Begin(true)
	require.NoError(t, err)

	acked := make(chan uint64, 2)
	for _, ref := range []string{"r2", "r3"} {
		go func() {
			gen, _ := s.Update(func(tx *Tx) error { tx.Put(vm(ref, ref, "b")); return nil })
			acked <- gen
		}()
	}
	require.Eventually(t, func() bool { return s.Get("VM", "r2") != nil && s.Get("VM", "r3") != nil }, 5*time.Second, time.Millisecond,
		"readers see a commit before it is durable, and the next writer need not wait for it")
	assert.Equal(t, gen, s.Generation())
	changes, complete := s.Changes(gen)
	assert.True(t, complete)
	assert.Empty(t, changes)
	select {
	case <-s.Wait(gen):
		t.Fatal("Wait woke before the commit was durable")
	case <-acked:
		t.Fatal("Update returned before the commit was durable")
	case <-time.After(50 * time.Millisecond):
	}

	require.NoError(t, block.Rollback())
	assert.ElementsMatch(t, []uint64{gen + 1, gen + 2}, []uint64{<-acked, <-acked})
	<-s.Wait(gen)
	assert.Equal(t, gen+2, s.Generation())
	changes, _ = s.Changes(gen)
	assert.Len(t, changes, 2)
}

func TestFlushErrorFailsTheStore(t *testing.T) {
	s, _ := newStore(t)
	gen := put(t, s, vm("r1", "u1", "a"))
	require.NoError(t, s.db.Close()) // every later write fails
	_, err := s.Update(func(tx *Tx) error { tx.Put(vm("r2", "u2", "b")); return nil })
	assert.Error(t, err)
	_, err2 := s.Update(func(tx *Tx) error { tx.Put(vm("r3", "u3", "c")); return nil })
	assert.ErrorIs(t, err2, err, "the store refuses writes once one failed")
	assert.Equal(t, gen, s.Generation(), "a failed commit is never exposed")
	changes, _ := s.Changes(gen)
	assert.Empty(t, changes)
}

func TestCloseDrainsAndRefuses(t *testing.T) {
	s, _ := newStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Update(func(tx *Tx) error { tx.Put(vm(fmt.Sprint(i), "", "")); return nil })
			errs <- err
		}()
	}
	time.Sleep(time.Millisecond)
	require.NoError(t, s.Close())
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			assert.ErrorIs(t, err, ErrClosed, "a transaction either commits durably or never starts")
		}
	}
	assert.NoError(t, s.Close(), "Close is idempotent")
	_, err := s.Update(func(tx *Tx) error { return nil })
	assert.ErrorIs(t, err, ErrClosed)
}

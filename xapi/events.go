package xapi

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/wire"
)

// event.from (protocol.md §7.1): a token names a store generation; a call returns one
// merged event per object changed after it, blocking until there is one or the timeout
// passes. Only durable commits are reported (the store's change log), so an event never
// describes a change that could still be lost.

// maxEventWait is what a negative or non-finite timeout means: 24 hours, as in xapi.
const maxEventWait = 24 * time.Hour

func (s *Server) registerEvents() {
	s.Handle("event.from", s.eventFrom)
	s.Handle("event.inject", s.eventInject)
	s.Handle("event.get_current_id", func(c *Call) (any, error) { return int64(s.Store.Generation()), nil })
	s.Handle("event.register", s.eventRegister)
	s.Handle("event.unregister", s.eventUnregister)
	s.Handle("event.next", s.eventNext)
}

// formatToken writes xapi's token: two zero-padded generations (database, messages), so
// that tokens compare as strings. Messages share the store's generations here.
func formatToken(gen uint64) string { return fmt.Sprintf("%020d,%020d", gen, gen) }

// parseToken reads a token: "" is the beginning; otherwise two integers.
func parseToken(token string) (uint64, bool) {
	if token == "" {
		return 0, true
	}
	db, msg, ok := strings.Cut(token, ",")
	if !ok || strings.Contains(msg, ",") {
		return 0, false
	}
	g, err1 := wire.ParseInt64(db)
	_, err2 := wire.ParseInt64(msg)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	if g < 0 {
		g = 0
	}
	return uint64(g), true
}

func (s *Server) eventFrom(c *Call) (any, error) {
	items, _ := c.Arg(0).([]any)
	token := c.StringArg(1)
	since, ok := parseToken(token)
	if !ok {
		return nil, apierror.New("EVENT_FROM_TOKEN_PARSE_FAILURE", token)
	}
	timeout := c.Arg(2).(float64)
	wait := maxEventWait
	if timeout >= 0 && !math.IsInf(timeout, 0) && !math.IsNaN(timeout) {
		wait = time.Duration(timeout * float64(time.Second))
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	sub := parseSubscription(items)
	expired := false
	for {
		upto := s.Store.Generation()
		changed := s.Store.Wait(upto)
		if s.Store.Get("session", c.SessionRef) == nil {
			return nil, apierror.New(apierror.SessionInvalid, c.SessionRef)
		}
		b := s.events.batch(s, &sub, since, upto)
		if len(b.events) > 0 || expired {
			return b, nil
		}
		since = upto
		select {
		case <-changed:
		case <-timer.C:
			expired = true
		case <-c.Ctx.Done():
			return nil, apierror.Internal("client went away")
		}
	}
}

// eventInject touches an object so that it gets a mod event, and returns a token from
// just before the touch. The class must be spelled exactly as the datamodel does.
func (s *Server) eventInject(c *Call) (any, error) {
	class, ref := c.StringArg(0), c.StringArg(1)
	gen, err := s.Store.Update(func(tx *store.Tx) error {
		o := tx.Get(class, ref)
		if o == nil || s.Schema.Class(class) == nil {
			return apierror.New(apierror.HandleInvalid, class, ref)
		}
		tx.Put(o.Clone())
		return nil
	})
	if err != nil {
		return nil, err
	}
	return formatToken(gen - 1), nil
}

// eventCache shares the batches of the latest generation between the waiters that ask
// for the same range with the same subscription, so that a commit seen by a thousand
// event.from calls is merged and encoded once: the first waiter builds, the others wait
// for it.
type eventCache struct {
	mu      sync.Mutex
	gen     uint64
	batches map[string]*cachedBatch
}

type cachedBatch struct {
	once sync.Once
	b    *eventBatch
}

func (ec *eventCache) batch(s *Server, sub *subscription, since, upto uint64) *eventBatch {
	key := strconv.FormatUint(since, 10) + "|" + sub.key
	ec.mu.Lock()
	if ec.gen != upto || ec.batches == nil {
		ec.gen, ec.batches = upto, map[string]*cachedBatch{}
	}
	cb := ec.batches[key]
	if cb == nil {
		cb = &cachedBatch{}
		ec.batches[key] = cb
	}
	ec.mu.Unlock()
	cb.once.Do(func() { cb.b = s.buildBatch(sub, since, upto) })
	return cb.b
}

// buildBatch collects the events after since, up to upto, with the table counts.
func (s *Server) buildBatch(sub *subscription, since, upto uint64) *eventBatch {
	b := &eventBatch{srv: s, token: formatToken(upto)}
	var changes []store.Change
	complete := false
	if since > 0 {
		changes, complete = s.Store.Changes(since)
	}
	if complete {
		b.events = s.mergeChanges(sub, since, upto, changes)
	} else {
		b.events = s.scanObjects(sub, since)
	}
	s.Store.View(func(r store.Reader) {
		for _, c := range s.Schema.Classes {
			if countedTable(c) {
				b.counts = append(b.counts, countEntry{c.Lower, r.Count(c.Name)})
			}
		}
	})
	return b
}

// mergeChanges turns the log entries of (since, upto] into one event per object, as
// xapi merges them: an object created in the window is an add (or nothing, if it was
// also deleted), one created before is a mod or a del. Messages come first, then adds,
// mods and dels.
func (s *Server) mergeChanges(sub *subscription, since, upto uint64, changes []store.Change) []event {
	type state struct {
		first, last store.Change
	}
	var order []string
	objs := map[string]*state{}
	for _, ch := range changes {
		if ch.Gen > upto {
			break
		}
		cls := s.Schema.Class(ch.Class)
		if !generatesEvents(cls) || !sub.wants(cls.Lower, ch.Ref) {
			continue
		}
		k := ch.Class + "\x00" + ch.Ref
		if st := objs[k]; st != nil {
			st.last = ch
			continue
		}
		objs[k] = &state{first: ch, last: ch}
		order = append(order, k)
	}
	var msgs, adds, mods, dels []event
	for _, k := range order {
		st := objs[k]
		cls := s.Schema.Class(st.last.Class)
		e := event{ts: "0.0", class: cls.Lower, ref: st.last.Ref}
		switch {
		case st.last.Op == store.Del && st.first.Op == store.Add:
			continue // created and deleted within the window
		case st.last.Op == store.Del:
			e.op, e.id = store.Del, strconv.FormatUint(st.last.Gen, 10)
		case st.last.Object.Created > since:
			e.op, e.obj, e.id = store.Add, st.last.Object, strconv.FormatUint(st.last.Object.Created, 10)
		default:
			e.op, e.obj, e.id = store.Mod, st.last.Object, strconv.FormatUint(st.last.Gen, 10)
		}
		switch {
		case cls.Name == "message":
			e.id = "0"
			msgs = append(msgs, e)
		case e.op == store.Add:
			adds = append(adds, e)
		case e.op == store.Mod:
			mods = append(mods, e)
		default:
			dels = append(dels, e)
		}
	}
	return append(append(append(msgs, adds...), mods...), dels...)
}

// scanObjects answers from the objects themselves when the change log does not reach
// back to since (the first call with token "", an old token, or a restart): objects
// created after since are adds, older ones changed after since are mods. Deletions that
// old cannot be reported, as in xapi once its deleted-row records are gone.
func (s *Server) scanObjects(sub *subscription, since uint64) []event {
	var msgs, adds, mods []event
	for _, cls := range s.Schema.Classes {
		if !generatesEvents(cls) || !sub.wantsClass(cls.Lower) {
			continue
		}
		for _, o := range s.Store.All(cls.Name) {
			if o.Modified <= since || !sub.wants(cls.Lower, o.Ref) {
				continue
			}
			e := event{ts: "0.0", class: cls.Lower, ref: o.Ref, obj: o}
			if o.Created > since {
				e.op, e.id = store.Add, strconv.FormatUint(o.Created, 10)
			} else {
				e.op, e.id = store.Mod, strconv.FormatUint(o.Modified, 10)
			}
			switch {
			case cls.Name == "message":
				e.id = "0"
				msgs = append(msgs, e)
			case e.op == store.Add:
				adds = append(adds, e)
			default:
				mods = append(mods, e)
			}
		}
	}
	return append(append(msgs, adds...), mods...)
}

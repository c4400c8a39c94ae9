package xapi

import (
	"crypto/md5"
	"encoding/hex"
	"strconv"
	"sync"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// The legacy interface (protocol.md §7.2): event.register adds subscriptions to the
// session, event.next blocks until there are matching events and returns every change,
// unmerged. xapi keeps a bounded queue of past events; here the queue is the store's
// change log, bounded further by Config.LegacyQueue: a session that falls further behind
// gets EVENTS_LOST and must reload its state.

// DefaultLegacyQueue is how many changes event.next may lag behind before EVENTS_LOST.
const DefaultLegacyQueue = 10000

type legacySubs struct {
	mu   sync.Mutex
	subs map[string]*legacySub // by session ref
}

type legacySub struct {
	sub  subscription
	last uint64 // the generation of the last change handed out
}

func (s *Server) eventRegister(c *Call) (any, error) {
	items, _ := c.Arg(0).([]any)
	s.legacy.mu.Lock()
	defer s.legacy.mu.Unlock()
	if s.legacy.subs == nil {
		s.legacy.subs = map[string]*legacySub{}
	}
	ls := s.legacy.subs[c.SessionRef]
	if ls == nil {
		ls = &legacySub{sub: parseSubscription(nil), last: s.Store.Generation()}
		s.legacy.subs[c.SessionRef] = ls
	}
	for _, it := range items {
		text, _ := it.(string)
		ls.sub.add(text)
	}
	return nil, nil
}

func (s *Server) eventUnregister(c *Call) (any, error) {
	items, _ := c.Arg(0).([]any)
	s.legacy.mu.Lock()
	defer s.legacy.mu.Unlock()
	if ls := s.legacy.subs[c.SessionRef]; ls != nil {
		for _, it := range items {
			text, _ := it.(string)
			ls.sub.remove(text)
		}
	}
	return nil, nil
}

// trackID is how xapi names a session in SESSION_NOT_REGISTERED: a hash, not the ref.
func trackID(session string) string {
	sum := md5.Sum([]byte(session))
	return "trackid=" + hex.EncodeToString(sum[:])
}

func (s *Server) eventNext(c *Call) (any, error) {
	for {
		s.legacy.mu.Lock()
		ls := s.legacy.subs[c.SessionRef]
		var since uint64
		if ls != nil {
			since = ls.last
		}
		s.legacy.mu.Unlock()
		if ls == nil {
			return nil, apierror.New("SESSION_NOT_REGISTERED", trackID(c.SessionRef))
		}
		upto := s.Store.Generation()
		changed := s.Store.Wait(upto)
		if s.Store.Get("session", c.SessionRef) == nil {
			s.dropLegacy(c.SessionRef)
			return nil, apierror.New(apierror.SessionInvalid, c.SessionRef)
		}
		changes, complete := s.Store.Changes(since)
		s.legacy.mu.Lock()
		ls.last = upto
		sub := ls.sub
		s.legacy.mu.Unlock()
		if !complete || len(changes) > s.legacyQueue {
			return nil, apierror.New("EVENTS_LOST")
		}
		if events := s.legacyEvents(&sub, changes, upto); len(events) > 0 {
			return eventList{srv: s, events: events}, nil
		}
		select {
		case <-changed:
		case <-c.Ctx.Done():
			return nil, apierror.Internal("client went away")
		}
	}
}

// legacyEvents lists every matching change, in order, each with the object as that
// change left it.
func (s *Server) legacyEvents(sub *subscription, changes []store.Change, upto uint64) []event {
	ts := strconv.FormatInt(s.Clock.Now().Unix(), 10) + "." // OCaml's string_of_float
	var out []event
	for _, ch := range changes {
		if ch.Gen > upto {
			break
		}
		cls := s.Schema.Class(ch.Class)
		if !generatesEvents(cls) || !sub.wants(cls.Lower, ch.Ref) {
			continue
		}
		out = append(out, event{id: strconv.FormatUint(ch.Gen, 10), ts: ts, class: cls.Lower, op: ch.Op, ref: ch.Ref, obj: ch.Object})
	}
	return out
}

func (s *Server) dropLegacy(session string) {
	s.legacy.mu.Lock()
	delete(s.legacy.subs, session)
	s.legacy.mu.Unlock()
}

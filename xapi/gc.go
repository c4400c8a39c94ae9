package xapi

import (
	"sort"
	"time"

	"github.com/xapisim/xapisim/store"
)

// Garbage collection of tasks and sessions, as xapi's db_gc does every 30 seconds
// (protocol.md §5.3, semantics.md §5).
const (
	// DefaultTaskRetention is how long completed tasks are kept: 65 minutes.
	DefaultTaskRetention = 65 * time.Minute
	// GCInterval is how often the collector runs.
	GCInterval = 30 * time.Second

	stalePendingTask   = 24 * time.Hour
	maxTasks           = 200
	inactiveSession    = 24 * time.Hour
	maxSessionsPerUser = 500
	maxRootSessions    = 400
)

// StartBackground starts the server's periodic work (garbage collection) and returns a
// function that stops it.
func (s *Server) StartBackground() (stop func()) {
	done := make(chan struct{})
	ticker := time.NewTicker(GCInterval)
	go func() {
		for {
			select {
			case <-done:
				ticker.Stop()
				return
			case <-ticker.C:
				s.CollectGarbage()
			}
		}
	}()
	return func() { close(done) }
}

// CollectGarbage runs one pass of the task and session collectors.
func (s *Server) CollectGarbage() {
	if err := s.collectTasks(); err != nil {
		s.log.Error().Err(err).Msg("task GC")
	}
	if err := s.collectSessions(); err != nil {
		s.log.Error().Err(err).Msg("session GC")
	}
}

// collectTasks deletes completed tasks older than the retention, pending tasks older than
// a day whose progress has not moved since the previous pass, and the oldest completed
// tasks beyond 200.
func (s *Server) collectTasks() error {
	now := s.Clock.Now()
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	progress := map[string]float64{}
	_, err := s.Store.Update(func(tx *store.Tx) error {
		var completed []*store.Object
		remaining := 0
		for _, t := range tx.All("task") {
			status := Str(t, "status")
			switch {
			case status != "pending" && now.Sub(Time(t, "finished")) > s.taskRetention:
				tx.Delete("task", t.Ref)
				continue
			case status == "pending" && now.Sub(Time(t, "created")) > stalePendingTask:
				p := Float(t, "progress")
				if last, seen := s.gcProgress[t.Ref]; seen && last == p {
					tx.Delete("task", t.Ref)
					continue
				}
				progress[t.Ref] = p
			}
			if status != "pending" {
				completed = append(completed, t)
			}
			remaining++
		}
		if excess := remaining - maxTasks; excess > 0 {
			sort.Slice(completed, func(i, j int) bool {
				return Time(completed[i], "finished").Before(Time(completed[j], "finished"))
			})
			for _, t := range completed[:min(excess, len(completed))] {
				tx.Delete("task", t.Ref)
			}
		}
		return nil
	})
	s.gcProgress = progress
	return err
}

// collectSessions deletes sessions unused for a day, then caps each group of sessions:
// 500 per originator for root and per user for others, 400 for root sessions without an
// originator. The oldest go first.
func (s *Server) collectSessions() error {
	now := s.Clock.Now()
	_, err := s.Store.Update(func(tx *store.Tx) error {
		groups := map[string][]*store.Object{}
		for _, o := range tx.All("session") {
			if now.Sub(Time(o, "last_active")) > inactiveSession && !hasPendingTask(tx, o) {
				tx.Delete("session", o.Ref)
				continue
			}
			key := "root:"
			switch {
			case !Bool(o, "is_local_superuser"):
				key = "user:" + Str(o, "auth_user_name")
			case Str(o, "originator") != "":
				key = "originator:" + Str(o, "originator")
			}
			groups[key] = append(groups[key], o)
		}
		for key, sessions := range groups {
			limit := maxSessionsPerUser
			if key == "root:" {
				limit = maxRootSessions
			}
			if len(sessions) <= limit {
				continue
			}
			sort.Slice(sessions, func(i, j int) bool {
				return Time(sessions[i], "last_active").Before(Time(sessions[j], "last_active"))
			})
			for _, o := range sessions[:len(sessions)-limit] {
				tx.Delete("session", o.Ref)
			}
		}
		return nil
	})
	return err
}

func hasPendingTask(r store.Reader, session *store.Object) bool {
	for _, ref := range Refs(session, "tasks") {
		if t := r.Get("task", ref); t != nil && Str(t, "status") == "pending" {
			return true
		}
	}
	return false
}

// Package xapi is the XenAPI surface of the emulator: the HTTP endpoints, the dispatcher
// with xapi's order of checks, sessions, the messages every class has (get_record,
// set_<field>, create…), tasks and events. The simulated pool's behaviour is registered
// on a Server as handlers by the cluster package.
package xapi

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/xapisim/xapisim/rbac"
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// Config is what a Server is built from.
type Config struct {
	Store *store.Store
	Log   zerolog.Logger
	// RootPassword is the password of root, the local superuser.
	RootPassword string
	IDs          *IDs
	Clock        Clock
	// Durations are the simulated durations of long operations.
	Durations Durations
	// LegacyQueue bounds how far event.next may lag (DefaultLegacyQueue if 0).
	LegacyQueue int
	// TaskRetention is how long completed tasks are kept (DefaultTaskRetention if 0).
	TaskRetention time.Duration
}

// Server answers XenAPI calls. It is an http.Handler.
type Server struct {
	Schema *datamodel.Schema
	Store  *store.Store
	IDs    *IDs
	Clock  Clock
	log    zerolog.Logger

	rootPassword string

	// methods maps every callable wire name (Class.msg and the alias Class_msg) to its
	// entry. It is built once by New and only its handlers change afterwards, before
	// serving starts.
	methods     map[string]*method
	listMethods []any

	durations     Durations
	cancels       cancels
	events        eventCache
	legacy        legacySubs
	legacyQueue   int
	taskRetention time.Duration
	gcMu          sync.Mutex
	gcProgress    map[string]float64 // pending tasks' progress at the previous GC pass

	policy    *rbac.Policy
	permCache permissionCache

	mu             sync.RWMutex
	authenticators []Authenticator
	users          []User // the users file: the external directory
}

// method is a callable message and what answers it.
type method struct {
	msg     *datamodel.Message
	handler Handler
	// alias is set for the Class_msg spelling, which has no Async form.
	alias bool
	// simulated is false while the handler is the not-implemented default.
	simulated bool
}

// Handler answers one message. It returns the result (of the message's result type, in
// the value convention of datamodel.Type) or an error, normally an *apierror.Error.
type Handler func(c *Call) (any, error)

// New builds a server over a store, writing the static role objects if the store lacks
// them.
func New(cfg Config) (*Server, error) {
	if cfg.IDs == nil {
		cfg.IDs = NewIDs(0)
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	s := &Server{
		Schema:        datamodel.Load(),
		Store:         cfg.Store,
		IDs:           cfg.IDs,
		Clock:         cfg.Clock,
		log:           cfg.Log,
		rootPassword:  cfg.RootPassword,
		durations:     cfg.Durations,
		legacyQueue:   cfg.LegacyQueue,
		taskRetention: cfg.TaskRetention,
		methods:       map[string]*method{},
		policy:        rbac.New(datamodel.Load()),
	}
	for _, c := range s.Schema.Classes {
		for _, m := range c.Messages {
			e := &method{msg: m, handler: notImplemented}
			if m.Implicit {
				if h := s.implicitHandler(m); h != nil {
					e.handler, e.simulated = h, true
				}
			}
			s.methods[m.WireName] = e
			alias := *e
			alias.alias = true
			s.methods[c.Name+"_"+m.Name] = &alias
			s.listMethods = append(s.listMethods, m.WireName)
		}
	}
	if s.legacyQueue <= 0 {
		s.legacyQueue = DefaultLegacyQueue
	}
	if s.taskRetention <= 0 {
		s.taskRetention = DefaultTaskRetention
	}
	s.registerSession()
	s.registerEvents()
	s.registerTasks()
	s.registerMessages()
	s.registerRoles()
	s.registerSubjects()
	s.registerAuth()
	s.registerLocalSessions()
	if err := s.ensureRoles(); err != nil {
		return nil, err
	}
	return s, nil
}

// Handle makes h answer the message with this wire name ("VM.start"). It must be called
// before the server starts serving; an unknown name is a programming error.
func (s *Server) Handle(wireName string, h Handler) {
	m := s.methods[wireName]
	if m == nil || m.alias {
		panic(fmt.Sprintf("xapi: Handle(%q): no such message", wireName))
	}
	m.handler, m.simulated = h, true
	cls, name, _ := strings.Cut(wireName, ".")
	alias := s.methods[cls+"_"+name]
	alias.handler, alias.simulated = h, true
}

// Simulated reports whether a message has behaviour (a generic or registered handler)
// rather than the NOT_IMPLEMENTED default. It drives the coverage report.
func (s *Server) Simulated(wireName string) bool {
	m := s.methods[wireName]
	return m != nil && m.simulated
}

// Logger is the server's logger.
func (s *Server) Logger() *zerolog.Logger { return &s.log }

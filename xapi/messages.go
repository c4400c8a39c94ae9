package xapi

import (
	"github.com/xapisim/xapisim/store"
)

// Message priorities as XenCenter and xapi use them (1 is the most severe).
const (
	PriorityCritical = 1
	PriorityMajor    = 2
	PriorityWarning  = 3
	PriorityMinor    = 4
	PriorityInfo     = 5
)

// Alert describes a message (an alert) about an object, as xapi raises them on
// lifecycle events (VM_STARTED, CLUSTER_HOST_LEAVING, …).
type Alert struct {
	Name     string
	Priority int64
	Class    string // enum cls: VM, Host, SR, Pool, …
	ObjUUID  string
	Body     string
}

// NewMessage builds the message object for an alert, to be Put in the caller's
// transaction so that it commits with the change it reports.
func (s *Server) NewMessage(a Alert) *store.Object {
	m := s.NewObject("message")
	Set(m, "name", a.Name)
	Set(m, "priority", a.Priority)
	Set(m, "cls", a.Class)
	Set(m, "obj_uuid", a.ObjUUID)
	Set(m, "timestamp", s.Clock.Now())
	Set(m, "body", a.Body)
	return m
}

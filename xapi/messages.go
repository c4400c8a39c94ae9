package xapi

import (
	"time"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/wire"
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

// messageClasses maps the enum cls of messages to the classes their obj_uuid names.
var messageClasses = map[string]string{
	"VM": "VM", "Host": "host", "SR": "SR", "Pool": "pool", "VMPP": "VMPP", "VMSS": "VMSS",
	"PVS_proxy": "PVS_proxy", "VDI": "VDI", "Certificate": "Certificate",
}

func (s *Server) registerMessages() {
	for _, name := range []string{"get_record", "get_by_uuid", "get_all", "get_all_records", "get_all_records_where", "destroy"} {
		s.Handle("message."+name, s.GenericHandler(s.Schema.Message("message."+name)))
	}
	s.Handle("message.create", s.messageCreate)
	s.Handle("message.destroy_many", s.messageDestroyMany)
	s.Handle("message.get_since", func(c *Call) (any, error) {
		return s.messagesWhere(func(o *store.Object) bool { return Time(o, "timestamp").After(c.Arg(0).(time.Time)) }), nil
	})
	s.Handle("message.get", func(c *Call) (any, error) {
		cls, uuid, since := c.StringArg(0), c.StringArg(1), c.Arg(2).(time.Time)
		if !s.messageObjectExists(cls, uuid) {
			return nil, apierror.New(apierror.UUIDInvalid) // xapi sends no parameters here
		}
		return s.messagesWhere(func(o *store.Object) bool {
			return Str(o, "cls") == cls && Str(o, "obj_uuid") == uuid && Time(o, "timestamp").After(since)
		}), nil
	})
}

// messageCreate stores an alert about an existing object: xapi checks that obj_uuid
// names an object of the class cls.
func (s *Server) messageCreate(c *Call) (any, error) {
	a := Alert{Name: c.StringArg(0), Priority: c.Arg(1).(int64), Class: c.StringArg(2), ObjUUID: c.StringArg(3), Body: c.StringArg(4)}
	if !s.messageObjectExists(a.Class, a.ObjUUID) {
		return nil, apierror.New(apierror.UUIDInvalid, a.Class, a.ObjUUID)
	}
	m := s.NewMessage(a)
	if _, err := s.Store.Update(func(tx *store.Tx) error { tx.Put(m); return nil }); err != nil {
		return nil, err
	}
	return m.Ref, nil
}

// messageObjectExists says whether uuid names an object of the alert class cls.
func (s *Server) messageObjectExists(cls, uuid string) bool {
	class, ok := messageClasses[cls]
	return ok && s.Store.ByUUID(class, uuid) != nil
}

func (s *Server) messageDestroyMany(c *Call) (any, error) {
	refs, _ := c.Arg(0).([]any)
	_, err := s.Store.Update(func(tx *store.Tx) error {
		for _, r := range refs {
			ref, _ := r.(string)
			if !tx.Delete("message", ref) {
				return apierror.New(apierror.HandleInvalid, "message", ref)
			}
		}
		return nil
	})
	return nil, err
}

func (s *Server) messagesWhere(keep func(*store.Object) bool) []wire.KV {
	var out []*store.Object
	for _, o := range s.Store.All("message") {
		if keep(o) {
			out = append(out, o)
		}
	}
	return s.records(out)
}

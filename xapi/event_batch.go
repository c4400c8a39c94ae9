package xapi

import (
	"strconv"
	"sync"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/wire"
)

// event is one entry of an event.from or event.next reply.
type event struct {
	id    string // the generation of the change; "0" for messages
	ts    string // "0.0" for event.from; the Unix time for event.next
	class string // lower-case
	op    store.Op
	ref   string
	obj   *store.Object // the snapshot; nil for del
}

// countEntry is one member of valid_ref_counts.
type countEntry struct {
	table string
	n     int
}

// eventBatch is the result of event.from: {events, valid_ref_counts, token}, marshalled
// by hand as xapi does (its type is "an event batch"). Its encodings are built once and
// shared by every waiter that gets the same batch.
type eventBatch struct {
	srv    *Server
	events []event
	counts []countEntry
	token  string

	xmlOnce, jsonOnce sync.Once
	xml, json         []byte
}

func (b *eventBatch) AppendXMLRPC(buf []byte) []byte {
	b.xmlOnce.Do(func() {
		var out []byte
		out = append(out, "<value><struct><member><name>events</name><value><array><data>"...)
		for i := range b.events {
			out = b.srv.appendEventXML(out, &b.events[i])
		}
		out = append(out, "</data></array></value></member><member><name>valid_ref_counts</name><value><struct>"...)
		for _, c := range b.counts {
			out = append(out, "<member><name>"...)
			out = append(out, c.table...)
			out = append(out, "</name><value><i4>"...)
			out = strconv.AppendInt(out, int64(c.n), 10)
			out = append(out, "</i4></value></member>"...)
		}
		out = append(out, "</struct></value></member><member><name>token</name><value>"...)
		out = append(out, b.token...)
		b.xml = append(out, "</value></member></struct></value>"...)
	})
	return append(buf, b.xml...)
}

func (b *eventBatch) AppendJSON(buf []byte) []byte {
	b.jsonOnce.Do(func() {
		out := []byte(`{"events":[`)
		for i := range b.events {
			if i > 0 {
				out = append(out, ',')
			}
			out = b.srv.appendEventJSON(out, &b.events[i])
		}
		out = append(out, `],"valid_ref_counts":{`...)
		for i, c := range b.counts {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, '"')
			out = append(out, c.table...)
			out = append(out, `":`...)
			out = strconv.AppendInt(out, int64(c.n), 10)
		}
		out = append(out, `},"token":"`...)
		out = append(out, b.token...)
		b.json = append(out, `"}`...)
	})
	return append(buf, b.json...)
}

// appendEventXML writes one event struct: id, timestamp, class, operation, ref and, but
// for del, snapshot — in that order, as xapi does.
func (s *Server) appendEventXML(buf []byte, e *event) []byte {
	buf = append(buf, "<value><struct>"...)
	member := func(name, value string) {
		buf = append(buf, "<member><name>"+name+"</name><value>"...)
		buf = append(buf, value...)
		buf = append(buf, "</value></member>"...)
	}
	member("id", e.id)
	member("timestamp", e.ts)
	member("class", e.class)
	member("operation", e.op.String())
	member("ref", e.ref)
	if e.obj != nil {
		buf = append(buf, "<member><name>snapshot</name>"...)
		buf = s.Record(e.obj).AppendXMLRPC(buf)
		buf = append(buf, "</member>"...)
	}
	return append(buf, "</struct></value>"...)
}

func (s *Server) appendEventJSON(buf []byte, e *event) []byte {
	buf = append(buf, `{"id":`...)
	buf = wire.AppendJSONString(buf, e.id)
	buf = append(buf, `,"timestamp":`...)
	buf = wire.AppendJSONString(buf, e.ts)
	buf = append(buf, `,"class":`...)
	buf = wire.AppendJSONString(buf, e.class)
	buf = append(buf, `,"operation":"`...)
	buf = append(buf, e.op.String()...)
	buf = append(buf, `","ref":`...)
	buf = wire.AppendJSONString(buf, e.ref)
	if e.obj != nil {
		buf = append(buf, `,"snapshot":`...)
		buf = s.Record(e.obj).AppendJSON(buf)
	}
	return append(buf, '}')
}

// eventList is the result of the legacy event.next: an array of events.
type eventList struct {
	srv    *Server
	events []event
}

func (l eventList) AppendXMLRPC(buf []byte) []byte {
	buf = append(buf, "<value><array><data>"...)
	for i := range l.events {
		buf = l.srv.appendEventXML(buf, &l.events[i])
	}
	return append(buf, "</data></array></value>"...)
}

func (l eventList) AppendJSON(buf []byte) []byte {
	buf = append(buf, '[')
	for i := range l.events {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = l.srv.appendEventJSON(buf, &l.events[i])
	}
	return append(buf, ']')
}

package xapi

import (
	"slices"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
	"github.com/xapisim/xapisim/xapi/where"
	"github.com/xapisim/xapisim/xapi/wire"
)

// implicitHandler returns the generic handler of one of the messages xapi generates for
// every class (protocol.md §8.1), or nil when the name is not one of them.
func (s *Server) implicitHandler(m *datamodel.Message) Handler {
	c := m.Class
	switch m.Name {
	case "get_record":
		return s.getRecord
	case "get_by_uuid":
		return s.getByUUID
	case "get_by_name_label":
		return s.getByNameLabel
	case "get_all":
		return s.getAll
	case "get_all_records":
		return s.getAllRecords
	case "get_all_records_where":
		return s.getAllRecordsWhere
	case "get_all_where":
		return s.getAllWhere
	case "create":
		return s.create
	case "destroy":
		return s.destroy
	}
	// Field messages: the longer prefixes first, so that add_to_x is not read as add_ "to_x".
	for _, p := range []struct {
		prefix string
		kind   datamodel.Kind // required kind of the field, Void for any
		make   func(*datamodel.Field) Handler
	}{
		{"get_", datamodel.Void, s.getField},
		{"set_", datamodel.Void, s.setField},
		{"add_to_", datamodel.Map, s.addToMap},
		{"remove_from_", datamodel.Map, s.removeFromMap},
		{"add_", datamodel.Set, s.addToSet},
		{"remove_", datamodel.Set, s.removeFromSet},
	} {
		name, ok := strings.CutPrefix(m.Name, p.prefix)
		if !ok {
			continue
		}
		f := c.Field(name)
		if f == nil || f.Internal || (p.kind != datamodel.Void && f.Type.Kind != p.kind) {
			continue
		}
		return p.make(f)
	}
	return nil
}

// Record returns a committed object as a record value for the wire. Its encodings are
// computed once per object version and cached on the object.
func (s *Server) Record(o *store.Object) wire.Marshaler {
	return record{o: o, t: s.Schema.Class(o.Class).RecordType()}
}

type record struct {
	o *store.Object
	t *datamodel.Type
}

func (r record) AppendXMLRPC(buf []byte) []byte {
	return append(buf, r.o.Memo(0, func() []byte { return wire.AppendXMLRPC(nil, r.t, r.o.Fields) })...)
}

func (r record) AppendJSON(buf []byte) []byte {
	return append(buf, r.o.Memo(1, func() []byte { return wire.AppendJSON(nil, r.t, r.o.Fields) })...)
}

func (s *Server) getRecord(c *Call) (any, error) {
	o, err := c.Get(c.Msg.Class.Name, c.StringArg(0))
	if err != nil {
		return nil, err
	}
	return s.Record(o), nil
}

func (s *Server) getByUUID(c *Call) (any, error) {
	cls, uuid := c.Msg.Class.Name, c.StringArg(0)
	o := s.Store.ByUUID(cls, uuid)
	if o == nil {
		return nil, apierror.New(apierror.UUIDInvalid, cls, uuid)
	}
	return o.Ref, nil
}

func (s *Server) getByNameLabel(c *Call) (any, error) {
	return refSet(s.Store.ByNameLabel(c.Msg.Class.Name, c.StringArg(0))), nil
}

func (s *Server) getAll(c *Call) (any, error) {
	return refSet(s.Store.All(c.Msg.Class.Name)), nil
}

func (s *Server) getAllRecords(c *Call) (any, error) {
	return s.records(s.Store.All(c.Msg.Class.Name)), nil
}

func (s *Server) getAllRecordsWhere(c *Call) (any, error) {
	objs, err := s.where(c.Msg.Class, c.StringArg(0))
	if err != nil {
		return nil, err
	}
	return s.records(objs), nil
}

func (s *Server) getAllWhere(c *Call) (any, error) {
	objs, err := s.where(c.Msg.Class, c.StringArg(0))
	if err != nil {
		return nil, err
	}
	return refSet(objs), nil
}

// where filters a class with xapi's query language. A parse error is
// INVALID_VALUE [expr, exn]; an unknown column is INTERNAL_ERROR ["missing field", col, ""],
// which, as in xapi, only shows when the table has a row to evaluate.
func (s *Server) where(c *datamodel.Class, expr string) ([]*store.Object, error) {
	e, err := where.Parse(expr)
	if err != nil {
		return nil, apierror.New(apierror.InvalidValue, expr, err.(*where.ParseError).Text)
	}
	var out []*store.Object
	for _, o := range s.Store.All(c.Name) {
		ok, err := e.Eval(func(col string) (string, bool) { return columnValue(c, o, col) })
		if err != nil {
			return nil, apierror.New(apierror.InternalError, "missing field", err.(*where.MissingFieldError).Column, "")
		}
		if ok {
			out = append(out, o)
		}
	}
	return out, nil
}

func (s *Server) records(objs []*store.Object) []wire.KV {
	out := make([]wire.KV, len(objs))
	for i, o := range objs {
		out[i] = wire.KV{Key: o.Ref, Value: s.Record(o)}
	}
	return out
}

func refSet(objs []*store.Object) []any {
	out := make([]any, len(objs))
	for i, o := range objs {
		out[i] = o.Ref
	}
	return out
}

func (s *Server) getField(f *datamodel.Field) Handler {
	return func(c *Call) (any, error) {
		o, err := c.Get(c.Msg.Class.Name, c.StringArg(0))
		if err != nil {
			return nil, err
		}
		return o.Fields[f.Index], nil
	}
}

func (s *Server) setField(f *datamodel.Field) Handler {
	return func(c *Call) (any, error) {
		return nil, s.UpdateField(c.Msg.Class.Name, c.StringArg(0), f.Name, func(any) (any, error) {
			return c.Arg(1), nil
		})
	}
}

func (s *Server) addToSet(f *datamodel.Field) Handler {
	return func(c *Call) (any, error) {
		v := c.Arg(1)
		return nil, s.UpdateField(c.Msg.Class.Name, c.StringArg(0), f.Name, func(old any) (any, error) {
			set, _ := old.([]any)
			if slices.ContainsFunc(set, func(e any) bool { return e == v }) {
				return old, nil
			}
			return append(slices.Clip(set), v), nil
		})
	}
}

func (s *Server) removeFromSet(f *datamodel.Field) Handler {
	return func(c *Call) (any, error) {
		v := c.Arg(1)
		return nil, s.UpdateField(c.Msg.Class.Name, c.StringArg(0), f.Name, func(old any) (any, error) {
			set, _ := old.([]any)
			return slices.DeleteFunc(slices.Clone(set), func(e any) bool { return e == v }), nil
		})
	}
}

func (s *Server) addToMap(f *datamodel.Field) Handler {
	return func(c *Call) (any, error) {
		ref, key := c.StringArg(0), wire.MapKey(c.Arg(1))
		if key == "" {
			// xapi's database refuses empty keys (protocol.md §2.4).
			return nil, apierror.Internal("Db_exn.Empty_key_in_map")
		}
		return nil, s.UpdateField(c.Msg.Class.Name, ref, f.Name, func(old any) (any, error) {
			m, _ := old.(map[string]any)
			if _, dup := m[key]; dup {
				return nil, apierror.New(apierror.MapDuplicateKey, c.Msg.Class.Name, f.Column, ref, key)
			}
			m = CopyMap(m)
			m[key] = c.Arg(2)
			return m, nil
		})
	}
}

func (s *Server) removeFromMap(f *datamodel.Field) Handler {
	return func(c *Call) (any, error) {
		key := wire.MapKey(c.Arg(1))
		return nil, s.UpdateField(c.Msg.Class.Name, c.StringArg(0), f.Name, func(old any) (any, error) {
			m, _ := old.(map[string]any)
			if _, ok := m[key]; !ok {
				return old, nil
			}
			m = CopyMap(m)
			delete(m, key)
			return m, nil
		})
	}
}

// create stores a new object from the constructor record, which the dispatcher has
// already converted with every field present or defaulted.
func (s *Server) create(c *Call) (any, error) {
	o := s.NewObject(c.Msg.Class.Name)
	fields := c.Arg(0).([]any)
	for i, f := range c.Msg.Class.Fields {
		if f.Qualifier != datamodel.DynamicRO && !f.Internal {
			o.Fields[i] = fields[i]
		}
	}
	if _, err := s.Store.Update(func(tx *store.Tx) error { tx.Put(o); return nil }); err != nil {
		return nil, err
	}
	return o.Ref, nil
}

func (s *Server) destroy(c *Call) (any, error) {
	cls, ref := c.Msg.Class.Name, c.StringArg(0)
	_, err := s.Store.Update(func(tx *store.Tx) error {
		if !tx.Delete(cls, ref) {
			return apierror.New(apierror.HandleInvalid, cls, ref)
		}
		return nil
	})
	return nil, err
}

// UpdateField changes one field of one object in a transaction of its own: fn gets the
// committed value and returns the new one. A missing object is HANDLE_INVALID.
func (s *Server) UpdateField(class, ref, name string, fn func(old any) (any, error)) error {
	_, err := s.Store.Update(func(tx *store.Tx) error {
		o, err := GetObject(tx, class, ref)
		if err != nil {
			return err
		}
		i := field(o, name).Index
		v, err := fn(o.Fields[i])
		if err != nil {
			return err
		}
		o = o.Clone()
		o.Fields[i] = v
		tx.Put(o)
		return nil
	})
	return err
}

// GenericHandler returns the generic handler for a message shaped like one of the
// implicit messages (get_record, get_all, get_<field>…), or nil. Custom messages that
// xapi implements with the same behaviour (message.get_record, for one) register it.
func (s *Server) GenericHandler(m *datamodel.Message) Handler { return s.implicitHandler(m) }

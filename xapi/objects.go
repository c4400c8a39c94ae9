package xapi

import (
	"fmt"
	"time"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// Accessors of object fields by name, in the value convention of datamodel.Type. An
// unknown field name is a programming error and panics (the dispatcher turns a panic into
// INTERNAL_ERROR). The readers take a nil object, which is what looking up a dangling
// reference gives, as one whose fields are all zero: xapi's database allows references to
// objects that are gone, and a simulation that meets one must answer, not crash.

func field(o *store.Object, name string) *datamodel.Field {
	c := datamodel.Load().Class(o.Class)
	if c == nil {
		panic(fmt.Sprintf("xapi: unknown class %q", o.Class))
	}
	f := c.Field(name)
	if f == nil {
		panic(fmt.Sprintf("xapi: class %s has no field %q", o.Class, name))
	}
	return f
}

// Get returns a field's value, or nil for a nil object.
func Get(o *store.Object, name string) any {
	if o == nil {
		return nil
	}
	return o.Fields[field(o, name).Index]
}

// Str returns a string, ref or enum field.
func Str(o *store.Object, name string) string { s, _ := Get(o, name).(string); return s }

// Int returns an int field.
func Int(o *store.Object, name string) int64 { n, _ := Get(o, name).(int64); return n }

// Float returns a float field.
func Float(o *store.Object, name string) float64 { f, _ := Get(o, name).(float64); return f }

// Bool returns a bool field.
func Bool(o *store.Object, name string) bool { b, _ := Get(o, name).(bool); return b }

// Time returns a datetime field.
func Time(o *store.Object, name string) time.Time { t, _ := Get(o, name).(time.Time); return t }

// Refs returns a set-of-refs (or set-of-strings) field as strings.
func Refs(o *store.Object, name string) []string {
	set, _ := Get(o, name).([]any)
	out := make([]string, 0, len(set))
	for _, v := range set {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Map returns a map field. The map belongs to the committed object: copy it (CopyMap)
// before changing it.
func Map(o *store.Object, name string) map[string]any {
	m, _ := Get(o, name).(map[string]any)
	return m
}

// StringMap returns a (string -> string) map field as a fresh map[string]string.
func StringMap(o *store.Object, name string) map[string]string {
	out := map[string]string{}
	for k, v := range Map(o, name) {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// Set sets a field of an object that is not committed yet (a new object or a Clone).
func Set(o *store.Object, name string, v any) { o.Fields[field(o, name).Index] = v }

// CopyMap returns a copy of m that may be changed.
func CopyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// StringSet turns strings into a set value.
func StringSet(items ...string) []any {
	out := make([]any, len(items))
	for i, s := range items {
		out[i] = s
	}
	return out
}

// NewObject returns an object of the class with every field at its default (or the zero
// value of its type), a new ref, and a new uuid when the class has one.
func (s *Server) NewObject(class string) *store.Object {
	c := s.Schema.Class(class)
	if c == nil {
		panic(fmt.Sprintf("xapi: unknown class %q", class))
	}
	o := &store.Object{Class: class, Ref: s.IDs.Ref(), Fields: make([]any, len(c.Fields))}
	for i, f := range c.Fields {
		o.Fields[i] = f.Initial()
	}
	if c.Field("uuid") != nil {
		Set(o, "uuid", s.IDs.UUID())
	}
	return o
}

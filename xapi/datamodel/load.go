package datamodel

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xapisim/xapisim/xapi/datamodel/internal/format"
)

//go:embed schema.json
var schemaJSON []byte

var (
	loadOnce sync.Once
	loaded   *Schema
	loadErr  error
)

// Load returns the embedded schema. It is parsed once and shared: treat it as read-only.
func Load() *Schema {
	loadOnce.Do(func() { loaded, loadErr = Parse(schemaJSON) })
	if loadErr != nil {
		panic(loadErr) // the embedded schema is generated and tested; this is a build defect
	}
	return loaded
}

// Parse builds a schema from the bytes of a schema.json.
func Parse(data []byte) (*Schema, error) {
	var f format.File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("datamodel: %w", err)
	}
	s := &Schema{
		APIMajor:     f.APIVersion[0],
		APIMinor:     f.APIVersion[1],
		Enums:        map[string]*EnumDef{},
		Errors:       map[string]*ErrorDef{},
		classes:      map[string]*Class{},
		classesLower: map[string]*Class{},
		messages:     map[string]*Message{},
	}
	for _, e := range f.Enums {
		d := &EnumDef{Name: e.Name, Values: e.Values, lower: map[string]string{}}
		for _, v := range e.Values {
			d.lower[strings.ToLower(v)] = v
		}
		s.Enums[e.Name] = d
	}
	for _, e := range f.Errors {
		s.Errors[e.Name] = &ErrorDef{Name: e.Name, Params: e.Params}
	}
	// Classes first, so that types can resolve references to any class.
	for i, fc := range f.Classes {
		c := &Class{Name: fc.Name, Lower: strings.ToLower(fc.Name), Index: i,
			Lifecycle: parseLifecycle(fc.Lifecycle), fields: map[string]*Field{}, messages: map[string]*Message{}}
		c.recordType = &Type{Kind: Record, Name: c.Name, Class: c, text: c.Name + " record"}
		c.refType = &Type{Kind: Ref, Name: c.Name, Class: c, text: c.Name + " ref"}
		s.Classes = append(s.Classes, c)
		s.classes[c.Name] = c
		s.classesLower[c.Lower] = c
	}
	for i, fc := range f.Classes {
		c := s.Classes[i]
		for j, ff := range fc.Fields {
			t, err := s.resolve(ff.Type)
			if err != nil {
				return nil, err
			}
			fd := &Field{Name: ff.Name, Column: ff.Column, Type: t, Qualifier: parseQualifier(ff.Qualifier),
				Internal: ff.Internal, Lifecycle: parseLifecycle(ff.Lifecycle), Index: j}
			if fd.Column == "" {
				fd.Column = fd.Name
			}
			for _, kr := range ff.KeyRoles {
				fd.KeyRoles = append(fd.KeyRoles, KeyRole{Pattern: kr.Key, Roles: kr.Roles})
			}
			if ff.Default != nil {
				v, err := DecodeJSONValue(t, ff.Default)
				if err != nil {
					return nil, fmt.Errorf("datamodel: default of %s.%s: %w", c.Name, ff.Name, err)
				}
				fd.Default, fd.HasDefault = v, true
			}
			c.Fields = append(c.Fields, fd)
			c.fields[fd.Name] = fd
		}
		for _, fm := range fc.Messages {
			m := &Message{Class: c, Name: fm.Name, WireName: c.Name + "." + fm.Name, Session: fm.Session,
				Roles: fm.Roles, Errors: fm.Errors, Implicit: fm.Implicit, Async: fm.Async,
				Lifecycle: parseLifecycle(fm.Lifecycle)}
			var err error
			if m.Result, err = s.resolve(fm.Result); err != nil {
				return nil, err
			}
			for _, fp := range fm.Params {
				t, err := s.resolve(fp.Type)
				if err != nil {
					return nil, err
				}
				p := &Param{Name: fp.Name, Type: t}
				if fp.Default != nil {
					if p.Default, err = DecodeJSONValue(t, fp.Default); err != nil {
						return nil, fmt.Errorf("datamodel: default of %s(%s): %w", m.WireName, fp.Name, err)
					}
					p.HasDefault = true
				} else {
					m.Required++
				}
				m.Params = append(m.Params, p)
			}
			c.Messages = append(c.Messages, m)
			c.messages[m.Name] = m
			s.messages[m.WireName] = m
		}
	}
	for _, r := range f.Relations {
		oc, of := s.fieldByPath(r.One)
		mc, mf := s.fieldByPath(r.Many)
		if of == nil || mf == nil {
			return nil, fmt.Errorf("datamodel: relation %s <-> %s names an unknown field", r.One, r.Many)
		}
		s.Relations = append(s.Relations, Relation{One: of, Many: mf, OneClass: oc, ManyClass: mc})
	}
	return s, nil
}

func (s *Schema) fieldByPath(path string) (*Class, *Field) {
	cls, field, ok := strings.Cut(path, ".")
	if !ok {
		return nil, nil
	}
	c := s.classes[cls]
	if c == nil {
		return nil, nil
	}
	return c, c.fields[field]
}

// Type parses a type in the datamodel's spelling and links its classes and enums.
func (s *Schema) Type(text string) (*Type, error) { return s.resolve(text) }

// resolve parses a type and links its classes and enums.
func (s *Schema) resolve(text string) (*Type, error) {
	t, err := ParseType(text)
	if err != nil {
		return nil, err
	}
	var link func(t *Type) error
	link = func(t *Type) error {
		if t == nil {
			return nil
		}
		switch t.Kind {
		case Ref, Record:
			t.Class = s.classes[t.Name]
		case Enum:
			t.Enum = s.Enums[t.Name]
			if t.Enum == nil {
				return fmt.Errorf("datamodel: unknown enum %q", t.Name)
			}
		}
		if err := link(t.Key); err != nil {
			return err
		}
		return link(t.Elem)
	}
	return t, link(t)
}

func parseQualifier(q string) Qualifier {
	switch q {
	case "RW":
		return RW
	case "RO/constructor":
		return StaticRO
	}
	return DynamicRO
}

func parseLifecycle(s string) Lifecycle {
	switch s {
	case "Prototyped":
		return Prototyped
	case "Deprecated":
		return Deprecated
	case "Removed":
		return Removed
	}
	return Published
}

// DateTimeLayout is xapi's datetime format on the wire and in defaults.
const DateTimeLayout = "20060102T15:04:05Z"

// DecodeJSONValue reads a value stored in the project's JSON convention (schema defaults)
// as the Go value of type t.
func DecodeJSONValue(t *Type, raw json.RawMessage) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return fromJSON(t, v)
}

func fromJSON(t *Type, v any) (any, error) {
	bad := func() (any, error) { return nil, fmt.Errorf("%v is not a %s", v, t) }
	switch t.Kind {
	case String, Ref, Enum:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case Int:
		if n, ok := v.(json.Number); ok {
			return strconv.ParseInt(string(n), 10, 64)
		}
	case Float:
		if n, ok := v.(json.Number); ok {
			return strconv.ParseFloat(string(n), 64)
		}
	case Bool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case DateTime:
		if s, ok := v.(string); ok {
			return time.Parse(DateTimeLayout, s)
		}
	case Set:
		if a, ok := v.([]any); ok {
			out := make([]any, 0, len(a))
			for _, e := range a {
				x, err := fromJSON(t.Elem, e)
				if err != nil {
					return nil, err
				}
				out = append(out, x)
			}
			return out, nil
		}
	case Map:
		if m, ok := v.(map[string]any); ok {
			out := make(map[string]any, len(m))
			for k, e := range m {
				x, err := fromJSON(t.Elem, e)
				if err != nil {
					return nil, err
				}
				out[k] = x
			}
			return out, nil
		}
	case Option:
		if v == nil {
			return nil, nil
		}
		return fromJSON(t.Elem, v)
	}
	return bad()
}

// Zero is the value of a field that has no default: what xapi's database holds for a
// column nobody set.
func Zero(t *Type) any {
	switch t.Kind {
	case String, Enum:
		if t.Kind == Enum && len(t.Enum.Values) > 0 {
			return t.Enum.Values[0]
		}
		return ""
	case Ref:
		return NullRef
	case Int:
		return int64(0)
	case Float:
		return float64(0)
	case Bool:
		return false
	case DateTime:
		return time.Unix(0, 0).UTC()
	case Set:
		return []any{}
	case Map:
		return map[string]any{}
	}
	return nil
}

// Initial is the value a new object takes for the field: its default, or the zero value
// of its type when it has none. Sets and maps are fresh copies, so that objects never
// share them with the schema or with each other.
func (f *Field) Initial() any {
	if !f.HasDefault {
		return Zero(f.Type)
	}
	switch v := f.Default.(type) {
	case []any:
		return append([]any{}, v...)
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = e
		}
		return m
	}
	return f.Default
}

package datamodel

import (
	"fmt"
	"strings"
)

// Kind is the shape of a XenAPI type.
type Kind uint8

// The kinds of the datamodel's type grammar (protocol.md §10.2).
const (
	Void Kind = iota
	String
	Int
	Float
	Bool
	DateTime
	Enum
	Ref
	Set
	Map
	Record
	Option
	// EventBatch is the result of event.from, which xapi marshals by hand.
	EventBatch
)

var kindNames = [...]string{"void", "string", "int", "float", "bool", "datetime", "enum", "ref", "set", "map", "record", "option", "an event batch"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Type is a parsed XenAPI type such as "VM ref set" or "(string -> string) map".
//
// Go values of each kind, everywhere in the project:
//
//	String, Enum, Ref  string (a ref is "OpaqueRef:…"; the null ref is NullRef)
//	Int                int64
//	Float              float64
//	Bool               bool
//	DateTime           time.Time, in UTC
//	Set                []any
//	Map                map[string]any, keys in their wire (string) form
//	Record             []any aligned with Class.Fields
//	Option             nil or the element's value
type Type struct {
	Kind  Kind
	Name  string // class name of Ref and Record, enum name of Enum
	Elem  *Type  // element of Set and Option, value of Map
	Key   *Type  // key of Map
	Class *Class // resolved class of Ref and Record (nil for unknown classes)
	Enum  *EnumDef
	text  string
}

// String returns the type in the datamodel's own spelling.
func (t *Type) String() string { return t.text }

// NullRef is the null reference.
const NullRef = "OpaqueRef:NULL"

// ParseType reads the type grammar of xenapi.json.
func ParseType(s string) (*Type, error) {
	t, err := parseType(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("datamodel: bad type %q: %w", s, err)
	}
	return t, nil
}

func parseType(s string) (*Type, error) {
	switch s {
	case "void":
		return &Type{Kind: Void, text: s}, nil
	case "string":
		return &Type{Kind: String, text: s}, nil
	case "int":
		return &Type{Kind: Int, text: s}, nil
	case "float":
		return &Type{Kind: Float, text: s}, nil
	case "bool":
		return &Type{Kind: Bool, text: s}, nil
	case "datetime":
		return &Type{Kind: DateTime, text: s}, nil
	case "an event batch":
		return &Type{Kind: EventBatch, text: s}, nil
	}
	switch {
	case strings.HasSuffix(s, " set"):
		e, err := parseType(strings.TrimSuffix(s, " set"))
		if err != nil {
			return nil, err
		}
		return &Type{Kind: Set, Elem: e, text: s}, nil
	case strings.HasSuffix(s, " option"):
		e, err := parseType(strings.TrimSuffix(s, " option"))
		if err != nil {
			return nil, err
		}
		return &Type{Kind: Option, Elem: e, text: s}, nil
	case strings.HasSuffix(s, ") map") && strings.HasPrefix(s, "("):
		inner := s[1 : len(s)-len(") map")]
		depth := 0
		for i := 0; i < len(inner); i++ {
			switch inner[i] {
			case '(':
				depth++
			case ')':
				depth--
			case ' ':
				if depth == 0 && strings.HasPrefix(inner[i:], " -> ") {
					k, err := parseType(inner[:i])
					if err != nil {
						return nil, err
					}
					v, err := parseType(inner[i+4:])
					if err != nil {
						return nil, err
					}
					return &Type{Kind: Map, Key: k, Elem: v, text: s}, nil
				}
			}
		}
		return nil, fmt.Errorf("map without ' -> '")
	case strings.HasSuffix(s, " ref"):
		return &Type{Kind: Ref, Name: strings.TrimSuffix(s, " ref"), text: s}, nil
	case strings.HasSuffix(s, " record"):
		return &Type{Kind: Record, Name: strings.TrimSuffix(s, " record"), text: s}, nil
	case strings.HasPrefix(s, "enum "):
		return &Type{Kind: Enum, Name: strings.TrimPrefix(s, "enum "), text: s}, nil
	}
	return nil, fmt.Errorf("unknown type")
}

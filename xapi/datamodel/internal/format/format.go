// Package format is the layout of schema.json, shared by the generator that writes it and
// the loader that reads it.
package format

import "encoding/json"

// File is the whole generated schema.
type File struct {
	Source     string     `json:"source"`
	APIVersion [2]int64   `json:"api_version"`
	Enums      []Enum     `json:"enums"`
	Errors     []Error    `json:"errors"`
	Classes    []Class    `json:"classes"`
	Relations  []Relation `json:"relations"`
}

// Enum is an enum and its values.
type Enum struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// Error is a catalogue entry.
type Error struct {
	Name   string   `json:"name"`
	Params []string `json:"params"`
}

// Class is one class.
type Class struct {
	Name      string    `json:"name"`
	Lifecycle string    `json:"lifecycle,omitempty"`
	Fields    []Field   `json:"fields"`
	Messages  []Message `json:"messages"`
}

// Field is one field. Default is a JSON value in the project's value convention
// (datetimes as "19700101T00:00:00Z" strings); absent when create requires the field.
type Field struct {
	Name      string          `json:"name"`
	Column    string          `json:"column,omitempty"`
	Type      string          `json:"type"`
	Qualifier string          `json:"qualifier"`
	Default   json.RawMessage `json:"default,omitempty"`
	Internal  bool            `json:"internal,omitempty"`
	KeyRoles  []KeyRole       `json:"key_roles,omitempty"`
	Lifecycle string          `json:"lifecycle,omitempty"`
}

// KeyRole is a protected map key.
type KeyRole struct {
	Key   string   `json:"key"`
	Roles []string `json:"roles"`
}

// Message is one message; Params exclude the session.
type Message struct {
	Name      string   `json:"name"`
	Params    []Param  `json:"params"`
	Session   bool     `json:"session,omitempty"`
	Result    string   `json:"result"`
	Roles     []string `json:"roles"`
	Errors    []string `json:"errors,omitempty"`
	Implicit  bool     `json:"implicit,omitempty"`
	Async     bool     `json:"async,omitempty"`
	Lifecycle string   `json:"lifecycle,omitempty"`
}

// Param is a message parameter.
type Param struct {
	Name    string          `json:"name"`
	Type    string          `json:"type"`
	Default json.RawMessage `json:"default,omitempty"`
}

// Relation names the two fields of a relation as "Class.field".
type Relation struct {
	One  string `json:"one"`
	Many string `json:"many"`
}

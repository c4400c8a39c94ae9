// Package store is the object store: records by class and ref, read from memory, every
// change committed atomically and durably to a bbolt file, with a change log that events
// are built on. It knows nothing of HTTP or of the XenAPI beyond the Schema it is given.
package store

// Schema describes the classes the store holds.
type Schema struct {
	Classes   []Class
	Relations []Relation
}

// Class describes one class of objects.
type Class struct {
	Name string
	// Fields are the field names in record order. Objects are persisted by field name, so
	// the order may change between versions of the schema.
	Fields []string
	// Defaults give the value of a field that a stored object lacks (a newer schema).
	Defaults []any
	// UUID and NameLabel are the indexes of the uuid and name_label fields, or -1.
	UUID, NameLabel int
}

// Relation mirrors a reference field in a set field of the referenced objects, as xapi's
// database does for VBD.VM and VM.VBDs. The store owns mirrored set fields: it keeps them
// equal to the refs of the objects that point at the target, whatever a Put says.
type Relation struct {
	Class string // class holding the reference
	Field int    // a ref (string) field, or with ManyToMany a set ([]any of string) field
	// Target is the referenced class; TargetField its mirrored set ([]any of string).
	Target      string
	TargetField int
	// ManyToMany relations have sets on both sides, each mirroring the other.
	ManyToMany bool
}

// Op is what a commit did to an object.
type Op uint8

const (
	Add Op = iota
	Mod
	Del
)

func (o Op) String() string { return [...]string{"add", "mod", "del"}[o] }

// Change is one entry of the change log.
type Change struct {
	Gen    uint64
	Class  string
	Ref    string
	Op     Op
	Object *Object // the object as committed; nil for Del
}

// Reader is the read interface shared by the store, a View and a Tx.
type Reader interface {
	// Get returns the object, or nil if there is none of that class with that ref.
	Get(class, ref string) *Object
	// All returns every object of the class, in no particular order.
	All(class string) []*Object
	// ByUUID returns the object of the class with that uuid, or nil.
	ByUUID(class, uuid string) *Object
	// ByNameLabel returns the objects of the class whose name_label is exactly label.
	ByNameLabel(class, label string) []*Object
	// Count returns the number of objects of the class.
	Count(class string) int
}

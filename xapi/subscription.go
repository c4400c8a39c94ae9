package xapi

import (
	"sort"
	"strings"

	"github.com/xapisim/xapisim/xapi/datamodel"
)

// subscription is a parsed list of event classes (protocol.md §7.1): "*" for every
// class, "vm" for a class (case-insensitive), "vm/OpaqueRef:…" for one object.
type subscription struct {
	all     bool
	classes map[string]bool            // lower-case class names
	objects map[string]map[string]bool // lower-case class -> refs
	key     string                     // canonical text, to share event batches
}

func parseSubscription(items []any) subscription {
	s := subscription{classes: map[string]bool{}, objects: map[string]map[string]bool{}}
	var parts []string
	for _, it := range items {
		text, _ := it.(string)
		s.add(text)
		parts = append(parts, text)
	}
	sort.Strings(parts)
	s.key = strings.Join(parts, "\x00")
	return s
}

func (s *subscription) add(text string) {
	if text == "*" {
		s.all = true
		return
	}
	cls, ref, isObject := strings.Cut(text, "/")
	cls = strings.ToLower(cls)
	if !isObject {
		s.classes[cls] = true
		return
	}
	if s.objects[cls] == nil {
		s.objects[cls] = map[string]bool{}
	}
	s.objects[cls][ref] = true
}

func (s *subscription) remove(text string) {
	if text == "*" {
		s.all = false
		return
	}
	cls, ref, isObject := strings.Cut(text, "/")
	cls = strings.ToLower(cls)
	if !isObject {
		delete(s.classes, cls)
		return
	}
	delete(s.objects[cls], ref)
}

// wantsClass reports whether some events of a class (lower-case) are selected.
func (s *subscription) wantsClass(lower string) bool {
	return s.all || s.classes[lower] || len(s.objects[lower]) > 0
}

// wants reports whether the events of one object are selected.
func (s *subscription) wants(lower, ref string) bool {
	return s.all || s.classes[lower] || s.objects[lower][ref]
}

// noEvents lists the stored classes that never generate events (protocol.md §7.1); role
// objects are static in xapi, not database rows, so they generate none either.
var noEvents = map[string]bool{"session": true, "user": true, "secret": true, "role": true}

// generatesEvents reports whether changes to objects of the class are reported.
func generatesEvents(c *datamodel.Class) bool {
	return c != nil && c.InDB() && !noEvents[c.Name]
}

// countedTable reports whether a class is one of xapi's database tables, the keys of
// valid_ref_counts: messages live outside xapi's database and roles are static.
func countedTable(c *datamodel.Class) bool {
	return c.InDB() && c.Name != "message" && c.Name != "role"
}

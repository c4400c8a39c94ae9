package xapi

import (
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// StoreSchema describes the datamodel's stored classes to the store: field names,
// defaults, the uuid and name_label indexes, and the relations whose set fields the store
// keeps mirrored.
func StoreSchema(s *datamodel.Schema) store.Schema {
	var out store.Schema
	for _, c := range s.Classes {
		sc := store.Class{Name: c.Name, UUID: -1, NameLabel: -1}
		for _, f := range c.Fields {
			sc.Fields = append(sc.Fields, f.Name)
			sc.Defaults = append(sc.Defaults, f.Initial())
		}
		if f := c.Field("uuid"); f != nil {
			sc.UUID = f.Index
		}
		if f := c.Field("name_label"); f != nil {
			sc.NameLabel = f.Index
		}
		out.Classes = append(out.Classes, sc)
	}
	for _, r := range s.Relations {
		out.Relations = append(out.Relations, store.Relation{
			Class: r.OneClass.Name, Field: r.One.Index,
			Target: r.ManyClass.Name, TargetField: r.Many.Index,
			ManyToMany: r.One.Type.Kind == datamodel.Set,
		})
	}
	return out
}

package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// The persisted form of an object: created and modified generations, then (field name,
// value) pairs, so that fields can be added, removed or reordered between versions.
// Mirrored fields are left out: Open rebuilds them from the references, and a target
// with thousands of sources need not be rewritten in full each time one is added.
// Values carry a one-byte tag; the set of Go types is closed (see Object).
const (
	tagNil byte = iota
	tagString
	tagInt
	tagFloat
	tagFalse
	tagTrue
	tagTime
	tagList
	tagMap
)

var errCorrupt = errors.New("store: corrupt object encoding")

func encodeObject(buf []byte, c *classInfo, o *Object) ([]byte, error) {
	buf = binary.AppendUvarint(buf, o.Created)
	buf = binary.AppendUvarint(buf, o.Modified)
	n := 0
	for _, m := range c.mirrored {
		if !m {
			n++
		}
	}
	buf = binary.AppendUvarint(buf, uint64(n))
	for i, v := range o.Fields {
		if c.mirrored[i] {
			continue
		}
		buf = appendString(buf, c.Fields[i])
		var err error
		if buf, err = appendValue(buf, v); err != nil {
			return nil, fmt.Errorf("%s.%s: %w", c.Name, c.Fields[i], err)
		}
	}
	return buf, nil
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func appendValue(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(buf, tagNil), nil
	case string:
		return appendString(append(buf, tagString), x), nil
	case int64:
		return binary.AppendVarint(append(buf, tagInt), x), nil
	case float64:
		return binary.LittleEndian.AppendUint64(append(buf, tagFloat), math.Float64bits(x)), nil
	case bool:
		if x {
			return append(buf, tagTrue), nil
		}
		return append(buf, tagFalse), nil
	case time.Time:
		buf = binary.AppendVarint(append(buf, tagTime), x.Unix())
		return binary.AppendUvarint(buf, uint64(x.Nanosecond())), nil
	case []any:
		buf = binary.AppendUvarint(append(buf, tagList), uint64(len(x)))
		for _, e := range x {
			var err error
			if buf, err = appendValue(buf, e); err != nil {
				return nil, err
			}
		}
		return buf, nil
	case map[string]any:
		buf = binary.AppendUvarint(append(buf, tagMap), uint64(len(x)))
		for k, e := range x {
			buf = appendString(buf, k)
			var err error
			if buf, err = appendValue(buf, e); err != nil {
				return nil, err
			}
		}
		return buf, nil
	}
	return nil, fmt.Errorf("store: cannot persist a %T", v)
}

// decoder reads the persisted form.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if uint64(len(d.b)) < n {
		d.err = errCorrupt
		d.b = nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) value(depth int) any {
	if len(d.b) == 0 || depth > 64 {
		d.err = errCorrupt
		return nil
	}
	tag := d.b[0]
	d.b = d.b[1:]
	switch tag {
	case tagNil:
		return nil
	case tagString:
		return d.str()
	case tagInt:
		return d.varint()
	case tagFloat:
		if len(d.b) < 8 {
			d.err = errCorrupt
			return nil
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
		return f
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagTime:
		sec := d.varint()
		nsec := d.uvarint()
		return time.Unix(sec, int64(nsec)).UTC()
	case tagList:
		n := d.uvarint()
		out := make([]any, 0, min(n, 1024))
		for i := uint64(0); i < n && d.err == nil; i++ {
			out = append(out, d.value(depth+1))
		}
		return out
	case tagMap:
		n := d.uvarint()
		out := make(map[string]any, min(n, 1024))
		for i := uint64(0); i < n && d.err == nil; i++ {
			k := d.str()
			out[k] = d.value(depth + 1)
		}
		return out
	}
	d.err = errCorrupt
	return nil
}

// decodeObject reads an object of class c; stored fields the class no longer has are
// dropped and fields the storage lacks take the class's defaults.
func decodeObject(c *classInfo, ref string, data []byte) (*Object, error) {
	d := &decoder{b: data}
	o := &Object{Class: c.Name, Ref: ref, Fields: make([]any, len(c.Fields))}
	o.Created = d.uvarint()
	o.Modified = d.uvarint()
	n := d.uvarint()
	seen := make([]bool, len(c.Fields))
	for i := uint64(0); i < n && d.err == nil; i++ {
		name := d.str()
		v := d.value(0)
		if idx, ok := c.index[name]; ok {
			o.Fields[idx] = v
			seen[idx] = true
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	for i, ok := range seen {
		if !ok && i < len(c.Defaults) {
			o.Fields[i] = copyValue(c.Defaults[i])
		}
	}
	return o, nil
}

// copyValue copies the sets and maps of a default so objects never share them.
func copyValue(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = copyValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = copyValue(e)
		}
		return out
	}
	return v
}

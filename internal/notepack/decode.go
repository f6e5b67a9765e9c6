package notepack

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"
)

// Decode decodes one MessagePack value that must span all of b, as
// notepack.io's decode does (trailing bytes are an error). Binary values
// alias b. Arrays and maps nested deeper than DefaultMaxDepth are refused.
func Decode(b []byte) (any, error) {
	return DecodeDepth(b, DefaultMaxDepth)
}

// DecodeDepth is Decode refusing arrays and maps nested deeper than
// maxDepth (the outermost is level 1).
func DecodeDepth(b []byte, maxDepth int) (any, error) {
	d := decoder{b: b, max: maxDepth}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("notepack: %d trailing bytes", len(b)-d.off)
	}
	return v, nil
}

type decoder struct {
	b   []byte
	off int
	max int
}

// value decodes the value at d.off, read by Next; depth is the number of
// arrays and maps it sits in.
func (d *decoder) value(depth int) (any, error) {
	start := d.off
	t, next, err := Next(d.b, start)
	if err != nil {
		return nil, err
	}
	d.off = next
	switch t.Kind {
	case KindNil:
		return nil, nil
	case KindFalse:
		return false, nil
	case KindTrue:
		return true, nil
	case KindUint:
		return float64(t.U), nil
	case KindInt:
		return float64(t.I), nil
	case KindFloat:
		return t.F, nil
	case KindStr:
		return toValidUTF8(d.b[t.Start:next]), nil
	case KindBin:
		return d.b[t.Start:next], nil
	case KindArray:
		return d.arrayN(t.N, depth)
	case KindMap:
		return d.mapN(t.N, depth)
	case KindUndef:
		return Undefined{}, nil
	case KindDate:
		return time.UnixMilli(t.I).UTC(), nil
	}
	// KindExt: the timestamp extension (-1) in the three formats notepack
	// writes, else [type, data] as notepack gives unknown types.
	data := d.b[t.Start:next]
	if t.Ext == -1 {
		switch d.b[start] {
		case 0xd6: // timestamp 32
			return time.Unix(int64(binary.BigEndian.Uint32(data)), 0).UTC(), nil
		case 0xd7: // timestamp 64
			v := binary.BigEndian.Uint64(data)
			return time.Unix(int64(v&(1<<34-1)), int64(v>>34)).UTC(), nil
		case 0xc7: // timestamp 96 (12 bytes whatever the declared length, as notepack reads it)
			ns := binary.BigEndian.Uint32(data)
			return time.Unix(int64(binary.BigEndian.Uint64(data[4:])), int64(ns)).UTC(), nil
		}
	}
	return []any{float64(t.Ext), data}, nil
}

// toValidUTF8 converts as Buffer#toString("utf8") does: each invalid byte
// becomes U+FFFD.
func toValidUTF8(p []byte) string {
	if utf8.Valid(p) {
		return string(p)
	}
	out := make([]byte, 0, len(p)+8)
	for len(p) > 0 {
		r, size := utf8.DecodeRune(p)
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, p[:size]...)
		}
		p = p[size:]
	}
	return string(out)
}

func (d *decoder) arrayN(n int, depth int) (any, error) {
	if depth >= d.max {
		return nil, ErrTooDeep
	}
	// Every element takes at least one byte: never allocate more than the
	// rest of the input could fill.
	out := make([]any, 0, min(n, len(d.b)-d.off))
	for i := 0; i < n; i++ {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (d *decoder) mapN(n int, depth int) (any, error) {
	if depth >= d.max {
		return nil, ErrTooDeep
	}
	out := make(Map, 0, min(n, (len(d.b)-d.off)/2))
	var index map[string]int
	for i := 0; i < n; i++ {
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		key := propertyKey(k)
		if key == "__proto__" {
			// Assigning __proto__ sets the prototype of a JavaScript
			// object (or does nothing): never an own property.
			continue
		}
		if index == nil && len(out) >= 8 {
			index = make(map[string]int, len(out)*2)
			for j, e := range out {
				index[e.Key] = j
			}
		}
		if index != nil {
			if j, dup := index[key]; dup {
				out[j].Value = v
				continue
			}
			index[key] = len(out)
		} else if j := out.indexOf(key); j >= 0 {
			out[j].Value = v
			continue
		}
		out = append(out, Entry{key, v})
	}
	return out, nil
}

func (m Map) indexOf(key string) int {
	for i := range m {
		if m[i].Key == key {
			return i
		}
	}
	return -1
}

// propertyKey converts a decoded map key to a property name as
// JavaScript's String() does.
func propertyKey(k any) string {
	switch k := k.(type) {
	case string:
		return k
	case float64:
		return string(FormatNumber(nil, k))
	case bool:
		if k {
			return "true"
		}
		return "false"
	case nil:
		return "null"
	case Undefined:
		return "undefined"
	case []byte:
		return toValidUTF8(k)
	case []any:
		var b []byte
		for i, e := range k {
			if i > 0 {
				b = append(b, ',')
			}
			switch e.(type) {
			case nil, Undefined:
			default:
				b = append(b, propertyKey(e)...)
			}
		}
		return string(b)
	case Map:
		return "[object Object]"
	case time.Time:
		return k.UTC().Format("Mon Jan 02 2006 15:04:05 GMT+0000 (Coordinated Universal Time)")
	}
	return ""
}

package notepack

import (
	"encoding/binary"
	"fmt"
	"math"
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

func (d *decoder) need(n int) ([]byte, error) {
	if n < 0 || n > len(d.b)-d.off {
		return nil, ErrTruncated
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p, nil
}

func (d *decoder) uint(n int) (uint64, error) {
	p, err := d.need(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range p {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

// value decodes the next value; depth is the number of arrays and maps it
// sits in.
func (d *decoder) value(depth int) (any, error) {
	p, err := d.need(1)
	if err != nil {
		return nil, err
	}
	c := p[0]
	switch {
	case c < 0x80:
		return float64(c), nil
	case c < 0x90:
		return d.mapN(int(c&0x0f), depth)
	case c < 0xa0:
		return d.arrayN(int(c&0x0f), depth)
	case c < 0xc0:
		return d.str(int(c & 0x1f))
	case c >= 0xe0:
		return float64(int8(c)), nil
	}
	switch c {
	case 0xc0:
		return nil, nil
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	case 0xc4, 0xc5, 0xc6:
		n, err := d.uint(1 << (c - 0xc4))
		if err != nil {
			return nil, err
		}
		return d.need(int(min(n, math.MaxInt32)))
	case 0xc7, 0xc8, 0xc9:
		n, err := d.uint(1 << (c - 0xc7))
		if err != nil {
			return nil, err
		}
		t, err := d.need(1)
		if err != nil {
			return nil, err
		}
		typ := int8(t[0])
		if c == 0xc7 && typ == -1 {
			// timestamp 96 (the declared length is not checked, as in notepack)
			p, err := d.need(12)
			if err != nil {
				return nil, err
			}
			ns := binary.BigEndian.Uint32(p)
			s := int64(binary.BigEndian.Uint64(p[4:]))
			return time.Unix(s, int64(ns)).UTC(), nil
		}
		data, err := d.need(int(min(n, math.MaxInt32)))
		if err != nil {
			return nil, err
		}
		if typ == 0 {
			return data, nil // ArrayBuffer (notepack 2)
		}
		return []any{float64(typ), data}, nil
	case 0xca:
		v, err := d.uint(4)
		return float64(math.Float32frombits(uint32(v))), err
	case 0xcb:
		v, err := d.uint(8)
		return math.Float64frombits(v), err
	case 0xcc, 0xcd, 0xce, 0xcf:
		v, err := d.uint(1 << (c - 0xcc))
		return float64(v), err
	case 0xd0, 0xd1, 0xd2, 0xd3:
		n := 1 << (c - 0xd0)
		v, err := d.uint(n)
		shift := 64 - 8*n
		return float64(int64(v<<shift) >> shift), err
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		n := 1 << (c - 0xd4)
		t, err := d.need(1)
		if err != nil {
			return nil, err
		}
		typ := int8(t[0])
		data, err := d.need(n)
		if err != nil {
			return nil, err
		}
		switch {
		case c == 0xd4 && typ == 0:
			return Undefined{}, nil
		case c == 0xd6 && typ == -1:
			return time.Unix(int64(binary.BigEndian.Uint32(data)), 0).UTC(), nil
		case c == 0xd7 && typ == 0:
			return time.UnixMilli(int64(binary.BigEndian.Uint64(data))).UTC(), nil
		case c == 0xd7 && typ == -1:
			v := binary.BigEndian.Uint64(data)
			return time.Unix(int64(v&(1<<34-1)), int64(v>>34)).UTC(), nil
		}
		return []any{float64(typ), data}, nil
	case 0xd9, 0xda, 0xdb:
		n, err := d.uint(1 << (c - 0xd9))
		if err != nil {
			return nil, err
		}
		return d.str(int(min(n, math.MaxInt32)))
	case 0xdc, 0xdd:
		n, err := d.uint(2 << (c - 0xdc))
		if err != nil {
			return nil, err
		}
		return d.arrayN(int(min(n, math.MaxInt32)), depth)
	case 0xde, 0xdf:
		n, err := d.uint(2 << (c - 0xde))
		if err != nil {
			return nil, err
		}
		return d.mapN(int(min(n, math.MaxInt32)), depth)
	}
	return nil, ErrInvalid
}

func (d *decoder) str(n int) (any, error) {
	p, err := d.need(n)
	if err != nil {
		return nil, err
	}
	return toValidUTF8(p), nil
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

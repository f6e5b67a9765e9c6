package notepack

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
)

// Encode returns the MessagePack encoding of v (see the package doc).
func Encode(v any) ([]byte, error) { return Append(nil, v) }

// Append appends the MessagePack encoding of v to dst.
func Append(dst []byte, v any) ([]byte, error) {
	return appendValue(dst, v, 0)
}

func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > DefaultMaxDepth {
		return dst, ErrTooDeep
	}
	switch v := v.(type) {
	case nil, Undefined:
		return append(dst, 0xc0), nil
	case bool:
		if v {
			return append(dst, 0xc3), nil
		}
		return append(dst, 0xc2), nil
	case string:
		return AppendString(dst, v), nil
	case json.RawMessage:
		parsed, err := ParseJSON(v)
		if err != nil {
			return dst, err
		}
		return appendValue(dst, parsed, depth)
	case []byte:
		return AppendBinary(dst, v), nil
	case float64:
		return AppendNumber(dst, v), nil
	case float32:
		return AppendNumber(dst, float64(v)), nil
	case int:
		return AppendInt(dst, int64(v)), nil
	case int8:
		return AppendInt(dst, int64(v)), nil
	case int16:
		return AppendInt(dst, int64(v)), nil
	case int32:
		return AppendInt(dst, int64(v)), nil
	case int64:
		return AppendInt(dst, v), nil
	case uint:
		return AppendUint(dst, uint64(v)), nil
	case uint8:
		return AppendUint(dst, uint64(v)), nil
	case uint16:
		return AppendUint(dst, uint64(v)), nil
	case uint32:
		return AppendUint(dst, uint64(v)), nil
	case uint64:
		return AppendUint(dst, v), nil
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return dst, fmt.Errorf("%w: number %q", ErrUnsupported, string(v))
		}
		return AppendNumber(dst, f), nil
	case time.Time:
		return appendDate(dst, v), nil
	case []any:
		dst = AppendArrayHeader(dst, len(v))
		for _, e := range v {
			var err error
			if dst, err = appendValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case []string:
		dst = AppendArrayHeader(dst, len(v))
		for _, e := range v {
			dst = AppendString(dst, e)
		}
		return dst, nil
	case Map:
		n := 0
		for _, e := range v {
			if _, u := e.Value.(Undefined); !u {
				n++
			}
		}
		dst = AppendMapHeader(dst, n)
		for _, e := range v {
			if _, u := e.Value.(Undefined); u {
				continue
			}
			dst = AppendString(dst, e.Key)
			var err error
			if dst, err = appendValue(dst, e.Value, depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k, e := range v {
			if _, u := e.(Undefined); !u {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		dst = AppendMapHeader(dst, len(keys))
		for _, k := range keys {
			dst = AppendString(dst, k)
			var err error
			if dst, err = appendValue(dst, v[k], depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	// Anything else: its JSON form, as a JavaScript toJSON would give.
	b, err := json.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	parsed, err := ParseJSON(b)
	if err != nil {
		return dst, err
	}
	return appendValue(dst, parsed, depth)
}

// AppendString appends s as a str (fixstr, str8, str16 or str32).
func AppendString(dst []byte, s string) []byte {
	return append(AppendStringHeader(dst, len(s)), s...)
}

// AppendStringHeader appends the header of a str of n bytes.
func AppendStringHeader(dst []byte, n int) []byte {
	switch {
	case n < 0x20:
		return append(dst, 0xa0|byte(n))
	case n < 0x100:
		return append(dst, 0xd9, byte(n))
	case n < 0x10000:
		return append(dst, 0xda, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
	}
}

// AppendBinary appends b as a bin (bin8, bin16 or bin32).
func AppendBinary(dst []byte, b []byte) []byte {
	return append(AppendBinaryHeader(dst, len(b)), b...)
}

// AppendBinaryHeader appends the header of a bin of n bytes.
func AppendBinaryHeader(dst []byte, n int) []byte {
	switch {
	case n < 0x100:
		return append(dst, 0xc4, byte(n))
	case n < 0x10000:
		return append(dst, 0xc5, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint32(append(dst, 0xc6), uint32(n))
	}
}

// AppendArrayHeader appends the header of an array of n elements.
func AppendArrayHeader(dst []byte, n int) []byte {
	switch {
	case n < 0x10:
		return append(dst, 0x90|byte(n))
	case n < 0x10000:
		return append(dst, 0xdc, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint32(append(dst, 0xdd), uint32(n))
	}
}

// AppendMapHeader appends the header of a map of n pairs.
func AppendMapHeader(dst []byte, n int) []byte {
	switch {
	case n < 0x10:
		return append(dst, 0x80|byte(n))
	case n < 0x10000:
		return append(dst, 0xde, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint32(append(dst, 0xdf), uint32(n))
	}
}

// AppendUint appends a non-negative integer in the smallest uint family.
func AppendUint(dst []byte, v uint64) []byte {
	switch {
	case v < 0x80:
		return append(dst, byte(v))
	case v < 0x100:
		return append(dst, 0xcc, byte(v))
	case v < 0x10000:
		return append(dst, 0xcd, byte(v>>8), byte(v))
	case v < 0x100000000:
		return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 0xcf), v)
	}
}

// AppendInt appends an integer as notepack does: the uint family for
// non-negative values, else the smallest int family.
func AppendInt(dst []byte, v int64) []byte {
	if v >= 0 {
		return AppendUint(dst, uint64(v))
	}
	switch {
	case v >= -0x20:
		return append(dst, byte(v))
	case v >= -0x80:
		return append(dst, 0xd0, byte(v))
	case v >= -0x8000:
		return append(dst, 0xd1, byte(v>>8), byte(v))
	case v >= -0x80000000:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(v))
	}
}

// jsUint32 is ECMAScript's ToUint32 (also the bit pattern of ToInt32) of an
// integral number.
func jsUint32(x float64) uint64 {
	m := math.Mod(x, 4294967296)
	if m < 0 {
		m += 4294967296
	}
	return uint64(m)
}

// AppendNumber appends a JavaScript number: an integral finite value in the
// smallest int family (notepack's bit arithmetic included, so 1e300 is
// written as uint64 0 as notepack writes it), anything else as float64.
func AppendNumber(dst []byte, f float64) []byte {
	if math.IsNaN(f) {
		return append(dst, 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0) // as Buffer#writeDoubleBE(NaN)
	}
	if math.Floor(f) != f || math.IsInf(f, 0) {
		return binary.BigEndian.AppendUint64(append(dst, 0xcb), math.Float64bits(f))
	}
	if f >= 0 {
		if f < 0x100000000 {
			return AppendUint(dst, uint64(f))
		}
		bits := jsUint32(math.Trunc(f/4294967296))<<32 | jsUint32(f)
		return binary.BigEndian.AppendUint64(append(dst, 0xcf), bits)
	}
	if f >= -0x80000000 {
		return AppendInt(dst, int64(f))
	}
	bits := jsUint32(math.Floor(f/4294967296))<<32 | jsUint32(f)
	return binary.BigEndian.AppendUint64(append(dst, 0xd3), bits)
}

// appendDate writes a time as notepack writes a Date (millisecond
// precision, timestamp extension -1).
func appendDate(dst []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	s := ms / 1000
	if ms < 0 && ms%1000 != 0 {
		s-- // floor
	}
	ns := (ms - s*1000) * 1e6
	const ts32Max, ts64Max = 1<<32 - 1, 1<<34 - 1
	if s >= 0 && s <= ts64Max {
		if ns == 0 && s <= ts32Max {
			return binary.BigEndian.AppendUint32(append(dst, 0xd6, 0xff), uint32(s))
		}
		return binary.BigEndian.AppendUint64(append(dst, 0xd7, 0xff), uint64(ns)<<34|uint64(s))
	}
	dst = append(dst, 0xc7, 0x0c, 0xff)
	dst = binary.BigEndian.AppendUint32(dst, uint32(ns))
	return binary.BigEndian.AppendUint64(dst, uint64(s))
}

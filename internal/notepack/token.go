package notepack

import (
	"encoding/binary"
	"math"
)

// Kind is the kind of one MessagePack value, as Next reads it.
type Kind uint8

// The kinds Next returns.
const (
	KindNil   Kind = iota
	KindFalse      //
	KindTrue       //
	KindUint       // Token.U
	KindInt        // Token.I (the negative formats, and int 8..64, whose value may still be >= 0)
	KindFloat      // Token.F (float 32 widened)
	KindStr        // payload b[Token.Start:next]
	KindBin        // payload b[Token.Start:next]; also ext type 0, notepack 2's ArrayBuffer
	KindArray      // Token.N elements follow
	KindMap        // Token.N pairs follow
	KindUndef      // fixext 1 type 0: notepack 2's undefined
	KindDate       // fixext 8 type 0: notepack 2's Date; Token.I is its milliseconds
	KindExt        // any other extension value: Token.Ext, payload b[Token.Start:next]
)

// Token is one MessagePack value read by Next. Arrays and maps are read
// as their header only.
type Token struct {
	Kind  Kind
	N     int    // array elements or map pairs
	Start int    // payload start of str, bin and ext values
	U     uint64 // KindUint
	I     int64  // KindInt, KindDate
	F     float64
	Ext   int8 // extension type of KindExt
}

// Next reads the value starting at b[i]: the one tokenizer of the
// package's decoder and of socketio's msgpack parser. For arrays and maps
// next is the offset of their first item; for the others it is past the
// whole value. Declared lengths are checked against the bytes left (every
// item of a container takes a byte at least), so no count exceeds the
// input's size. An ext 8 of type -1 (timestamp 96) spans 12 bytes whatever
// length it declares, as notepack.io reads it. Errors are ErrTruncated and
// ErrInvalid (the byte 0xc1).
func Next(b []byte, i int) (t Token, next int, err error) {
	if i >= len(b) {
		return t, 0, ErrTruncated
	}
	c := b[i]
	i++
	switch {
	case c <= 0x7f:
		t.Kind, t.U = KindUint, uint64(c)
		return t, i, nil
	case c <= 0x8f:
		return container(b, i, KindMap, uint64(c&0x0f))
	case c <= 0x9f:
		return container(b, i, KindArray, uint64(c&0x0f))
	case c <= 0xbf:
		return valuePayload(b, i, KindStr, uint64(c&0x1f))
	case c >= 0xe0:
		t.Kind, t.I = KindInt, int64(int8(c))
		return t, i, nil
	}
	switch c {
	case 0xc0:
		t.Kind = KindNil
		return t, i, nil
	case 0xc2:
		t.Kind = KindFalse
		return t, i, nil
	case 0xc3:
		t.Kind = KindTrue
		return t, i, nil
	case 0xc4, 0xc5, 0xc6: // bin 8, 16, 32
		size := 1 << (c - 0xc4)
		n, ok := uintAt(b, i, size)
		if !ok {
			return t, 0, ErrTruncated
		}
		return valuePayload(b, i+size, KindBin, n)
	case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32
		size := 1 << (c - 0xc7)
		n, ok := uintAt(b, i, size)
		if !ok || len(b)-i-size < 1 {
			return t, 0, ErrTruncated
		}
		typ := int8(b[i+size])
		if typ == 0 {
			return valuePayload(b, i+size+1, KindBin, n) // notepack 2: ArrayBuffer
		}
		if c == 0xc7 && typ == -1 {
			n = 12 // timestamp 96
		}
		t, next, err = valuePayload(b, i+size+1, KindExt, n)
		t.Ext = typ
		return t, next, err
	case 0xca:
		v, ok := uintAt(b, i, 4)
		if !ok {
			return t, 0, ErrTruncated
		}
		t.Kind, t.F = KindFloat, float64(math.Float32frombits(uint32(v)))
		return t, i + 4, nil
	case 0xcb:
		v, ok := uintAt(b, i, 8)
		if !ok {
			return t, 0, ErrTruncated
		}
		t.Kind, t.F = KindFloat, math.Float64frombits(v)
		return t, i + 8, nil
	case 0xcc, 0xcd, 0xce, 0xcf: // uint 8..64
		size := 1 << (c - 0xcc)
		v, ok := uintAt(b, i, size)
		if !ok {
			return t, 0, ErrTruncated
		}
		t.Kind, t.U = KindUint, v
		return t, i + size, nil
	case 0xd0, 0xd1, 0xd2, 0xd3: // int 8..64
		size := 1 << (c - 0xd0)
		v, ok := uintAt(b, i, size)
		if !ok {
			return t, 0, ErrTruncated
		}
		shift := 64 - 8*size
		t.Kind, t.I = KindInt, int64(v<<shift)>>shift
		return t, i + size, nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1..16
		size := 1 << (c - 0xd4)
		if len(b)-i < 1+size {
			return t, 0, ErrTruncated
		}
		typ := int8(b[i])
		t.Kind, t.Start, t.Ext = KindExt, i+1, typ
		switch {
		case typ == 0 && size == 1:
			t.Kind = KindUndef
		case typ == 0 && size == 8:
			t.Kind, t.I = KindDate, int64(binary.BigEndian.Uint64(b[i+1:]))
		}
		return t, i + 1 + size, nil
	case 0xd9, 0xda, 0xdb: // str 8, 16, 32
		size := 1 << (c - 0xd9)
		n, ok := uintAt(b, i, size)
		if !ok {
			return t, 0, ErrTruncated
		}
		return valuePayload(b, i+size, KindStr, n)
	case 0xdc, 0xdd: // array 16, 32
		size := 2 << (c - 0xdc)
		n, ok := uintAt(b, i, size)
		if !ok {
			return t, 0, ErrTruncated
		}
		return container(b, i+size, KindArray, n)
	case 0xde, 0xdf: // map 16, 32
		size := 2 << (c - 0xde)
		n, ok := uintAt(b, i, size)
		if !ok {
			return t, 0, ErrTruncated
		}
		return container(b, i+size, KindMap, n)
	}
	return t, 0, ErrInvalid // 0xc1
}

// Skip returns the offset past the value at b[i], checking only that it
// is well-formed.
func Skip(b []byte, i int) (int, error) {
	for pending := 1; pending > 0; pending-- {
		t, next, err := Next(b, i)
		if err != nil {
			return 0, err
		}
		switch t.Kind {
		case KindArray:
			pending += t.N
		case KindMap:
			pending += 2 * t.N
		}
		i = next
	}
	return i, nil
}

// uintAt reads the size-byte big-endian unsigned integer at b[i:].
func uintAt(b []byte, i, size int) (uint64, bool) {
	if len(b)-i < size {
		return 0, false
	}
	var v uint64
	for _, c := range b[i : i+size] {
		v = v<<8 | uint64(c)
	}
	return v, true
}

// payload returns a value of n bytes at b[i:].
func valuePayload(b []byte, i int, kind Kind, n uint64) (Token, int, error) {
	if n > uint64(len(b)-i) {
		return Token{}, 0, ErrTruncated
	}
	return Token{Kind: kind, Start: i}, i + int(n), nil
}

// container returns an array or map of n items whose first item is at
// b[i].
func container(b []byte, i int, kind Kind, n uint64) (Token, int, error) {
	items := n
	if kind == KindMap {
		items *= 2
	}
	if items > uint64(len(b)-i) {
		return Token{}, 0, ErrTruncated
	}
	return Token{Kind: kind, N: int(n)}, i, nil
}

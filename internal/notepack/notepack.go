// Package notepack encodes and decodes MessagePack exactly as the npm package
// notepack.io 3.0.1 does, the codec of @socket.io/redis-adapter and
// @socket.io/redis-emitter, so that Go and Node.js nodes of one Socket.IO
// cluster read each other's messages.
//
// Values are JavaScript values in Go clothing:
//
//	JavaScript          Go (decoded)          also encoded from
//	null                nil
//	undefined           Undefined{}
//	boolean             bool
//	number              float64               every Go integer and float type
//	string              string
//	Buffer/ArrayBuffer  []byte (may alias the input)
//	Date                time.Time
//	Array               []any                 []string
//	Object              Map (key order kept)  map[string]any (keys sorted)
//	[type, Buffer]      []any{float64, []byte} (unknown extension types, as notepack)
//
// Encode applies notepack's rules: strings as str, binary as bin, integral
// numbers in the smallest int family (uint for non-negative values), other
// numbers as float64, object entries whose value is undefined left out, Date
// as the timestamp extension. Values of other Go types go through
// encoding/json first, as a JavaScript object's toJSON would.
//
// Decode accepts everything notepack 3.0.1 accepts, including the
// notepack 2.2.0 extensions of legacy socket.io-redis nodes (fixext1 type 0
// for undefined, ext type 0 for ArrayBuffer, fixext8 type 0 for Date). It
// bounds nesting depth and never allocates more than the input's size
// suggests, whatever lengths the input declares.
//
// ParseJSON and AppendJSON convert between these values and JSON with the
// semantics of JSON.parse and JSON.stringify.
package notepack

import (
	"errors"
	"math"
	"strconv"

	"github.com/pierhq/pier/internal/nesting"
)

// Undefined is JavaScript's undefined.
type Undefined struct{}

// Entry is one property of a Map.
type Entry struct {
	Key   string
	Value any
}

// Map is a JavaScript object: its properties in insertion order.
type Map []Entry

// Get returns the value of key and whether the map has it.
func (m Map) Get(key string) (any, bool) {
	for i := range m {
		if m[i].Key == key {
			return m[i].Value, true
		}
	}
	return nil, false
}

// Set replaces the value of key, or appends it, as assigning a property of
// a JavaScript object does.
func (m *Map) Set(key string, v any) {
	for i := range *m {
		if (*m)[i].Key == key {
			(*m)[i].Value = v
			return
		}
	}
	*m = append(*m, Entry{key, v})
}

// DefaultMaxDepth is the nesting of arrays and maps (objects) Decode,
// ParseJSON and the encoders accept, the outermost being level 1: a
// Socket.IO packet whose payload nests as deep as socketio.MaxDepth
// (nesting.MaxDepth) allows, inside a cluster message's envelope
// (nesting.EnvelopeDepth levels), so that the one limit of socketio is
// the limit of the cluster too.
const DefaultMaxDepth = nesting.MaxDepth + nesting.EnvelopeDepth

// Errors.
var (
	ErrTooDeep     = errors.New("notepack: nesting too deep")
	ErrTruncated   = errors.New("notepack: unexpected end of data")
	ErrInvalid     = errors.New("notepack: could not parse")
	ErrUnsupported = errors.New("notepack: could not encode")
)

// FormatNumber appends f as JavaScript's Number.prototype.toString (and
// JSON.stringify, for finite numbers) writes it.
func FormatNumber(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == 0:
		return append(dst, '0')
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	// Shortest round-trip digits and exponent: d.ddddde±x.
	var buf [32]byte
	s := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	epos := 0
	for i, c := range s {
		if c == 'e' {
			epos = i
			break
		}
	}
	digits := make([]byte, 0, 20)
	for _, c := range s[:epos] {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	exp, _ := strconv.Atoi(string(s[epos+1:]))
	k := len(digits)
	n := exp + 1 // position of the decimal point, as in ECMA-262 Number::toString
	switch {
	case k <= n && n <= 21:
		dst = append(dst, digits...)
		for i := 0; i < n-k; i++ {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for i := 0; i < -n; i++ {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	default:
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst
}

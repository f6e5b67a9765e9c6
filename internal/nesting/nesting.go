// Package nesting holds the one nesting limit of Pier's payloads, shared by
// the Socket.IO packet codecs (package socketio, which exports it as
// socketio.MaxDepth) and the cluster message codecs (internal/notepack),
// so that a payload one part accepts is never refused by another.
package nesting

// MaxDepth is the deepest nesting of arrays and objects in the payload of
// a packet: the argument list of an event is level 1, so an argument may
// nest MaxDepth-1 levels of arrays and objects.
const MaxDepth = 64

// EnvelopeDepth is the most levels a cluster message wraps around a
// packet's payload: the Redis adapter's [uid, packet, opts] puts it at
// level 3, the sharded adapter's {data: {packet: {data}}} at level 4.
const EnvelopeDepth = 4

// Of returns the nesting depth of the JSON text b (the number of arrays
// and objects open at its deepest point), without validating it.
func Of(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			deepest = max(deepest, depth)
		case ']', '}':
			depth--
		}
	}
	return deepest
}

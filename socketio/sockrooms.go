package socketio

import "slices"

// sockRooms is what LocalAdapter keeps of one local socket's rooms: a flag
// for its own room (the room named by its id, which nearly every socket is
// in) and the others in a short slice, or a map once there are many. An
// idle socket in one room thus costs a small struct and a one-element
// slice instead of two maps. The methods take the socket's id and accept
// a nil receiver (a socket in no room). Guarded by LocalAdapter.mu.
type sockRooms struct {
	own  bool              // in Room(id)
	few  []Room            // the other rooms while at most manyRooms; nil once many is made
	many map[Room]struct{} // the other rooms, past manyRooms
}

// manyRooms is the most rooms (besides its own) a socket keeps in a slice:
// a linear search of a few strings is cheaper, and far smaller, than a map.
const manyRooms = 16

// has reports whether the socket is in r.
func (m *sockRooms) has(id string, r Room) bool {
	switch {
	case m == nil:
		return false
	case r == Room(id):
		return m.own
	case m.many != nil:
		_, in := m.many[r]
		return in
	default:
		return slices.Contains(m.few, r)
	}
}

// count returns the number of rooms the socket is in.
func (m *sockRooms) count() int {
	if m == nil {
		return 0
	}
	n := len(m.few) + len(m.many)
	if m.own {
		n++
	}
	return n
}

// add puts the socket in r and reports whether it was not in it.
func (m *sockRooms) add(id string, r Room) bool {
	if m.has(id, r) {
		return false
	}
	switch {
	case r == Room(id):
		m.own = true
	case m.many != nil:
		m.many[r] = struct{}{}
	case len(m.few) < manyRooms:
		m.few = append(m.few, r)
	default:
		m.many = make(map[Room]struct{}, 2*manyRooms)
		for _, x := range m.few {
			m.many[x] = struct{}{}
		}
		m.many[r] = struct{}{}
		m.few = nil
	}
	return true
}

// remove takes the socket out of r and reports whether it was in it.
func (m *sockRooms) remove(id string, r Room) bool {
	if !m.has(id, r) {
		return false
	}
	switch {
	case r == Room(id):
		m.own = false
	case m.many != nil:
		delete(m.many, r)
	default:
		i := slices.Index(m.few, r)
		last := len(m.few) - 1
		m.few[i] = m.few[last]
		m.few[last] = ""
		m.few = m.few[:last]
	}
	return true
}

// others calls f for each room of the socket but its own.
func (m *sockRooms) others(f func(Room)) {
	if m == nil {
		return
	}
	for _, r := range m.few {
		f(r)
	}
	for r := range m.many {
		f(r)
	}
}

// list returns the socket's rooms, its own room first.
func (m *sockRooms) list(id string) []Room {
	out := make([]Room, 0, m.count())
	if m == nil {
		return out
	}
	if m.own {
		out = append(out, Room(id))
	}
	m.others(func(r Room) { out = append(out, r) })
	return out
}

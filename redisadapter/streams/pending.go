package streams

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/socketio"
)

// A socket being restored is not yet a recipient of live broadcasts: its
// session is read from Redis, then the stream is read up to an id L for
// the events it missed, then socketio registers it, sends the CONNECT
// reply and the missed events, and runs the connection handlers. An event
// delivered by this server meanwhile would be lost (before the
// registration) or overtake the missed ones (after it). So from the start
// of the restore until the first connection handler runs, the events this
// server delivers that the socket would get are kept for it instead; those
// after L are sent once the missed ones are (Node loses them). And until
// the stream's reader has passed L, the entries it reads up to L are not
// sent to the socket: the replay had them (Node sends them twice).

// pendingMax bounds the events kept for one restoring socket; beyond it
// the oldest go (the client then misses them, as it would have).
const pendingMax = 10000

// pendingTTL ends a restore whose socket never connected (its middleware
// refused it, or the client left).
const pendingTTL = time.Minute

// restoring is a socket being restored.
type restoring struct {
	rooms []socketio.Room
	last  string // L, the last id read for the missed events; "" until known
	at    time.Time
	kept  []keptPacket
	sent  bool // the replay and the kept events are queued on the socket
}

type keptPacket struct {
	id string // stream entry id; "" when it has none (kept as after L)
	p  *socketio.Packet
	o  socketio.BroadcastOptions
}

// pendingSet holds the restoring sockets of a namespace.
//
// Concurrency: mu guards m and is held while delivering when n > 0, so that
// a socket's kept events are flushed before any later one reaches it.
type pendingSet struct {
	n  atomic.Int32
	mu sync.Mutex
	m  map[string]*restoring
}

func (ps *pendingSet) begin(sid string, rooms []socketio.Room) {
	ps.mu.Lock()
	if ps.m == nil {
		ps.m = make(map[string]*restoring)
	}
	if _, ok := ps.m[sid]; !ok {
		ps.n.Add(1)
	}
	ps.m[sid] = &restoring{rooms: rooms, at: time.Now()}
	ps.mu.Unlock()
}

func (ps *pendingSet) setLast(sid, last string) {
	ps.mu.Lock()
	if r := ps.m[sid]; r != nil {
		r.last = last
	}
	ps.mu.Unlock()
}

// endLocked forgets sid; ps.mu is held.
func (ps *pendingSet) endLocked(sid string) {
	if _, ok := ps.m[sid]; ok {
		delete(ps.m, sid)
		ps.n.Add(-1)
	}
}

func (ps *pendingSet) cancel(sid string) {
	ps.mu.Lock()
	ps.endLocked(sid)
	ps.mu.Unlock()
}

// deliver sends p (entry id, "" if none; fromReader when the stream's
// reader read it) to the selected local sockets, keeping it for the
// restoring sockets it is meant for.
func (a *Adapter) deliver(p *socketio.Packet, opts socketio.BroadcastOptions, id string, fromReader bool) {
	ps := &a.pending
	if ps.n.Load() == 0 {
		a.local.Deliver(p, opts)
		return
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	now := time.Now()
	for sid, r := range ps.m {
		if now.Sub(r.at) > pendingTTL {
			ps.endLocked(sid)
			continue
		}
		if r.sent {
			if id != "" && !after(id, r.last) {
				// Replayed already.
				opts.Except = append(opts.Except[:len(opts.Except):len(opts.Except)], socketio.Room(sid))
			} else if fromReader && id != "" {
				ps.endLocked(sid) // the reader passed L
			}
			continue
		}
		if !includes(r.rooms, opts) {
			continue
		}
		opts.Except = append(opts.Except[:len(opts.Except):len(opts.Except)], socketio.Room(sid))
		if r.last != "" && id != "" && !after(id, r.last) {
			continue // among the missed events
		}
		r.kept = append(r.kept, keptPacket{id: id, p: p, o: opts})
		if len(r.kept) > pendingMax {
			r.kept = r.kept[len(r.kept)-pendingMax:]
		}
	}
	a.local.Deliver(p, opts)
}

// restored runs first among the connection handlers: the CONNECT reply and
// the missed events are queued, so the kept events after L follow them.
func (a *Adapter) restored(s *socketio.Socket) {
	ps := &a.pending
	if ps.n.Load() == 0 {
		return
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	r := ps.m[s.ID()]
	if r == nil || r.sent {
		return
	}
	if !s.Recovered() || r.last == "" {
		ps.endLocked(s.ID())
		return
	}
	r.sent = true
	kept := r.kept
	r.kept = nil
	to := socketio.BroadcastOptions{Rooms: []socketio.Room{socketio.Room(s.ID())}, Local: true}
	for _, k := range kept {
		if k.id == "" || r.last == "" || after(k.id, r.last) {
			to.Volatile = k.o.Volatile
			a.local.Deliver(k.p, to)
		}
	}
}

// after reports whether stream id x comes after y.
func after(x, y string) bool {
	xm, xs := splitID(x)
	ym, ys := splitID(y)
	return xm > ym || xm == ym && xs > ys
}

func splitID(id string) (uint64, uint64) {
	ms, seq, _ := strings.Cut(id, "-")
	m, _ := strconv.ParseUint(ms, 10, 64)
	s, _ := strconv.ParseUint(seq, 10, 64)
	return m, s
}

package socketio

import (
	"context"
	"runtime"
	"sync"

	"github.com/pierhq/pier/engineio"
)

// BroadcastOptions selects the recipients of a broadcast.
type BroadcastOptions struct {
	Rooms    []Room // the sockets in any of these rooms; all sockets when empty
	Except   []Room // minus the sockets in any of these
	Volatile bool   // drop the packet for clients not ready to take it
	Local    bool   // only this server's sockets
}

// BroadcastAcks collects the acknowledgements of a broadcast: ClientCount
// is called once per server with the number of sockets it sent the packet
// to, then Ack once per acknowledgement received.
type BroadcastAcks struct {
	ClientCount func(n int)
	Ack         func(Args)
}

// RoomOp is a change applied to the sockets a BroadcastOptions selects.
type RoomOp struct {
	Join       []Room // rooms to join
	Leave      []Room // rooms to leave
	Disconnect bool   // disconnect the sockets
	Close      bool   // with Disconnect: close their whole connection
}

// SocketInfo describes a socket, on this server or another.
type SocketInfo struct {
	ID        string
	Handshake *Handshake
	Rooms     []Room
	Data      any
}

// Adapter keeps the rooms of one namespace and carries its broadcasts,
// within this process or across a cluster.
//
// Join, Leave, LeaveAll and SocketRooms concern this server's sockets and
// must not block. The other methods act on every server unless
// opts.Local, and may block until ctx ends. Implementations must be safe
// for concurrent use, and must not call back into the namespace while
// holding their own locks. An Adapter may also implement
// interface{ Close() error }, called at server shutdown.
type Adapter interface {
	Join(id string, rooms ...Room)
	Leave(id string, rooms ...Room)
	LeaveAll(id string)
	SocketRooms(id string) []Room

	// Broadcast sends p to the selected sockets; acks is nil unless the
	// sender waits for acknowledgements (p then carries an ack id).
	Broadcast(ctx context.Context, p *Packet, opts BroadcastOptions, acks *BroadcastAcks) error
	// Apply changes the rooms of the selected sockets or disconnects them.
	Apply(ctx context.Context, opts BroadcastOptions, op RoomOp) error
	// FetchSockets describes the selected sockets.
	FetchSockets(ctx context.Context, opts BroadcastOptions) ([]SocketInfo, error)
	// ServerSideEmit sends an event to the other servers; ack, when not
	// nil, is called with each server's reply.
	ServerSideEmit(ctx context.Context, event string, args []any, ack func(Args)) error
}

// AdapterFactory creates the adapter of a namespace.
type AdapterFactory func(n *Namespace) Adapter

// LocalAdapter is the in-memory adapter: rooms and broadcasts within one
// process. Remote adapters embed it for their local part.
//
// Concurrency: safe for concurrent use. A broadcast encodes its packet
// once and queues the same bytes on every recipient without blocking.
type LocalAdapter struct {
	nsp      *Namespace
	recovery *recoveryStore // nil unless connection state recovery is on

	mu    sync.RWMutex
	rooms map[Room]map[string]struct{}
	sids  map[string]map[Room]struct{}
}

var _ Adapter = (*LocalAdapter)(nil)

// NewLocalAdapter is the default AdapterFactory.
func NewLocalAdapter(n *Namespace) Adapter { return NewLocal(n) }

// NewLocal returns the in-memory adapter of n, for adapters that embed it.
func NewLocal(n *Namespace) *LocalAdapter {
	a := &LocalAdapter{nsp: n, rooms: make(map[Room]map[string]struct{}), sids: make(map[string]map[Room]struct{})}
	if o := n.srv.opts.ConnectionStateRecovery; o != nil {
		a.recovery = newRecoveryStore(o)
	}
	return a
}

var _ SessionStore = (*LocalAdapter)(nil)

// PersistSession keeps a disconnected socket's state for recovery.
func (a *LocalAdapter) PersistSession(s PersistedSession) {
	if a.recovery != nil {
		a.recovery.PersistSession(s)
	}
}

// RestoreSession returns a persisted session and the events it missed.
func (a *LocalAdapter) RestoreSession(pid, offset string) (*RecoveredSession, bool) {
	if a.recovery == nil {
		return nil, false
	}
	return a.recovery.RestoreSession(pid, offset)
}

// Namespace returns the adapter's namespace.
func (a *LocalAdapter) Namespace() *Namespace { return a.nsp }

func (a *LocalAdapter) Join(id string, rooms ...Room) {
	a.mu.Lock()
	defer a.mu.Unlock()
	mine := a.sids[id]
	if mine == nil {
		mine = make(map[Room]struct{}, len(rooms))
		a.sids[id] = mine
	}
	for _, r := range rooms {
		mine[r] = struct{}{}
		members := a.rooms[r]
		if members == nil {
			members = make(map[string]struct{})
			a.rooms[r] = members
		}
		members[id] = struct{}{}
	}
}

func (a *LocalAdapter) Leave(id string, rooms ...Room) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range rooms {
		a.leaveLocked(id, r)
	}
}

func (a *LocalAdapter) leaveLocked(id string, r Room) {
	if mine := a.sids[id]; mine != nil {
		delete(mine, r)
	}
	if members := a.rooms[r]; members != nil {
		delete(members, id)
		if len(members) == 0 {
			delete(a.rooms, r)
		}
	}
}

func (a *LocalAdapter) LeaveAll(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for r := range a.sids[id] {
		a.leaveLocked(id, r)
	}
	delete(a.sids, id)
}

func (a *LocalAdapter) SocketRooms(id string) []Room {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]Room, 0, len(a.sids[id]))
	for r := range a.sids[id] {
		out = append(out, r)
	}
	return out
}

// HasRoom reports whether room r has members on this server.
func (a *LocalAdapter) HasRoom(r Room) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.rooms[r]) > 0
}

// Rooms returns the rooms that have members on this server.
func (a *LocalAdapter) Rooms() []Room {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]Room, 0, len(a.rooms))
	for r := range a.rooms {
		out = append(out, r)
	}
	return out
}

// each calls f for every local socket id opts selects, under the read
// lock: f must not block nor call the adapter.
func (a *LocalAdapter) each(opts BroadcastOptions, f func(id string)) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var except map[string]struct{}
	if len(opts.Except) == 1 {
		except = a.rooms[opts.Except[0]]
	} else if len(opts.Except) > 1 {
		except = make(map[string]struct{})
		for _, r := range opts.Except {
			for id := range a.rooms[r] {
				except[id] = struct{}{}
			}
		}
	}
	visit := func(id string) {
		if _, skip := except[id]; !skip {
			f(id)
		}
	}
	switch len(opts.Rooms) {
	case 0:
		for id := range a.sids {
			visit(id)
		}
	case 1:
		for id := range a.rooms[opts.Rooms[0]] {
			visit(id)
		}
	default:
		seen := make(map[string]struct{})
		for _, r := range opts.Rooms {
			for id := range a.rooms[r] {
				if _, dup := seen[id]; !dup {
					seen[id] = struct{}{}
					visit(id)
				}
			}
		}
	}
}

// sockets returns the local sockets opts selects.
func (a *LocalAdapter) sockets(opts BroadcastOptions) []*Socket {
	var ids []string
	a.each(opts, func(id string) { ids = append(ids, id) })
	out := make([]*Socket, 0, len(ids))
	for _, id := range ids {
		if s := a.nsp.Socket(id); s != nil {
			out = append(out, s)
		}
	}
	return out
}

// Broadcast encodes p once and queues it on every selected local socket.
func (a *LocalAdapter) Broadcast(ctx context.Context, p *Packet, opts BroadcastOptions, acks *BroadcastAcks) error {
	if a.recovery != nil && acks == nil {
		p = a.recovery.stamp(p, opts)
	}
	var buf [4]engineio.Message
	msgs := a.nsp.srv.parser.Encode(buf[:0], p)
	if acks != nil {
		socks := a.sockets(opts)
		acks.ClientCount(len(socks))
		a.nsp.srv.opts.Hooks.broadcast(len(socks))
		for _, s := range socks {
			s.expectAck(p.ID, acks.Ack)
			s.c.sess.Send(msgs...)
		}
		return nil
	}
	// The recipients are collected under the locks and sent to after:
	// Send may write to the socket at once (engineio.Session.Send), which
	// must not hold up joins and connections meanwhile.
	sp := recipientPool.Get().(*[]*engineio.Session)
	to := (*sp)[:0]
	a.nsp.mu.RLock()
	a.each(opts, func(id string) {
		if s := a.nsp.sockets[id]; s != nil {
			to = append(to, s.c.sess)
		}
	})
	a.nsp.mu.RUnlock()
	a.nsp.srv.opts.Hooks.broadcast(len(to))
	fanOut(to, msgs, opts.Volatile)
	if cap(to) <= 1<<16 {
		clear(to)
		*sp = to[:0]
		recipientPool.Put(sp)
	}
	return nil
}

// fanOutChunk is the fewest recipients worth a goroutine of their own.
const fanOutChunk = 256

// fanOut sends msgs to every session of to. Send writes to each socket as
// far as it takes the data at once, so a large room is split into one
// chunk per processor (not a goroutine per recipient), each written on
// its own goroutine; fanOut returns when all are done, so that the
// broadcasts of one goroutine reach every recipient in order.
func fanOut(to []*engineio.Session, msgs []engineio.Message, volatile bool) {
	send := func(part []*engineio.Session) {
		for _, sess := range part {
			if volatile {
				sess.SendVolatile(msgs...)
			} else {
				sess.Send(msgs...)
			}
		}
	}
	n := min(runtime.GOMAXPROCS(0), len(to)/fanOutChunk)
	if n <= 1 {
		send(to)
		return
	}
	var wg sync.WaitGroup
	size := (len(to) + n - 1) / n
	for i := size; i < len(to); i += size {
		part := to[i:min(i+size, len(to))]
		wg.Go(func() { send(part) })
	}
	send(to[:size])
	wg.Wait()
}

// recipientPool holds the recipient lists of broadcasts.
var recipientPool = sync.Pool{New: func() any { return new([]*engineio.Session) }}

// Apply changes the rooms of, or disconnects, the selected local sockets.
func (a *LocalAdapter) Apply(ctx context.Context, opts BroadcastOptions, op RoomOp) error {
	for _, s := range a.sockets(opts) {
		if len(op.Join) > 0 {
			s.Join(op.Join...)
		}
		if len(op.Leave) > 0 {
			s.Leave(op.Leave...)
		}
		if op.Disconnect {
			s.Disconnect(op.Close)
		}
	}
	return nil
}

// FetchSockets describes the selected local sockets.
func (a *LocalAdapter) FetchSockets(ctx context.Context, opts BroadcastOptions) ([]SocketInfo, error) {
	socks := a.sockets(opts)
	out := make([]SocketInfo, len(socks))
	for i, s := range socks {
		out[i] = SocketInfo{ID: s.id, Handshake: s.hs, Rooms: s.Rooms(), Data: s.Data()}
	}
	return out, nil
}

// ServerSideEmit does nothing: there is no other server.
func (a *LocalAdapter) ServerSideEmit(ctx context.Context, event string, args []any, ack func(Args)) error {
	return nil
}

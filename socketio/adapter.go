package socketio

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"

	"github.com/pierhq/pier/engineio"
)

// BroadcastOptions selects the recipients of a broadcast.
type BroadcastOptions struct {
	Rooms    []Room // the sockets in any of these rooms; all sockets when empty
	Except   []Room // minus the sockets in any of these
	Volatile bool   // drop the packet for clients not ready to take it
	Local    bool   // only this server's sockets
	// NoCompress keeps the packet out of per-message compression (Node:
	// the compress flag, set false by compress(false)).
	NoCompress bool
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

// ErrTooManyRooms is returned by Socket.Join when the socket would be in
// more than Options.MaxRoomsPerSocket rooms.
var ErrTooManyRooms = errors.New("socketio: too many rooms for one socket")

// joinChecker is LocalAdapter, and adapters that embed it, telling
// whether a join would pass Options.MaxRoomsPerSocket.
type joinChecker interface {
	checkJoin(id string, rooms []Room) error
}

// ClusterAdapter is an Adapter that carries broadcasts and requests
// between servers (such as package redisadapter's) and keeps this
// server's part in a LocalAdapter it does not expose to applications.
// Through Local, the server enforces Options.MaxRoomsPerSocket and, unless
// the adapter is a SessionStore itself, keeps connection state recovery in
// that LocalAdapter. Applications have no use for it.
type ClusterAdapter interface {
	Adapter
	// Local returns the adapter's in-memory part, built by NewLocal.
	Local() *LocalAdapter
}

// joinCheckerOf returns what checks the room limit of a, if anything.
func joinCheckerOf(a Adapter) (joinChecker, bool) {
	if c, ok := a.(joinChecker); ok {
		return c, true
	}
	if c, ok := a.(ClusterAdapter); ok && c.Local() != nil {
		return c.Local(), true
	}
	return nil, false
}

// sessionStoreOf returns what keeps the recovery state of a, if anything:
// a itself when it is a SessionStore, else its local part.
func sessionStoreOf(a Adapter) (SessionStore, bool) {
	if st, ok := a.(SessionStore); ok {
		return st, true
	}
	if c, ok := a.(ClusterAdapter); ok && c.Local() != nil {
		return c.Local(), true
	}
	return nil, false
}

// AdapterFactory creates the adapter of a namespace.
type AdapterFactory func(n *Namespace) Adapter

// LocalAdapter is the in-memory adapter: rooms and broadcasts within one
// process. Cluster adapters keep their local part in one (see
// ClusterAdapter).
//
// Concurrency: safe for concurrent use. A broadcast encodes its packet
// once and queues the same bytes on every recipient without blocking.
type LocalAdapter struct {
	nsp      *Namespace
	recovery *recoveryStore // nil unless connection state recovery is on

	mu sync.RWMutex
	// rooms holds the members of every room but the sockets' own rooms:
	// a socket's membership of the room named by its id is a flag in
	// sids, so that a connection costs no map of its own. (A socket that
	// joins another socket's id room is a member here.)
	rooms  map[Room]map[string]struct{}
	sids   map[string]*sockRooms
	warned map[string]struct{} // sockets refused a join (logged once); nil when none
}

var _ Adapter = (*LocalAdapter)(nil)

// NewLocalAdapter is the default AdapterFactory.
func NewLocalAdapter(n *Namespace) Adapter { return NewLocal(n) }

// NewLocal returns the in-memory adapter of n, for cluster adapters.
func NewLocal(n *Namespace) *LocalAdapter {
	a := &LocalAdapter{nsp: n, rooms: make(map[Room]map[string]struct{}), sids: make(map[string]*sockRooms)}
	if o := n.srv.opts.ConnectionStateRecovery; o != nil {
		a.recovery = newRecoveryStore(o)
	}
	return a
}

var _ SessionStore = (*LocalAdapter)(nil)

// PersistSession keeps a disconnected socket's state for recovery.
func (a *LocalAdapter) PersistSession(ctx context.Context, s PersistedSession) {
	if a.recovery != nil {
		a.recovery.PersistSession(s)
	}
}

// RestoreSession returns a persisted session and the events it missed.
func (a *LocalAdapter) RestoreSession(ctx context.Context, pid, offset string) (*RecoveredSession, bool) {
	if a.recovery == nil {
		return nil, false
	}
	return a.recovery.RestoreSession(pid, offset)
}

// Namespace returns the adapter's namespace.
func (a *LocalAdapter) Namespace() *Namespace { return a.nsp }

// Join adds socket id to rooms. A join that would put the socket in more
// than Options.MaxRoomsPerSocket rooms is refused as a whole, and logged
// (once per socket).
func (a *LocalAdapter) Join(id string, rooms ...Room) {
	obs := a.nsp.srv.observers()
	var added []Room
	a.mu.Lock()
	if warn, err := a.checkJoinLocked(id, rooms); err != nil {
		a.mu.Unlock()
		warn()
		return
	}
	mine := a.sids[id]
	if mine == nil {
		mine = new(sockRooms)
		a.sids[id] = mine
	}
	for _, r := range rooms {
		if mine.add(id, r) && obs != nil {
			added = append(added, r)
		}
		if r == Room(id) {
			continue
		}
		members := a.rooms[r]
		if members == nil {
			members = make(map[string]struct{})
			a.rooms[r] = members
		}
		members[id] = struct{}{}
	}
	a.mu.Unlock()
	if len(added) > 0 {
		for _, o := range obs {
			if o.RoomsJoined != nil {
				o.RoomsJoined(a.nsp, id, added)
			}
		}
	}
}

// checkJoin returns ErrTooManyRooms, and logs it once per socket, when
// joining rooms would put socket id in more than Options.MaxRoomsPerSocket
// rooms.
func (a *LocalAdapter) checkJoin(id string, rooms []Room) error {
	a.mu.Lock()
	warn, err := a.checkJoinLocked(id, rooms)
	a.mu.Unlock()
	if err != nil {
		warn()
	}
	return err
}

// checkJoinLocked is checkJoin with a.mu held; when it refuses, the
// caller calls warn after releasing a.mu.
func (a *LocalAdapter) checkJoinLocked(id string, rooms []Room) (warn func(), err error) {
	limit := a.nsp.srv.maxRooms
	mine := a.sids[id]
	have := mine.count()
	fresh := countNew(mine, id, rooms)
	if have+fresh <= limit {
		return nil, nil
	}
	warn = func() {}
	if _, warned := a.warned[id]; !warned {
		if a.warned == nil {
			a.warned = make(map[string]struct{})
		}
		a.warned[id] = struct{}{}
		warn = func() {
			a.nsp.srv.log.Warn("socketio: join refused, the socket would be in too many rooms",
				"id", id, "nsp", a.nsp.name, "rooms", have, "joining", fresh, "max_rooms_per_socket", limit)
		}
	}
	return warn, ErrTooManyRooms
}

// countNew returns how many distinct rooms of rooms socket id, whose rooms
// are mine (nil when none), is not in.
func countNew(mine *sockRooms, id string, rooms []Room) int {
	n := 0
	for i, r := range rooms {
		if mine.has(id, r) || slices.Contains(rooms[:i], r) {
			continue
		}
		n++
	}
	return n
}

func (a *LocalAdapter) Leave(id string, rooms ...Room) {
	var left []Room
	a.mu.Lock()
	for _, r := range rooms {
		if a.leaveLocked(id, r) {
			left = append(left, r)
		}
	}
	a.mu.Unlock()
	a.notifyLeft(id, left)
}

// leaveLocked removes id from r and reports whether it was in it.
func (a *LocalAdapter) leaveLocked(id string, r Room) bool {
	was := a.sids[id].remove(id, r)
	if r != Room(id) {
		a.dropMemberLocked(id, r)
	}
	return was
}

// dropMemberLocked takes id out of the members of r, forgetting r when it
// is left empty.
func (a *LocalAdapter) dropMemberLocked(id string, r Room) {
	if members := a.rooms[r]; members != nil {
		delete(members, id)
		if len(members) == 0 {
			delete(a.rooms, r)
		}
	}
}

func (a *LocalAdapter) LeaveAll(id string) {
	obs := a.nsp.srv.observers()
	a.mu.Lock()
	mine := a.sids[id]
	var left []Room
	if obs != nil {
		left = mine.list(id) // the socket's own room first, as Node reports it
	}
	mine.others(func(r Room) { a.dropMemberLocked(id, r) })
	delete(a.sids, id)
	delete(a.warned, id)
	a.mu.Unlock()
	if obs == nil {
		return
	}
	if len(left) > 1 {
		rest := left[1:]
		if left[0] != Room(id) {
			rest = left
		}
		slices.Sort(rest)
	}
	a.notifyLeft(id, left)
}

func (a *LocalAdapter) notifyLeft(id string, left []Room) {
	if len(left) == 0 {
		return
	}
	for _, o := range a.nsp.srv.observers() {
		if o.RoomsLeft != nil {
			o.RoomsLeft(a.nsp, id, left)
		}
	}
}

// SocketRooms returns the rooms of socket id, its own room first.
func (a *LocalAdapter) SocketRooms(id string) []Room {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.sids[id].list(id)
}

// HasRoom reports whether room r has members on this server.
func (a *LocalAdapter) HasRoom(r Room) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.rooms[r]) > 0 || a.ownedLocked(r)
}

// ownedLocked reports whether r is the own room of a local socket that
// is in it.
func (a *LocalAdapter) ownedLocked(r Room) bool {
	m := a.sids[string(r)]
	return m != nil && m.own
}

// Rooms returns the rooms that have members on this server.
func (a *LocalAdapter) Rooms() []Room {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]Room, 0, len(a.rooms)+len(a.sids))
	for r := range a.rooms {
		out = append(out, r)
	}
	for id, m := range a.sids {
		if _, dup := a.rooms[Room(id)]; m.own && !dup {
			out = append(out, Room(id))
		}
	}
	return out
}

// each calls f for every local socket id opts selects, under the read
// lock: f must not block nor call the adapter.
func (a *LocalAdapter) each(opts BroadcastOptions, f func(id string)) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	// The excluded sockets: the members of the Except rooms, and the
	// sockets whose own room is one of them.
	var except map[string]struct{}
	var exceptOwn string // the one socket excluded by its own room, when only one is
	switch len(opts.Except) {
	case 0:
	case 1:
		r := opts.Except[0]
		except = a.rooms[r]
		if a.ownedLocked(r) {
			exceptOwn = string(r)
		}
	default:
		except = make(map[string]struct{})
		for _, r := range opts.Except {
			for id := range a.rooms[r] {
				except[id] = struct{}{}
			}
			if a.ownedLocked(r) {
				except[string(r)] = struct{}{}
			}
		}
	}
	visit := func(id string) {
		if _, skip := except[id]; !skip && (exceptOwn == "" || id != exceptOwn) {
			f(id)
		}
	}
	switch len(opts.Rooms) {
	case 0:
		for id := range a.sids {
			visit(id)
		}
	case 1:
		r := opts.Rooms[0]
		if a.ownedLocked(r) {
			visit(string(r))
		}
		for id := range a.rooms[r] {
			visit(id)
		}
	default:
		seen := make(map[string]struct{})
		once := func(id string) {
			if _, dup := seen[id]; !dup {
				seen[id] = struct{}{}
				visit(id)
			}
		}
		for _, r := range opts.Rooms {
			if a.ownedLocked(r) {
				once(string(r))
			}
			for id := range a.rooms[r] {
				once(id)
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
	if opts.NoCompress {
		uncompressed(msgs)
	}
	// Outgoing handlers run for each recipient that has some, as in Node.
	watch := a.nsp.outgoing.Load() > 0
	var out outgoingArgs
	if acks != nil {
		socks := a.sockets(opts)
		acks.ClientCount(len(socks))
		a.notifySent(p, msgs, len(socks), socks)
		for _, s := range socks {
			s.expectAck(p.ID, acks.Ack)
			if watch {
				s.notifyOutgoing(p, &out)
			}
			s.c.sess.Send(msgs...)
		}
		return nil
	}
	// The recipients are collected under the locks and sent to after:
	// Send may write to the socket at once (engineio.Session.Send), which
	// must not hold up joins and connections meanwhile.
	sp := recipientPool.Get().(*[]*engineio.Session)
	to := (*sp)[:0]
	var notify []*Socket
	obs := a.nsp.srv.observers()
	var socks []*Socket // only for EventSent observers
	perSocket := wantEventSent(obs)
	a.nsp.mu.RLock()
	a.each(opts, func(id string) {
		if s := a.nsp.sockets[id]; s != nil {
			to = append(to, s.c.sess)
			if watch && s.hasOutgoing() {
				notify = append(notify, s)
			}
			if perSocket {
				socks = append(socks, s)
			}
		}
	})
	a.nsp.mu.RUnlock()
	for _, s := range notify {
		s.notifyOutgoing(p, &out)
	}
	a.notifySent(p, msgs, len(to), socks)
	fanOut(to, msgs, opts.Volatile)
	if cap(to) <= 1<<16 {
		clear(to)
		*sp = to[:0]
		recipientPool.Put(sp)
	}
	return nil
}

// wantEventSent reports whether an observer wants EventSent calls.
func wantEventSent(obs []*Observer) bool {
	for _, o := range obs {
		if o.EventSent != nil {
			return true
		}
	}
	return false
}

// notifySent tells the observers that p goes to n connections, socks
// when an observer wants them one by one.
func (a *LocalAdapter) notifySent(p *Packet, msgs []engineio.Message, n int, socks []*Socket) {
	for _, o := range a.nsp.srv.observers() {
		if o.Broadcast != nil {
			o.Broadcast(a.nsp, n)
		}
		if o.MessagesOut != nil && n > 0 {
			o.MessagesOut(n, msgs)
		}
		if o.EventSent != nil && (p.Type == PacketEvent || p.Type == PacketBinaryEvent) {
			for _, s := range socks {
				o.EventSent(s, p)
			}
		}
	}
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
		out[i] = SocketInfo{ID: s.id, Handshake: s.Handshake(), Rooms: s.Rooms(), Data: s.Data()}
	}
	return out, nil
}

// ServerSideEmit does nothing: there is no other server.
func (a *LocalAdapter) ServerSideEmit(ctx context.Context, event string, args []any, ack func(Args)) error {
	return nil
}

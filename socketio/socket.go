package socketio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/engineio"
)

// Disconnect reasons, as Node names them. Engine-level reasons ("transport
// close", "ping timeout", "transport error", "parse error") pass through.
const (
	ReasonServerDisconnect = "server namespace disconnect" // Socket.Disconnect
	ReasonClientDisconnect = "client namespace disconnect" // the client left the namespace
	ReasonShutdown         = "server shutting down"
	ReasonForcedClose      = "forced close"
)

// Room is the name of a group of sockets of one namespace. Every socket is
// in the room named after its id.
type Room string

// EventHandler handles an event a client sent. It runs on the client's
// dispatch queue: events of one client are handled one at a time, in
// order, so a handler that blocks delays that client's next events (and
// only them). Start a goroutine for slow work.
type EventHandler func(s *Socket, e *Event)

// Event is an event received from a client.
type Event struct {
	Name string
	Args
	sock  *Socket
	id    int64
	ack   bool
	acked atomic.Bool
}

// WantsAck reports whether the client asked for an acknowledgement.
func (e *Event) WantsAck() bool { return e.ack }

// Ack sends the acknowledgement the client asked for, with args. It does
// nothing when no ack was asked for or one was already sent (by this or
// another handler of the event). It may be called after the handler has
// returned, from another goroutine (a slow reply computed in the
// background).
func (e *Event) Ack(args ...any) error {
	if !e.ack || !e.acked.CompareAndSwap(false, true) {
		return nil
	}
	data, atts, err := encodeArray(args)
	if err != nil {
		return err
	}
	return e.sock.c.send(&Packet{Type: PacketAck, Namespace: e.sock.nsp.name, ID: e.id, HasID: true, Data: data, Attachments: atts})
}

// Socket is a client's connection to one namespace.
//
// Concurrency: all methods may be called from any goroutine. Event
// handlers of one socket run one at a time (see EventHandler).
type Socket struct {
	id  string
	pid string // private id for connection state recovery
	nsp *Namespace
	c   *client
	// The handshake, built by the first Handshake call from the
	// Engine.IO session's request, the CONNECT's auth payload ("" for
	// {}) and its time (Unix ns).
	hs     atomic.Pointer[Handshake]
	auth   string
	hsTime int64

	mu        sync.Mutex
	recovered bool // set before the socket is shared
	connected bool
	closed    bool
	// cancelled: the socket is disconnected (cancel was called, or a
	// context made from now on starts cancelled).
	cancelled    bool
	outgoing     atomic.Int32  // len(x.anyOut), read without mu
	handlers     []eventEntry  // see listenersLocked; each list copy-on-write, as the others
	x            *socketExtras // nil until one of its lists is used
	onDisconnect []func(*Socket, string)
	acks         map[int64]func(Args)
	data         any
	// The socket's context, made by the first Context call: an idle
	// socket keeps none.
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// socketExtras holds the socket's less common handler lists, so that a
// socket without them does not carry their room. Guarded by Socket.mu;
// once made it stays.
type socketExtras struct {
	handlers        map[string][]*listener // the event handlers, once there are more than fewEvents names
	anyIn           []*listener
	anyOut          []*listener
	middleware      []EventMiddleware
	onError         []*errorListener
	onDisconnecting []func(*Socket, string)
}

// extrasLocked returns s.x, made if needed. s.mu is held.
func (s *Socket) extrasLocked() *socketExtras {
	if s.x == nil {
		s.x = new(socketExtras)
	}
	return s.x
}

func newSocket(n *Namespace, c *client, auth string, at time.Time) *Socket {
	s := &Socket{nsp: n, c: c, auth: auth, hsTime: at.UnixNano()}
	if c.protocol == 4 {
		// As Node does for EIO3 clients: the engine id, prefixed by the
		// namespace outside "/".
		s.id = c.sess.ID()
		if n.name != "/" {
			s.id = n.name + "#" + s.id
		}
	} else {
		var raw [15]byte
		rand.Read(raw[:])
		s.id = base64.RawURLEncoding.EncodeToString(raw[:])
	}
	if n.srv.opts.ConnectionStateRecovery != nil {
		var raw [15]byte
		rand.Read(raw[:])
		s.pid = base64.RawURLEncoding.EncodeToString(raw[:])
	}
	return s
}

// Recovered reports whether the socket was restored by connection state
// recovery: same id, rooms and data as before the client lost its
// connection, and the events it missed were sent again.
func (s *Socket) Recovered() bool { return s.recovered }

// ID returns the socket id.
func (s *Socket) ID() string { return s.id }

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Handshake returns what the client presented when it connected. It is
// built on the first call (an idle socket does not keep it), and the same
// value is returned after.
func (s *Socket) Handshake() *Handshake {
	if hs := s.hs.Load(); hs != nil {
		return hs
	}
	hs := s.c.handshake(s.auth, time.Unix(0, s.hsTime))
	if !s.hs.CompareAndSwap(nil, hs) {
		hs = s.hs.Load()
	}
	return hs
}

// Context returns a context cancelled when the socket disconnects (or its
// connection closes, the cause then being the engine's *CloseError).
func (s *Socket) Context() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancelCause(s.c.sess.Context())
		if s.cancelled {
			s.cancel(ErrDisconnected)
		}
	}
	return s.ctx
}

// cancelContext cancels the socket's context, if made, with
// ErrDisconnected; a context made later starts cancelled.
func (s *Socket) cancelContext() {
	s.mu.Lock()
	s.cancelled = true
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel(ErrDisconnected)
	}
}

// Connected reports whether the socket is connected.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected && !s.closed
}

// Session returns the Engine.IO session carrying the socket.
func (s *Socket) Session() *engineio.Session { return s.c.sess }

// Data returns the value set by SetData (what Node calls socket.data).
func (s *Socket) Data() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// SetData attaches an application value to the socket. It should encode
// to JSON if other servers are to see it through FetchSockets.
func (s *Socket) SetData(v any) {
	s.mu.Lock()
	s.data = v
	s.mu.Unlock()
}

// OnDisconnecting adds a handler called when the socket is about to
// disconnect, while it is still in its rooms.
func (s *Socket) OnDisconnecting(h func(s *Socket, reason string)) {
	s.mu.Lock()
	x := s.extrasLocked()
	x.onDisconnecting = append(x.onDisconnecting, h)
	s.mu.Unlock()
}

// OnDisconnect adds a handler called once the socket has disconnected.
func (s *Socket) OnDisconnect(h func(s *Socket, reason string)) {
	s.mu.Lock()
	s.onDisconnect = append(s.onDisconnect, h)
	s.mu.Unlock()
}

// Emit sends an event to this client. It never blocks; it returns
// ErrDisconnected once the socket is gone.
func (s *Socket) Emit(event string, args ...any) error {
	return s.emit(event, args, emitFlags{})
}

// EmitVolatile sends an event that is dropped if the client cannot take it
// at once.
func (s *Socket) EmitVolatile(event string, args ...any) error {
	return s.emit(event, args, emitFlags{volatile: true})
}

func (s *Socket) emit(event string, args []any, f emitFlags) error {
	if !s.Connected() {
		return ErrDisconnected
	}
	data, atts, err := encodeEvent(event, args)
	if err != nil {
		return err
	}
	p := &Packet{Type: PacketEvent, Namespace: s.nsp.name, Data: data, Attachments: atts}
	if s.pid != "" && !f.volatile {
		// Through the adapter, which stamps and keeps it for recovery
		// (and runs the outgoing handlers and tells the observers).
		return s.nsp.adapter.Broadcast(context.Background(), p, BroadcastOptions{Rooms: []Room{Room(s.id)}, NoCompress: f.noCompress}, nil)
	}
	return s.sendEvent(p, f)
}

// sendEvent sends the EVENT packet p to this client directly (not through
// the adapter): the outgoing handlers and the observers see it first.
func (s *Socket) sendEvent(p *Packet, f emitFlags) error {
	if s.hasOutgoing() {
		s.notifyOutgoing(p, &outgoingArgs{})
	}
	obs := s.nsp.srv.observers()
	for _, o := range obs {
		if o.EventSent != nil {
			o.EventSent(s, p)
		}
	}
	var buf [4]engineio.Message
	msgs := s.c.srv.parser.Encode(buf[:0], p)
	if f.noCompress {
		uncompressed(msgs)
	}
	for _, o := range obs {
		if o.MessagesOut != nil {
			o.MessagesOut(1, msgs)
		}
	}
	if f.volatile {
		s.c.sess.SendVolatile(msgs...)
		return nil
	}
	if err := s.c.sess.Send(msgs...); err != nil {
		return ErrDisconnected
	}
	return nil
}

// uncompressed marks msgs as never to be compressed.
func uncompressed(msgs []engineio.Message) {
	for i := range msgs {
		msgs[i].NoCompress = true
	}
}

// EmitWithAck sends an event and waits for the client's acknowledgement,
// until ctx ends (Options.AckTimeout bounds contexts without deadline).
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	return s.emitWithAck(ctx, event, args, emitFlags{})
}

func (s *Socket) emitWithAck(ctx context.Context, event string, args []any, f emitFlags) (Args, error) {
	if !s.Connected() {
		return Args{}, ErrDisconnected
	}
	data, atts, err := encodeEvent(event, args)
	if err != nil {
		return Args{}, err
	}
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	ctx, cancel := s.c.srv.ackContext(ctx)
	defer cancel()
	ch := make(chan Args, 1)
	id := s.nsp.nextAckID()
	s.mu.Lock()
	if s.acks == nil {
		s.acks = make(map[int64]func(Args))
	}
	s.acks[id] = func(a Args) { ch <- a }
	s.mu.Unlock()
	defer s.dropAck(id)
	defer s.nsp.srv.ackWaiting()()
	if err := s.sendEvent(&Packet{Type: PacketEvent, Namespace: s.nsp.name, ID: id, HasID: true, Data: data, Attachments: atts}, emitFlags{noCompress: f.noCompress}); err != nil {
		return Args{}, ErrDisconnected
	}
	select {
	case a := <-ch:
		return a, nil
	case <-ctx.Done():
		if ctx.Err() == context.DeadlineExceeded {
			s.c.srv.ackTimedOut()
			return Args{}, ErrAckTimeout
		}
		return Args{}, ctx.Err()
	case <-s.Context().Done():
		return Args{}, ErrDisconnected
	}
}

// expectAck registers f for the ack id of a broadcast.
func (s *Socket) expectAck(id int64, f func(Args)) {
	s.mu.Lock()
	if s.acks == nil {
		s.acks = make(map[int64]func(Args))
	}
	s.acks[id] = f
	s.mu.Unlock()
}

func (s *Socket) dropAck(id int64) {
	s.mu.Lock()
	delete(s.acks, id)
	s.mu.Unlock()
}

func (srv *Server) ackContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); !ok && srv.opts.AckTimeout > 0 {
		return context.WithTimeout(ctx, srv.opts.AckTimeout)
	}
	return context.WithCancel(ctx)
}

// Join adds the socket to rooms. It returns ErrTooManyRooms, joining none
// of them, when the socket would be in more than Options.MaxRoomsPerSocket
// rooms (its own id room included); the refusal is also logged.
func (s *Socket) Join(rooms ...Room) error {
	if c, ok := joinCheckerOf(s.nsp.adapter); ok {
		if err := c.checkJoin(s.id, rooms); err != nil {
			return err
		}
	}
	s.nsp.adapter.Join(s.id, rooms...)
	return nil
}

// Leave removes the socket from rooms.
func (s *Socket) Leave(rooms ...Room) { s.nsp.adapter.Leave(s.id, rooms...) }

// Rooms returns the rooms the socket is in, its own id room included.
func (s *Socket) Rooms() []Room { return s.nsp.adapter.SocketRooms(s.id) }

// To returns an operator broadcasting to rooms, except this socket.
func (s *Socket) To(rooms ...Room) BroadcastOperator {
	return s.Broadcast().To(rooms...)
}

// In is To.
func (s *Socket) In(rooms ...Room) BroadcastOperator { return s.To(rooms...) }

// Except returns an operator broadcasting to every socket of the namespace
// but this one and those in rooms.
func (s *Socket) Except(rooms ...Room) BroadcastOperator { return s.Broadcast().Except(rooms...) }

// Broadcast returns an operator broadcasting to every socket of the
// namespace but this one.
func (s *Socket) Broadcast() BroadcastOperator { return s.nsp.operator().Except(Room(s.id)) }

// Disconnect disconnects the socket from its namespace (the client is told
// with a DISCONNECT packet). With close, the whole connection is closed,
// disconnecting the client from every namespace.
//
// The disconnection runs on the client's dispatch queue, ahead of the
// packets waiting there: if an event handler of the client is running
// (this one, or another goroutine's), the disconnecting and disconnect
// handlers run after it returns, never concurrently with it, and events
// still queued are dropped. Disconnect itself never waits for it.
func (s *Socket) Disconnect(close bool) {
	if close {
		s.c.disconnectAll()
		return
	}
	if !s.Connected() {
		return
	}
	s.c.enqueueNext(s.disconnectNow)
}

// disconnectNow disconnects the socket; it runs on the dispatch queue.
func (s *Socket) disconnectNow() {
	if !s.Connected() {
		return
	}
	s.c.send(&Packet{Type: PacketDisconnect, Namespace: s.nsp.name})
	s.onClose(ReasonServerDisconnect)
}

// onPacket handles a packet for this socket; it runs on the dispatch queue.
func (s *Socket) onPacket(p *Packet) {
	switch p.Type {
	case PacketEvent, PacketBinaryEvent:
		name, args, err := argsOf(p, true)
		if err != nil {
			s.c.violation("bad event", err)
			return
		}
		s.dispatch(&Event{Name: name, Args: args, sock: s, id: p.ID, ack: p.HasID})
	case PacketAck, PacketBinaryAck:
		_, args, err := argsOf(p, false)
		if err != nil {
			s.c.violation("bad ack", err)
			return
		}
		s.mu.Lock()
		f := s.acks[p.ID]
		delete(s.acks, p.ID)
		s.mu.Unlock()
		if f != nil {
			f(args)
		}
	case PacketDisconnect:
		s.onClose(ReasonClientDisconnect)
	}
}

// onClose disconnects the socket once: disconnecting handlers, rooms left,
// then disconnect handlers.
func (s *Socket) onClose(reason string) {
	s.mu.Lock()
	if s.closed || !s.connected {
		s.closed = true
		s.mu.Unlock()
		return
	}
	s.closed = true
	var before []func(*Socket, string)
	if s.x != nil {
		before = s.x.onDisconnecting
	}
	s.mu.Unlock()
	for _, h := range before {
		h(s, reason)
	}
	for _, o := range s.nsp.srv.observers() {
		if o.SocketDisconnected != nil {
			o.SocketDisconnected(s, reason)
		}
	}
	if st, ok := sessionStoreOf(s.nsp.adapter); ok && s.pid != "" && recoverableReasons[reason] {
		st.PersistSession(context.Background(), PersistedSession{SID: s.id, PID: s.pid, Rooms: s.Rooms(), Data: s.Data()})
	}
	s.nsp.adapter.LeaveAll(s.id)
	s.nsp.remove(s)
	s.c.removeSocket(s.nsp.name, s)
	s.cancelContext()
	s.mu.Lock()
	after := s.onDisconnect
	s.acks = nil
	if s.x != nil {
		s.countOutgoingLocked(-len(s.x.anyOut))
		s.x.anyOut = nil
	}
	s.mu.Unlock()
	for _, h := range after {
		h(s, reason)
	}
	s.c.srv.log.Debug("socketio: socket disconnected", "id", s.id, "nsp", s.nsp.name, "reason", reason)
}

package socketio

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Middleware runs when a client connects to a namespace, before the
// connection handlers, with the socket not yet connected. Returning an
// error refuses the connection: the client gets a "connect_error" whose
// message is the error's text, or a *ConnectError's Message and Data.
// Middleware may block (a database lookup, say); later packets of the same
// client wait for it.
type Middleware func(s *Socket) error

// Handshake is what a client presented when it connected to a namespace.
// It must not be modified.
type Handshake struct {
	Header  http.Header     // headers of the Engine.IO handshake request
	Query   url.Values      // its query parameters
	Auth    json.RawMessage // the CONNECT payload (v5) or the namespace query (v4) as a JSON object; {} when absent
	Address string          // the client's IP address
	Time    time.Time       // when the namespace connection was requested
	Secure  bool            // whether the handshake came over TLS
	XDomain bool            // whether the handshake carried an Origin header
	URL     string          // the handshake request URI
	Request *http.Request   // the Engine.IO handshake request (no body)
}

// Issued returns Time in milliseconds since the Unix epoch (Node:
// handshake.issued).
func (h *Handshake) Issued() int64 { return h.Time.UnixMilli() }

// DecodeAuth decodes the auth payload into dst, as json.Unmarshal.
func (h *Handshake) DecodeAuth(dst any) error { return json.Unmarshal(h.Auth, dst) }

// Namespace is a Socket.IO namespace: a set of sockets with their own
// middleware, handlers, rooms and adapter.
//
// Concurrency: all methods may be called concurrently. Register middleware
// and handlers before clients connect.
type Namespace struct {
	srv     *Server
	name    string
	parent  *ParentNamespace
	adapter Adapter

	mu           sync.RWMutex
	middleware   []Middleware
	onConnection []func(*Socket)
	sockets      map[string]*Socket
	serverEvents map[string]ServerEventHandler
	nextAck      atomic.Int64
	outgoing     atomic.Int64 // OnAnyOutgoing handlers of its sockets
	joining      int          // connections between lookup and connect (with cleanup)
	removed      bool         // taken out of the server, empty (with cleanup)
}

func newNamespace(s *Server, name string, parent *ParentNamespace) *Namespace {
	n := &Namespace{srv: s, name: name, parent: parent, sockets: make(map[string]*Socket)}
	n.adapter = s.adapter(n)
	return n
}

// Name returns the namespace name, such as "/" or "/chat".
func (n *Namespace) Name() string { return n.name }

// Server returns the server the namespace belongs to.
func (n *Namespace) Server() *Server { return n.srv }

// Adapter returns the namespace's adapter.
func (n *Namespace) Adapter() Adapter { return n.adapter }

// Use adds a connection middleware; they run in the order added.
func (n *Namespace) Use(m Middleware) {
	n.mu.Lock()
	n.middleware = append(n.middleware, m)
	n.mu.Unlock()
}

// OnConnection adds a handler called for each socket that connects, after
// the client got its CONNECT reply. Register the socket's event handlers
// there.
func (n *Namespace) OnConnection(h func(*Socket)) {
	n.mu.Lock()
	n.onConnection = append(n.onConnection, h)
	n.mu.Unlock()
}

func (n *Namespace) runMiddleware(s *Socket) error {
	var mws []Middleware
	if n.parent != nil {
		n.parent.mu.RLock()
		mws = append(mws, n.parent.middleware...)
		n.parent.mu.RUnlock()
	}
	n.mu.RLock()
	mws = append(mws, n.middleware...)
	n.mu.RUnlock()
	for _, m := range mws {
		if err := m(s); err != nil {
			return err
		}
	}
	return nil
}

// connect makes s a member of the namespace, replies to the client and
// calls the connection handlers.
func (n *Namespace) connect(s *Socket, missed []StoredPacket) {
	n.mu.Lock()
	n.sockets[s.id] = s
	if n.cleans() {
		n.joining--
	}
	handlers := n.onConnection
	n.mu.Unlock()
	n.adapter.Join(s.id, Room(s.id))
	s.mu.Lock()
	s.connected = true
	s.mu.Unlock()
	var data []byte
	if s.c.protocol == 5 {
		data = append([]byte(`{"sid":`), jsonString(s.id)...)
		if s.pid != "" {
			data = append(append(data, `,"pid":`...), jsonString(s.pid)...)
		}
		data = append(data, '}')
	}
	s.c.send(&Packet{Type: PacketConnect, Namespace: n.name, Data: data})
	for _, p := range missed {
		s.c.send(&Packet{Type: PacketEvent, Namespace: n.name, Data: p.Data, Attachments: p.Attachments})
	}
	for _, o := range n.srv.observers() {
		if o.SocketConnected != nil {
			o.SocketConnected(s)
		}
	}
	if n.parent != nil {
		n.parent.mu.RLock()
		handlers = append(append([]func(*Socket){}, n.parent.onConnection...), handlers...)
		n.parent.mu.RUnlock()
	}
	for _, h := range handlers {
		h(s)
	}
}

func (n *Namespace) remove(s *Socket) {
	n.mu.Lock()
	if n.sockets[s.id] == s {
		delete(n.sockets, s.id)
	}
	n.mu.Unlock()
	n.cleanupIfEmpty()
}

// cleans reports whether n is removed from the server when empty.
func (n *Namespace) cleans() bool { return n.parent != nil && n.srv.opts.CleanupEmptyChildNamespaces }

// hold counts a connection in progress, from the lookup of n to connect
// or release, so that n is not removed meanwhile. It fails when n was
// already removed: the caller looks the name up again.
func (n *Namespace) hold() bool {
	if !n.cleans() {
		return true
	}
	n.srv.mu.RLock()
	defer n.srv.mu.RUnlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.removed {
		return false
	}
	n.joining++
	return true
}

// release ends a hold whose connection was refused.
func (n *Namespace) release() {
	if !n.cleans() {
		return
	}
	n.mu.Lock()
	n.joining--
	n.mu.Unlock()
	n.cleanupIfEmpty()
}

// cleanupIfEmpty removes a child namespace that has neither sockets nor
// connections in progress from the server and its parent, and closes its
// adapter, with CleanupEmptyChildNamespaces. The server's map and the
// namespace are changed together (Server.mu, then Namespace.mu), so that a
// hold either comes first and keeps n, or finds n removed and gone from
// the map.
func (n *Namespace) cleanupIfEmpty() {
	if !n.cleans() {
		return
	}
	n.mu.RLock()
	empty := len(n.sockets) == 0 && n.joining == 0 && !n.removed
	n.mu.RUnlock()
	if !empty {
		return
	}
	n.srv.mu.Lock()
	n.mu.Lock()
	empty = len(n.sockets) == 0 && n.joining == 0 && !n.removed
	if empty {
		n.removed = true
		if n.srv.nsps[n.name] == n {
			delete(n.srv.nsps, n.name)
		}
	}
	n.mu.Unlock()
	n.srv.mu.Unlock()
	if !empty {
		return
	}
	n.parent.removeChild(n)
	if c, ok := n.adapter.(interface{ Close() error }); ok {
		if err := c.Close(); err != nil {
			n.srv.log.Warn("socketio: closing the adapter of an empty namespace", "nsp", n.name, "err", err)
		}
	}
	n.srv.log.Debug("socketio: empty child namespace removed", "nsp", n.name)
}

// lookupHeld is lookup followed by a hold on the namespace found.
func (s *Server) lookupHeld(name string, hs func() *Handshake) *Namespace {
	for {
		n := s.lookup(name, hs)
		if n == nil || n.hold() {
			return n
		}
	}
}

// Socket returns the local socket with the given id, or nil.
func (n *Namespace) Socket(id string) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.sockets[id]
}

// SocketCount returns the number of sockets connected to this namespace
// on this server.
func (n *Namespace) SocketCount() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sockets)
}

// nextAckID returns a new acknowledgement id. One counter per namespace
// serves every emit that waits for acks, from a socket or a broadcast, as
// in Node, so that a socket never has two waiters under one id; adapters
// that send acked broadcasts for other servers take their ids here too
// (ClusterHost).
func (n *Namespace) nextAckID() int64 { return n.nextAck.Add(1) - 1 }

func (n *Namespace) operator() BroadcastOperator { return BroadcastOperator{nsp: n} }

// To returns an operator broadcasting to the sockets in any of rooms.
func (n *Namespace) To(rooms ...Room) BroadcastOperator { return n.operator().To(rooms...) }

// In is To.
func (n *Namespace) In(rooms ...Room) BroadcastOperator { return n.To(rooms...) }

// Except returns an operator broadcasting to every socket but those in rooms.
func (n *Namespace) Except(rooms ...Room) BroadcastOperator { return n.operator().Except(rooms...) }

// Volatile returns an operator whose events may be dropped for clients not
// ready to receive them.
func (n *Namespace) Volatile() BroadcastOperator { return n.operator().Volatile() }

// Compress returns an operator whose events may be compressed (the
// default) or, with false, never are (Node: namespace.compress(false)).
func (n *Namespace) Compress(compress bool) BroadcastOperator {
	return n.operator().Compress(compress)
}

// Local returns an operator limited to this server's sockets.
func (n *Namespace) Local() BroadcastOperator { return n.operator().Local() }

// Timeout returns an operator whose EmitWithAck waits at most d.
func (n *Namespace) Timeout(d time.Duration) BroadcastOperator { return n.operator().Timeout(d) }

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error { return n.operator().Emit(event, args...) }

// EmitWithAck sends an event to every socket and gathers their acks.
func (n *Namespace) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	return n.operator().EmitWithAck(ctx, event, args...)
}

// SocketsJoin makes every socket of the namespace join rooms.
func (n *Namespace) SocketsJoin(ctx context.Context, rooms ...Room) error {
	return n.operator().SocketsJoin(ctx, rooms...)
}

// SocketsLeave makes every socket of the namespace leave rooms.
func (n *Namespace) SocketsLeave(ctx context.Context, rooms ...Room) error {
	return n.operator().SocketsLeave(ctx, rooms...)
}

// DisconnectSockets disconnects every socket of the namespace.
func (n *Namespace) DisconnectSockets(ctx context.Context, close bool) error {
	return n.operator().DisconnectSockets(ctx, close)
}

// FetchSockets returns every socket of the namespace, on every server.
func (n *Namespace) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	return n.operator().FetchSockets(ctx)
}

// ServerEventHandler handles an event sent by another server with
// ServerSideEmit; ack is nil unless the sender asked for one.
type ServerEventHandler func(args Args, ack func(args ...any))

// OnServerSideEmit handles the events other servers of the cluster send
// with ServerSideEmit.
func (n *Namespace) OnServerSideEmit(event string, h ServerEventHandler) {
	n.mu.Lock()
	if n.serverEvents == nil {
		n.serverEvents = make(map[string]ServerEventHandler)
	}
	n.serverEvents[event] = h
	n.mu.Unlock()
}

// ServerSideEmit sends an event to the other servers of the cluster (not
// to clients, not to this server). With the local adapter there are none.
func (n *Namespace) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	return n.adapter.ServerSideEmit(ctx, event, args, nil)
}

// ServerSideEmitWithAck is ServerSideEmit gathering one ack per server.
func (n *Namespace) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	var (
		mu   sync.Mutex
		acks []Args
	)
	err := n.adapter.ServerSideEmit(ctx, event, args, func(a Args) {
		mu.Lock()
		acks = append(acks, a)
		mu.Unlock()
	})
	mu.Lock()
	defer mu.Unlock()
	return acks, err
}

// handleServerSideEmit runs the server-side handler of an event another
// server sent (ClusterHost). ack is nil when no ack is wanted.
func (n *Namespace) handleServerSideEmit(event string, args Args, ack func(args ...any)) {
	n.mu.RLock()
	h := n.serverEvents[event]
	n.mu.RUnlock()
	if h != nil {
		h(args, ack)
	}
}

// ParentNamespace is the template of dynamic namespaces (Server.OfMatch):
// its middleware and connection handlers apply to every child namespace it
// creates, before the child's own, and its broadcasts reach every child.
type ParentNamespace struct {
	srv   *Server
	match NamespaceMatcher

	mu           sync.RWMutex
	middleware   []Middleware
	onConnection []func(*Socket)
	childMu      sync.RWMutex
	children     []*Namespace
}

// Use adds a middleware run for connections to every child namespace.
func (p *ParentNamespace) Use(m Middleware) {
	p.mu.Lock()
	p.middleware = append(p.middleware, m)
	p.mu.Unlock()
}

// OnConnection adds a connection handler for every child namespace.
func (p *ParentNamespace) OnConnection(h func(*Socket)) {
	p.mu.Lock()
	p.onConnection = append(p.onConnection, h)
	p.mu.Unlock()
}

func (p *ParentNamespace) addChild(n *Namespace) {
	p.childMu.Lock()
	p.children = append(p.children, n)
	p.childMu.Unlock()
}

func (p *ParentNamespace) removeChild(n *Namespace) {
	p.childMu.Lock()
	p.children = without(p.children, n)
	p.childMu.Unlock()
}

// Children returns the child namespaces of p (those created from it so
// far, less those removed by Options.CleanupEmptyChildNamespaces).
func (p *ParentNamespace) Children() []*Namespace {
	p.childMu.RLock()
	defer p.childMu.RUnlock()
	return append([]*Namespace(nil), p.children...)
}

// Emit sends an event to every socket of every child namespace.
func (p *ParentNamespace) Emit(event string, args ...any) error {
	for _, n := range p.Children() {
		if err := n.Emit(event, args...); err != nil {
			return err
		}
	}
	return nil
}

func jsonString(s string) []byte { return appendJSONString(nil, s) }

package socketio

import (
	"slices"
	"strings"

	"github.com/pierhq/pier/engineio"
)

// Observer is told what happens on a Server, for monitoring tools such as
// an admin dashboard or metrics. Every field may be nil.
//
// The callbacks run synchronously on the goroutine that made the change,
// after the package released its locks, so they may call the Server (emit,
// look sockets up); they should be quick, since the connection they
// observe waits for them. ConnOpened, MessageIn and ConnClosed run inside
// the engine's handler calls of their session (one at a time per
// session). Observers see this server's sockets only.
type Observer struct {
	// ConnOpened: a new Engine.IO connection.
	ConnOpened func(sess *engineio.Session)
	// ConnClosed: an Engine.IO connection ended, with the engine's reason
	// ("transport close", "ping timeout", "forced close"...).
	ConnClosed func(sess *engineio.Session, reason string)
	// MessageIn: a message arrived on a connection.
	MessageIn func(sess *engineio.Session, m engineio.Message)
	// MessagesOut: msgs (one encoded packet) were queued for recipients
	// connections.
	MessagesOut func(recipients int, msgs []engineio.Message)

	// SocketConnected: a socket joined its namespace; the client has its
	// CONNECT reply and the connection handlers have not run yet.
	SocketConnected func(s *Socket)
	// SocketDisconnected: a socket is leaving its namespace; it is still
	// in its rooms (RoomsLeft follows).
	SocketDisconnected func(s *Socket, reason string)
	// RoomsJoined and RoomsLeft: the socket id of namespace n entered or
	// left rooms it was not, or was, in.
	RoomsJoined func(n *Namespace, id string, rooms []Room)
	RoomsLeft   func(n *Namespace, id string, rooms []Room)
	// EventReceived: an event from a client, before its handler runs.
	EventReceived func(s *Socket, e *Event)
	// EventSent: an event packet queued for s, by s.Emit or a broadcast
	// (p.Data is the JSON array of the event name and arguments).
	EventSent func(s *Socket, p *Packet)

	// Broadcast: this server's adapter sent a broadcast (or an emit that
	// goes through it, for connection state recovery) to recipients of
	// its local sockets.
	Broadcast func(n *Namespace, recipients int)
	// AckWaiting: a Socket.EmitWithAck starts waiting for the client's
	// acknowledgement (delta 1) or stops (delta -1).
	AckWaiting func(delta int)
	// AckTimeout: a Socket.EmitWithAck gave up at its deadline.
	AckTimeout func()
}

// Observe adds an observer. Observers added while clients are connected
// see only what happens from then on.
func (s *Server) Observe(o *Observer) {
	s.obsMu.Lock()
	defer s.obsMu.Unlock()
	var list []*Observer
	if old := s.obs.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, o)
	s.obs.Store(&list)
}

// observers returns the observers; nil when there are none.
func (s *Server) observers() []*Observer {
	if l := s.obs.Load(); l != nil {
		return *l
	}
	return nil
}

// ackWaiting tells the observers of a wait for an acknowledgement that
// starts, and returns what tells them of its end.
func (s *Server) ackWaiting() func() {
	obs := s.observers()
	if len(obs) == 0 {
		return func() {}
	}
	for _, o := range obs {
		if o.AckWaiting != nil {
			o.AckWaiting(1)
		}
	}
	return func() {
		for _, o := range obs {
			if o.AckWaiting != nil {
				o.AckWaiting(-1)
			}
		}
	}
}

// ackTimedOut tells the observers of an acknowledgement not received in
// time.
func (s *Server) ackTimedOut() {
	for _, o := range s.observers() {
		if o.AckTimeout != nil {
			o.AckTimeout()
		}
	}
}

// Namespaces returns the namespaces of this server, children of dynamic
// namespaces included, sorted by name.
func (s *Server) Namespaces() []*Namespace {
	s.mu.RLock()
	out := make([]*Namespace, 0, len(s.nsps))
	for _, n := range s.nsps {
		out = append(out, n)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Namespace) int { return strings.Compare(a.name, b.name) })
	return out
}

// LookupNamespace returns the namespace called name, or nil if it does not
// exist (where Of would create it).
func (s *Server) LookupNamespace(name string) *Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nsps[name]
}

package engineio

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Message is an Engine.IO message: text (valid UTF-8) or binary data.
// Data must not be modified once passed to Send: the same slice may be
// queued to many sessions and written later.
type Message struct {
	Binary bool
	Data   []byte
	// NoCompress keeps the message out of compression: websocket
	// permessage-deflate, and HTTP compression of a polling response made
	// only of such messages (Node: the compress: false packet option).
	NoCompress bool
}

// Text returns a text message holding s.
func Text(s string) Message { return Message{Data: []byte(s)} }

// Handler receives the events of every session of a Server.
//
// The methods of one session are called one at a time, in order: OnOpen,
// then OnMessage for each message as received, then OnClose exactly once.
// They run on the goroutine serving the transport (a websocket read loop or
// a polling POST), so they must not block for long: a slow OnMessage slows
// the client down, which is the intended back-pressure, but stops its
// heartbeat from being read too.
type Handler interface {
	// OnOpen is called when a session is created, before the handshake
	// answer is written: packets sent here follow the open packet.
	OnOpen(s *Session)
	// OnMessage is called for each message. m.Data belongs to the handler.
	OnMessage(s *Session, m Message)
	// OnClose is called once the session is closed; cause is a
	// *CloseError.
	OnClose(s *Session, cause error)
}

// heartbeat states of a session's timer.
const (
	hbWaitInterval = iota // v4: next ping due; v3: next client ping due
	hbWaitPong            // v4: ping sent, pong due
	hbTombstone           // closed, kept for one last poll or upgrade: the timer removes it
)

// Session states. The fields under Session.mu take these combinations
// only (- : false or nil; * : either; hb: hbState):
//
//	state                     closed transport ws  probe upgrading polling posting flushing hb
//	open, polling             -      polling   -   -     -         *       *       -        interval, pong
//	open, probe connected     -      polling   -   set   -         *       *       -        interval, pong
//	open, probe answered      -      polling   -   set   true      *       *       -        interval, pong
//	open, websocket           -      websocket set -     -         *(1)    *(1)    *        interval, pong
//	closed, last poll due     true   polling   -   -     -         *       *(2)    -        tombstone
//	closed, upgrade finishing true   polling   -   set   true      *       *(2)    -        tombstone
//	closed, websocket         true   websocket set -     -         *(1)    *(1)    *(3)     interval, pong
//	closed, polling, gone     true   polling   -   -     -         *(1)    *(1)    -        interval, pong
//
// (1) a request that began before the change, ending; it refuses or
// drops what it carries. (2) at most one POST, read only to see whether it
// holds the client's CLOSE (awaitsLastPollLocked). (3) a graceful close
// keeps the flusher until the outbox and the close frame are written.
//
// Moves: handshake → open, polling or open, websocket; a probe websocket
// → probe connected (upgrade) → probe answered (2probe/3probe, which also
// sets releasePoll when a poll is pending, consumed by that poll) → open,
// websocket (UPGRADE, completeUpgradeLocked), or back to open, polling
// when the probe fails (dropProbeLocked). closeWith leaves any open state
// for a closed one: a polling session closed gracefully waits one
// PingTimeout as a tombstone (tombstoneLocked) for its last poll, or
// finishes an answered upgrade; endTombstoneLocked leaves that wait. Only
// the heartbeat timer (tombstone), the last poll, or the websocket's
// flusher (nextBatch) removes a closed session from the server. A polling
// session closed by the client with no poll pending leaves the server at
// once: a clientTomb stands in for it for one PingTimeout (its state stays
// tombstone, unarmed, for a request that found it before it left).
// v3 sessions stay in hbWaitInterval while open (the client pings).

// Session is one Engine.IO connection, over polling, websocket, or polling
// upgraded to websocket.
//
// Concurrency: every method may be called from any goroutine. Send never
// blocks: packets go to a bounded outbox that the active transport drains,
// and a session whose outbox overflows is closed as a slow client.
type Session struct {
	srv      *Server
	id       string
	hs       handshakeReq // what Request rebuilds
	protocol int
	b64      bool        // v3 polling: binary as base64 text payloads
	ended    atomic.Bool // closed, read without mu by deliver (once per message)

	// dispatch serialises the Handler calls of this session.
	dispatch sync.Mutex

	// mu guards the fields below; their legal combinations are in the
	// table above the Session type. (The booleans are side by side to keep
	// the struct, one per connection, small.)
	mu          sync.Mutex
	closed      bool
	byClient    bool // closed by the client's CLOSE with no poll pending: a clientTomb stands in for it
	upgrading   bool // a probe websocket answered 2probe
	releasePoll bool // answer the pending poll with a NOOP now
	polling     bool // a GET is pending
	posting     bool // a POST is being read
	flushing    bool // a websocket flusher goroutine runs
	hbState     int8
	cause       *CloseError
	transport   string
	queue       []packet // outbox
	queueBytes  int64
	wake        chan struct{} // capacity 1: wakes the pending poll; made by the first poll that waits
	ws          *wsConn       // the websocket once it carries the session
	probe       *wsConn       // a websocket being upgraded to
	due         int64         // the heartbeat deadline (hbNanos)
	hbIndex     int           // 1 + index in srv.hb's heap, 0 when not in it (under srv.hb.mu)
	// The session's context, made by the first Context call (an idle
	// session keeps none) and cancelled, with cause, by closeWith.
	ctx    context.Context
	cancel context.CancelCauseFunc

	inbox chan Message // only for sessions served by a HandlerFunc
	data  atomic.Pointer[any]
}

// ID returns the session id (the "sid" of the protocol).
func (s *Session) ID() string { return s.id }

// Protocol returns the Engine.IO protocol version the client speaks, 3 or 4.
func (s *Session) Protocol() int { return s.protocol }

// Request returns the handshake request as the session kept it: method,
// URL, protocol, Host, headers (cookies included), remote address and TLS
// state. Its body is empty and its context is the session's context; the
// rest of the original request (its form, trailers, the values of its
// context) is not kept. Each call builds a new copy, which the caller owns.
func (s *Session) Request() *http.Request { return s.hs.request().WithContext(s.Context()) }

// Context returns a context that is cancelled when the session closes; its
// cause (context.Cause) is a *CloseError.
func (s *Session) Context() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancelCause(context.Background())
		if s.closed {
			s.cancel(s.cause)
		}
	}
	return s.ctx
}

// Transport returns the name of the transport that currently carries the
// session: Polling or WebSocket.
func (s *Session) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transport
}

// Send queues msgs, in order and as one unit, for the client. It never
// blocks. It returns ErrClosed (wrapped in the session's *CloseError) once
// the session is closed; a session whose outbox would go over its bounds is
// closed with ReasonSlowClient and Send returns that error.
func (s *Session) Send(msgs ...Message) error {
	s.mu.Lock()
	if s.closed {
		err := s.cause
		s.mu.Unlock()
		return err
	}
	var size int64
	for _, m := range msgs {
		size += int64(len(m.Data)) + 1
	}
	o := s.srv.opts
	if len(s.queue)+len(msgs) > o.MaxBufferedPackets || s.queueBytes+size > o.MaxBufferedBytes {
		s.mu.Unlock()
		s.closeWith(ReasonSlowClient, nil, closeAbort)
		return s.cause
	}
	for _, m := range msgs {
		s.queue = append(s.queue, packet{typ: typeMessage, binary: m.Binary, noCompress: m.NoCompress, data: m.Data})
	}
	s.queueBytes += size
	ws := s.ws
	if ws != nil && ws.rc != nil && !s.flushing {
		// Written from here, as far as the socket takes it at once.
		s.flushing = true
		s.mu.Unlock()
		s.flushInline(ws)
		return nil
	}
	s.kickLocked()
	s.mu.Unlock()
	return nil
}

// Close closes the session after writing what is already queued: a
// websocket gets a close frame, a polling client gets a CLOSE packet on its
// next poll. The cause is ReasonForcedClose; reason is kept as its error
// text for logs. Close is idempotent.
func (s *Session) Close(reason string) {
	var err error
	if reason != "" {
		err = closeNote(reason)
	}
	s.closeWith(ReasonForcedClose, err, closeGraceful)
}

type closeNote string

func (n closeNote) Error() string { return string(n) }

// enqueueLocked adds a control packet to the outbox. s.mu is held.
func (s *Session) enqueueLocked(p packet) {
	s.queue = append(s.queue, p)
	s.queueBytes += int64(len(p.data)) + 1
	s.kickLocked()
}

// kickLocked makes the active transport write the outbox: it wakes the
// pending poll, or starts a websocket flusher if none runs. s.mu is held.
func (s *Session) kickLocked() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
	if s.ws != nil && len(s.queue) > 0 {
		s.startFlushLocked(s.ws)
	}
}

// startFlushLocked starts a flusher goroutine writing the outbox to c,
// unless one runs. s.mu is held.
func (s *Session) startFlushLocked(c *wsConn) {
	if !s.flushing {
		s.flushing = true
		go s.flushWebSocket(c)
	}
}

// dropProbeLocked forgets the websocket being upgraded to: the session
// stays on polling. s.mu is held.
func (s *Session) dropProbeLocked() {
	s.probe = nil
	s.upgrading = false
}

// tombstoneLocked keeps a closed session registered for one PingTimeout,
// for its last poll or the end of an answered upgrade; the heartbeat timer
// then removes it. s.mu is held.
func (s *Session) tombstoneLocked() {
	s.hbState = hbTombstone
	s.armLocked(time.Now().Add(s.srv.opts.PingTimeout))
}

// dropClientTombstone removes a session the client closed that waits, as
// a tombstone, only to answer a racing poll with NOOP: nothing is left to
// deliver, so Shutdown need not wait for it.
func (s *Session) dropClientTombstone() {
	s.mu.Lock()
	drop := s.closed && s.byClient && s.hbState == hbTombstone
	if drop {
		s.endTombstoneLocked()
	}
	s.mu.Unlock()
	if drop {
		s.srv.remove(s)
	}
}

// endTombstoneLocked ends the wait of tombstoneLocked: whoever calls it
// removes the session, or hands that to the websocket flusher. s.mu is
// held.
func (s *Session) endTombstoneLocked() {
	s.hbState = hbWaitInterval
	s.srv.hb.stop(s)
}

// takePollLocked takes the outbox for a polling response. A CLOSE that
// follows other packets is left for the next poll, as Node sends it after
// the data has drained: clients handle a CLOSE at once but may defer the
// packets before it (socket.io-client does), so in one payload the
// connection would close before they are handled. s.mu is held.
func (s *Session) takePollLocked() []packet {
	q := s.takeLocked()
	if n := len(q); n > 1 && q[n-1].typ == typeClose {
		s.queue = []packet{q[n-1]}
		s.queueBytes = 1
		return q[:n-1]
	}
	return q
}

// awaitsLastPollLocked reports whether the session, closed by the server,
// is kept for the last poll that collects its CLOSE. s.mu is held.
func (s *Session) awaitsLastPollLocked() bool {
	n := len(s.queue)
	return s.closed && s.hbState == hbTombstone && n > 0 && s.queue[n-1].typ == typeClose
}

// takeLocked removes and returns the whole outbox. s.mu is held.
func (s *Session) takeLocked() []packet {
	q := s.queue
	if len(q) == 0 {
		return nil // the empty array stays for the next packets
	}
	s.queue = nil
	s.queueBytes = 0
	return q
}

// How a session closes.
const (
	closeAbort    = iota // drop the outbox; a pending poll gets CLOSE
	closeGraceful        // write the outbox, then CLOSE (kept for one last poll)
	closeByClient        // the client sent CLOSE; a pending or next poll gets NOOP
)

// closeWith closes the session once; later calls do nothing.
func (s *Session) closeWith(reason string, err error, mode int) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.cause = &CloseError{Reason: reason, Err: err}
	// Counted before the session can leave the map, so that Shutdown
	// never sees neither.
	s.srv.callbacks.Add(1)
	probe, ws := s.probe, s.ws
	// A probe the client was already answered on is past the point where
	// it stops polling: let it send UPGRADE and get the rest over the
	// websocket (probeUpgrade), as Node does, within UpgradeTimeout.
	finishUpgrade := probe != nil && s.upgrading && mode == closeGraceful
	if !finishUpgrade {
		s.dropProbeLocked()
	}
	keep := finishUpgrade // keep the session registered for one more poll or the upgrade
	entomb := false       // replace the session with a clientTomb
	if ws == nil {
		switch mode {
		case closeAbort:
			s.queue = s.queue[:0]
			if s.polling {
				s.queue = append(s.queue, packet{typ: typeClose})
			}
		case closeGraceful:
			// The CLOSE goes in a payload of its own (see takePollLocked),
			// so the session stays for one more poll if data precedes it.
			keep = keep || !s.polling || len(s.queue) > 0
			s.queue = append(s.queue, packet{typ: typeClose})
		case closeByClient:
			s.queue = append(s.queue[:0], packet{typ: typeNoop})
			// With no poll pending, a poll may be racing the CLOSE: the
			// server keeps a clientTomb instead of the session to answer
			// it. A request that found the session before it left (it
			// holds sess) is answered as by the tomb.
			entomb = !s.polling
			s.byClient = entomb
			if entomb {
				s.hbState = hbTombstone
			}
		}
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	if keep {
		s.tombstoneLocked()
	} else {
		s.srv.hb.stop(s)
	}
	if ws != nil {
		if mode == closeGraceful {
			keep = true // registered until the flusher has written all and closed
			s.startFlushLocked(ws)
		} else {
			s.queue = nil
		}
	}
	cancel := s.cancel
	s.ended.Store(true)
	s.mu.Unlock()

	if cancel != nil {
		cancel(s.cause)
	}
	switch {
	case entomb:
		s.srv.entomb(s)
	case !keep:
		s.srv.remove(s)
	}
	if probe != nil && !finishUpgrade {
		probe.close()
	}
	if ws != nil && mode != closeGraceful {
		ws.closeWith(closeCode(s.cause))
	}
	s.srv.logClose(s)
	go s.notifyClose()
}

func (s *Session) notifyClose() {
	defer s.srv.callbacks.Add(-1)
	s.dispatch.Lock()
	defer s.dispatch.Unlock()
	s.srv.handler.OnClose(s, s.cause)
}

// abortTransport closes the session's connections at once, dropping what
// is still queued (the end of Shutdown).
func (s *Session) abortTransport() {
	s.mu.Lock()
	ws, probe := s.ws, s.probe
	s.mu.Unlock()
	for _, c := range []*wsConn{ws, probe} {
		if c != nil {
			c.close()
		}
	}
}

// deliver hands a message to the handler, unless the session is closed.
func (s *Session) deliver(m Message) {
	s.dispatch.Lock()
	defer s.dispatch.Unlock()
	if s.ended.Load() {
		return
	}
	s.srv.handler.OnMessage(s, m)
}

// onTimer runs the heartbeat when its deadline has passed (srv.hb calls
// it): in v4 it sends a ping then waits for the pong; in v3 it fires only
// when the client's ping is late. It never blocks.
func (s *Session) onTimer() {
	s.mu.Lock()
	switch {
	case hbNanos(time.Now()) < s.due:
		// Armed again since this deadline passed: the new one is in
		// the heap.
		s.mu.Unlock()
		return
	case s.hbState == hbTombstone:
		s.mu.Unlock()
		s.srv.remove(s)
		return
	case s.closed:
		s.mu.Unlock()
		return
	case s.protocol == 4 && s.hbState == hbWaitInterval:
		// The pong is due PingTimeout after the ping was due, however
		// late this timer ran.
		s.hbState = hbWaitPong
		s.armLocked(hbTime(s.due).Add(s.srv.opts.PingTimeout))
		s.enqueueLocked(packet{typ: typePing})
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	// On a goroutine of its own: closing writes a close frame, which may
	// wait for the socket, and the heartbeats of other sessions wait for
	// this call.
	go s.closeWith(ReasonPingTimeout, nil, closeAbort)
}

// onPacket handles a packet received on the session's transport. It
// returns false when the session was closed by it.
func (s *Session) onPacket(p packet) bool {
	switch p.typ {
	case typeMessage:
		s.deliver(Message{Binary: p.binary, Data: p.data})
	case typePing:
		if s.protocol != 3 {
			s.closeWith(ReasonTransportError, errHeartbeatDirection, closeAbort)
			return false
		}
		s.mu.Lock()
		if !s.closed {
			s.armLocked(time.Now().Add(s.srv.opts.PingInterval + s.srv.opts.PingTimeout))
			s.enqueueLocked(packet{typ: typePong, data: p.data})
		}
		s.mu.Unlock()
	case typePong:
		if s.protocol == 3 {
			s.closeWith(ReasonTransportError, errHeartbeatDirection, closeAbort)
			return false
		}
		s.mu.Lock()
		if !s.closed && s.hbState == hbWaitPong {
			s.hbState = hbWaitInterval
			s.armLocked(time.Now().Add(s.srv.opts.PingInterval))
		}
		s.mu.Unlock()
	case typeClose:
		s.closeWith(ReasonTransportClose, nil, closeByClient)
		return false
	}
	// open, upgrade and noop are ignored outside an upgrade, as in Node.
	return true
}

// onPackets handles the packets of one payload or frame, then closes the
// session with a parse error if decoding stopped at an invalid packet.
func (s *Session) onPackets(ps []packet, err error) bool {
	for _, p := range ps {
		if !s.onPacket(p) {
			return false
		}
	}
	if err != nil {
		s.closeWith(ReasonParseError, err, closeAbort)
		return false
	}
	return true
}

// SendVolatile queues msgs only if the transport can take them at once (a
// websocket with nothing queued, or a poll waiting for data) and reports
// whether it did. Volatile messages are dropped rather than queued behind
// others, as Socket.IO's volatile flag asks.
func (s *Session) SendVolatile(msgs ...Message) bool {
	s.mu.Lock()
	writable := !s.closed && len(s.queue) == 0 &&
		((s.ws != nil && !s.flushing) || (s.ws == nil && s.polling && !s.upgrading))
	s.mu.Unlock()
	return writable && s.Send(msgs...) == nil
}

// SetData attaches a value of the layer above to the session (Socket.IO
// keeps its connection state there). Set it in OnOpen; Data then returns
// it from any goroutine.
func (s *Session) SetData(v any) { s.data.Store(&v) }

// Data returns the value set by SetData, or nil.
func (s *Session) Data() any {
	if p := s.data.Load(); p != nil {
		return *p
	}
	return nil
}

// armLocked sets the heartbeat deadline to due. s.mu is held.
func (s *Session) armLocked(due time.Time) {
	s.due = hbNanos(due)
	s.srv.hb.arm(s, due)
}

// heartbeatExpired closes the session if its heartbeat deadline has passed
// though the timer has not run yet (a busy machine runs timers late), so
// that a request arriving after the deadline never finds the session open.
func (s *Session) heartbeatExpired() bool {
	s.mu.Lock()
	late := !s.closed && (s.protocol == 3 || s.hbState == hbWaitPong) && hbNanos(time.Now()) > s.due
	s.mu.Unlock()
	if late {
		s.closeWith(ReasonPingTimeout, nil, closeAbort)
	}
	return late
}

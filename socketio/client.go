package socketio

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pierhq/pier/engineio"
)

// client is the Socket.IO state of one Engine.IO session: its decoder, its
// sockets (one per namespace) and the queue that runs their work in order.
type client struct {
	srv      *Server
	sess     *engineio.Session
	dec      PacketDecoder // used only from OnMessage, which the engine serialises
	jsonDec  Decoder       // dec, with the default parser (no allocation of its own)
	protocol int           // Socket.IO protocol: 5, or 4 for EIO3 clients

	mu           sync.Mutex
	sockets      []nsSocket      // connected, one per namespace (few: searched in order)
	connecting   map[string]bool // nil when empty (idle clients keep no map)
	closed       bool
	connectTimer *time.Timer

	// The dispatch queue (queue.go): work runs in order on a goroutine
	// that exists only while there is work.
	qmu     sync.Mutex
	queue   []queued
	qbytes  int64 // packet bytes in queue
	running bool
	space   chan struct{} // made by the first enqueue that waits
}

func newClient(s *Server, sess *engineio.Session) *client {
	c := &client{
		srv:      s,
		sess:     sess,
		protocol: 5,
	}
	if _, ok := s.parser.(jsonParser); ok {
		c.jsonDec.lim = s.limits.withDefaults()
		c.dec = &c.jsonDec
	} else {
		c.dec = s.parser.NewDecoder(s.limits)
	}
	if sess.Protocol() == 3 {
		c.protocol = 4
	}
	return c
}

// onMessage decodes an Engine.IO message and routes the packet. Protocol
// violations close the connection, as Node does.
func (c *client) onMessage(m engineio.Message) {
	p, err := c.dec.Decode(m)
	if err != nil {
		c.violation("parse error", err)
		return
	}
	if p == nil {
		return // waiting for attachments
	}
	switch p.Type {
	case PacketConnect:
		c.mu.Lock()
		name := c.namespaceName(p.Namespace)
		dup := c.socketLocked(name) != nil || c.connecting[name]
		if !dup {
			c.connectingLocked(name)
		}
		c.mu.Unlock()
		if dup {
			c.violation("duplicate connect", nil)
			return
		}
		c.enqueue(packetBytes(p), func() { c.connect(p) })
	case PacketDisconnect, PacketEvent, PacketBinaryEvent, PacketAck, PacketBinaryAck:
		c.mu.Lock()
		sock := c.socketLocked(p.Namespace)
		c.mu.Unlock()
		if sock == nil {
			c.violation("packet for a namespace not connected", nil)
			return
		}
		c.enqueue(packetBytes(p), func() { sock.onPacket(p) })
	default:
		c.violation("unexpected packet type", nil)
	}
}

func (c *client) violation(what string, err error) {
	attrs := []any{"sid", c.sess.ID(), "what", what}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	c.srv.log.Debug("socketio: protocol violation, closing", attrs...)
	c.sess.Close("protocol violation: " + what)
}

// namespaceName is the namespace a CONNECT asks for. Protocol v4 clients
// (socket.io-client 2) append their query string to it, which is stripped;
// in protocol v5 the name is taken as is, so "/custom?x=1" is a namespace
// of its own (refused as "Invalid namespace" unless declared), as in Node.
func (c *client) namespaceName(nsp string) string {
	if c.protocol != 4 {
		return nsp
	}
	if i := strings.IndexByte(nsp, '?'); i >= 0 {
		return nsp[:i]
	}
	return nsp
}

// connect runs on the dispatch queue: it finds the namespace, runs its
// middleware and, if they let the client in, connects a socket.
func (c *client) connect(p *Packet) {
	name := c.namespaceName(p.Namespace)
	done := func() {
		c.mu.Lock()
		c.connected(name)
		c.mu.Unlock()
	}
	// The handshake is built when asked for (an idle socket keeps only
	// the auth payload and the time): here only if a dynamic namespace's
	// matcher needs it.
	auth, at := c.authOf(p), time.Now()
	var hs *Handshake
	nsp := c.srv.lookupHeld(name, func() *Handshake {
		if hs == nil {
			hs = c.handshake(auth, at)
		}
		return hs
	})
	if nsp == nil {
		done()
		c.connectError(name, &ConnectError{Message: "Invalid namespace"})
		return
	}
	sock := newSocket(nsp, c, auth, at)
	if hs != nil {
		sock.hs.Store(hs)
	}
	missed, skipMiddleware := c.restore(nsp, sock, p)
	if skipMiddleware {
		// Recovered, and the middleware need not run again.
	} else if err := nsp.runMiddleware(sock); err != nil {
		done()
		nsp.release()
		if sock.recovered {
			nsp.adapter.LeaveAll(sock.id)
		}
		sock.cancelContext()
		var ce *ConnectError
		if !errors.As(err, &ce) {
			ce = &ConnectError{Message: err.Error()}
		}
		c.connectError(name, ce)
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		sock.cancelContext()
		nsp.release()
		return
	}
	c.connected(name)
	c.sockets = append(c.sockets, nsSocket{name: name, s: sock})
	if c.connectTimer != nil {
		c.connectTimer.Stop()
		c.connectTimer = nil
	}
	c.mu.Unlock()
	nsp.connect(sock, missed)
}

// connectingLocked marks namespace name as connecting. c.mu is held.
func (c *client) connectingLocked(name string) {
	if c.connecting == nil {
		c.connecting = make(map[string]bool, 1)
	}
	c.connecting[name] = true
}

// connected ends the connecting state of namespace name. c.mu is held.
func (c *client) connected(name string) {
	delete(c.connecting, name)
	if len(c.connecting) == 0 {
		c.connecting = nil
	}
}

// restore applies connection state recovery when the CONNECT carries the
// pid and offset of a socket this namespace kept: sock takes its id, pid,
// rooms and data, and the events it missed are returned. It reports
// whether the middleware may be skipped.
func (c *client) restore(nsp *Namespace, sock *Socket, p *Packet) ([]StoredPacket, bool) {
	o := c.srv.opts.ConnectionStateRecovery
	st, ok := sessionStoreOf(nsp.adapter)
	if o == nil || !ok || c.protocol != 5 || len(p.Data) == 0 {
		return nil, false
	}
	var auth struct {
		PID    string `json:"pid"`
		Offset string `json:"offset"`
	}
	if json.Unmarshal(p.Data, &auth) != nil || auth.PID == "" || auth.Offset == "" {
		return nil, false
	}
	rs, ok := st.RestoreSession(c.sess.Context(), auth.PID, auth.Offset)
	if !ok {
		return nil, false
	}
	sock.id, sock.pid, sock.recovered = rs.SID, rs.PID, true
	sock.data = rs.Data
	nsp.adapter.Join(sock.id, rs.Rooms...)
	return rs.Missed, !o.RunMiddlewares
}

func (c *client) handshake(auth string, at time.Time) *Handshake {
	r := c.sess.Request()
	if auth == "" {
		auth = "{}"
	}
	return &Handshake{
		Header:  r.Header,
		Query:   r.URL.Query(),
		Address: remoteIP(r.RemoteAddr),
		Time:    at,
		Secure:  r.TLS != nil,
		XDomain: r.Header.Get("Origin") != "",
		URL:     r.URL.RequestURI(),
		Request: r,
		Auth:    json.RawMessage(auth),
	}
}

// authOf returns the auth payload of a CONNECT as a JSON object of its
// own (the packet's data may share the message's buffer), or "" for {}.
func (c *client) authOf(p *Packet) string {
	if c.protocol == 4 {
		// v4 clients carry their auth as the namespace's query string.
		i := strings.IndexByte(p.Namespace, '?')
		if i < 0 {
			return ""
		}
		q, _ := url.ParseQuery(p.Namespace[i+1:])
		m := make(map[string]string, len(q))
		for k, v := range q {
			m[k] = v[0]
		}
		auth, _ := json.Marshal(m)
		return string(auth)
	}
	return string(p.Data)
}

// connectError refuses a namespace connection with a CONNECT_ERROR.
func (c *client) connectError(nsp string, ce *ConnectError) {
	var data []byte
	if c.protocol == 4 {
		data, _ = json.Marshal(ce.Message)
	} else {
		v := struct {
			Message string `json:"message"`
			Data    any    `json:"data,omitempty"`
		}{ce.Message, ce.Data}
		data, _ = json.Marshal(v)
	}
	c.send(&Packet{Type: PacketConnectError, Namespace: nsp, Data: data})
}

// send encodes p and queues it on the connection.
func (c *client) send(p *Packet) error {
	var buf [4]engineio.Message
	msgs := c.srv.parser.Encode(buf[:0], p)
	for _, o := range c.srv.observers() {
		if o.MessagesOut != nil {
			o.MessagesOut(1, msgs)
		}
	}
	return c.sess.Send(msgs...)
}

// removeSocket forgets the socket of a namespace after it disconnected.
func (c *client) removeSocket(nsp string, s *Socket) {
	c.mu.Lock()
	for i, e := range c.sockets {
		if e.name == nsp && e.s == s {
			c.sockets = slices.Delete(c.sockets, i, i+1)
			break
		}
	}
	if len(c.sockets) == 0 {
		c.sockets = nil
	}
	c.mu.Unlock()
}

// nsSocket is a client's socket in namespace name.
type nsSocket struct {
	name string
	s    *Socket
}

// socketLocked returns the socket of namespace name, or nil. c.mu is held.
func (c *client) socketLocked(name string) *Socket {
	for _, e := range c.sockets {
		if e.name == name {
			return e.s
		}
	}
	return nil
}

// disconnectAll disconnects every socket of the connection, then closes
// it. It runs on the dispatch queue, next (see Socket.Disconnect).
func (c *client) disconnectAll() {
	c.enqueueNext(func() {
		c.mu.Lock()
		socks := make([]*Socket, 0, len(c.sockets))
		for _, e := range c.sockets {
			socks = append(socks, e.s)
		}
		c.mu.Unlock()
		for _, s := range socks {
			s.disconnectNow()
		}
		c.sess.Close("forced server close")
	})
}

// onClose runs when the engine session closed: after the work already
// queued, each socket is closed with the engine's reason.
func (c *client) onClose(cause error) {
	reason := engineio.CloseReason(cause)
	switch reason {
	case engineio.ReasonForcedClose:
		reason = "forced close"
	case engineio.ReasonShutdown:
		reason = "server shutting down"
	case "":
		reason = "transport close"
	}
	c.mu.Lock()
	c.closed = true
	if c.connectTimer != nil {
		c.connectTimer.Stop()
	}
	c.mu.Unlock()
	c.srv.closing.Add(1)
	c.enqueueAlways(func() {
		defer c.srv.closing.Add(-1)
		c.mu.Lock()
		socks := make([]*Socket, 0, len(c.sockets))
		for _, e := range c.sockets {
			socks = append(socks, e.s)
		}
		c.mu.Unlock()
		for _, s := range socks {
			s.onClose(reason)
		}
	})
}

func remoteIP(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}

// enqueueConnect connects the client to a namespace it did not ask for
// (protocol v4 clients are connected to "/" at once).
func (c *client) enqueueConnect(p *Packet) {
	c.mu.Lock()
	c.connectingLocked(p.Namespace)
	c.mu.Unlock()
	c.enqueue(0, func() { c.connect(p) })
}

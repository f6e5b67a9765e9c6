package admin

import (
	"encoding/json"
	"time"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/socketio"
)

// observer returns the hooks through which the Admin follows the server.
// In production mode it leaves out the per-room and per-event hooks,
// which would only be ignored, so that broadcasts cost no more.
func (a *Admin) observer() *socketio.Observer {
	o := &socketio.Observer{
		ConnOpened:         a.connOpened,
		ConnClosed:         a.connClosed,
		MessageIn:          a.messageIn,
		MessagesOut:        a.messagesOut,
		SocketConnected:    a.socketConnected,
		SocketDisconnected: a.socketDisconnected,
	}
	if !a.opts.Production {
		o.RoomsJoined = a.roomsJoined
		o.RoomsLeft = a.roomsLeft
		o.EventReceived = a.eventReceived
		o.EventSent = a.eventSent
	}
	return o
}

func (a *Admin) connOpened(sess *engineio.Session) {
	if a.closed.Load() {
		return
	}
	a.stats.add("rawConnection", "", 1)
	a.mu.Lock()
	c := &conn{transport: sess.Transport(), sockets: make(map[string]*socketio.Socket)}
	a.conns[sess] = c
	if c.transport == engineio.Polling {
		a.polling[sess] = c
	}
	a.mu.Unlock()
}

func (a *Admin) connClosed(sess *engineio.Session, reason string) {
	if reason == "" {
		reason = "transport close"
	}
	if a.closed.Load() {
		return
	}
	a.stats.add("rawDisconnection", reason, 1)
	a.mu.Lock()
	delete(a.conns, sess)
	delete(a.polling, sess)
	a.mu.Unlock()
}

// messageIn and messagesOut count Engine.IO message packets and their
// payload bytes (the encoded Socket.IO packet).
func (a *Admin) messageIn(_ *engineio.Session, m engineio.Message) {
	if a.closed.Load() {
		return
	}
	a.stats.add("packetsIn", "", 1)
	a.stats.add("bytesIn", "", int64(len(m.Data)))
}

func (a *Admin) messagesOut(recipients int, msgs []engineio.Message) {
	if a.closed.Load() {
		return
	}
	var size int64
	for _, m := range msgs {
		size += int64(len(m.Data))
	}
	a.stats.add("packetsOut", "", int64(recipients*len(msgs)))
	a.stats.add("bytesOut", "", int64(recipients)*size)
}

// dev reports whether per-socket notifications are sent.
func (a *Admin) dev() bool { return !a.opts.Production && !a.closed.Load() }

func (a *Admin) socketConnected(s *socketio.Socket) {
	a.mu.Lock()
	if c := a.conns[s.Session()]; c != nil {
		c.sockets[s.ID()] = s
	}
	a.mu.Unlock()
	if a.dev() {
		a.emitToAdmins("socket_connected", serializeLocal(s), timestamp(time.Now()))
	}
}

func (a *Admin) socketDisconnected(s *socketio.Socket, reason string) {
	a.mu.Lock()
	if c := a.conns[s.Session()]; c != nil {
		delete(c.sockets, s.ID())
	}
	a.mu.Unlock()
	if a.dev() {
		a.emitToAdmins("socket_disconnected", s.Namespace().Name(), s.ID(), reason, timestamp(time.Now()))
	}
}

func (a *Admin) roomsJoined(n *socketio.Namespace, id string, rooms []socketio.Room) {
	a.roomEvent("room_joined", n, id, rooms)
}

func (a *Admin) roomsLeft(n *socketio.Namespace, id string, rooms []socketio.Room) {
	a.roomEvent("room_left", n, id, rooms)
}

func (a *Admin) roomEvent(event string, n *socketio.Namespace, id string, rooms []socketio.Room) {
	if !a.dev() {
		return
	}
	ts := timestamp(time.Now())
	for _, r := range rooms {
		a.emitToAdmins(event, n.Name(), string(r), id, ts)
	}
}

func (a *Admin) eventReceived(s *socketio.Socket, e *socketio.Event) {
	if !a.dev() || s.Namespace() == a.nsp {
		return
	}
	args := make([]json.RawMessage, 0, 1+e.Args.Len())
	name, _ := json.Marshal(e.Name)
	args = append(args, name)
	for i := range e.Args.Len() {
		args = append(args, e.Args.Raw(i))
	}
	a.emitToAdmins("event_received", s.Namespace().Name(), s.ID(), args, timestamp(time.Now()))
}

func (a *Admin) eventSent(s *socketio.Socket, p *socketio.Packet) {
	if !a.dev() || s.Namespace() == a.nsp || !json.Valid(p.Data) {
		return
	}
	a.emitToAdmins("event_sent", s.Namespace().Name(), s.ID(), json.RawMessage(p.Data), timestamp(time.Now()))
}

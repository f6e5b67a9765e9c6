package streams

import (
	"github.com/pierhq/pier/internal/notepack"
	"github.com/pierhq/pier/socketio"
)

// The data of socket.io-adapter's ClusterAdapter messages as typed values:
// stream entries (BROADCAST, SOCKETS_JOIN, SOCKETS_LEAVE,
// DISCONNECT_SOCKETS) and pub/sub requests and answers. Each has a wire
// method giving the data object with its properties in Node's order, and
// a parse function reading it back. Entries are encoded by encodeData,
// pub/sub messages by publish (the {type, data, uid, nsp} envelope).
//
// The Redis pub/sub adapter's sharded protocol carries the same data, but
// that package handles it in the shape of its classic protocol, so the
// types are not shared.

// Property names of the messages.
const (
	keyType        = "type"
	keyData        = "data"
	keyUID         = "uid"
	keyNsp         = "nsp"
	keyPacket      = "packet"
	keyOpts        = "opts"
	keyRooms       = "rooms"
	keyExcept      = "except"
	keyFlags       = "flags"
	keyVolatile    = "volatile"
	keyTimeout     = "timeout"
	keyClose       = "close"
	keyRequestID   = "requestId"
	keySockets     = "sockets"
	keyClientCount = "clientCount"
)

// message is the data of a ClusterAdapter message.
type message interface {
	// msgType is the message's type (MessageType of socket.io-adapter).
	msgType() int
	// wire returns the data object as Node writes it.
	wire() notepack.Map
}

// envelope is a pub/sub message: {type, data, uid, nsp}.
func envelope(msg message, uid, nsp string) notepack.Map {
	return notepack.Map{{Key: keyType, Value: msg.msgType()}, {Key: keyData, Value: msg.wire()}, {Key: keyUID, Value: uid}, {Key: keyNsp, Value: nsp}}
}

// entryOpts is the {rooms, except, flags} object, arrays never null and
// flags always present: {timeout} for a broadcast waiting for acks,
// otherwise {volatile} when set.
type entryOpts struct {
	Rooms    []socketio.Room
	Except   []socketio.Room
	Volatile bool
	Timeout  int64 // milliseconds; 0: none
}

func optsFor(o socketio.BroadcastOptions) entryOpts {
	return entryOpts{Rooms: o.Rooms, Except: o.Except, Volatile: o.Volatile}
}

func (o entryOpts) wire() notepack.Map {
	flags := notepack.Map{}
	switch {
	case o.Timeout > 0:
		flags = append(flags, notepack.Entry{Key: keyTimeout, Value: o.Timeout})
	case o.Volatile:
		flags = append(flags, notepack.Entry{Key: keyVolatile, Value: true})
	}
	return notepack.Map{{Key: keyRooms, Value: roomList(o.Rooms)}, {Key: keyExcept, Value: roomList(o.Except)}, {Key: keyFlags, Value: flags}}
}

// optsOf reads the opts object of data; it must be present.
func optsOf(data notepack.Map) (entryOpts, error) {
	v, _ := data.Get(keyOpts)
	om, ok := v.(notepack.Map)
	if !ok {
		return entryOpts{}, errMalformed
	}
	var o entryOpts
	r, _ := om.Get(keyRooms)
	o.Rooms = roomsOf(r)
	x, _ := om.Get(keyExcept)
	o.Except = roomsOf(x)
	if f, ok := om.Get(keyFlags); ok {
		if fm, ok := f.(notepack.Map); ok {
			v, _ := fm.Get(keyVolatile)
			o.Volatile = v == true
			if t, ok := fm.Get(keyTimeout); ok {
				if ms, ok := t.(float64); ok && ms > 0 {
					o.Timeout = int64(ms)
				}
			}
		}
	}
	return o, nil
}

// local is the selection o makes among this server's sockets.
func (o entryOpts) local() socketio.BroadcastOptions {
	return socketio.BroadcastOptions{Rooms: o.Rooms, Except: o.Except, Volatile: o.Volatile, Local: true}
}

// broadcastMsg (BROADCAST) is an event for the sockets Opts selects: a
// stream entry, or, with a request id, a pub/sub request waiting for
// acknowledgements. Args are the event name and arguments, binary inline.
type broadcastMsg struct {
	Args      []any
	Opts      entryOpts
	RequestID string // "": left out
}

func (broadcastMsg) msgType() int { return typeBroadcast }

func (b broadcastMsg) wire() notepack.Map {
	packet := notepack.Map{{Key: keyType, Value: 2}, {Key: keyData, Value: b.Args}}
	m := notepack.Map{{Key: keyPacket, Value: packet}, {Key: keyOpts, Value: b.Opts.wire()}}
	if b.RequestID != "" {
		m = append(m, notepack.Entry{Key: keyRequestID, Value: b.RequestID})
	}
	return m
}

// broadcastMsgOf reads a BROADCAST: opts, and a packet whose data is a
// non-empty array, are required.
func broadcastMsgOf(data notepack.Map) (broadcastMsg, error) {
	opts, err := optsOf(data)
	if err != nil {
		return broadcastMsg{}, err
	}
	pv, _ := data.Get(keyPacket)
	pm, ok := pv.(notepack.Map)
	if !ok {
		return broadcastMsg{Opts: opts}, errMalformed
	}
	dv, _ := pm.Get(keyData)
	args, ok := dv.([]any)
	if !ok || len(args) == 0 {
		return broadcastMsg{Opts: opts}, errMalformed
	}
	b := broadcastMsg{Args: args, Opts: opts}
	b.RequestID, _ = str(data, keyRequestID)
	return b, nil
}

// roomsMsg is SOCKETS_JOIN, or SOCKETS_LEAVE when Leave.
type roomsMsg struct {
	Leave bool
	Opts  entryOpts
	Rooms []socketio.Room
}

func (r roomsMsg) msgType() int {
	if r.Leave {
		return typeSocketsLeave
	}
	return typeSocketsJoin
}

func (r roomsMsg) wire() notepack.Map {
	return notepack.Map{{Key: keyOpts, Value: r.Opts.wire()}, {Key: keyRooms, Value: roomList(r.Rooms)}}
}

func roomsMsgOf(data notepack.Map, leave bool) (roomsMsg, error) {
	opts, err := optsOf(data)
	if err != nil {
		return roomsMsg{}, err
	}
	rv, _ := data.Get(keyRooms)
	return roomsMsg{Leave: leave, Opts: opts, Rooms: roomsOf(rv)}, nil
}

// disconnectMsg (DISCONNECT_SOCKETS) disconnects the sockets Opts
// selects; with Close, their whole connections.
type disconnectMsg struct {
	Opts  entryOpts
	Close bool
}

func (disconnectMsg) msgType() int { return typeDisconnectSockets }

func (d disconnectMsg) wire() notepack.Map {
	return notepack.Map{{Key: keyOpts, Value: d.Opts.wire()}, {Key: keyClose, Value: d.Close}}
}

func disconnectMsgOf(data notepack.Map) (disconnectMsg, error) {
	opts, err := optsOf(data)
	if err != nil {
		return disconnectMsg{}, err
	}
	c, _ := data.Get(keyClose)
	return disconnectMsg{Opts: opts, Close: c == true}, nil
}

// fetchSocketsMsg (FETCH_SOCKETS) asks for the sockets Opts selects.
type fetchSocketsMsg struct {
	Opts      entryOpts
	RequestID string
}

func (fetchSocketsMsg) msgType() int { return typeFetchSockets }

func (f fetchSocketsMsg) wire() notepack.Map {
	return notepack.Map{{Key: keyOpts, Value: f.Opts.wire()}, {Key: keyRequestID, Value: f.RequestID}}
}

// fetchSocketsMsgOf reads a request; opts and a request id are required.
func fetchSocketsMsgOf(data notepack.Map) (fetchSocketsMsg, error) {
	opts, err := optsOf(data)
	id, _ := str(data, keyRequestID)
	if err != nil || id == "" {
		return fetchSocketsMsg{}, errMalformed
	}
	return fetchSocketsMsg{Opts: opts, RequestID: id}, nil
}

// fetchSocketsResponseMsg (FETCH_SOCKETS_RESPONSE) answers it.
type fetchSocketsResponseMsg struct {
	RequestID string
	Sockets   []socketio.SocketInfo
}

func (fetchSocketsResponseMsg) msgType() int { return typeFetchSocketsResponse }

func (f fetchSocketsResponseMsg) wire() notepack.Map {
	list := make([]any, len(f.Sockets))
	for i, s := range f.Sockets {
		list[i] = socketValue(s)
	}
	return notepack.Map{{Key: keyRequestID, Value: f.RequestID}, {Key: keySockets, Value: list}}
}

func fetchSocketsResponseMsgOf(data notepack.Map) fetchSocketsResponseMsg {
	var f fetchSocketsResponseMsg
	f.RequestID, _ = str(data, keyRequestID)
	sv, _ := data.Get(keySockets)
	list, _ := sv.([]any)
	for _, s := range list {
		if sm, ok := s.(notepack.Map); ok {
			f.Sockets = append(f.Sockets, socketOf(sm))
		}
	}
	return f
}

// serverSideEmitMsg (SERVER_SIDE_EMIT) carries an event to the
// namespace's server-side handlers: Packet is the event name and
// arguments. With a request id, each server answers.
type serverSideEmitMsg struct {
	RequestID string // "": left out
	Packet    []any
}

func (serverSideEmitMsg) msgType() int { return typeServerSideEmit }

func (s serverSideEmitMsg) wire() notepack.Map {
	m := make(notepack.Map, 0, 2)
	if s.RequestID != "" {
		m = append(m, notepack.Entry{Key: keyRequestID, Value: s.RequestID})
	}
	return append(m, notepack.Entry{Key: keyPacket, Value: s.Packet})
}

// serverSideEmitMsgOf reads a request; the packet must name an event.
func serverSideEmitMsgOf(data notepack.Map) (serverSideEmitMsg, error) {
	pv, _ := data.Get(keyPacket)
	packet, ok := pv.([]any)
	if !ok || len(packet) == 0 {
		return serverSideEmitMsg{}, errMalformed
	}
	s := serverSideEmitMsg{Packet: packet}
	s.RequestID, _ = str(data, keyRequestID)
	return s, nil
}

// serverSideEmitResponseMsg (SERVER_SIDE_EMIT_RESPONSE) answers it:
// Packet is the first argument of the handler's acknowledgement
// (notepack.Undefined, left out, for none; nil when read without one).
type serverSideEmitResponseMsg struct {
	RequestID string
	Packet    any
}

func (serverSideEmitResponseMsg) msgType() int { return typeServerSideEmitResponse }

func (s serverSideEmitResponseMsg) wire() notepack.Map {
	return notepack.Map{{Key: keyRequestID, Value: s.RequestID}, {Key: keyPacket, Value: s.Packet}}
}

func serverSideEmitResponseMsgOf(data notepack.Map) serverSideEmitResponseMsg {
	var s serverSideEmitResponseMsg
	s.RequestID, _ = str(data, keyRequestID)
	s.Packet, _ = data.Get(keyPacket)
	return s
}

// clientCountMsg (BROADCAST_CLIENT_COUNT) says to how many clients a
// server sent a broadcast waiting for acknowledgements.
type clientCountMsg struct {
	RequestID   string
	ClientCount int
}

func (clientCountMsg) msgType() int { return typeBroadcastClientCount }

func (c clientCountMsg) wire() notepack.Map {
	return notepack.Map{{Key: keyRequestID, Value: c.RequestID}, {Key: keyClientCount, Value: c.ClientCount}}
}

func clientCountMsgOf(data notepack.Map) clientCountMsg {
	var c clientCountMsg
	c.RequestID, _ = str(data, keyRequestID)
	n, _ := data.Get(keyClientCount)
	f, _ := n.(float64)
	c.ClientCount = int(f)
	return c
}

// broadcastAckMsg (BROADCAST_ACK) carries one client's acknowledgement:
// Packet is its first argument (as serverSideEmitResponseMsg's).
type broadcastAckMsg struct {
	RequestID string
	Packet    any
}

func (broadcastAckMsg) msgType() int { return typeBroadcastAck }

func (b broadcastAckMsg) wire() notepack.Map {
	return notepack.Map{{Key: keyRequestID, Value: b.RequestID}, {Key: keyPacket, Value: b.Packet}}
}

func broadcastAckMsgOf(data notepack.Map) broadcastAckMsg {
	var b broadcastAckMsg
	b.RequestID, _ = str(data, keyRequestID)
	b.Packet, _ = data.Get(keyPacket)
	return b
}

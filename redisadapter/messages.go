package redisadapter

import (
	"github.com/pierhq/pier/internal/notepack"
	"github.com/pierhq/pier/socketio"
)

// The messages of the classic protocol as typed values. Each has a wire
// method giving the object Node writes (its properties in Node's order) and
// a parse function reading it back; encode turns the object into JSON or
// msgpack. The sharded protocol carries the same messages in another
// envelope (see toSharded and fromSharded).

// Property names of the wire messages.
const (
	keyUID         = "uid"
	keyRequestID   = "requestId"
	keyType        = "type"
	keyOpts        = "opts"
	keyRooms       = "rooms"
	keyExcept      = "except"
	keyFlags       = "flags"
	keyVolatile    = "volatile"
	keyCompress    = "compress"
	keyTimeout     = "timeout"
	keyClose       = "close"
	keySID         = "sid"
	keyRoom        = "room"
	keyData        = "data"
	keyPacket      = "packet"
	keyNsp         = "nsp"
	keySockets     = "sockets"
	keyClientCount = "clientCount"
)

// message is a request or response of the classic protocol.
type message interface {
	// wire returns the message as Node writes it.
	wire() notepack.Map
}

// encode writes a message as msgpack or as JSON (which starts with "{").
func encode(m message, asMsgpack bool) ([]byte, error) {
	if asMsgpack {
		return notepack.Encode(m.wire())
	}
	return encodeJSON(m.wire())
}

// head is what every request starts with: the sender's uid and the
// request id, each left out when empty (emitters send no uid; requests
// that expect no answer have no id).
type head struct {
	UID       string
	RequestID string
}

// start returns the first properties of a request of type typ.
func (h head) start(typ int) notepack.Map {
	m := make(notepack.Map, 0, 5)
	if h.UID != "" {
		m = append(m, notepack.Entry{Key: keyUID, Value: h.UID})
	}
	if h.RequestID != "" {
		m = append(m, notepack.Entry{Key: keyRequestID, Value: h.RequestID})
	}
	return append(m, notepack.Entry{Key: keyType, Value: typ})
}

func headOf(m notepack.Map) head {
	var h head
	h.UID, _ = getString(m, keyUID)
	h.RequestID, _ = getString(m, keyRequestID)
	return h
}

// wireFlags is the flags object of a request's opts.
type wireFlags struct {
	Timeout    int64 // milliseconds (broadcasts with acks); 0: left out
	Volatile   bool
	NoCompress bool // written as compress: false
}

func (f wireFlags) wire() notepack.Map {
	m := notepack.Map{}
	if f.Timeout > 0 {
		m = append(m, notepack.Entry{Key: keyTimeout, Value: f.Timeout})
	}
	if f.Volatile {
		m = append(m, notepack.Entry{Key: keyVolatile, Value: true})
	}
	if f.NoCompress {
		m = append(m, notepack.Entry{Key: keyCompress, Value: false})
	}
	return m
}

func flagsOf(m notepack.Map) wireFlags {
	var f wireFlags
	if t, ok := getNumber(m, keyTimeout); ok && t > 0 {
		f.Timeout = int64(t)
	}
	f.Volatile = getBool(m, keyVolatile)
	if c, ok := m.Get(keyCompress); ok && c == false {
		f.NoCompress = true
	}
	return f
}

// wireOpts is the {rooms, except, flags} object of broadcasts and room
// requests.
type wireOpts struct {
	Rooms  []socketio.Room
	Except []socketio.Room
	Flags  *wireFlags // nil: left out
}

func optsFor(o socketio.BroadcastOptions, flags *wireFlags) wireOpts {
	return wireOpts{Rooms: o.Rooms, Except: o.Except, Flags: flags}
}

func (o wireOpts) wire() notepack.Map {
	m := notepack.Map{{Key: keyRooms, Value: roomList(o.Rooms)}, {Key: keyExcept, Value: roomList(o.Except)}}
	if o.Flags != nil {
		m = append(m, notepack.Entry{Key: keyFlags, Value: o.Flags.wire()})
	}
	return m
}

// emitterWire is the opts object as the emitter writes it: flags before
// except.
func (o wireOpts) emitterWire() notepack.Map {
	var f wireFlags
	if o.Flags != nil {
		f = *o.Flags
	}
	return notepack.Map{{Key: keyRooms, Value: roomList(o.Rooms)}, {Key: keyFlags, Value: f.wire()}, {Key: keyExcept, Value: roomList(o.Except)}}
}

func wireOptsOf(m notepack.Map) wireOpts {
	var o wireOpts
	if v, ok := m.Get(keyRooms); ok {
		o.Rooms = roomsOf(v)
	}
	if v, ok := m.Get(keyExcept); ok {
		o.Except = roomsOf(v)
	}
	if f, ok := getMap(m, keyFlags); ok {
		flags := flagsOf(f)
		o.Flags = &flags
	}
	return o
}

// local is the selection o makes among this server's sockets.
func (o wireOpts) local() socketio.BroadcastOptions {
	b := socketio.BroadcastOptions{Rooms: o.Rooms, Except: o.Except, Local: true}
	if o.Flags != nil {
		b.Volatile, b.NoCompress = o.Flags.Volatile, o.Flags.NoCompress
	}
	return b
}

// wirePacket is the {type, data, nsp} object of broadcasts.
type wirePacket struct {
	Type int
	Data any // the event's arguments, binary inline
	Nsp  string
}

func (p wirePacket) wire() notepack.Map {
	return notepack.Map{{Key: keyType, Value: p.Type}, {Key: keyData, Value: p.Data}, {Key: keyNsp, Value: p.Nsp}}
}

// wirePacketOf reads a packet; nsp is "/" when it is missing or undefined
// (the sharded protocol leaves it out).
func wirePacketOf(m notepack.Map) (wirePacket, error) {
	t, _ := getNumber(m, keyType)
	p := wirePacket{Type: int(t), Nsp: "/"}
	p.Data, _ = m.Get(keyData)
	if _, ok := p.Data.([]any); !ok {
		return wirePacket{}, errMalformed
	}
	if v, ok := m.Get(keyNsp); ok {
		if _, u := v.(notepack.Undefined); !u {
			p.Nsp, _ = v.(string)
		}
	}
	return p, nil
}

// broadcastMessage is a broadcast without acknowledgements on the classic
// broadcast channel: the array [uid, packet, opts].
type broadcastMessage struct {
	UID    string
	Packet wirePacket
	Opts   wireOpts
}

func (b broadcastMessage) value() []any {
	return []any{b.UID, b.Packet.wire(), b.Opts.wire()}
}

// emitterValue is the array as the emitter writes it.
func (b broadcastMessage) emitterValue() []any {
	return []any{b.UID, b.Packet.wire(), b.Opts.emitterWire()}
}

func broadcastMessageOf(v any) (broadcastMessage, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) < 3 {
		return broadcastMessage{}, errMalformed
	}
	var b broadcastMessage
	b.UID, _ = arr[0].(string)
	pm, ok := arr[1].(notepack.Map)
	if !ok {
		return broadcastMessage{}, errMalformed
	}
	om, ok := arr[2].(notepack.Map)
	if !ok {
		return broadcastMessage{}, errMalformed
	}
	var err error
	if b.Packet, err = wirePacketOf(pm); err != nil {
		return broadcastMessage{}, err
	}
	b.Opts = wireOptsOf(om)
	return b, nil
}

// Requests.

// socketsRequest (SOCKETS) asks for the ids of the sockets in any of Rooms.
type socketsRequest struct {
	head
	Rooms []socketio.Room
}

func (r socketsRequest) wire() notepack.Map {
	return append(r.start(reqSockets), notepack.Entry{Key: keyRooms, Value: roomList(r.Rooms)})
}

func socketsRequestOf(m notepack.Map) socketsRequest {
	v, _ := m.Get(keyRooms)
	return socketsRequest{head: headOf(m), Rooms: roomsOf(v)}
}

// allRoomsRequest (ALL_ROOMS) asks for every room.
type allRoomsRequest struct{ head }

func (r allRoomsRequest) wire() notepack.Map { return r.start(reqAllRooms) }

func allRoomsRequestOf(m notepack.Map) allRoomsRequest { return allRoomsRequest{headOf(m)} }

// roomRequest is REMOTE_JOIN, REMOTE_LEAVE or REMOTE_DISCONNECT (Type):
// for the sockets Opts selects, or, in the socket.io-redis 6 form (Opts
// nil), for the socket SID (Room: the room to join or leave).
type roomRequest struct {
	head
	Type  int
	Opts  *wireOpts
	Rooms []socketio.Room // join, leave
	Close bool            // disconnect
	SID   string          // socket.io-redis 6
	Room  *socketio.Room  // socket.io-redis 6: join, leave
}

func (r roomRequest) wire() notepack.Map {
	m := r.start(r.Type)
	if r.Opts != nil {
		m = append(m, notepack.Entry{Key: keyOpts, Value: r.Opts.wire()})
	}
	if r.SID != "" {
		m = append(m, notepack.Entry{Key: keySID, Value: r.SID})
	}
	if r.Type == reqRemoteDisconnect {
		return append(m, notepack.Entry{Key: keyClose, Value: r.Close})
	}
	if r.Opts != nil {
		m = append(m, notepack.Entry{Key: keyRooms, Value: roomList(r.Rooms)})
	}
	if r.Room != nil {
		m = append(m, notepack.Entry{Key: keyRoom, Value: string(*r.Room)})
	}
	return m
}

// roomRequestOf reads a room request; ok is false when a join or leave
// names no room.
func roomRequestOf(m notepack.Map, typ int) (roomRequest, bool) {
	r := roomRequest{head: headOf(m), Type: typ, Close: getBool(m, keyClose)}
	if o, ok := getMap(m, keyOpts); ok {
		opts := wireOptsOf(o)
		r.Opts = &opts
		if typ != reqRemoteDisconnect {
			v, ok := m.Get(keyRooms)
			if !ok {
				return r, false
			}
			r.Rooms = roomsOf(v)
		}
		return r, true
	}
	r.SID, _ = getString(m, keySID)
	if typ != reqRemoteDisconnect {
		v, _ := m.Get(keyRoom)
		room, ok := roomOf(v)
		if !ok {
			return r, false
		}
		r.Room = &room
	}
	return r, true
}

// fetchSocketsRequest (REMOTE_FETCH) asks for the sockets Opts selects.
type fetchSocketsRequest struct {
	head
	Opts wireOpts
}

func (r fetchSocketsRequest) wire() notepack.Map {
	return append(r.start(reqRemoteFetch), notepack.Entry{Key: keyOpts, Value: r.Opts.wire()})
}

func fetchSocketsRequestOf(m notepack.Map) fetchSocketsRequest {
	o, _ := getMap(m, keyOpts)
	return fetchSocketsRequest{head: headOf(m), Opts: wireOptsOf(o)}
}

// serverSideEmitRequest (SERVER_SIDE_EMIT) carries an event to the
// namespace's server-side handlers: Data is the event name and arguments.
// With a request id, each server answers.
type serverSideEmitRequest struct {
	head
	Data []any
}

func (r serverSideEmitRequest) wire() notepack.Map {
	return append(r.start(reqServerSideEmit), notepack.Entry{Key: keyData, Value: r.Data})
}

// serverSideEmitRequestOf reads a request; ok is false when it has no
// event name.
func serverSideEmitRequestOf(m notepack.Map) (serverSideEmitRequest, bool) {
	data, ok := getArray(m, keyData)
	return serverSideEmitRequest{head: headOf(m), Data: data}, ok && len(data) > 0
}

// broadcastRequest (BROADCAST) is a broadcast with acknowledgements, sent
// as msgpack.
type broadcastRequest struct {
	head
	Packet wirePacket
	Opts   wireOpts
}

func (r broadcastRequest) wire() notepack.Map {
	return append(r.start(reqBroadcast), notepack.Entry{Key: keyPacket, Value: r.Packet.wire()}, notepack.Entry{Key: keyOpts, Value: r.Opts.wire()})
}

// broadcastRequestOf reads a request; ok is false without a packet
// object, err tells a malformed packet.
func broadcastRequestOf(m notepack.Map) (r broadcastRequest, ok bool, err error) {
	pm, ok := getMap(m, keyPacket)
	if !ok {
		return broadcastRequest{}, false, nil
	}
	r.head = headOf(m)
	if r.Packet, err = wirePacketOf(pm); err != nil {
		return broadcastRequest{}, true, err
	}
	o, _ := getMap(m, keyOpts)
	r.Opts = wireOptsOf(o)
	return r, true, nil
}

// Responses.

// socketsResponse answers a socketsRequest.
type socketsResponse struct {
	RequestID string
	Sockets   []string
}

func (r socketsResponse) wire() notepack.Map {
	ids := make([]any, len(r.Sockets))
	for i, s := range r.Sockets {
		ids[i] = s
	}
	return notepack.Map{{Key: keyRequestID, Value: r.RequestID}, {Key: keySockets, Value: ids}}
}

func socketsResponseOf(m notepack.Map) socketsResponse {
	r := socketsResponse{}
	r.RequestID, _ = getString(m, keyRequestID)
	list, _ := getArray(m, keySockets)
	for _, v := range list {
		if s, ok := v.(string); ok {
			r.Sockets = append(r.Sockets, s)
		}
	}
	return r
}

// allRoomsResponse answers an allRoomsRequest.
type allRoomsResponse struct {
	RequestID string
	Rooms     []socketio.Room
}

func (r allRoomsResponse) wire() notepack.Map {
	return notepack.Map{{Key: keyRequestID, Value: r.RequestID}, {Key: keyRooms, Value: roomList(r.Rooms)}}
}

func allRoomsResponseOf(m notepack.Map) allRoomsResponse {
	r := allRoomsResponse{}
	r.RequestID, _ = getString(m, keyRequestID)
	v, _ := m.Get(keyRooms)
	r.Rooms = roomsOf(v)
	return r
}

// roomResponse answers a roomRequest of the socket.io-redis 6 form.
type roomResponse struct{ RequestID string }

func (r roomResponse) wire() notepack.Map {
	return notepack.Map{{Key: keyRequestID, Value: r.RequestID}}
}

// fetchSocketsResponse answers a fetchSocketsRequest.
type fetchSocketsResponse struct {
	RequestID string
	Sockets   []socketio.SocketInfo
}

func (r fetchSocketsResponse) wire() notepack.Map {
	list := make([]any, len(r.Sockets))
	for i, s := range r.Sockets {
		list[i] = socketValue(s)
	}
	return notepack.Map{{Key: keyRequestID, Value: r.RequestID}, {Key: keySockets, Value: list}}
}

func fetchSocketsResponseOf(m notepack.Map) fetchSocketsResponse {
	r := fetchSocketsResponse{}
	r.RequestID, _ = getString(m, keyRequestID)
	list, _ := getArray(m, keySockets)
	for _, v := range list {
		if s, ok := socketOf(v); ok {
			r.Sockets = append(r.Sockets, s)
		}
	}
	return r
}

// serverSideEmitResponse answers a serverSideEmitRequest: Data is the
// acknowledgement's first argument (notepack.Undefined for none).
type serverSideEmitResponse struct {
	RequestID string
	Data      any
}

func (r serverSideEmitResponse) wire() notepack.Map {
	return notepack.Map{{Key: keyType, Value: reqServerSideEmit}, {Key: keyRequestID, Value: r.RequestID}, {Key: keyData, Value: r.Data}}
}

func isUndefined(v any) bool {
	_, u := v.(notepack.Undefined)
	return u
}

func serverSideEmitResponseOf(m notepack.Map) serverSideEmitResponse {
	r := serverSideEmitResponse{Data: notepack.Undefined{}}
	r.RequestID, _ = getString(m, keyRequestID)
	if v, ok := m.Get(keyData); ok {
		r.Data = v
	}
	return r
}

// clientCountResponse (BROADCAST_CLIENT_COUNT) says to how many clients a
// server sent a broadcastRequest's packet.
type clientCountResponse struct {
	RequestID   string
	ClientCount int
}

func (r clientCountResponse) wire() notepack.Map {
	return notepack.Map{{Key: keyType, Value: reqBroadcastClientCount}, {Key: keyRequestID, Value: r.RequestID}, {Key: keyClientCount, Value: r.ClientCount}}
}

func clientCountResponseOf(m notepack.Map) clientCountResponse {
	r := clientCountResponse{}
	r.RequestID, _ = getString(m, keyRequestID)
	n, _ := getNumber(m, keyClientCount)
	r.ClientCount = int(n)
	return r
}

// broadcastAckResponse (BROADCAST_ACK) carries one client's
// acknowledgement of a broadcastRequest: Packet is its first argument
// (notepack.Undefined for none). HasPacket says whether a response read
// from the wire had the property.
type broadcastAckResponse struct {
	RequestID string
	Packet    any
	HasPacket bool
}

func (r broadcastAckResponse) wire() notepack.Map {
	return notepack.Map{{Key: keyType, Value: reqBroadcastAck}, {Key: keyRequestID, Value: r.RequestID}, {Key: keyPacket, Value: r.Packet}}
}

func broadcastAckResponseOf(m notepack.Map) broadcastAckResponse {
	r := broadcastAckResponse{}
	r.RequestID, _ = getString(m, keyRequestID)
	r.Packet, r.HasPacket = m.Get(keyPacket)
	return r
}

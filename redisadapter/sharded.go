package redisadapter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"

	"github.com/pierhq/pier/internal/notepack"
	"github.com/pierhq/pier/socketio"
)

// Protocol is the wire protocol of a cluster's nodes.
type Protocol int

const (
	// Classic is the protocol of createAdapter in @socket.io/redis-adapter
	// 8.3.0 (PUBLISH, SUBSCRIBE and PSUBSCRIBE), which the emitter and
	// socket.io-redis 6 also speak.
	Classic Protocol = iota
	// Sharded is the protocol of createShardedAdapter in
	// @socket.io/redis-adapter 8.3.0: the ClusterAdapter messages of
	// socket.io-adapter over Redis 7 sharded pub/sub (SPUBLISH, SSUBSCRIBE).
	// Emitters cannot reach it.
	Sharded
)

// SubscriptionMode is the subscriptionMode option of createShardedAdapter:
// which broadcasts to a single room travel on a channel of that room, so
// that only the servers that have the room receive them.
type SubscriptionMode int

const (
	// SubscriptionDynamic ("dynamic", Node's default): a room that is not a
	// socket id has its own channel, {Key}#{nsp}#{room}#, which a server
	// subscribes to while one of its sockets is in the room. Broadcasts to
	// one room whose name is 20 characters long (the length of a socket
	// id) use the main channel.
	SubscriptionDynamic SubscriptionMode = iota
	// SubscriptionStatic ("static"): every message uses the main channel.
	SubscriptionStatic
	// SubscriptionDynamicPrivate ("dynamic-private"): every room, socket
	// ids included, has its own channel.
	SubscriptionDynamicPrivate
)

// Message types of the sharded protocol (MessageType of socket.io-adapter
// 2.5's ClusterAdapter; 1, 2 and 13, the heartbeats, are not used over
// Redis).
const (
	msgBroadcast              = 3
	msgSocketsJoin            = 4
	msgSocketsLeave           = 5
	msgDisconnectSockets      = 6
	msgFetchSockets           = 7
	msgFetchSocketsResponse   = 8
	msgServerSideEmit         = 9
	msgServerSideEmitResponse = 10
	msgBroadcastClientCount   = 11
	msgBroadcastAck           = 12
)

// shardedKind maps a sharded message type to the classic request or
// response the adapter handles: the sharded protocol carries the same
// operations in another envelope, {type, data, uid, nsp}.
type shardedKind struct {
	typ      int
	classic  int  // the classic request type, or the type of a classic response (-1: none)
	response bool // sent to the requester's channel
	binary   bool // msgpack when data holds binary (JSON otherwise), as ShardedRedisAdapter.encode
	keys     [][2]string
}

// shardedKinds lists data's properties in Node's order, each as its
// sharded name and the classic name.
var shardedKinds = []shardedKind{
	{msgBroadcast, reqBroadcast, false, true, [][2]string{{keyPacket, keyPacket}, {keyRequestID, keyRequestID}, {keyOpts, keyOpts}}},
	{msgSocketsJoin, reqRemoteJoin, false, false, [][2]string{{keyOpts, keyOpts}, {keyRooms, keyRooms}}},
	{msgSocketsLeave, reqRemoteLeave, false, false, [][2]string{{keyOpts, keyOpts}, {keyRooms, keyRooms}}},
	{msgDisconnectSockets, reqRemoteDisconnect, false, false, [][2]string{{keyOpts, keyOpts}, {keyClose, keyClose}}},
	{msgFetchSockets, reqRemoteFetch, false, false, [][2]string{{keyOpts, keyOpts}, {keyRequestID, keyRequestID}}},
	{msgFetchSocketsResponse, -1, true, true, [][2]string{{keyRequestID, keyRequestID}, {keySockets, keySockets}}},
	{msgServerSideEmit, reqServerSideEmit, false, true, [][2]string{{keyRequestID, keyRequestID}, {keyPacket, keyData}}},
	{msgServerSideEmitResponse, reqServerSideEmit, true, true, [][2]string{{keyRequestID, keyRequestID}, {keyPacket, keyData}}},
	{msgBroadcastClientCount, reqBroadcastClientCount, true, false, [][2]string{{keyRequestID, keyRequestID}, {keyClientCount, keyClientCount}}},
	{msgBroadcastAck, reqBroadcastAck, true, true, [][2]string{{keyRequestID, keyRequestID}, {keyPacket, keyPacket}}},
}

// fromSharded converts a sharded message into the classic shape (uid,
// type, then the type's fields) and says whether it is a response.
func fromSharded(env notepack.Map) (notepack.Map, bool, error) {
	t := msgType(env)
	data, ok := getMap(env, keyData)
	if !ok {
		return nil, false, errMalformed
	}
	for _, k := range shardedKinds {
		if k.typ != t {
			continue
		}
		m := notepack.Map{}
		if uid, ok := env.Get(keyUID); ok {
			m = append(m, notepack.Entry{Key: keyUID, Value: uid})
		}
		if k.classic >= 0 {
			m = append(m, notepack.Entry{Key: keyType, Value: float64(k.classic)})
		}
		for _, key := range k.keys {
			if v, ok := data.Get(key[0]); ok {
				m = append(m, notepack.Entry{Key: key[1], Value: v})
			}
		}
		return m, k.response, nil
	}
	return nil, false, errMalformed
}

// toSharded converts a classic request or response into a sharded type
// and its data, as Node writes them: opts always with flags, broadcast
// packets without nsp.
func toSharded(m notepack.Map, response bool) (shardedKind, notepack.Map, error) {
	t := msgType(m)
	for _, k := range shardedKinds {
		if k.response != response || k.classic != t {
			continue
		}
		data := notepack.Map{}
		for _, key := range k.keys {
			v, ok := m.Get(key[1])
			if !ok {
				continue
			}
			switch key[0] {
			case keyOpts:
				if o, ok := v.(notepack.Map); ok {
					if _, ok := o.Get(keyFlags); !ok {
						v = append(o[:len(o):len(o)], notepack.Entry{Key: keyFlags, Value: notepack.Map{}})
					}
				}
			case keyPacket:
				if p, ok := v.(notepack.Map); ok && k.typ == msgBroadcast {
					q := make(notepack.Map, 0, len(p))
					for _, e := range p {
						if e.Key != keyNsp {
							q = append(q, e)
						}
					}
					v = q
				}
			}
			data = append(data, notepack.Entry{Key: key[0], Value: v})
		}
		return k, data, nil
	}
	return shardedKind{}, nil, errMalformed
}

// encodeSharded encodes a request or response given in the classic shape
// as the sharded message {type, data, uid, nsp} node uid of namespace nsp
// sends: msgpack when its type may carry binary and data holds some, JSON
// otherwise. It also returns the message's kind and data.
func encodeSharded(m notepack.Map, response bool, uid, nsp string) (shardedKind, notepack.Map, []byte, error) {
	k, data, err := toSharded(m, response)
	if err != nil {
		return k, nil, nil, err
	}
	env := notepack.Map{{Key: keyType, Value: k.typ}, {Key: keyData, Value: data}, {Key: keyUID, Value: uid}, {Key: keyNsp, Value: nsp}}
	var b []byte
	if k.binary && hasBinary(data, 0) {
		b, err = notepack.Encode(env)
	} else {
		b, err = encodeJSON(env)
	}
	return k, data, b, err
}

// publishSharded queues a request (toUID empty) or a response to node
// toUID, given in the classic shape, as a sharded message; with wait, it
// returns the outcome of the publication.
func (a *Adapter) publishSharded(ctx context.Context, m notepack.Map, toUID string, wait bool) error {
	k, data, b, err := encodeSharded(m, toUID != "", a.uid, a.nsp.Name())
	if err != nil {
		return err
	}
	channel := a.broadcastChannel
	if toUID != "" {
		channel += toUID + "#"
	} else if room, ok := a.roomChannelOf(k.typ, data); ok {
		channel = a.roomChannel(room)
	}
	return a.out.push(ctx, channel, b, wait)
}

// roomChannelOf says whether a message goes to the channel of a room
// (computeChannel in Node): a broadcast without acks to exactly one room,
// in the dynamic modes, unless (dynamic) the room looks like a socket id.
// Broadcasts with acks use the main channel, where every counted server
// reads.
func (a *Adapter) roomChannelOf(typ int, data notepack.Map) (string, bool) {
	mode := a.h.opts.SubscriptionMode
	if typ != msgBroadcast || mode == SubscriptionStatic {
		return "", false
	}
	if _, ok := data.Get(keyRequestID); ok {
		return "", false
	}
	o, _ := getMap(data, keyOpts)
	rooms, _ := getArray(o, keyRooms)
	if len(rooms) != 1 {
		return "", false
	}
	room, _ := rooms[0].(string)
	if mode == SubscriptionDynamic && jsLength(room) == 20 {
		return "", false
	}
	return room, true
}

func (a *Adapter) roomChannel(room string) string { return a.broadcastChannel + room + "#" }

// jsLength is the length of s as JavaScript counts it (UTF-16 units).
func jsLength(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// hasBinary reports whether a wire value holds binary ([]byte, which
// notepack encodes as bin and JSON as Node's Buffer object).
func hasBinary(v any, depth int) bool {
	if depth > notepack.DefaultMaxDepth {
		return false
	}
	switch t := v.(type) {
	case []byte:
		return true
	case notepack.Map:
		for _, e := range t {
			if hasBinary(e.Value, depth+1) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if hasBinary(e, depth+1) {
				return true
			}
		}
	case map[string]any: // an acknowledgement's Go value
		for _, e := range t {
			if hasBinary(e, depth+1) {
				return true
			}
		}
	}
	return false
}

// hexID is a node or request id as ClusterAdapter makes them: 8 random
// bytes in hex.
func hexID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// onMessage handles a message on the main channel or a room channel, on
// the namespace's goroutine (ClusterAdapter.onMessage).
func (a *Adapter) onMessage(channel string, payload []byte) {
	env, err := decodeMessage(payload)
	if err != nil {
		a.logBad(channel, "message", err)
		return
	}
	if uid, _ := getString(env, keyUID); uid == a.uid {
		return
	}
	if nsp, _ := getString(env, keyNsp); nsp != a.nsp.Name() {
		return
	}
	m, response, err := fromSharded(env)
	if err != nil {
		a.logBad(channel, "message", err)
		return
	}
	if response {
		a.handleResponse(channel, m)
		return
	}
	if msgType(m) == reqBroadcast {
		if _, withAck := m.Get(keyRequestID); !withAck {
			req, ok, err := broadcastRequestOf(m)
			if !ok {
				err = errMalformed
			}
			if err != nil {
				a.logBad(channel, "broadcast", err)
				return
			}
			a.deliver(channel, req.Packet, req.Opts)
			return
		}
	}
	a.handleRequest(channel, m)
}

// fetchRooms is AllRooms over the sharded protocol, which has no such
// request: the rooms of every socket FetchSockets returns.
func (a *Adapter) fetchRooms(ctx context.Context) ([]socketio.Room, error) {
	socks, err := a.FetchSockets(ctx, socketio.BroadcastOptions{})
	seen := make(map[socketio.Room]struct{})
	var rooms []socketio.Room
	for _, s := range socks {
		for _, r := range s.Rooms {
			if _, dup := seen[r]; !dup {
				seen[r] = struct{}{}
				rooms = append(rooms, r)
			}
		}
	}
	return rooms, err
}

// fetchIDs is Sockets over the sharded protocol, through FetchSockets.
func (a *Adapter) fetchIDs(ctx context.Context, rooms []socketio.Room) ([]string, error) {
	socks, err := a.FetchSockets(ctx, socketio.BroadcastOptions{Rooms: rooms})
	ids := make([]string, len(socks))
	for i, s := range socks {
		ids[i] = s.ID
	}
	return ids, err
}

// roomSubs keeps the room channels of the dynamic subscription modes in
// step with the rooms of this server's sockets: Join and Leave mark rooms
// dirty (they must not block), roomSubscriber subscribes and unsubscribes.
type roomSubs struct {
	mu         sync.Mutex
	dirty      map[socketio.Room]struct{}
	subscribed map[socketio.Room]struct{} // owned by roomSubscriber
	wake       chan struct{}
	end        chan struct{}
}

func newRoomSubs() *roomSubs {
	return &roomSubs{
		dirty:      make(map[socketio.Room]struct{}),
		subscribed: make(map[socketio.Room]struct{}),
		wake:       make(chan struct{}, 1),
		end:        make(chan struct{}),
	}
}

// Join adds the socket id to rooms on this server.
func (a *Adapter) Join(id string, rooms ...socketio.Room) {
	a.local.Join(id, rooms...)
	a.roomsChanged(rooms)
}

// Leave removes the socket id from rooms on this server.
func (a *Adapter) Leave(id string, rooms ...socketio.Room) {
	a.local.Leave(id, rooms...)
	a.roomsChanged(rooms)
}

// LeaveAll removes the socket id from all its rooms on this server.
func (a *Adapter) LeaveAll(id string) {
	var rooms []socketio.Room
	if a.rooms != nil {
		rooms = a.local.SocketRooms(id)
	}
	a.local.LeaveAll(id)
	a.roomsChanged(rooms)
}

func (a *Adapter) roomsChanged(rooms []socketio.Room) {
	s := a.rooms
	if s == nil || len(rooms) == 0 {
		return
	}
	s.mu.Lock()
	for _, r := range rooms {
		s.dirty[r] = struct{}{}
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// wantsRoomChannel reports whether this server listens to the channel of
// room r (the create-room and delete-room handlers of Node): while r has
// members here and, in dynamic mode, is not one of this server's socket
// ids.
func (a *Adapter) wantsRoomChannel(r socketio.Room) bool {
	if !a.local.HasRoom(r) {
		return false
	}
	return a.h.opts.SubscriptionMode == SubscriptionDynamicPrivate || len(a.local.SocketRooms(string(r))) == 0
}

func (a *Adapter) roomSubscriber() {
	s := a.rooms
	defer close(s.end)
	for {
		select {
		case <-a.stop:
			return
		case <-s.wake:
		}
		s.mu.Lock()
		dirty := s.dirty
		s.dirty = make(map[socketio.Room]struct{})
		s.mu.Unlock()
		var add, drop []sub
		for r := range dirty {
			_, have := s.subscribed[r]
			switch want := a.wantsRoomChannel(r); {
			case want && !have:
				s.subscribed[r] = struct{}{}
				add = append(add, sub{name: a.roomChannel(string(r)), kind: routeMessage})
			case !want && have:
				delete(s.subscribed, r)
				drop = append(drop, sub{name: a.roomChannel(string(r)), kind: routeMessage})
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), a.h.opts.RequestsTimeout)
		if len(add) > 0 {
			if err := a.h.watch(ctx, a, add); err != nil {
				a.h.log.Warn("redisadapter: subscribing to room channels", "nsp", a.nsp.Name(), "err", err)
			}
		}
		if len(drop) > 0 {
			a.h.unsubscribe(ctx, drop)
		}
		cancel()
	}
}

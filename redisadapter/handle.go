package redisadapter

import (
	"context"
	"sync"

	"github.com/pierhq/pier/internal/notepack"
	"github.com/pierhq/pier/socketio"
)

// request is one of this node's requests waiting for answers.
type request struct {
	typ  int
	done chan struct{}

	mu       sync.Mutex
	want     int // answers expected from the other servers; -1 while unknown
	got      int
	finished bool
	sockets  []socketio.SocketInfo
	rooms    []socketio.Room
	ids      []string
	ssAcks   []socketio.Args
	acks     *socketio.BroadcastAcks // broadcast with acks
	clients  int                     // broadcast: clients the other servers sent to
	acked    int                     // broadcast: acknowledgements received from them
}

// finish closes done once; r.mu must be held.
func (r *request) finish() {
	if !r.finished {
		r.finished = true
		close(r.done)
	}
}

func (r *request) setWant(n int) {
	r.mu.Lock()
	r.want = n
	if r.got >= n {
		r.finish()
	}
	r.mu.Unlock()
}

// missing is the number of servers that have not answered.
func (r *request) missing() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.want < 0 {
		return 0
	}
	return max(r.want-r.got, 0)
}

func (a *Adapter) register(id string, typ, want int) *request {
	r := &request{typ: typ, want: want, done: make(chan struct{})}
	a.mu.Lock()
	a.requests[id] = r
	a.mu.Unlock()
	return r
}

func (a *Adapter) forget(id string) {
	a.mu.Lock()
	delete(a.requests, id)
	a.mu.Unlock()
}

// onResponse handles an answer to one of this node's requests; it runs on
// the hub's reading goroutine, so that a request waited for from a
// namespace handler still gets its answers.
func (a *Adapter) onResponse(channel string, payload []byte) {
	m, err := decodeMessage(payload)
	if err == nil && a.sharded {
		m, _, err = fromSharded(m)
	}
	if err != nil {
		a.logBad(channel, "response", err)
		return
	}
	a.handleResponse(channel, m)
}

// handleResponse handles an answer in the classic shape.
func (a *Adapter) handleResponse(channel string, m notepack.Map) {
	id, _ := getString(m, "requestId")
	a.mu.Lock()
	r := a.requests[id]
	a.mu.Unlock()
	if r == nil {
		return
	}
	if r.typ == reqBroadcast {
		a.onBroadcastResponse(channel, id, r, m)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return
	}
	switch r.typ {
	case reqRemoteFetch:
		list, _ := getArray(m, "sockets")
		for _, v := range list {
			if s, ok := socketOf(v); ok {
				r.sockets = append(r.sockets, s)
			}
		}
	case reqSockets:
		list, _ := getArray(m, "sockets")
		for _, v := range list {
			if s, ok := v.(string); ok {
				r.ids = append(r.ids, s)
			}
		}
	case reqAllRooms:
		v, _ := m.Get("rooms")
		r.rooms = append(r.rooms, roomsOf(v)...)
	case reqServerSideEmit:
		var vals []any
		if v, ok := m.Get("data"); ok {
			if _, u := v.(notepack.Undefined); !u {
				vals = []any{v}
			}
		}
		_, args, err := argsFromValues(append([]any{}, vals...), false)
		if err != nil {
			a.logBad(channel, "serverSideEmit response", err)
		}
		r.ssAcks = append(r.ssAcks, args)
	}
	r.got++
	if r.want >= 0 && r.got >= r.want {
		r.finish()
	}
}

func (a *Adapter) onBroadcastResponse(channel, id string, r *request, m notepack.Map) {
	t, _ := getNumber(m, "type")
	switch t {
	case reqBroadcastClientCount:
		n, _ := getNumber(m, "clientCount")
		// Count the clients before the server, so that Broadcast never
		// returns with a count missing.
		r.acks.ClientCount(int(n))
		r.mu.Lock()
		r.clients += int(n)
		r.got++
		if r.want >= 0 && r.got >= r.want {
			r.finish()
		}
	case reqBroadcastAck:
		var vals []any
		if v, ok := m.Get("packet"); ok {
			vals = []any{v}
		}
		_, args, err := argsFromValues(vals, false)
		if err != nil {
			a.logBad(channel, "broadcast ack", err)
			return
		}
		r.acks.Ack(args)
		r.mu.Lock()
		r.acked++
	default:
		return
	}
	complete := r.finished && r.acked >= r.clients
	r.mu.Unlock()
	if complete {
		a.forget(id)
	}
}

// respond publishes an answer (in the classic shape) to req. Sharded:
// on the requester's own channel. Classic: there too when
// PublishOnSpecificResponseChannel is set and the request says who sent
// it, except answers to ServerSideEmit, always on the common channel as
// 8.3.0 does; asMsgpack selects the classic encoding.
func (a *Adapter) respond(req notepack.Map, msg notepack.Map, asMsgpack bool) {
	uid, hasUID := getString(req, "uid")
	if a.sharded {
		if uid != "" {
			a.publishSharded(context.Background(), msg, uid, false)
		}
		return
	}
	channel := a.responseChannel
	if msgType(msg) != reqServerSideEmit && hasUID && a.h.opts.PublishOnSpecificResponseChannel {
		channel += uid + "#"
	}
	var b []byte
	var err error
	if asMsgpack {
		b, err = notepack.Encode(msg)
	} else {
		b, err = encodeJSON(msg)
	}
	if err != nil {
		a.h.log.Warn("redisadapter: encoding a response", "err", err)
		return
	}
	a.out.push(context.Background(), channel, b, false)
}

// onRequest handles a classic request of another node (or of an
// emitter), on the namespace's goroutine.
func (a *Adapter) onRequest(channel string, payload []byte) {
	m, err := decodeMessage(payload)
	if err != nil {
		a.logBad(channel, "request", err)
		return
	}
	a.handleRequest(channel, m)
}

// handleRequest handles a request in the classic shape.
func (a *Adapter) handleRequest(channel string, m notepack.Map) {
	if uid, ok := getString(m, "uid"); ok && uid == a.uid {
		return // our own request: applied locally already, or not for us
	}
	typ, _ := getNumber(m, "type")
	id, hasID := getString(m, "requestId")
	ctx := context.Background()
	switch typ {
	case reqSockets:
		if !hasID {
			return
		}
		v, _ := m.Get("rooms")
		local, _ := a.local.FetchSockets(ctx, socketio.BroadcastOptions{Rooms: roomsOf(v)})
		ids := make([]any, len(local))
		for i, s := range local {
			ids[i] = s.ID
		}
		a.respond(m, notepack.Map{{Key: "requestId", Value: id}, {Key: "sockets", Value: ids}}, false)
	case reqAllRooms:
		if !hasID {
			return
		}
		a.respond(m, notepack.Map{{Key: "requestId", Value: id}, {Key: "rooms", Value: roomList(a.local.Rooms())}}, false)
	case reqRemoteJoin, reqRemoteLeave, reqRemoteDisconnect:
		a.onRoomRequest(m, int(typ), id)
	case reqRemoteFetch:
		if !hasID {
			return
		}
		o, _ := getMap(m, "opts")
		local, _ := a.local.FetchSockets(ctx, optsOf(o))
		list := make([]any, len(local))
		for i, s := range local {
			list[i] = socketValue(s)
		}
		a.respond(m, notepack.Map{{Key: "requestId", Value: id}, {Key: "sockets", Value: list}}, false)
	case reqServerSideEmit:
		data, ok := getArray(m, "data")
		if !ok || len(data) == 0 {
			return
		}
		name, args, err := argsFromValues(data, true)
		if err != nil {
			a.logBad(channel, "serverSideEmit", err)
			return
		}
		var ack func(args ...any)
		if hasID {
			var once sync.Once
			ack = func(args ...any) {
				once.Do(func() {
					var v any = notepack.Undefined{}
					if len(args) > 0 {
						v = args[0]
					}
					a.respond(m, notepack.Map{{Key: "type", Value: reqServerSideEmit}, {Key: "requestId", Value: id}, {Key: "data", Value: v}}, false)
				})
			}
		}
		socketio.HostOf(a.nsp).ServerSideEmit(name, args, ack)
	case reqBroadcast:
		if !hasID {
			return
		}
		a.mu.Lock()
		_, mine := a.requests[id]
		a.mu.Unlock()
		if mine {
			return
		}
		pm, ok := getMap(m, "packet")
		if !ok {
			return
		}
		p, err := packetOf(pm, a.nsp.Name())
		if err != nil {
			a.logBad(channel, "broadcast request", err)
			return
		}
		p.ID, p.HasID = socketio.HostOf(a.nsp).NextAckID(), true
		o, _ := getMap(m, "opts")
		acks := &socketio.BroadcastAcks{
			ClientCount: func(n int) {
				a.respond(m, notepack.Map{{Key: "type", Value: reqBroadcastClientCount}, {Key: "requestId", Value: id}, {Key: "clientCount", Value: n}}, false)
			},
			Ack: func(args socketio.Args) {
				a.respond(m, notepack.Map{{Key: "type", Value: reqBroadcastAck}, {Key: "requestId", Value: id}, {Key: "packet", Value: argValue(args, 0)}}, !a.h.opts.LegacyPeers)
			},
		}
		a.local.Broadcast(ctx, p, optsOf(o), acks)
	}
}

// onRoomRequest applies a remote join, leave or disconnect: to the sockets
// its opts select, or (the socket.io-redis 6 form) to the socket sid, then
// answered.
func (a *Adapter) onRoomRequest(m notepack.Map, typ int, id string) {
	ctx := context.Background()
	if o, ok := getMap(m, "opts"); ok {
		var op socketio.RoomOp
		switch typ {
		case reqRemoteJoin, reqRemoteLeave:
			v, ok := m.Get("rooms")
			if !ok {
				return
			}
			rooms := roomsOf(v)
			if typ == reqRemoteJoin {
				op.Join = rooms
			} else {
				op.Leave = rooms
			}
		default:
			op.Disconnect, op.Close = true, getBool(m, "close")
		}
		a.local.Apply(ctx, optsOf(o), op)
		return
	}
	sid, _ := getString(m, "sid")
	s := a.nsp.Socket(sid)
	if s == nil {
		return
	}
	switch typ {
	case reqRemoteJoin, reqRemoteLeave:
		v, _ := m.Get("room")
		room, ok := roomOf(v)
		if !ok {
			return
		}
		if typ == reqRemoteJoin {
			s.Join(room)
		} else {
			s.Leave(room)
		}
	default:
		s.Disconnect(getBool(m, "close"))
	}
	a.respond(m, notepack.Map{{Key: "requestId", Value: id}}, false)
}

// onBroadcast delivers a classic broadcast of another node to this
// server's sockets.
func (a *Adapter) onBroadcast(channel string, payload []byte) {
	v, err := notepack.Decode(payload)
	if err != nil {
		a.logBad(channel, "broadcast", err)
		return
	}
	arr, ok := v.([]any)
	if !ok || len(arr) < 3 {
		a.logBad(channel, "broadcast", errMalformed)
		return
	}
	if uid, _ := arr[0].(string); uid == a.uid {
		return
	}
	pm, ok := arr[1].(notepack.Map)
	if !ok {
		a.logBad(channel, "broadcast", errMalformed)
		return
	}
	nsp := "/"
	if v, ok := pm.Get("nsp"); ok {
		if _, u := v.(notepack.Undefined); !u {
			nsp, _ = v.(string)
		}
	}
	if nsp != a.nsp.Name() {
		return
	}
	om, ok := arr[2].(notepack.Map)
	if !ok {
		a.logBad(channel, "broadcast", errMalformed)
		return
	}
	a.deliver(channel, pm, om)
}

// deliver sends a broadcast of another node (its wire packet and opts) to
// this server's sockets.
func (a *Adapter) deliver(channel string, pm, om notepack.Map) {
	p, err := packetOf(pm, a.nsp.Name())
	if err != nil {
		a.logBad(channel, "broadcast", err)
		return
	}
	a.local.Broadcast(context.Background(), p, optsOf(om), nil)
}

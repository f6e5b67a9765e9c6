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
	id, _ := getString(m, keyRequestID)
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
		r.sockets = append(r.sockets, fetchSocketsResponseOf(m).Sockets...)
	case reqSockets:
		r.ids = append(r.ids, socketsResponseOf(m).Sockets...)
	case reqAllRooms:
		r.rooms = append(r.rooms, allRoomsResponseOf(m).Rooms...)
	case reqServerSideEmit:
		vals := []any{}
		if v := serverSideEmitResponseOf(m).Data; !isUndefined(v) {
			vals = append(vals, v)
		}
		_, args, err := argsFromValues(vals, false)
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
	switch msgType(m) {
	case reqBroadcastClientCount:
		n := clientCountResponseOf(m).ClientCount
		// Count the clients before the server, so that Broadcast never
		// returns with a count missing.
		r.acks.ClientCount(n)
		r.mu.Lock()
		r.clients += n
		r.got++
		if r.want >= 0 && r.got >= r.want {
			r.finish()
		}
	case reqBroadcastAck:
		var vals []any
		if resp := broadcastAckResponseOf(m); resp.HasPacket {
			vals = []any{resp.Packet}
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

// respond publishes an answer to the request from. Sharded: on the
// requester's own channel. Classic: there too when
// PublishOnSpecificResponseChannel is set and the request says who sent
// it, except answers to ServerSideEmit, always on the common channel as
// 8.3.0 does; asMsgpack selects the classic encoding.
func (a *Adapter) respond(from head, msg message, asMsgpack bool) {
	if a.sharded {
		if from.UID != "" {
			a.publishSharded(context.Background(), msg.wire(), from.UID, false)
		}
		return
	}
	channel := a.responseChannel
	if _, sse := msg.(serverSideEmitResponse); !sse && from.UID != "" && a.h.opts.PublishOnSpecificResponseChannel {
		channel += from.UID + "#"
	}
	b, err := encode(msg, asMsgpack)
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
	h := headOf(m)
	if h.UID == a.uid {
		return // our own request: applied locally already, or not for us
	}
	ctx := context.Background()
	switch typ := msgType(m); typ {
	case reqSockets:
		if h.RequestID == "" {
			return
		}
		local, _ := a.local.FetchSockets(ctx, socketio.BroadcastOptions{Rooms: socketsRequestOf(m).Rooms})
		resp := socketsResponse{RequestID: h.RequestID, Sockets: make([]string, len(local))}
		for i, s := range local {
			resp.Sockets[i] = s.ID
		}
		a.respond(h, resp, false)
	case reqAllRooms:
		if h.RequestID == "" {
			return
		}
		a.respond(h, allRoomsResponse{RequestID: h.RequestID, Rooms: a.local.Rooms()}, false)
	case reqRemoteJoin, reqRemoteLeave, reqRemoteDisconnect:
		if req, ok := roomRequestOf(m, typ); ok {
			a.onRoomRequest(req)
		}
	case reqRemoteFetch:
		if h.RequestID == "" {
			return
		}
		local, _ := a.local.FetchSockets(ctx, fetchSocketsRequestOf(m).Opts.local())
		a.respond(h, fetchSocketsResponse{RequestID: h.RequestID, Sockets: local}, false)
	case reqServerSideEmit:
		req, ok := serverSideEmitRequestOf(m)
		if !ok {
			return
		}
		name, args, err := argsFromValues(req.Data, true)
		if err != nil {
			a.logBad(channel, "serverSideEmit", err)
			return
		}
		var ack func(args ...any)
		if h.RequestID != "" {
			var once sync.Once
			ack = func(args ...any) {
				once.Do(func() {
					var v any = notepack.Undefined{}
					if len(args) > 0 {
						v = args[0]
					}
					a.respond(h, serverSideEmitResponse{RequestID: h.RequestID, Data: v}, false)
				})
			}
		}
		socketio.HostOf(a.nsp).ServerSideEmit(name, args, ack)
	case reqBroadcast:
		if h.RequestID == "" {
			return
		}
		a.mu.Lock()
		_, mine := a.requests[h.RequestID]
		a.mu.Unlock()
		if mine {
			return
		}
		req, ok, err := broadcastRequestOf(m)
		if !ok {
			return
		}
		var p *socketio.Packet
		if err == nil {
			p, err = req.Packet.packet(a.nsp.Name())
		}
		if err != nil {
			a.logBad(channel, "broadcast request", err)
			return
		}
		p.ID, p.HasID = socketio.HostOf(a.nsp).NextAckID(), true
		acks := &socketio.BroadcastAcks{
			ClientCount: func(n int) {
				a.respond(h, clientCountResponse{RequestID: h.RequestID, ClientCount: n}, false)
			},
			Ack: func(args socketio.Args) {
				a.respond(h, broadcastAckResponse{RequestID: h.RequestID, Packet: argValue(args, 0)}, !a.h.opts.LegacyPeers)
			},
		}
		a.local.Broadcast(ctx, p, req.Opts.local(), acks)
	}
}

// onRoomRequest applies a remote join, leave or disconnect: to the sockets
// its opts select, or (the socket.io-redis 6 form) to the socket sid, then
// answered.
func (a *Adapter) onRoomRequest(req roomRequest) {
	if req.Opts != nil {
		var op socketio.RoomOp
		switch req.Type {
		case reqRemoteJoin:
			op.Join = req.Rooms
		case reqRemoteLeave:
			op.Leave = req.Rooms
		default:
			op.Disconnect, op.Close = true, req.Close
		}
		a.local.Apply(context.Background(), req.Opts.local(), op)
		return
	}
	s := a.nsp.Socket(req.SID)
	if s == nil {
		return
	}
	switch req.Type {
	case reqRemoteJoin:
		s.Join(*req.Room)
	case reqRemoteLeave:
		s.Leave(*req.Room)
	default:
		s.Disconnect(req.Close)
	}
	a.respond(req.head, roomResponse{RequestID: req.RequestID}, false)
}

// onBroadcast delivers a classic broadcast of another node to this
// server's sockets.
func (a *Adapter) onBroadcast(channel string, payload []byte) {
	v, err := notepack.Decode(payload)
	if err != nil {
		a.logBad(channel, "broadcast", err)
		return
	}
	if arr, ok := v.([]any); ok && len(arr) > 0 && arr[0] == any(a.uid) {
		return
	}
	b, err := broadcastMessageOf(v)
	if err != nil {
		a.logBad(channel, "broadcast", err)
		return
	}
	if b.Packet.Nsp != a.nsp.Name() {
		return
	}
	a.deliver(channel, b.Packet, b.Opts)
}

// deliver sends a broadcast of another node (its wire packet and opts) to
// this server's sockets.
func (a *Adapter) deliver(channel string, wp wirePacket, o wireOpts) {
	p, err := wp.packet(a.nsp.Name())
	if err != nil {
		a.logBad(channel, "broadcast", err)
		return
	}
	a.local.Broadcast(context.Background(), p, o.local(), nil)
}

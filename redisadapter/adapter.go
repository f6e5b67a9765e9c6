package redisadapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/notepack"
	"github.com/pierhq/pier/socketio"
)

// Options configures the adapter. A nil *Options, and every zero field,
// means the default (the default of @socket.io/redis-adapter where it has
// one).
type Options struct {
	// Protocol selects the wire protocol: Classic (the default) or Sharded.
	// Every node of a cluster must use the same.
	Protocol Protocol
	// SubscriptionMode is how the Sharded protocol spreads broadcasts to
	// one room (ignored by Classic). Default SubscriptionDynamic, as Node.
	// Every node of a cluster must use the same.
	SubscriptionMode SubscriptionMode
	// Key is the prefix of every channel (Node's key option, channelPrefix
	// for the sharded adapter). Default "socket.io". Every node of a
	// cluster, and every emitter, must use the same.
	Key string
	// RequestsTimeout bounds the wait for the other nodes' answers to
	// FetchSockets, AllRooms, Sockets and ServerSideEmit with acks, each
	// publication, and how long one that Redis refused (no connection) is
	// retried. Default 5s.
	RequestsTimeout time.Duration
	// PublishOnSpecificResponseChannel sends answers to the requesting
	// node's own channel ({Key}-response#{nsp}#{uid}#) instead of the
	// channel every node reads. Answers to ServerSideEmit always go to the
	// common channel, as in Node. Default false. Classic only: Sharded
	// nodes always answer on the requester's channel.
	PublishOnSpecificResponseChannel bool
	// LegacyPeers is for clusters that still have socket.io-redis 6 or
	// @sailshq/socket.io-redis 6 nodes (Sails 1 with sails-hook-sockets
	// 3), which crash on msgpack read from the request and response
	// channels: the adapter then publishes only JSON there. EmitWithAck
	// reaches this server's clients only, and the acknowledgements this
	// server relays to 8.x nodes travel as JSON (binary as Node's JSON form
	// of a Buffer). Legacy nodes ignore server-side events, so
	// ServerSideEmitWithAck ends in a timeout while one is in the cluster.
	// Default false. Classic only.
	LegacyPeers bool
	// PublishQueueBytes bounds, per namespace, the messages waiting to be
	// published: broadcasts are delivered to this server's clients first,
	// then published in order by a goroutine of the namespace, so that a
	// slow or unreachable Redis delays neither local clients nor the
	// sender. Past the bound, new messages are dropped with a warning (and
	// Emit returns an error wrapping ErrQueueFull). Default
	// DefaultQueueBytes (32 MiB); each message counts its size plus 64.
	PublishQueueBytes int
	// InboundQueueBytes bounds, per namespace, the messages of other nodes
	// waiting for the namespace's goroutine (slow OnServerSideEmit or
	// disconnect handlers hold it up). Past the bound, messages for that
	// namespace are dropped with a warning, so that the subscriber
	// connection, shared by every namespace, never waits. Default
	// DefaultQueueBytes (32 MiB).
	InboundQueueBytes int
	// Logger receives Redis outages, failed publications and dropped
	// messages (warnings, at most one per reason every 10 seconds).
	// Default slog.Default().
	Logger *slog.Logger
	// OnRedisDisconnect is called when the subscriber connection to Redis
	// is lost (once per outage), OnRedisReconnect when it is subscribed
	// again. They run on the adapter's reading goroutine: return quickly.
	OnRedisDisconnect func(err error)
	OnRedisReconnect  func()
}

// DefaultRequestsTimeout is the default of Options.RequestsTimeout.
const DefaultRequestsTimeout = 5 * time.Second

// ErrTimeout is wrapped by the errors of requests that did not get every
// node's answer in time.
var ErrTimeout = errors.New("redisadapter: timeout reached")

// New returns an AdapterFactory for socketio.Options.Adapter: the
// namespaces of the server share Redis through rdb (a *redis.Client,
// *redis.ClusterClient or Sentinel failover client), speaking the classic
// protocol of @socket.io/redis-adapter 8.3.0 (createAdapter), or its
// sharded one (createShardedAdapter) when opts.Protocol is Sharded. All
// namespaces of one factory share their subscriber connections; use one
// factory per server.
func New(rdb redis.UniversalClient, opts *Options) socketio.AdapterFactory {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Key == "" {
		o.Key = "socket.io"
	}
	if o.RequestsTimeout <= 0 {
		o.RequestsTimeout = DefaultRequestsTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.PublishQueueBytes <= 0 {
		o.PublishQueueBytes = DefaultQueueBytes
	}
	if o.InboundQueueBytes <= 0 {
		o.InboundQueueBytes = DefaultQueueBytes
	}
	if o.Protocol == Sharded {
		o.PublishOnSpecificResponseChannel, o.LegacyPeers = false, false
	}
	h := newHub(rdb, o)
	return func(n *socketio.Namespace) socketio.Adapter { return newAdapter(h, n) }
}

// Adapter is the adapter of one namespace: rooms of this server's sockets
// (kept in a socketio.LocalAdapter, see Local) and the cluster-wide
// operations over Redis.
//
// Concurrency: safe for concurrent use. Messages from other nodes are
// handled one at a time, in order, on a goroutine of the namespace: remote
// broadcasts, room changes, disconnections, and the server-side event
// handlers (OnServerSideEmit), which should therefore not block for long
// (past InboundQueueBytes waiting, the namespace's messages are dropped).
// What this server publishes goes out in order on another goroutine of
// the namespace (see PublishQueueBytes).
type Adapter struct {
	local   *socketio.LocalAdapter
	h       *hub
	nsp     *socketio.Namespace
	uid     string
	sharded bool

	// broadcastChannel is also the sharded main channel; countChannel is
	// the one whose subscribers are counted (classic: the request channel);
	// responseChannel is the sharded node's own channel. Classic only:
	// pattern, requestChannel, specificChannel.
	pattern, broadcastChannel, countChannel          string
	requestChannel, responseChannel, specificChannel string

	rooms *roomSubs // sharded dynamic subscription modes only

	in        *inbox
	out       *outbox
	stop      chan struct{}
	workerEnd chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	requests map[string]*request
}

var (
	_ socketio.Adapter        = (*Adapter)(nil)
	_ socketio.ClusterAdapter = (*Adapter)(nil)
)

func newAdapter(h *hub, n *socketio.Namespace) *Adapter {
	prefix := h.opts.Key
	a := &Adapter{
		local:            socketio.NewLocal(n),
		h:                h,
		nsp:              n,
		sharded:          h.opts.Protocol == Sharded,
		broadcastChannel: prefix + "#" + n.Name() + "#",
		in:               newInbox(h.opts.InboundQueueBytes),
		out:              newOutbox(h, n.Name()),
		stop:             make(chan struct{}),
		workerEnd:        make(chan struct{}),
		requests:         make(map[string]*request),
	}
	if a.sharded {
		a.uid = hexID()
		a.countChannel = a.broadcastChannel
		a.responseChannel = a.broadcastChannel + a.uid + "#"
		if h.opts.SubscriptionMode != SubscriptionStatic {
			a.rooms = newRoomSubs()
			go a.roomSubscriber()
		}
	} else {
		a.uid = uid2(6)
		a.pattern = a.broadcastChannel + "*"
		a.requestChannel = prefix + "-request#" + n.Name() + "#"
		a.responseChannel = prefix + "-response#" + n.Name() + "#"
		a.specificChannel = a.responseChannel + a.uid + "#"
		a.countChannel = a.requestChannel
	}
	go a.worker()
	h.add(a)
	return a
}

// subscriptions lists the channels a namespace always listens to.
func (a *Adapter) subscriptions() []sub {
	if a.sharded {
		return []sub{{name: a.broadcastChannel, kind: routeMessage}, {name: a.responseChannel, kind: routeResponse}}
	}
	return []sub{
		{name: a.pattern, kind: routeBroadcast, pattern: true},
		{name: a.requestChannel, kind: routeRequest},
		{name: a.responseChannel, kind: routeResponse},
		{name: a.specificChannel, kind: routeResponse},
	}
}

// newID returns a request id in the form the protocol's Node nodes use.
func (a *Adapter) newID() string {
	if a.sharded {
		return hexID()
	}
	return uid2(6)
}

// Local returns this server's part of the adapter, for package socketio
// (see socketio.ClusterAdapter).
func (a *Adapter) Local() *socketio.LocalAdapter { return a.local }

// SocketRooms returns the rooms of the socket id on this server.
func (a *Adapter) SocketRooms(id string) []socketio.Room { return a.local.SocketRooms(id) }

// UID returns the node id of this namespace on the wire.
func (a *Adapter) UID() string { return a.uid }

// Close unsubscribes the namespace; Server.Shutdown calls it.
func (a *Adapter) Close() error {
	a.closeOnce.Do(func() {
		close(a.stop) // first: the hub's reader never waits on a closed adapter
		if a.rooms != nil {
			<-a.rooms.end // no room subscription after remove
		}
		a.h.remove(a)
		<-a.workerEnd
		a.out.close()
		a.mu.Lock()
		for id, r := range a.requests {
			r.mu.Lock()
			r.finish()
			r.mu.Unlock()
			delete(a.requests, id)
		}
		a.mu.Unlock()
	})
	return nil
}

// enqueue hands a message of another node to the namespace's goroutine;
// it never blocks (past InboundQueueBytes the message is dropped).
func (a *Adapter) enqueue(it inItem) {
	if !a.in.push(it) {
		a.h.drops.warn("redisadapter: namespace queue full, cluster message dropped", it.channel, "namespace queue full", "nsp", a.nsp.Name(), "limit", a.in.limit)
	}
}

func (a *Adapter) worker() {
	defer close(a.workerEnd)
	for {
		select {
		case <-a.in.wake:
		case <-a.stop:
			return
		}
		for _, it := range a.in.take() {
			select {
			case <-a.stop:
				return
			default:
			}
			switch it.kind {
			case routeBroadcast:
				a.onBroadcast(it.channel, it.payload)
			case routeRequest:
				a.onRequest(it.channel, it.payload)
			case routeMessage:
				a.onMessage(it.channel, it.payload)
			}
			a.in.done(it)
		}
	}
}

// logBad warns (rate-limited) that a message read on channel is dropped.
func (a *Adapter) logBad(channel, what string, err error) {
	a.h.drops.warn("redisadapter: malformed cluster message dropped", channel, "malformed "+what, "nsp", a.nsp.Name(), "err", err)
}

// ServerCount returns the number of servers serving this namespace, this
// one included (PUBSUB NUMSUB of the request channel; Sharded: PUBSUB
// SHARDNUMSUB of the main channel).
func (a *Adapter) ServerCount(ctx context.Context) (int, error) {
	return a.h.numSub(ctx, a.countChannel)
}

// localSocket reports whether opts selects exactly one socket of this
// server by its id: such emits need not go through Redis.
func (a *Adapter) localSocket(opts socketio.BroadcastOptions) bool {
	return len(opts.Rooms) == 1 && len(opts.Except) == 0 && a.nsp.Socket(string(opts.Rooms[0])) != nil
}

// Broadcast sends p to the selected sockets of every server. With acks, it
// returns once every server has said how many clients it sent p to (or ctx
// ended: each server that did not answer then counts as one missing
// acknowledgement, so EmitWithAck reports a timeout).
func (a *Adapter) Broadcast(ctx context.Context, p *socketio.Packet, opts socketio.BroadcastOptions, acks *socketio.BroadcastAcks) error {
	if opts.Local || a.localSocket(opts) || (acks != nil && a.h.opts.LegacyPeers) {
		return a.local.Broadcast(ctx, p, opts, acks)
	}
	pkt, err := wirePacketFor(p, a.nsp.Name())
	if err != nil {
		return err
	}
	if acks != nil {
		return a.broadcastWithAck(ctx, p, pkt, opts, acks)
	}
	flags := wireFlags{Volatile: opts.Volatile, NoCompress: opts.NoCompress}
	// This server's clients first: the publication is queued, and waits
	// for nobody.
	if err := a.local.Broadcast(ctx, p, opts, nil); err != nil {
		return err
	}
	err = a.publishBroadcast(ctx, pkt, optsFor(opts, &flags))
	if opts.Volatile && errors.Is(err, ErrQueueFull) {
		return nil // volatile events may be dropped
	}
	return err
}

// publishBroadcast queues a broadcast without acknowledgements: the
// classic [uid, packet, opts] on the broadcast channel (of the room when
// there is one), or a sharded BROADCAST message.
func (a *Adapter) publishBroadcast(ctx context.Context, pkt wirePacket, opts wireOpts) error {
	if a.sharded {
		return a.publishSharded(ctx, broadcastRequest{head: head{UID: a.uid}, Packet: pkt, Opts: opts}.wire(), "", false)
	}
	msg, err := notepack.Encode(broadcastMessage{UID: a.uid, Packet: pkt, Opts: opts}.value())
	if err != nil {
		return err
	}
	channel := a.broadcastChannel
	if len(opts.Rooms) == 1 {
		channel += string(opts.Rooms[0]) + "#"
	}
	return a.out.push(ctx, channel, msg, false)
}

// publishRequest queues a request (in the classic shape: uid, requestId,
// type and the type's fields): classic ones as JSON on the request channel
// (msgpack for broadcasts with acks), sharded ones translated. With wait,
// it returns once Redis took it (or the publication failed, or ctx ended).
func (a *Adapter) publishRequest(ctx context.Context, m message, wait bool) error {
	if a.sharded {
		return a.publishSharded(ctx, m.wire(), "", wait)
	}
	_, asMsgpack := m.(broadcastRequest)
	b, err := encode(m, asMsgpack)
	if err != nil {
		return err
	}
	return a.out.push(ctx, a.requestChannel, b, wait)
}

func (a *Adapter) broadcastWithAck(ctx context.Context, p *socketio.Packet, pkt wirePacket, opts socketio.BroadcastOptions, acks *socketio.BroadcastAcks) error {
	flags := wireFlags{NoCompress: opts.NoCompress}
	if dl, ok := ctx.Deadline(); ok {
		flags.Timeout = max(time.Until(dl).Milliseconds(), 1)
	}
	id := a.newID()
	msg := broadcastRequest{head: head{UID: a.uid, RequestID: id}, Packet: pkt, Opts: optsFor(opts, &flags)}
	r := a.register(id, reqBroadcast, -1)
	r.acks = acks
	// Acknowledgements keep coming after Broadcast returns: the request is
	// forgotten once complete (see onResponse) or when ctx ends.
	context.AfterFunc(ctx, func() { a.forget(id) })
	// This server's clients first; when the publication fails, the caller
	// gets the error and the acknowledgements of this server's clients.
	if err := a.local.Broadcast(ctx, p, opts, acks); err != nil {
		a.forget(id)
		return err
	}
	if err := a.publishRequest(ctx, msg, true); err != nil {
		a.forget(id)
		return fmt.Errorf("redisadapter: broadcast reached this server's clients only: %w", err)
	}
	n, err := a.ServerCount(ctx)
	if err != nil {
		n = 1
	}
	r.setWant(n - 1)
	select {
	case <-r.done:
	case <-ctx.Done():
		missing := r.missing()
		a.forget(id)
		for range missing {
			acks.ClientCount(1)
		}
	}
	return nil
}

// Apply changes the rooms of, or disconnects, the selected sockets of every
// server: this server's at once, the others' when they read the request,
// which is queued like a broadcast (Apply does not wait for Redis).
func (a *Adapter) Apply(ctx context.Context, opts socketio.BroadcastOptions, op socketio.RoomOp) error {
	if err := a.local.Apply(ctx, opts, op); err != nil || opts.Local {
		return err
	}
	var errs []error
	o := optsFor(opts, nil)
	send := func(r roomRequest) {
		r.head, r.Opts = head{UID: a.uid}, &o
		errs = append(errs, a.publishRequest(ctx, r, false))
	}
	if len(op.Join) > 0 {
		send(roomRequest{Type: reqRemoteJoin, Rooms: op.Join})
	}
	if len(op.Leave) > 0 {
		send(roomRequest{Type: reqRemoteLeave, Rooms: op.Leave})
	}
	if op.Disconnect {
		send(roomRequest{Type: reqRemoteDisconnect, Close: op.Close})
	}
	return errors.Join(errs...)
}

// FetchSockets describes the selected sockets of every server. When a
// server does not answer within RequestsTimeout it returns what it got
// with an error wrapping ErrTimeout.
func (a *Adapter) FetchSockets(ctx context.Context, opts socketio.BroadcastOptions) ([]socketio.SocketInfo, error) {
	local, err := a.local.FetchSockets(ctx, opts)
	if err != nil || opts.Local {
		return local, err
	}
	r, err := a.ask(ctx, reqRemoteFetch, 1, func(id string) message {
		return fetchSocketsRequest{head: head{UID: a.uid, RequestID: id}, Opts: optsFor(opts, nil)}
	})
	if r == nil {
		return local, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(local, r.sockets...), err
}

// AllRooms returns the rooms of every server (socket id rooms included).
func (a *Adapter) AllRooms(ctx context.Context) ([]socketio.Room, error) {
	if a.sharded {
		return a.fetchRooms(ctx)
	}
	rooms := a.local.Rooms()
	r, err := a.ask(ctx, reqAllRooms, 1, func(id string) message {
		return allRoomsRequest{head{UID: a.uid, RequestID: id}}
	})
	if r == nil {
		return rooms, err
	}
	seen := make(map[socketio.Room]struct{}, len(rooms))
	for _, x := range rooms {
		seen[x] = struct{}{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.rooms {
		if _, dup := seen[x]; !dup {
			seen[x] = struct{}{}
			rooms = append(rooms, x)
		}
	}
	return rooms, err
}

// Sockets returns the ids of the sockets in any of rooms (all when empty)
// on every server: the SOCKETS request of socket.io-redis 6, which Node's
// allSockets() sends there.
func (a *Adapter) Sockets(ctx context.Context, rooms ...socketio.Room) ([]string, error) {
	if a.sharded {
		return a.fetchIDs(ctx, rooms)
	}
	local, _ := a.local.FetchSockets(ctx, socketio.BroadcastOptions{Rooms: rooms})
	ids := make([]string, 0, len(local))
	seen := make(map[string]struct{})
	for _, s := range local {
		ids = append(ids, s.ID)
		seen[s.ID] = struct{}{}
	}
	r, err := a.ask(ctx, reqSockets, 1, func(id string) message {
		return socketsRequest{head: head{UID: a.uid, RequestID: id}, Rooms: rooms}
	})
	if r == nil {
		return ids, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range r.ids {
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			ids = append(ids, id)
		}
	}
	return ids, err
}

// ServerSideEmit sends an event to the namespace on the other servers
// (queued, in order with broadcasts). With ack, it waits (RequestsTimeout
// at most) for one answer per server, and calls ack with those that
// arrived even when it returns an error.
func (a *Adapter) ServerSideEmit(ctx context.Context, event string, args []any, ack func(socketio.Args)) error {
	data := append([]any{event}, args...)
	if ack == nil {
		return a.publishRequest(ctx, serverSideEmitRequest{head: head{UID: a.uid}, Data: data}, false)
	}
	r, err := a.ask(ctx, reqServerSideEmit, 1, func(id string) message {
		return serverSideEmitRequest{head: head{UID: a.uid, RequestID: id}, Data: data}
	})
	if r == nil {
		return err
	}
	r.mu.Lock()
	got := append([]socketio.Args(nil), r.ssAcks...)
	r.mu.Unlock()
	for _, x := range got {
		ack(x)
	}
	return err
}

// ask counts the servers, publishes the request built by build (given the
// request id) and waits for one answer per other server, RequestsTimeout
// at most. It returns nil when there is no other server.
func (a *Adapter) ask(ctx context.Context, typ, self int, build func(id string) message) (*request, error) {
	n, err := a.ServerCount(ctx)
	if err != nil {
		return nil, err
	}
	want := n - self
	if want <= 0 {
		return nil, nil
	}
	id := a.newID()
	r := a.register(id, typ, want)
	defer a.forget(id)
	if err := a.publishRequest(ctx, build(id), true); err != nil {
		return nil, err
	}
	t := time.NewTimer(a.h.opts.RequestsTimeout)
	defer t.Stop()
	select {
	case <-r.done:
		return r, nil
	case <-t.C:
	case <-ctx.Done():
	}
	r.mu.Lock()
	got := r.got
	r.mu.Unlock()
	return r, timeoutError(requestName(typ), got, want)
}

func requestName(typ int) string {
	switch typ {
	case reqSockets:
		return "sockets"
	case reqAllRooms:
		return "allRooms"
	case reqRemoteFetch:
		return "fetchSockets"
	case reqServerSideEmit:
		return "serverSideEmit"
	}
	return "request"
}

package streams

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/socketio"
)

// New returns an AdapterFactory for socketio.Options.Adapter: the
// namespaces of the server share Redis streams through rdb (a
// *redis.Client or *redis.ClusterClient), with the entries and session
// records of @socket.io/redis-streams-adapter 0.3.x. Use one factory per
// server.
func New(rdb redis.UniversalClient, opts *Options) socketio.AdapterFactory {
	var o Options
	if opts != nil {
		o = *opts
	}
	h := newHub(rdb, o.withDefaults())
	return func(n *socketio.Namespace) socketio.Adapter { return newAdapter(h, n) }
}

// Adapter is the adapter of one namespace: the rooms of this server's
// sockets (kept in a socketio.LocalAdapter, see Local), broadcasts and room changes through
// the namespace's stream, and connection state recovery through Redis.
//
// Concurrency: safe for concurrent use. Entries of other servers are
// handled one at a time, in stream order, on the stream's reading
// goroutine; disconnect handlers run by DisconnectSockets requests of
// other servers run there too and should not block for long. Requests of
// other servers over pub/sub (FetchSockets, server-side events,
// broadcasts with acks) run in order on a goroutine of the namespace.
type Adapter struct {
	local  *socketio.LocalAdapter
	h      *hub
	nsp    *socketio.Namespace
	uid    string
	stream string
	csr    *socketio.RecoveryOptions // nil when recovery is off

	closeOnce sync.Once
	queue     chan func()   // requests of other servers, run in order by work
	stop      chan struct{} // closed by Close
	workerEnd chan struct{} // closed when work returns

	mu      sync.Mutex
	pending pendingSet // sockets being restored

	requests    map[string]*request    // FetchSockets and ServerSideEmit waiting for answers
	ackRequests map[string]*ackRequest // broadcasts waiting for acknowledgements
}

var (
	_ socketio.Adapter        = (*Adapter)(nil)
	_ socketio.ClusterAdapter = (*Adapter)(nil)
	_ socketio.SessionStore   = (*Adapter)(nil)
)

func newAdapter(h *hub, n *socketio.Namespace) *Adapter {
	var b [8]byte
	rand.Read(b[:])
	a := &Adapter{
		local:       socketio.NewLocal(n),
		h:           h,
		nsp:         n,
		uid:         hex.EncodeToString(b[:]),
		stream:      h.opts.streamOf(n.Name()),
		csr:         n.RecoveryOptions(),
		requests:    make(map[string]*request),
		queue:       make(chan func(), 1024),
		stop:        make(chan struct{}),
		workerEnd:   make(chan struct{}),
		ackRequests: make(map[string]*ackRequest),
	}
	go a.work()
	if a.csr != nil {
		// Registered before any handler of the application: it runs first.
		n.OnConnection(a.restored)
	}
	h.add(a)
	return a
}

// Local returns this server's part of the adapter, for package socketio
// (see socketio.ClusterAdapter).
func (a *Adapter) Local() *socketio.LocalAdapter { return a.local }

// Join adds the socket id to rooms on this server.
func (a *Adapter) Join(id string, rooms ...socketio.Room) { a.local.Join(id, rooms...) }

// Leave removes the socket id from rooms on this server.
func (a *Adapter) Leave(id string, rooms ...socketio.Room) { a.local.Leave(id, rooms...) }

// LeaveAll removes the socket id from all its rooms on this server.
func (a *Adapter) LeaveAll(id string) { a.local.LeaveAll(id) }

// SocketRooms returns the rooms of the socket id on this server.
func (a *Adapter) SocketRooms(id string) []socketio.Room { return a.local.SocketRooms(id) }

// Stream returns the key of the namespace's stream.
func (a *Adapter) Stream() string { return a.stream }

// Close stops reading the stream for this namespace (and the readers with
// the last namespace). Called at server shutdown.
func (a *Adapter) Close() error {
	a.closeOnce.Do(func() {
		a.h.remove(a)
		close(a.stop)
		<-a.workerEnd
	})
	return nil
}

// work runs the requests of other servers (FetchSockets, server-side
// events, broadcasts waiting for acks) one at a time, in order, off the
// subscriber goroutine: a server-side event handler may itself wait for
// the cluster's answers.
func (a *Adapter) work() {
	defer close(a.workerEnd)
	for {
		select {
		case f := <-a.queue:
			f()
		case <-a.stop:
			return
		}
	}
}

// enqueue hands f to the worker (waiting while its queue is full), or
// drops it once the adapter is closed.
func (a *Adapter) enqueue(f func()) {
	select {
	case a.queue <- f:
	case <-a.stop:
	}
}

// xadd appends an entry to the namespace's stream and returns its id, or
// errQueued when it is kept for a later attempt (see retryQueue).
func (a *Adapter) xadd(ctx context.Context, msg message, binary bool) (string, error) {
	s, err := encodeData(msg.wire(), binary)
	if err != nil {
		return "", err
	}
	return a.h.retry.add(ctx, &redis.XAddArgs{
		Stream: a.stream,
		MaxLen: a.h.opts.MaxLen,
		Approx: true,
		ID:     "*",
		Values: fields(a.uid, a.nsp.Name(), msg.msgType(), s),
	})
}

// Broadcast sends p to the selected sockets of every server. Broadcasts
// waiting for acknowledgements go through pub/sub (see broadcastWithAck).
// Other events are added to the stream; with connection state recovery on, the
// entry id is appended to the event as its offset (unless volatile), so
// local sockets get the packet once XADD answers, or without an offset if
// it fails within Options.PublishTimeout (volatile events are sent
// without an offset, as in Node). With recovery off, local sockets get it
// first.
func (a *Adapter) Broadcast(ctx context.Context, p *socketio.Packet, opts socketio.BroadcastOptions, acks *socketio.BroadcastAcks) error {
	if acks != nil && !opts.Local {
		return a.broadcastWithAck(ctx, p, opts, acks)
	}
	if acks != nil {
		return a.local.Broadcast(ctx, p, opts, acks)
	}
	if opts.Local || (p.Type != socketio.PacketEvent && p.Type != socketio.PacketBinaryEvent) {
		a.deliver(p, opts, "", false)
		return nil
	}
	data, binary, err := broadcastData(p, opts)
	if err != nil {
		a.deliver(p, opts, "", false)
		return fmt.Errorf("streams: encoding a broadcast: %w", err)
	}
	if a.csr == nil {
		a.local.Deliver(p, opts)
		if _, err := a.xadd(ctx, data, binary); err != nil && err != errQueued {
			return fmt.Errorf("streams: publishing a broadcast: %w", err)
		}
		return nil
	}
	id, err := a.xadd(ctx, data, binary)
	if err != nil {
		a.deliver(p, opts, "", false)
		if err == errQueued {
			return nil
		}
		return fmt.Errorf("streams: publishing a broadcast: %w", err)
	}
	if !opts.Volatile {
		p = withOffset(p, id)
	}
	a.deliver(p, opts, id, false)
	return nil
}

// Apply changes the rooms of, or disconnects, the selected sockets of
// every server: the entry is added first, then applied here, as Node does.
func (a *Adapter) Apply(ctx context.Context, opts socketio.BroadcastOptions, op socketio.RoomOp) error {
	if opts.Local {
		return a.local.Apply(ctx, opts, op)
	}
	o := entryOpts{Rooms: opts.Rooms, Except: opts.Except}
	var err error
	add := func(m message) {
		if err == nil {
			if _, err = a.xadd(ctx, m, false); err == errQueued {
				err = nil
			}
		}
	}
	if len(op.Join) > 0 {
		add(roomsMsg{Opts: o, Rooms: op.Join})
	}
	if len(op.Leave) > 0 {
		add(roomsMsg{Leave: true, Opts: o, Rooms: op.Leave})
	}
	if op.Disconnect {
		add(disconnectMsg{Opts: o, Close: op.Close})
	}
	opts.Local = true
	if lerr := a.local.Apply(ctx, opts, op); err == nil {
		err = lerr
	}
	return err
}

// onEntry applies an entry of another server to this server's sockets.
func (a *Adapter) onEntry(e *entry) error {
	if e.data == nil {
		if e.typ >= typeBroadcast && e.typ <= typeDisconnectSockets {
			return errMalformed
		}
		return nil
	}
	switch e.typ {
	case typeBroadcast:
		offset := ""
		if a.csr != nil {
			offset = e.id
		}
		p, opts, err := eventOf(e.data, a.nsp.Name(), offset)
		if err != nil {
			return err
		}
		if opts.Volatile && offset != "" {
			if p, opts, err = eventOf(e.data, a.nsp.Name(), ""); err != nil {
				return err
			}
		}
		a.deliver(p, opts, e.id, true)
	case typeSocketsJoin, typeSocketsLeave:
		m, err := roomsMsgOf(e.data, e.typ == typeSocketsLeave)
		if err != nil {
			return err
		}
		op := socketio.RoomOp{Join: m.Rooms}
		if m.Leave {
			op = socketio.RoomOp{Leave: m.Rooms}
		}
		return a.local.Apply(context.Background(), m.Opts.local(), op)
	case typeDisconnectSockets:
		m, err := disconnectMsgOf(e.data)
		if err != nil {
			return err
		}
		return a.local.Apply(context.Background(), m.Opts.local(), socketio.RoomOp{Disconnect: true, Close: m.Close})
	}
	return nil
}

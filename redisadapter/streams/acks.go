package streams

import (
	"context"
	"sync"
	"time"

	"github.com/pierhq/pier/internal/notepack"
	"github.com/pierhq/pier/socketio"
)

// Responses to a broadcast with acknowledgements.
const (
	typeBroadcastClientCount = 11
	typeBroadcastAck         = 12
)

// ackRequest is a broadcast of this server waiting for acknowledgements
// from the others.
//
// Concurrency: mu guards want and got.
type ackRequest struct {
	acks *socketio.BroadcastAcks
	done chan struct{}
	once sync.Once

	mu   sync.Mutex
	want int // servers to answer; -1 until counted
	got  int // client counts received
}

func (r *ackRequest) check() {
	r.mu.Lock()
	full := r.want >= 0 && r.got >= r.want
	r.mu.Unlock()
	if full {
		r.once.Do(func() { close(r.done) })
	}
}

// broadcastWithAck publishes a broadcast waiting for acknowledgements (a
// pub/sub message, not a stream entry, as in Node), delivers it here, and
// returns once every other server sent its client count or ctx ended
// (each server that did not answer then counts as one missing
// acknowledgement). Acknowledgements keep coming until ctx ends.
func (a *Adapter) broadcastWithAck(ctx context.Context, p *socketio.Packet, opts socketio.BroadcastOptions, acks *socketio.BroadcastAcks) error {
	data, _, err := broadcastData(p, opts)
	if err != nil {
		return a.local.Broadcast(ctx, p, opts, acks)
	}
	if dl, ok := ctx.Deadline(); ok {
		data.Opts.Timeout = max(time.Until(dl).Milliseconds(), 1)
	}
	id := newRequestID()
	data.RequestID = id
	r := &ackRequest{acks: acks, done: make(chan struct{}), want: -1}
	a.mu.Lock()
	a.ackRequests[id] = r
	a.mu.Unlock()
	forget := func() {
		a.mu.Lock()
		delete(a.ackRequests, id)
		a.mu.Unlock()
	}
	context.AfterFunc(ctx, forget)
	if err := a.publish(ctx, a.publicChannel(), data); err != nil {
		forget()
		return a.local.Broadcast(ctx, p, opts, acks)
	}
	if err := a.local.Broadcast(ctx, p, opts, acks); err != nil {
		forget()
		return err
	}
	n, err := a.ServerCount(ctx)
	if err != nil {
		n = 1
	}
	r.mu.Lock()
	r.want = n - 1
	r.mu.Unlock()
	r.check()
	select {
	case <-r.done:
	case <-ctx.Done():
		forget()
		r.mu.Lock()
		missing := max(r.want-r.got, 0)
		r.mu.Unlock()
		for range missing {
			acks.ClientCount(1)
		}
	}
	return nil
}

// onBroadcastWithAck delivers another server's broadcast waiting for
// acknowledgements and answers with the client count, then each ack.
func (a *Adapter) onBroadcastWithAck(requester any, id string, data notepack.Map) error {
	p, opts, err := eventOf(data, a.nsp.Name(), "")
	if err != nil {
		return err
	}
	p.ID, p.HasID = socketio.HostOf(a.nsp).NextAckID(), true
	// The local adapter keeps the waiters until the sockets answer or
	// disconnect; the requester forgets them at its own timeout.
	ctx := context.Background()
	log := a.h.opts.Logger
	return a.local.Broadcast(ctx, p, opts, &socketio.BroadcastAcks{
		ClientCount: func(n int) {
			if err := a.respond(requester, clientCountMsg{RequestID: id, ClientCount: n}); err != nil {
				log.Warn("streams: answering a broadcast", "err", err)
			}
		},
		Ack: func(args socketio.Args) {
			var v any = notepack.Undefined{}
			if args.Len() > 0 {
				if x, err := notepack.ParseJSON(args.Raw(0)); err == nil {
					v = inlineBinary(x, args.Attachments(), 0)
				}
			}
			if err := a.respond(requester, broadcastAckMsg{RequestID: id, Packet: v}); err != nil {
				log.Warn("streams: relaying an ack", "err", err)
			}
		},
	})
}

// onAckResponse handles a client count or an ack for a broadcast of this
// server.
func (a *Adapter) onAckResponse(typ int, id string, data notepack.Map) {
	a.mu.Lock()
	r := a.ackRequests[id]
	a.mu.Unlock()
	if r == nil {
		return
	}
	if typ == typeBroadcastClientCount {
		r.acks.ClientCount(clientCountMsgOf(data).ClientCount)
		r.mu.Lock()
		r.got++
		r.mu.Unlock()
		r.check()
		return
	}
	if _, args, err := argsOf([]any{broadcastAckMsgOf(data).Packet}, false); err == nil {
		r.acks.Ack(args)
	}
}

package redisadapter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultQueueBytes is the default of Options.PublishQueueBytes and
// Options.InboundQueueBytes.
const DefaultQueueBytes = 32 << 20

// ErrQueueFull is returned (wrapped) when a message is dropped because the
// namespace's publish queue holds PublishQueueBytes already: Redis is slow
// or unreachable and the messages already waiting go first.
var ErrQueueFull = errors.New("redisadapter: publish queue full")

// outItem is one publication waiting in an outbox.
type outItem struct {
	channel string
	payload []byte
	ctx     context.Context // the waiting caller's; nil when nobody waits
	done    chan error      // receives the outcome when not nil (buffered)
	at      time.Time
}

// outbox publishes the messages of one namespace in order on its own
// goroutine, so that no caller waits on Redis to deliver locally or to
// handle its next event. It holds at most limit bytes of payload; past
// that, new messages are refused (ErrQueueFull, logged). A publication
// that fails before reaching Redis (no connection could be made) is
// retried, in order, until it succeeds or is older than RequestsTimeout;
// other failures are not retried, as Redis may have published already.
//
// Concurrency: push is safe for concurrent use and never blocks; mu is a
// leaf lock.
type outbox struct {
	h     *hub
	nsp   string
	limit int

	mu    sync.Mutex
	items []outItem
	bytes int

	wake chan struct{} // capacity 1
	stop chan struct{}
	end  chan struct{}
}

func newOutbox(h *hub, nsp string) *outbox {
	o := &outbox{h: h, nsp: nsp, limit: h.opts.PublishQueueBytes, wake: make(chan struct{}, 1), stop: make(chan struct{}), end: make(chan struct{})}
	go o.run()
	return o
}

// push queues payload for channel. With wait, it returns the outcome of
// the publication, or an error when ctx ends or RequestsTimeout passes
// first (the message is then not published); otherwise nil once queued.
func (o *outbox) push(ctx context.Context, channel string, payload []byte, wait bool) error {
	it := outItem{channel: channel, payload: payload, at: time.Now()}
	if wait {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.h.opts.RequestsTimeout)
		defer cancel()
		it.ctx, it.done = ctx, make(chan error, 1)
	}
	o.mu.Lock()
	select {
	case <-o.stop:
		o.mu.Unlock()
		return errClosed
	default:
	}
	if o.bytes > 0 && o.bytes+itemSize(payload) > o.limit {
		queued := o.bytes
		o.mu.Unlock()
		o.h.drops.warn("redisadapter: publish queue full, message dropped", channel, "publish queue full", "nsp", o.nsp, "queued_bytes", queued, "limit", o.limit)
		return ErrQueueFull
	}
	o.items = append(o.items, it)
	o.bytes += itemSize(payload)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	if !wait {
		return nil
	}
	select {
	case err := <-it.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("redisadapter: publishing: %w", ctx.Err())
	}
}

var errClosed = errors.New("redisadapter: adapter closed")

// close publishes what is queued (RequestsTimeout at most, no retries),
// then ends the goroutine.
func (o *outbox) close() {
	o.mu.Lock()
	close(o.stop)
	o.mu.Unlock()
	<-o.end
}

func (o *outbox) run() {
	defer close(o.end)
	var drainCtx context.Context
	for {
		o.mu.Lock()
		batch := o.items
		o.items = nil
		o.mu.Unlock()
		if len(batch) == 0 {
			if drainCtx != nil {
				return
			}
			select {
			case <-o.wake:
				continue
			case <-o.stop:
				ctx, cancel := context.WithTimeout(context.Background(), o.h.opts.RequestsTimeout)
				defer cancel()
				drainCtx = ctx
				continue
			}
		}
		for len(batch) > 0 {
			k := o.sendBatch(batch[:min(len(batch), maxBatch)], drainCtx)
			o.mu.Lock()
			for _, it := range batch[:k] {
				o.bytes -= itemSize(it.payload)
			}
			o.mu.Unlock()
			batch = batch[k:]
		}
	}
}

// maxBatch is the most publications sent in one pipeline.
const maxBatch = 128

// sendBatch publishes items in order, in one pipeline when there are
// several (not on a Redis Cluster, where a pipeline spreads over the
// nodes), and returns how many it disposed of. Whatever the pipeline
// could not publish goes through send, one by one and in order: retried
// if Redis refused the connection, dropped otherwise.
func (o *outbox) sendBatch(items []outItem, drainCtx context.Context) int {
	if _, cluster := o.h.rdb.(*redis.ClusterClient); len(items) == 1 || cluster {
		o.send(items[0], drainCtx)
		return 1
	}
	ctx := drainCtx
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), o.h.opts.RequestsTimeout)
		defer cancel()
	}
	live := make([]outItem, 0, len(items))
	for _, it := range items {
		if it.ctx != nil && it.ctx.Err() != nil {
			it.done <- it.ctx.Err()
			continue
		}
		live = append(live, it)
	}
	pipe := o.h.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(live))
	for i, it := range live {
		if o.h.opts.Protocol == Sharded {
			cmds[i] = pipe.SPublish(ctx, it.channel, it.payload)
		} else {
			cmds[i] = pipe.Publish(ctx, it.channel, it.payload)
		}
	}
	if len(live) > 0 {
		pipe.Exec(ctx)
	}
	for i, it := range live {
		err := cmds[i].Err()
		if err != nil && (notSent(err) && drainCtx == nil) {
			o.send(it, drainCtx) // Redis never saw it: in order, with retries
			continue
		}
		if err != nil && it.done == nil {
			o.h.drops.warn("redisadapter: publish failed, message dropped", it.channel, "publish failed", "nsp", o.nsp, "err", err)
		}
		if it.done != nil {
			it.done <- err
		}
	}
	return len(items)
}

// send publishes one item, retrying while Redis cannot be reached. With
// drainCtx (closing), it tries once, within drainCtx.
func (o *outbox) send(it outItem, drainCtx context.Context) {
	backoff := 20 * time.Millisecond
	for {
		ctx := it.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		if drainCtx != nil {
			ctx = drainCtx
		}
		err := ctx.Err()
		if err == nil {
			err = o.h.publish(ctx, it.channel, it.payload)
		}
		cutoff := it.at.Add(o.h.opts.RequestsTimeout)
		if dl, ok := ctx.Deadline(); ok && dl.Before(cutoff) {
			cutoff = dl // the waiting caller's: answer before it gives up
		}
		if err == nil || drainCtx != nil || !notSent(err) || !time.Now().Add(backoff).Before(cutoff) {
			if err != nil && it.done == nil {
				o.h.drops.warn("redisadapter: publish failed, message dropped", it.channel, "publish failed", "nsp", o.nsp, "err", err)
			}
			if it.done != nil {
				it.done <- err
			}
			return
		}
		select {
		case <-time.After(backoff):
		case <-o.stop:
			drainCtx = context.Background() // one last try, below
			var cancel context.CancelFunc
			drainCtx, cancel = context.WithTimeout(drainCtx, o.h.opts.RequestsTimeout)
			defer cancel()
		}
		backoff = min(backoff*2, 500*time.Millisecond)
	}
}

// notSent reports whether err proves the command never reached Redis (no
// connection could be made), so that publishing again cannot duplicate it.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

package streams

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// errQueued reports an entry kept for a later XADD: Redis did not take it
// in time.
var errQueued = errors.New("streams: Redis unreachable, entry queued")

// retryQueue keeps the entries whose XADD failed and adds them again, in
// order, once Redis answers. While it holds entries, new ones queue
// behind them, so that the other servers read them in publishing order.
//
// Concurrency: mu guards the fields after it; no Redis call runs under it.
type retryQueue struct {
	h *hub

	mu      sync.Mutex
	items   []*redis.XAddArgs
	at      []time.Time
	bytes   int
	running bool
}

func entrySize(a *redis.XAddArgs) int {
	n := len(a.Stream)
	for _, v := range a.Values.([]any) {
		if s, ok := v.(string); ok {
			n += len(s)
		}
	}
	return n
}

// add publishes args, or queues it when the queue is not empty or the
// XADD fails. It returns the entry id, or errQueued.
func (q *retryQueue) add(ctx context.Context, args *redis.XAddArgs) (string, error) {
	o := q.h.opts
	q.mu.Lock()
	busy := len(q.items) > 0
	q.mu.Unlock()
	if !busy {
		xctx, cancel := context.WithTimeout(ctx, o.PublishTimeout)
		id, err := q.h.rdb.XAdd(xctx, args).Result()
		cancel()
		if err == nil || o.RetryFor < 0 {
			return id, err
		}
		o.Logger.Warn("streams: XADD failed; the entry is queued", "stream", args.Stream, "err", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, args)
	q.at = append(q.at, time.Now())
	q.bytes += entrySize(args)
	for q.bytes > o.RetryQueueBytes && len(q.items) > 1 {
		q.bytes -= entrySize(q.items[0])
		q.items, q.at = q.items[1:], q.at[1:]
		o.Logger.Warn("streams: retry queue full; the oldest entry is dropped")
	}
	if !q.running {
		q.running = true
		go q.run()
	}
	return "", errQueued
}

// run adds the queued entries until the queue is empty, dropping those
// older than RetryFor, or until the factory's last namespace closes.
func (q *retryQueue) run() {
	o := q.h.opts
	backoff := 50 * time.Millisecond
	for {
		closed := q.h.closed()
		q.mu.Lock()
		for len(q.items) > 0 && time.Since(q.at[0]) > o.RetryFor {
			q.bytes -= entrySize(q.items[0])
			q.items, q.at = q.items[1:], q.at[1:]
			o.Logger.Warn("streams: an entry was not published within RetryFor and is dropped")
		}
		if len(q.items) == 0 || closed {
			q.running = false
			q.mu.Unlock()
			return
		}
		head := q.items[0]
		q.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), o.PublishTimeout)
		err := q.h.rdb.XAdd(ctx, head).Err()
		cancel()
		if err != nil {
			time.Sleep(backoff)
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		q.mu.Lock()
		if len(q.items) > 0 && q.items[0] == head {
			q.bytes -= entrySize(head)
			q.items, q.at = q.items[1:], q.at[1:]
		}
		q.mu.Unlock()
	}
}

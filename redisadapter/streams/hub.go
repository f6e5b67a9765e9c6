package streams

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// hub is what the namespaces of one factory share: the Redis client and
// one reading goroutine per stream.
//
// Concurrency: mu guards adapters, channels, cancel and ps; it is never
// held while calling Redis or an adapter.
type hub struct {
	rdb  redis.UniversalClient
	opts Options

	mu       sync.Mutex
	adapters map[string]*Adapter // by namespace name
	channels map[string]*Adapter // by pub/sub channel
	cancel   context.CancelFunc  // stops the readers; nil when none run
	ps       *redis.PubSub       // the subscriber connection; nil when none runs

	retry retryQueue // entries waiting for Redis
}

func newHub(rdb redis.UniversalClient, o Options) *hub {
	h := &hub{rdb: rdb, opts: o, adapters: make(map[string]*Adapter), channels: make(map[string]*Adapter)}
	h.retry.h = h
	return h
}

// add registers a namespace's adapter, subscribes its channels and
// starts the readers with the first one. No lock is held over the Redis
// calls.
func (h *hub) add(a *Adapter) {
	h.mu.Lock()
	h.adapters[a.nsp.Name()] = a
	h.channels[a.publicChannel()] = a
	h.channels[a.privateChannel()] = a
	if h.ps == nil {
		h.ps = h.rdb.Subscribe(context.Background())
		go h.listen(h.ps)
	}
	ps := h.ps
	var ctx context.Context
	if h.cancel == nil {
		ctx, h.cancel = context.WithCancel(context.Background())
	}
	h.mu.Unlock()
	// go-redis subscribes again after a reconnection; a failure here is
	// logged and left to it.
	sctx, scancel := context.WithTimeout(context.Background(), h.opts.PublishTimeout)
	defer scancel()
	if err := ps.Subscribe(sctx, a.publicChannel(), a.privateChannel()); err != nil {
		h.opts.Logger.Warn("streams: subscribing", "nsp", a.nsp.Name(), "err", err)
	}
	if ctx == nil {
		return
	}
	// The first ids are read now, so that every entry added once New
	// returned is read; if Redis does not answer in time, each reader
	// keeps trying.
	for _, s := range h.opts.streamNames() {
		id, _ := h.lastID(sctx, s)
		go h.read(ctx, s, id)
	}
}

// remove unregisters an adapter, stopping the readers with the last one.
func (h *hub) remove(a *Adapter) {
	h.mu.Lock()
	var ps, closePS *redis.PubSub
	if h.adapters[a.nsp.Name()] == a {
		delete(h.adapters, a.nsp.Name())
		delete(h.channels, a.publicChannel())
		delete(h.channels, a.privateChannel())
		ps = h.ps
	}
	if len(h.adapters) == 0 {
		if h.cancel != nil {
			h.cancel()
			h.cancel = nil
		}
		closePS, h.ps = h.ps, nil
	}
	h.mu.Unlock()
	if closePS != nil {
		closePS.Close()
	} else if ps != nil {
		ctx, cancel := context.WithTimeout(context.Background(), h.opts.PublishTimeout)
		ps.Unsubscribe(ctx, a.publicChannel(), a.privateChannel())
		cancel()
	}
}

// closed reports whether the factory has no open namespace.
func (h *hub) closed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.adapters) == 0
}

func (h *hub) adapter(nsp string) *Adapter {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.adapters[nsp]
}

// lastID is the id of the newest entry of stream, "0-0" when it has none:
// reading starts after it, so nothing added once the adapter exists is
// missed even when the first XREAD comes late.
func (h *hub) lastID(ctx context.Context, stream string) (string, error) {
	msgs, err := h.rdb.XRevRangeN(ctx, stream, "+", "-", 1).Result()
	if err != nil {
		return "", err
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

// read is the reading loop of one stream: XREAD from the last id seen,
// resumed from that id after a Redis error (with a growing pause, up to
// 2s). Each entry is handled, or logged and skipped when malformed: the
// id always advances, so no entry can stop the reader.
func (h *hub) read(ctx context.Context, stream, last string) {
	log := h.opts.Logger.With("stream", stream)
	pause := func(d *time.Duration) bool {
		t := time.NewTimer(*d)
		defer t.Stop()
		*d = min(*d*2, 2*time.Second)
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	backoff := 50 * time.Millisecond
	for last == "" {
		id, err := h.lastID(ctx, stream)
		if err == nil {
			last = id
			break
		}
		if ctx.Err() != nil {
			return
		}
		log.Warn("streams: reading the stream's last id", "err", err)
		if !pause(&backoff) {
			return
		}
	}
	down := false
	for ctx.Err() == nil {
		res, err := h.rdb.XRead(ctx, &redis.XReadArgs{
			Streams: []string{stream, last},
			Count:   h.opts.ReadCount,
			Block:   h.opts.BlockTime,
		}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !down {
				log.Warn("streams: XREAD failed; resuming from the last id", "last", last, "err", err)
				down = true
			}
			if !pause(&backoff) {
				return
			}
			continue
		}
		if down {
			log.Info("streams: reading again", "from", last)
			down = false
		}
		backoff = 50 * time.Millisecond
		for _, s := range res {
			for _, m := range s.Messages {
				last = m.ID
				h.handle(m)
			}
		}
	}
}

// handle dispatches one entry to its namespace's adapter.
func (h *hub) handle(m redis.XMessage) {
	e, err := parseEntry(m.ID, m.Values)
	if err != nil {
		h.opts.Logger.Warn("streams: skipping a malformed entry", "id", m.ID, "err", err)
		return
	}
	a := h.adapter(e.nsp)
	if a == nil || e.uid == a.uid {
		return
	}
	if err := a.onEntry(e); err != nil {
		h.opts.Logger.Warn("streams: skipping a malformed entry", "id", m.ID, "type", e.typ, "err", err)
	}
}

// listen handles the pub/sub messages until ps is closed.
func (h *hub) listen(ps *redis.PubSub) {
	for m := range ps.Channel() {
		h.mu.Lock()
		a := h.channels[m.Channel]
		h.mu.Unlock()
		if a == nil {
			continue
		}
		if err := a.onMessage([]byte(m.Payload)); err != nil {
			h.opts.Logger.Warn("streams: skipping a malformed message", "channel", m.Channel, "err", err)
		}
	}
}

package redisadapter

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// hub owns the subscriber connection shared by the adapters (one per
// namespace) of one factory, as a Node server shares its subClient: one
// SUBSCRIBE per request channel, so PUBSUB NUMSUB counts this server once.
type hub struct {
	rdb  redis.UniversalClient
	opts Options
	log  *slog.Logger

	mu        sync.RWMutex
	ps        *redis.PubSub
	patterns  map[string]*Adapter // broadcast pattern → adapter
	requests  map[string]*Adapter // request channel → adapter
	responses map[string]*Adapter // response channels → adapter
	confirmed map[string]chan struct{}
	stop      chan struct{}
	done      chan struct{}

	down    atomic.Bool
	lastMsg atomic.Int64 // unix nanos of the last thing read from the subscriber connection
}

func newHub(rdb redis.UniversalClient, opts Options) *hub {
	return &hub{
		rdb: rdb, opts: opts, log: opts.Logger,
		patterns:  make(map[string]*Adapter),
		requests:  make(map[string]*Adapter),
		responses: make(map[string]*Adapter),
		confirmed: make(map[string]chan struct{}),
	}
}

// add subscribes a's channels and waits (at most RequestsTimeout, and not
// at all while Redis is known to be down) until Redis confirmed the request
// channel, so that the server is counted when the namespace is ready.
func (h *hub) add(a *Adapter) {
	h.mu.Lock()
	if h.ps == nil {
		h.ps = h.rdb.Subscribe(context.Background())
		h.stop = make(chan struct{})
		h.done = make(chan struct{})
		h.lastMsg.Store(time.Now().UnixNano())
		go h.loop(h.ps, h.stop, h.done)
		go h.health(h.ps, h.stop)
	}
	ps := h.ps
	h.patterns[a.pattern] = a
	h.requests[a.requestChannel] = a
	h.responses[a.responseChannel] = a
	h.responses[a.specificChannel] = a
	confirm := make(chan struct{})
	h.confirmed[a.requestChannel] = confirm
	h.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), h.opts.RequestsTimeout)
	defer cancel()
	err := ps.PSubscribe(ctx, a.pattern)
	if err == nil {
		err = ps.Subscribe(ctx, a.requestChannel, a.responseChannel, a.specificChannel)
	} else {
		ps.Subscribe(ctx, a.requestChannel, a.responseChannel, a.specificChannel)
	}
	if err != nil {
		h.log.Warn("redisadapter: subscribing failed; retried when Redis is back", "nsp", a.nsp.Name(), "err", err)
		return
	}
	if h.down.Load() {
		return
	}
	select {
	case <-confirm:
	case <-ctx.Done():
		h.log.Warn("redisadapter: no subscription confirmation from Redis", "nsp", a.nsp.Name())
	}
}

// remove unsubscribes a's channels; the last adapter closes the
// subscriber connection.
func (h *hub) remove(a *Adapter) {
	h.mu.Lock()
	if h.patterns[a.pattern] != a {
		h.mu.Unlock()
		return
	}
	delete(h.patterns, a.pattern)
	delete(h.requests, a.requestChannel)
	delete(h.responses, a.responseChannel)
	delete(h.responses, a.specificChannel)
	delete(h.confirmed, a.requestChannel)
	ps, stop, done := h.ps, h.stop, h.done
	last := len(h.patterns) == 0
	if last {
		h.ps = nil
	}
	h.mu.Unlock()
	if last {
		close(stop)
		ps.Close()
		<-done
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.RequestsTimeout)
	defer cancel()
	ps.PUnsubscribe(ctx, a.pattern)
	ps.Unsubscribe(ctx, a.requestChannel, a.responseChannel, a.specificChannel)
}

// loop reads the subscriber connection. go-redis reconnects it and
// subscribes again to every channel after an error; loop reports the
// outage and the recovery.
func (h *hub) loop(ps *redis.PubSub, stop, done chan struct{}) {
	defer close(done)
	backoff := 50 * time.Millisecond
	for {
		msg, err := ps.Receive(context.Background())
		if err != nil {
			select {
			case <-stop:
				return
			default:
			}
			if errors.Is(err, redis.ErrClosed) {
				return
			}
			h.setDown(err)
			select {
			case <-stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		h.lastMsg.Store(time.Now().UnixNano())
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				h.mu.Lock()
				if c := h.confirmed[m.Channel]; c != nil {
					close(c)
					delete(h.confirmed, m.Channel)
				}
				h.mu.Unlock()
			}
			h.setUp()
		case *redis.Message:
			h.dispatch(m)
		}
	}
}

func (h *hub) setDown(err error) {
	if h.down.Swap(true) {
		return
	}
	h.log.Warn("redisadapter: lost the Redis subscriber connection", "err", err)
	if f := h.opts.OnRedisDisconnect; f != nil {
		f(err)
	}
}

func (h *hub) setUp() {
	if !h.down.Swap(false) {
		return
	}
	h.log.Info("redisadapter: Redis subscriber connection restored")
	if f := h.opts.OnRedisReconnect; f != nil {
		f()
	}
}

// health pings the subscriber connection when it has been idle, so that a
// broken connection is noticed (go-redis then reconnects it).
func (h *hub) health(ps *redis.PubSub, stop chan struct{}) {
	const every = 3 * time.Second
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, h.lastMsg.Load())) < every {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		if err := ps.Ping(ctx); err != nil {
			h.setDown(err)
		}
		cancel()
	}
}

func (h *hub) dispatch(m *redis.Message) {
	payload := []byte(m.Payload)
	h.mu.RLock()
	var a *Adapter
	kind := 0
	if m.Pattern != "" {
		a, kind = h.patterns[m.Pattern], 1
	} else if a = h.requests[m.Channel]; a != nil {
		kind = 2
	} else if a = h.responses[m.Channel]; a != nil {
		kind = 3
	}
	h.mu.RUnlock()
	if a == nil {
		return
	}
	switch kind {
	case 1:
		a.enqueue(func() { a.onBroadcast(m.Channel, payload) })
	case 2:
		a.enqueue(func() { a.onRequest(payload) })
	case 3:
		a.onResponse(payload)
	}
}

// numSub counts the subscribers of channel, summed over every node of a
// Redis Cluster (go-redis asks one arbitrary node otherwise).
func (h *hub) numSub(ctx context.Context, channel string) (int, error) {
	if cc, ok := h.rdb.(*redis.ClusterClient); ok {
		var total atomic.Int64
		err := cc.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
			m, err := c.PubSubNumSub(ctx, channel).Result()
			total.Add(m[channel])
			return err
		})
		return int(total.Load()), err
	}
	m, err := h.rdb.PubSubNumSub(ctx, channel).Result()
	return int(m[channel]), err
}

func (h *hub) publish(ctx context.Context, channel string, payload []byte) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.opts.RequestsTimeout)
		defer cancel()
	}
	err := h.rdb.Publish(ctx, channel, payload).Err()
	if err != nil {
		h.log.Warn("redisadapter: publish failed", "channel", channel, "err", err)
	}
	return err
}

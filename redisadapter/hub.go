package redisadapter

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// routeKind says what arrives on a subscribed channel or pattern.
type routeKind int

const (
	routeBroadcast routeKind = iota // classic broadcast pattern
	routeRequest                    // classic request channel
	routeResponse                   // classic response channels; the sharded node's own channel
	routeMessage                    // sharded main channel and room channels
)

// sub is one channel (or classic pattern) an adapter listens to.
type sub struct {
	name    string
	kind    routeKind
	pattern bool
}

type route struct {
	a    *Adapter
	kind routeKind
}

// subConn is one subscriber connection and its reading goroutines.
type subConn struct {
	ps       *redis.PubSub
	stop     chan struct{}
	done     chan struct{}
	channels int          // sharded channels on a per-slot connection
	lastMsg  atomic.Int64 // unix nanos of the last thing read
}

// hub owns the subscriber connections shared by the adapters (one per
// namespace) of one factory, as a Node server shares its subClient: one
// subscription per counted channel, so PUBSUB NUMSUB (SHARDNUMSUB) counts
// this server once.
//
// Classic subscriptions, and sharded ones outside Redis Cluster, share one
// connection. On a Redis Cluster, sharded channels are grouped by hash
// slot, one connection per slot in use: SSUBSCRIBE (and go-redis, which
// subscribes again to all of a connection's channels in one command after
// a reconnection) takes channels of a single slot only.
type hub struct {
	rdb     redis.UniversalClient
	cluster *redis.ClusterClient // sharded on a Redis Cluster
	opts    Options
	log     *slog.Logger
	drops   *dropLog

	subMu sync.Mutex // serializes the per-slot connections' changes

	mu        sync.RWMutex
	adapters  int
	conn      *subConn
	slots     map[uint16]*subConn
	routes    map[string]route // channel or pattern → adapter
	confirmed map[string]chan struct{}

	down atomic.Bool
}

func newHub(rdb redis.UniversalClient, opts Options) *hub {
	h := &hub{
		rdb: rdb, opts: opts, log: opts.Logger, drops: newDropLog(opts.Logger),
		slots:     make(map[uint16]*subConn),
		routes:    make(map[string]route),
		confirmed: make(map[string]chan struct{}),
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok && opts.Protocol == Sharded {
		h.cluster = cc
	}
	return h
}

// start runs the reading goroutines of ps; h.mu must be held.
func (h *hub) start(ps *redis.PubSub) *subConn {
	c := &subConn{ps: ps, stop: make(chan struct{}), done: make(chan struct{})}
	c.lastMsg.Store(time.Now().UnixNano())
	go h.loop(c)
	go h.health(c)
	return c
}

func (c *subConn) close() {
	close(c.stop)
	c.ps.Close()
	<-c.done
}

// add subscribes a's channels and waits (at most RequestsTimeout, and not
// at all while Redis is known to be down) until Redis confirmed the
// counted channel, so that the server is counted when the namespace is
// ready.
func (h *hub) add(a *Adapter) {
	h.mu.Lock()
	h.adapters++
	confirm := make(chan struct{})
	h.confirmed[a.countChannel] = confirm
	h.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), h.opts.RequestsTimeout)
	defer cancel()
	if err := h.watch(ctx, a, a.subscriptions()); err != nil {
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

// subscribe sends the subscriptions of subs.
func (h *hub) subscribe(ctx context.Context, subs []sub) error {
	var patterns, channels, sharded []string
	for _, s := range subs {
		switch {
		case s.pattern:
			patterns = append(patterns, s.name)
		case h.opts.Protocol == Sharded:
			sharded = append(sharded, s.name)
		default:
			channels = append(channels, s.name)
		}
	}
	var errs []error
	if h.cluster != nil {
		for _, ch := range sharded {
			errs = append(errs, h.slotSubscribe(ctx, ch))
		}
		return errors.Join(errs...)
	}
	h.mu.Lock()
	if h.conn == nil {
		h.conn = h.start(h.rdb.Subscribe(context.Background()))
	}
	ps := h.conn.ps
	h.mu.Unlock()
	if len(patterns) > 0 {
		errs = append(errs, ps.PSubscribe(ctx, patterns...))
	}
	if len(channels) > 0 {
		errs = append(errs, ps.Subscribe(ctx, channels...))
	}
	if len(sharded) > 0 {
		errs = append(errs, ps.SSubscribe(ctx, sharded...))
	}
	return errors.Join(errs...)
}

// slotSubscribe subscribes ch on the connection of its hash slot (Redis
// Cluster), opened on the slot's master when it is the first.
func (h *hub) slotSubscribe(ctx context.Context, ch string) error {
	slot := keySlot(ch)
	h.subMu.Lock()
	defer h.subMu.Unlock()
	h.mu.Lock()
	c := h.slots[slot]
	h.mu.Unlock()
	if c != nil {
		c.channels++
		return c.ps.SSubscribe(ctx, ch)
	}
	// Created with its channel, so that go-redis connects to the slot's
	// node (the reading goroutine would otherwise pick a random one).
	ps := h.cluster.SSubscribe(ctx, ch)
	h.mu.Lock()
	c = h.start(ps)
	c.channels = 1
	h.slots[slot] = c
	h.mu.Unlock()
	return nil
}

// unsubscribe drops subs; on a Redis Cluster, a slot's connection is
// closed with its last channel.
func (h *hub) unsubscribe(ctx context.Context, subs []sub) {
	h.subMu.Lock()
	defer h.subMu.Unlock()
	h.unsubscribeLocked(ctx, subs)
}

// unsubscribeLocked is unsubscribe with h.subMu held.
func (h *hub) unsubscribeLocked(ctx context.Context, subs []sub) {
	h.mu.Lock()
	type slotSub struct {
		c       *subConn
		channel string
		last    bool
	}
	var slotSubs []slotSub
	for _, s := range subs {
		delete(h.routes, s.name)
		delete(h.confirmed, s.name)
		if h.cluster != nil {
			slot := keySlot(s.name)
			if c := h.slots[slot]; c != nil {
				c.channels--
				if c.channels <= 0 {
					delete(h.slots, slot)
				}
				slotSubs = append(slotSubs, slotSub{c, s.name, c.channels <= 0})
			}
		}
	}
	conn := h.conn
	h.mu.Unlock()
	for _, s := range slotSubs {
		if s.last {
			s.c.close()
		} else {
			s.c.ps.SUnsubscribe(ctx, s.channel)
		}
	}
	if conn == nil || h.cluster != nil {
		return
	}
	for _, s := range subs {
		switch {
		case s.pattern:
			conn.ps.PUnsubscribe(ctx, s.name)
		case h.opts.Protocol == Sharded:
			conn.ps.SUnsubscribe(ctx, s.name)
		default:
			conn.ps.Unsubscribe(ctx, s.name)
		}
	}
}

// remove unsubscribes a's channels; the last adapter closes the
// subscriber connections.
func (h *hub) remove(a *Adapter) {
	h.subMu.Lock()
	defer h.subMu.Unlock()
	h.mu.Lock()
	if h.routes[a.countChannel].a != a {
		h.mu.Unlock()
		return
	}
	var subs []sub
	for name, r := range h.routes {
		if r.a == a {
			subs = append(subs, sub{name: name, kind: r.kind, pattern: r.kind == routeBroadcast})
		}
	}
	h.adapters--
	if h.adapters == 0 {
		conns := make([]*subConn, 0, len(h.slots)+1)
		if h.conn != nil {
			conns = append(conns, h.conn)
		}
		for slot, c := range h.slots {
			conns = append(conns, c)
			delete(h.slots, slot)
		}
		for _, s := range subs {
			delete(h.routes, s.name)
			delete(h.confirmed, s.name)
		}
		h.conn = nil
		h.mu.Unlock()
		for _, c := range conns {
			c.close()
		}
		return
	}
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.RequestsTimeout)
	defer cancel()
	h.unsubscribeLocked(ctx, subs)
}

// loop reads a subscriber connection. go-redis reconnects it and
// subscribes again to every channel after an error; loop reports the
// outage and the recovery.
func (h *hub) loop(c *subConn) {
	defer close(c.done)
	backoff := 50 * time.Millisecond
	for {
		msg, err := c.ps.Receive(context.Background())
		if err != nil {
			select {
			case <-c.stop:
				return
			default:
			}
			if errors.Is(err, redis.ErrClosed) {
				return
			}
			h.setDown(err)
			select {
			case <-c.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		c.lastMsg.Store(time.Now().UnixNano())
		switch m := msg.(type) {
		case *redis.Subscription:
			h.mu.Lock()
			if m.Kind == "subscribe" || m.Kind == "ssubscribe" {
				if ch := h.confirmed[m.Channel]; ch != nil {
					close(ch)
					delete(h.confirmed, m.Channel)
				}
			}
			// After an outage go-redis subscribes again in several
			// commands (channels, then patterns): the connection is back
			// once Redis confirms as many subscriptions as it serves.
			complete := c != h.conn || h.cluster != nil || m.Count >= len(h.routes)
			h.mu.Unlock()
			if complete {
				h.setUp()
			}
		case *redis.Pong:
			// Redis answers a ping after the subscriptions sent before it.
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

// health pings a subscriber connection when it has been idle, so that a
// broken connection is noticed (go-redis then reconnects it).
func (h *hub) health(c *subConn) {
	const every = 3 * time.Second
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, c.lastMsg.Load())) < every {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		if err := c.ps.Ping(ctx); err != nil {
			h.setDown(err)
		}
		cancel()
	}
}

func (h *hub) dispatch(m *redis.Message) {
	payload := []byte(m.Payload)
	key := m.Channel
	if m.Pattern != "" {
		key = m.Pattern
	}
	h.mu.RLock()
	r, ok := h.routes[key]
	h.mu.RUnlock()
	if !ok {
		return
	}
	if r.kind == routeResponse {
		r.a.onResponse(m.Channel, payload)
		return
	}
	r.a.enqueue(inItem{channel: m.Channel, kind: r.kind, payload: payload})
}

// numSub counts the subscribers of the counted channel (PUBSUB NUMSUB, or
// SHARDNUMSUB for the sharded protocol), summed over every node of a
// Redis Cluster (go-redis asks one arbitrary node otherwise).
func (h *hub) numSub(ctx context.Context, channel string) (int, error) {
	count := func(ctx context.Context, c redis.Cmdable) (int64, error) {
		var m map[string]int64
		var err error
		if h.opts.Protocol == Sharded {
			m, err = c.PubSubShardNumSub(ctx, channel).Result()
		} else {
			m, err = c.PubSubNumSub(ctx, channel).Result()
		}
		return m[channel], err
	}
	if cc, ok := h.rdb.(*redis.ClusterClient); ok {
		var total atomic.Int64
		err := cc.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
			n, err := count(ctx, c)
			total.Add(n)
			return err
		})
		return int(total.Load()), err
	}
	n, err := count(ctx, h.rdb)
	return int(n), err
}

func (h *hub) publish(ctx context.Context, channel string, payload []byte) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.opts.RequestsTimeout)
		defer cancel()
	}
	var err error
	if h.opts.Protocol == Sharded {
		err = h.rdb.SPublish(ctx, channel, payload).Err()
	} else {
		err = h.rdb.Publish(ctx, channel, payload).Err()
	}
	return err
}

// keySlot is the Redis Cluster hash slot of key: CRC16 (XMODEM) of the
// key, or of its {hashtag} when it has a non-empty one, modulo 16384.
func keySlot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % 16384
}

// watch routes subs to a and subscribes them.
func (h *hub) watch(ctx context.Context, a *Adapter, subs []sub) error {
	h.mu.Lock()
	for _, s := range subs {
		h.routes[s.name] = route{a, s.kind}
	}
	h.mu.Unlock()
	return h.subscribe(ctx, subs)
}

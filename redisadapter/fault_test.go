package redisadapter_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/socketio"
)

// The fault suite: real redis-server processes killed, restarted and
// frozen under live nodes, peers dying mid-request, garbage on the
// adapter's channels.

// TestFrozenRedisLocalFirst freezes Redis (SIGSTOP) under two nodes: the
// sender's own clients still get every broadcast at once and Emit does
// not wait (it used to publish first, waiting RequestsTimeout per
// broadcast before delivering locally); once Redis resumes within
// RequestsTimeout, the other node gets them all, in order.
func TestFrozenRedisLocalFirst(t *testing.T) { eachProtocol(t, testFrozenRedisLocalFirst) }

func testFrozenRedisLocalFirst(t *testing.T, proto func(*redisadapter.Options)) {
	const timeout = 10 * time.Second
	rs := redistest.Start(t)
	tweak := func(o *redisadapter.Options) { o.RequestsTimeout = timeout; proto(o) }
	a := newNode(t, rs.Addr(), "frozen", "A", tweak)
	b := newNode(t, rs.Addr(), "frozen", "B", tweak)
	a.srv.Of("/").OnConnection(func(s *socketio.Socket) {
		s.On("shout", func(s *socketio.Socket, e *socketio.Event) {
			s.Namespace().To("r").Emit("shouted", e.Values()...)
		})
	})
	c1 := dial(t, a, "/", `{"rooms":["r"]}`)
	c2 := dial(t, b, "/", `{"rooms":["r"]}`)
	a.waitRoom(t, "/", "r", 2)
	// The reference: a Node server (classic adapter) on the same Redis,
	// with a client of its own.
	var p *nodeProc
	if a.opts.Protocol == redisadapter.Classic {
		p = startNodeProc(t)
		portN, _ := p.server("N", rs.URL(), "frozen", false, "")
		p.client("c3", fmt.Sprintf("http://127.0.0.1:%d", portN), "/", `{}`)
	}
	a.srv.Of("/").To("r").Emit("warm")
	c1.expect(`42["warm"]`)
	c2.expect(`42["warm"]`)

	rs.Freeze(t)
	frozen := time.Now()
	const n = 20
	var slowest time.Duration
	for i := range n {
		t0 := time.Now()
		if err := a.srv.Of("/").To("r").Emit("m", i); err != nil {
			t.Fatalf("Emit %d with Redis frozen: %v", i, err)
		}
		c1.expect(fmt.Sprintf(`42["m",%d]`, i))
		slowest = max(slowest, time.Since(t0))
	}
	// A handler that broadcasts does not hold up the sender's next event.
	if err := c1.c.Send(`42["shout",1]`); err != nil {
		t.Fatal(err)
	}
	if err := c1.c.Send(`421["echo","next"]`); err != nil {
		t.Fatal(err)
	}
	c1.expect(`42["shouted",1]`)
	c1.expect(`431["next"]`)
	elapsed := time.Since(frozen)
	t.Logf("Redis frozen: %d broadcasts emitted and delivered locally, and a handler's broadcast then the next event's ack, in %v (slowest Emit %v)", n, elapsed, slowest)
	if elapsed >= timeout {
		t.Fatalf("local delivery took %v with Redis frozen: it waited for Redis", elapsed)
	}
	if p != nil {
		var r struct {
			EmitMs, DeliveredMs float64
			Got                 int
		}
		p.eval(&r, `const got = []; clients.c3.on("nm", (i) => got.push(i)); const t0 = performance.now();
			for (let i = 0; i < %d; i++) io.N.emit("nm", i);
			const emitMs = performance.now() - t0;
			while (got.length < %d && performance.now() - t0 < 8000) await sleep(1);
			return {emitMs, deliveredMs: performance.now() - t0, got: got.length}`, n, n)
		t.Logf("Node reference, same frozen Redis: %d broadcasts emitted in %.1f ms, %d delivered locally in %.1f ms", n, r.EmitMs, r.Got, r.DeliveredMs)
		if r.Got != n {
			t.Errorf("Node's own client got %d of %d broadcasts with Redis frozen", r.Got, n)
		}
	}
	time.Sleep(time.Second - min(time.Since(frozen), time.Second)) // frozen for a second at least
	rs.Thaw(t)
	for i := 0; i < n; {
		got := c2.read(5 * time.Second)
		if strings.HasPrefix(got, `42["nm",`) { // the Node server's
			continue
		}
		if want := fmt.Sprintf(`42["m",%d]`, i); got != want {
			t.Fatalf("c2 got %q, want %q", got, want)
		}
		i++
	}
	for got := c2.read(5 * time.Second); got != `42["shouted",1]`; got = c2.read(5 * time.Second) {
		if !strings.HasPrefix(got, `42["nm",`) {
			t.Fatalf("c2 got %q, want the handler's broadcast", got)
		}
	}
}

// ackClient reads the next event of c, which must ask for an ack, and
// answers it with args.
func (c *client) ackNext(args string) string {
	c.t.Helper()
	p := c.read(5 * time.Second)
	m := regexp.MustCompile(`^42(\d+)(\[.*)$`).FindStringSubmatch(p)
	if m == nil {
		c.t.Fatalf("client %s: %q is not an event with an ack id", c.sid, p)
	}
	if err := c.c.Send("43" + m[1] + args); err != nil {
		c.t.Fatal(err)
	}
	return m[2]
}

// TestEmitWithAckPublishFails: with Redis down, EmitWithAck returns the
// acknowledgements of this server's clients and an error (it used to
// report success).
func TestEmitWithAckPublishFails(t *testing.T) { eachProtocol(t, testEmitWithAckPublishFails) }

func testEmitWithAckPublishFails(t *testing.T, proto func(*redisadapter.Options)) {
	rs := redistest.Start(t)
	a := newNode(t, rs.Addr(), "ackfail", "A", func(o *redisadapter.Options) { o.RequestsTimeout = 500 * time.Millisecond; proto(o) })
	c1 := dial(t, a, "/", `{}`)
	rs.Stop()
	type result struct {
		acks []socketio.Args
		err  error
	}
	done := make(chan result, 1)
	go func() {
		acks, err := a.srv.Of("/").Timeout(5*time.Second).EmitWithAck(context.Background(), "ask", 1)
		done <- result{acks, err}
	}()
	if got := c1.ackNext(`["yes"]`); got != `["ask",1]` {
		t.Fatalf("c1 got %s", got)
	}
	r := <-done
	if r.err == nil || errors.Is(r.err, socketio.ErrAckTimeout) {
		t.Fatalf("EmitWithAck with Redis down: err = %v, want the publish error", r.err)
	}
	if len(r.acks) != 1 || string(r.acks[0].Raw(0)) != `"yes"` {
		t.Fatalf("EmitWithAck with Redis down: acks %v, want the local one", r.acks)
	}
	t.Logf("EmitWithAck with Redis down: %d ack, err %v", len(r.acks), r.err)
}

// TestPeerKilledDuringRequests: a Node peer (socket.io 4.8.4 with the
// classic Redis adapter) is frozen, so that it is counted but does not
// answer, then killed while FetchSockets and ServerSideEmitWithAck wait
// for it: both return what the other servers answered, with an error
// wrapping ErrTimeout, within RequestsTimeout.
func TestPeerKilledDuringRequests(t *testing.T) {
	const timeout = 2 * time.Second
	rs := redistest.Shared(t)
	key := keyFor(t)
	sn := sniff(t, rs.Addr(), key)
	p := startNodeProc(t)
	portN, _ := p.server("N", rs.URL(), key, false, "")
	tweak := func(o *redisadapter.Options) { o.RequestsTimeout = timeout }
	a := newNode(t, rs.Addr(), key, "A", tweak)
	b := newNode(t, rs.Addr(), key, "B", tweak)
	b.srv.Of("/").OnServerSideEmit("ping", func(args socketio.Args, ack func(...any)) {
		if ack != nil {
			ack("pong-B")
		}
	})
	c1 := dial(t, a, "/", `{}`)
	c2 := dial(t, b, "/", `{}`)
	p.client("c3", fmt.Sprintf("http://127.0.0.1:%d", portN), "/", `{}`)
	ctx := ctxT(t)
	if socks, err := a.srv.Of("/").FetchSockets(ctx); err != nil || len(socks) != 3 {
		t.Fatalf("FetchSockets before = %d, %v", len(socks), err)
	}

	freeze(t, p)
	start := time.Now()
	var wg sync.WaitGroup
	var socks []*socketio.RemoteSocket
	var acks []socketio.Args
	var fetchErr, emitErr error
	wg.Add(2)
	go func() { defer wg.Done(); socks, fetchErr = a.srv.Of("/").FetchSockets(context.Background()) }()
	go func() {
		defer wg.Done()
		acks, emitErr = a.srv.Of("/").ServerSideEmitWithAck(context.Background(), "ping")
	}()
	reqChannel := key + "-request#/#"
	sn.wait(t, reqChannel, func(p string) bool { return strings.Contains(p, `"type":5`) })
	sn.wait(t, reqChannel, func(p string) bool { return strings.Contains(p, `"type":6`) && strings.Contains(p, `"requestId"`) })
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	elapsed := time.Since(start)
	ids := make([]string, len(socks))
	for i, s := range socks {
		ids[i] = s.ID
	}
	slices.Sort(ids)
	want := []string{c1.sid, c2.sid}
	slices.Sort(want)
	if !slices.Equal(ids, want) || !errors.Is(fetchErr, redisadapter.ErrTimeout) {
		t.Errorf("FetchSockets with a dead peer = %v, %v; want %v and a timeout", ids, fetchErr, want)
	}
	if len(acks) != 1 || string(acks[0].Raw(0)) != `"pong-B"` || !errors.Is(emitErr, redisadapter.ErrTimeout) {
		t.Errorf("ServerSideEmitWithAck with a dead peer = %v, %v; want B's ack and a timeout", acks, emitErr)
	}
	if elapsed > timeout+3*time.Second {
		t.Errorf("the requests took %v (RequestsTimeout %v)", elapsed, timeout)
	}
	t.Logf("dead peer: %d sockets and %d ack after %v; errors %v / %v", len(socks), len(acks), elapsed, fetchErr, emitErr)
}

// logRecorder is a slog.Handler keeping every record.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// warnings returns the warnings as maps of their attributes (msg under
// "msg").
func (l *logRecorder) warnings() []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]string
	for _, r := range l.recs {
		if r.Level != slog.LevelWarn {
			continue
		}
		m := map[string]string{"msg": r.Message}
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
		out = append(out, m)
	}
	return out
}

// deepMsgpack is a msgpack array holding arrays nested depth deep.
func deepMsgpack(depth int) []byte {
	b := make([]byte, 0, depth+1)
	for range depth {
		b = append(b, 0x91)
	}
	return append(b, 0xc0)
}

func msgpackStr(s string) []byte { return append([]byte{0xa0 | byte(len(s))}, s...) }

// TestGarbageOnChannels publishes malformed messages on every channel of
// a namespace (among them a broadcast nested deeper than the decoder
// allows, as a Node server may send): the nodes keep serving, and every
// drop is logged as a warning with its channel and reason, rate-limited.
func TestGarbageOnChannels(t *testing.T) { eachProtocol(t, testGarbageOnChannels) }

func testGarbageOnChannels(t *testing.T, proto func(*redisadapter.Options)) {
	addr, key := sharedAddr(t), keyFor(t)
	var logs logRecorder
	tweak := func(o *redisadapter.Options) { proto(o); o.Logger = slog.New(&logs) }
	a := newNode(t, addr, key, "A", tweak)
	b := newNode(t, addr, key, "B", tweak)
	c1 := dial(t, a, "/", `{"rooms":["r"]}`)
	c2 := dial(t, b, "/", `{"rooms":["r"]}`)
	a.waitRoom(t, "/", "r", 2)
	sharded := a.opts.Protocol == redisadapter.Sharded

	// A classic broadcast [uid, {type, data: ["ev", deep], nsp}, opts]
	// nested 120 deep, and its sharded JSON twin.
	deep := []byte{0x93}
	deep = append(deep, msgpackStr("nodeuid")...)
	deep = append(deep, 0x83)
	deep = append(deep, msgpackStr("type")...)
	deep = append(deep, 0x02)
	deep = append(deep, msgpackStr("data")...)
	deep = append(deep, 0x92)
	deep = append(deep, msgpackStr("ev")...)
	deep = append(deep, deepMsgpack(120)...)
	deep = append(deep, msgpackStr("nsp")...)
	deep = append(deep, msgpackStr("/")...)
	deep = append(deep, 0x80)
	deepJSON := `{"type":3,"data":{"packet":{"type":2,"data":["ev",` + strings.Repeat("[", 120) + strings.Repeat("]", 120) + `]},"opts":{"rooms":[],"except":[],"flags":{}}},"uid":"nodeuid","nsp":"/"}`
	// The deep ones first: later drops of the same reason are logged once
	// per interval.
	garbage := [][]byte{
		deep, []byte(deepJSON), nil, []byte("\xc1"), []byte("{"), []byte("{}"), []byte("[]"), []byte("\x93\x01\x02\x03"),
		[]byte("\xdf\xff\xff\xff\xff"), []byte("\xdd\xff\xff\xff\xff"), []byte(`{"type":7,"requestId":"x","packet":"nope"}`),
		[]byte(`{"type":5,"requestId":"x","opts":7}`), []byte(`{"type":3,"data":{"packet":7},"uid":"x","nsp":"/"}`),
		[]byte(strings.Repeat("\xff", 1024)),
	}
	var channels []string
	if sharded {
		channels = []string{key + "#/#", key + "#/#r#", key + "#/#" + b.adapter("/").UID() + "#"}
	} else {
		channels = []string{key + "#/#", key + "#/#r#", key + "-request#/#", key + "-response#/#", key + "-response#/#" + b.adapter("/").UID() + "#"}
	}
	ctx := ctxT(t)
	sent := 0
	for range 3 {
		for _, ch := range channels {
			for _, g := range garbage {
				var err error
				if sharded {
					err = a.rdb.SPublish(ctx, ch, g).Err()
				} else {
					err = a.rdb.Publish(ctx, ch, g).Err()
				}
				if err != nil {
					t.Fatal(err)
				}
				sent++
			}
		}
	}
	// Still serving: a broadcast and a request across the nodes.
	a.srv.Of("/").To("r").Emit("after")
	c1.expect(`42["after"]`)
	c2.expect(`42["after"]`)
	if socks, err := a.srv.Of("/").FetchSockets(ctx); err != nil || len(socks) != 2 {
		t.Fatalf("FetchSockets after the garbage = %d, %v", len(socks), err)
	}
	broadcastChannel := key + "#/#"
	var warns []map[string]string
	eventually(t, "a warning for the deep broadcast", func() bool {
		warns = logs.warnings()
		for _, w := range warns {
			if w["channel"] == broadcastChannel && strings.Contains(w["err"], "deep") {
				return true
			}
		}
		return false
	})
	for _, w := range warns {
		if w["channel"] == "" || w["reason"] == "" {
			t.Errorf("warning without channel or reason: %v", w)
		}
	}
	if len(warns) >= sent/2 {
		t.Errorf("%d warnings for %d dropped messages: not rate-limited", len(warns), sent)
	}
	t.Logf("%d malformed messages, %d warnings, e.g. %v", sent, len(warns), warns[0])
}

// TestSlowNamespaceDoesNotStallOthers blocks the server-side event handler
// of /chat on B while A sends it 1,500 events: broadcasts to / still reach
// B's clients (a full /chat queue used to block the subscriber loop shared
// by all namespaces), and with the default bound no /chat event is lost.
// With a small InboundQueueBytes, /chat's events past the bound are
// dropped with a warning instead.
func TestSlowNamespaceDoesNotStallOthers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bound int
	}{{"default bound", 0}, {"small bound", 8 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			eachProtocol(t, func(t *testing.T, proto func(*redisadapter.Options)) {
				testSlowNamespace(t, proto, tc.bound)
			})
		})
	}
}

func testSlowNamespace(t *testing.T, proto func(*redisadapter.Options), bound int) {
	addr, key := sharedAddr(t), keyFor(t)
	var logs logRecorder
	tweak := func(o *redisadapter.Options) {
		proto(o)
		o.Logger = slog.New(&logs)
		o.InboundQueueBytes = bound
	}
	a := newNode(t, addr, key, "A", tweak)
	b := newNode(t, addr, key, "B", tweak)
	c2 := dial(t, b, "/", `{}`)
	release := make(chan struct{})
	var handled atomic.Int32
	b.srv.Of("/chat").OnServerSideEmit("slow", func(socketio.Args, func(...any)) {
		<-release
		handled.Add(1)
	})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the nodes close (cleanups run last first)

	const n = 1500
	ctx := ctxT(t)
	// A counter on /chat's request channel (it changes no server count).
	var ps *redis.PubSub
	if a.opts.Protocol == redisadapter.Sharded {
		ps = a.rdb.SSubscribe(ctx, key+"#/chat#")
	} else {
		ps = a.rdb.Subscribe(ctx, key+"-request#/chat#")
	}
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := a.srv.Of("/chat").ServerSideEmit(ctx, "slow", i); err != nil {
			t.Fatal(err)
		}
	}
	// Once Redis has published them all, a broadcast to / comes after
	// them on B's subscriber connection.
	for range n {
		if _, err := ps.ReceiveMessage(ctx); err != nil {
			t.Fatal(err)
		}
	}
	a.srv.Of("/").Emit("other")
	c2.expect(`42["other"]`)
	unblock()
	if bound == 0 {
		eventually(t, "every /chat event handled", func() bool { return handled.Load() == n })
		return
	}
	var dropped bool
	eventually(t, "a warning for the full /chat queue", func() bool {
		for _, w := range logs.warnings() {
			if w["reason"] == "namespace queue full" && w["nsp"] == "/chat" {
				dropped = true
			}
		}
		return dropped
	})
	// Every event counts 64 bytes plus its payload (> 40 bytes): at most
	// bound/104 wait, plus the one being handled.
	time.Sleep(200 * time.Millisecond)
	if got := handled.Load(); got == 0 || int(got) > bound/104+2 {
		t.Errorf("%d /chat events handled with a bound of %d bytes", got, bound)
	}
	t.Logf("bound %d bytes: %d of %d /chat events kept", bound, handled.Load(), n)
}

// TestRedisKilledMidTraffic kills Redis (SIGKILL) while A broadcasts a
// numbered message every few milliseconds to a client of B, then restarts
// it. Pub/sub keeps nothing, so the messages A publishes while B has no
// subscription (from the kill until B has subscribed again) are lost; A
// retries the publications Redis refused (no connection), in order, for
// RequestsTimeout. The client must get: every message exactly once and in
// order, one contiguous run missing at most, and every message emitted
// after B's OnRedisReconnect.
func TestRedisKilledMidTraffic(t *testing.T) { eachProtocol(t, testRedisKilledMidTraffic) }

func testRedisKilledMidTraffic(t *testing.T, proto func(*redisadapter.Options)) {
	rs := redistest.Start(t)
	var downs atomic.Int32
	var upAt atomic.Int64
	a := newNode(t, rs.Addr(), "killed", "A", func(o *redisadapter.Options) { o.RequestsTimeout = 3 * time.Second; proto(o) })
	b := newNode(t, rs.Addr(), "killed", "B", func(o *redisadapter.Options) {
		o.RequestsTimeout = 3 * time.Second
		o.OnRedisDisconnect = func(error) { downs.Add(1) }
		o.OnRedisReconnect = func() { upAt.Store(time.Now().UnixNano()) }
		proto(o)
	})
	c2 := dial(t, b, "/", `{}`)

	var mu sync.Mutex
	var emitted []time.Time // emit time of message i
	stop := make(chan struct{})
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			mu.Lock()
			emitted = append(emitted, time.Now())
			mu.Unlock()
			if err := a.srv.Of("/").Emit("m", i); err != nil {
				t.Errorf("Emit %d: %v", i, err)
			}
		}
	}()
	var got []int
	readTo := func(pred func() bool) {
		for !pred() {
			p := c2.read(10 * time.Second)
			v, ok := strings.CutPrefix(p, `42["m",`)
			if !ok {
				t.Fatalf("c2 got %q", p)
			}
			i, err := strconv.Atoi(strings.TrimSuffix(v, "]"))
			if err != nil {
				t.Fatalf("c2 got %q", p)
			}
			got = append(got, i)
		}
	}
	readTo(func() bool { return len(got) >= 50 })
	rs.Kill()
	killedAt := time.Now()
	eventually(t, "B sees the outage", func() bool { return downs.Load() > 0 })
	time.Sleep(300 * time.Millisecond)
	rs.Restart(t)
	restartedAt := time.Now()
	eventually(t, "B subscribed again", func() bool { return upAt.Load() != 0 })
	up := time.Unix(0, upAt.Load())
	// Keep sending for a while after the recovery.
	eventually(t, "100 messages after the recovery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		k := 0
		for _, e := range emitted {
			if e.After(up) {
				k++
			}
		}
		return k >= 100
	})
	close(stop)
	<-senderDone
	mu.Lock()
	total := len(emitted)
	firstAfterUp := total
	for i, e := range emitted {
		if e.After(up) {
			firstAfterUp = i
			break
		}
	}
	mu.Unlock()
	readTo(func() bool { return got[len(got)-1] == total-1 })

	// Exactly once, in order, one contiguous gap at most.
	var gaps [][2]int
	for k := 1; k < len(got); k++ {
		if got[k] <= got[k-1] {
			t.Fatalf("message %d after %d: duplicated or out of order", got[k], got[k-1])
		}
		if got[k] > got[k-1]+1 {
			gaps = append(gaps, [2]int{got[k-1] + 1, got[k]})
		}
	}
	if got[0] != 0 {
		t.Fatalf("first message %d", got[0])
	}
	lost := 0
	for _, g := range gaps {
		lost += g[1] - g[0]
	}
	t.Logf("%d messages, %d received, lost %v (Redis down %v, B subscribed again %v after the restart; first message emitted after that: %d)",
		total, len(got), gaps, restartedAt.Sub(killedAt), up.Sub(restartedAt), firstAfterUp)
	if len(gaps) > 1 {
		t.Errorf("lost messages in %d runs %v, want one run around the outage", len(gaps), gaps)
	}
	if len(gaps) == 1 && gaps[0][1] > firstAfterUp {
		t.Errorf("lost messages %v include some emitted after B subscribed again (from %d)", gaps[0], firstAfterUp)
	}
}

// freeze stops a Node process (SIGSTOP): its connections stay open, so
// Redis still counts it, and it answers nothing.
func freeze(t *testing.T, p *nodeProc) {
	t.Helper()
	if err := p.cmd.Process.Signal(sigStop); err != nil {
		t.Fatal(err)
	}
}

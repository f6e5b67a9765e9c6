package redisadapter_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/socketio"
)

// The fault suite (fault_*_test.go): real redis-server processes killed,
// restarted and frozen under live nodes, peers dying mid-request, garbage
// on the adapter's channels, a stalled namespace.

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

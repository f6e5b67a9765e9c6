package redisadapter_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/redisadapter"
)

// TestRedisRestart stops Redis under two nodes and starts it again: the
// outage and the recovery are reported, nothing crashes, the subscriptions
// come back (once each: the server count is right) and broadcasts flow.
func TestRedisRestart(t *testing.T) { eachProtocol(t, testRedisRestart) }

func testRedisRestart(t *testing.T, proto func(*redisadapter.Options)) {
	rs := redistest.Start(t)
	var downs, ups atomic.Int32
	tweak := func(o *redisadapter.Options) {
		o.OnRedisDisconnect = func(error) { downs.Add(1) }
		o.OnRedisReconnect = func() { ups.Add(1) }
		o.RequestsTimeout = 500 * time.Millisecond
		proto(o)
	}
	a := newNode(t, rs.Addr(), "restart", "A", tweak)
	b := newNode(t, rs.Addr(), "restart", "B", tweak)
	c1 := dial(t, a, "/", `{"rooms":["r"]}`)
	c2 := dial(t, b, "/", `{"rooms":["r"]}`)
	a.waitRoom(t, "/", "r", 2)
	a.srv.Of("/").To("r").Emit("before")
	c1.expect(`42["before"]`)
	c2.expect(`42["before"]`)

	rs.Stop()
	eventually(t, "both nodes see the outage", func() bool { return downs.Load() == 2 }) // one subscriber connection per node
	// Operations fail (or degrade to local) without crashing or hanging.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// Emit queues the publication (retried until RequestsTimeout while
	// Redis refuses connections) and delivers locally at once.
	if err := a.srv.Of("/").Emit("during"); err != nil {
		t.Errorf("Emit during the outage: %v", err)
	}
	c1.expect(`42["during"]`)
	if _, err := a.srv.Of("/").FetchSockets(ctx); err == nil {
		t.Error("FetchSockets during the outage: no error")
	}

	rs.Restart(t)
	eventually(t, "both nodes resubscribed", func() bool { return ups.Load() == 2 })
	ctx2 := ctxT(t)
	eventually(t, "server count 2", func() bool {
		n, err := a.adapter("/").ServerCount(ctx2)
		return err == nil && n == 2
	})
	a.waitRoom(t, "/", "r", 2)
	for i := range 3 {
		b.srv.Of("/").To("r").Emit("after", i)
		c1.expect(fmt.Sprintf(`42["after",%d]`, i))
		want := fmt.Sprintf(`42["after",%d]`, i)
		got := c2.read(5 * time.Second)
		if i == 0 && got == `42["during"]` { // published once Redis was back
			got = c2.read(5 * time.Second)
		}
		if got != want {
			t.Fatalf("c2 got %q, want %q", got, want)
		}
	}
	socks, err := a.srv.Of("/").FetchSockets(ctx2)
	if err != nil || len(socks) != 2 {
		t.Fatalf("FetchSockets after restart = %d, %v", len(socks), err)
	}
}

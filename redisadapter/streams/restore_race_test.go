package streams_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/redistest"
)

// TestRecoveryUnderSteadyBroadcast: while a client moves from server A to
// server B, one server broadcasts a numbered event every millisecond or
// so. The client must get every number exactly once and in order: the
// events sent while it was away are replayed, those B delivers during the
// restore are neither lost nor sent before the replayed ones.
func TestRecoveryUnderSteadyBroadcast(t *testing.T) {
	for _, from := range []string{"target", "other"} {
		t.Run("emitted-by-"+from, func(t *testing.T) {
			addr := redistest.Shared(t).Addr()
			stream := streamFor(t)
			a, b := goServer(t, addr, stream), goServer(t, addr, stream)
			emitter := b
			if from == "other" {
				emitter = a
			}
			px := newProxy(t, hostOf(a.url))
			c := startNode(t, "client.js", "--url", px.url())
			c.wait("connect", func(m map[string]any) bool { return m["event"] == "connect" })

			var stop atomic.Bool
			sent := make(chan int)
			go func() {
				i := 0
				for !stop.Load() {
					emitter.emit(nil, nil, false, "seq", i)
					i++
					time.Sleep(time.Millisecond)
				}
				sent <- i
			}()
			c.wait("seq 20", func(m map[string]any) bool { return m["event"] == "msg" && m["args"].([]any)[1] == 20.0 })
			px.cut(deadAddr(t))
			time.Sleep(300 * time.Millisecond)
			px.cut(hostOf(b.url))
			c.wait("recovered", func(m map[string]any) bool { return m["recovered"] == true })
			time.Sleep(300 * time.Millisecond)
			stop.Store(true)
			n := <-sent
			c.wait("the last event", func(m map[string]any) bool {
				return m["event"] == "msg" && m["args"].([]any)[1] == float64(n-1)
			})
			got := c.all(func(m map[string]any) bool { return m["event"] == "msg" })
			if len(got) != n {
				t.Errorf("got %d events, sent %d", len(got), n)
			}
			for i, m := range got {
				if v := m["args"].([]any)[1]; v != float64(i) {
					t.Fatalf("event %d is %v (sent %d): lost, duplicated or out of order", i, v, n)
				}
			}
			t.Logf("%d events, all received once in order", n)
		})
	}
}

package socketio

import (
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/syncbuf"
	"github.com/pierhq/pier/internal/wiretest"
)

// When the packets buffered by all connections would pass
// MaxBufferedBytesTotal, the connection that brings one more is closed with
// a logged reason; the others, and the server, carry on.
func TestInboundBudgetClosesConnection(t *testing.T) {
	const (
		bufSize = 100_000
		pktSize = 90_000
		conns   = 3
		perConn = 20
	)
	var logs syncbuf.Buffer
	srv, url := newTestServer(t, &Options{
		Engine: &engineio.Options{MaxHTTPBufferSize: bufSize, PingInterval: time.Hour, PingTimeout: time.Hour},
		// Each connection queues at most 2 packets behind its blocked
		// handler (MaxBufferedBytes is 200 kB): the second packet of every
		// connection and the third of one fit, no more.
		MaxBufferedBytesTotal: 400_000,
		Logger:                slog.New(slog.NewTextHandler(&logs, nil)),
	})
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	var handled atomic.Int64
	srv.OnConnection(func(s *Socket) {
		s.On("big", func(s *Socket, e *Event) {
			handled.Add(1)
			<-release
		})
		s.On("ping", func(s *Socket, e *Event) { e.Ack("pong") })
	})
	var cs []*wiretest.Conn
	for range conns {
		c := dialRaw(t, url, 4)
		c.Send("40")
		readUntil(t, c, "40")
		cs = append(cs, c)
	}
	sent, senders := flood(cs, bigEvent("big", pktSize), perConn)
	waitStalled(sent)
	if b := srv.buffered.Load(); b > 400_000 {
		t.Errorf("%d bytes buffered, over the budget", b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "over the server's budget") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "over the server's budget") {
		t.Fatalf("no warning logged; logs:\n%s", logs.String())
	}
	unblock()
	// Every queued byte is given back once the handlers ran.
	for deadline := time.Now().Add(60 * time.Second); srv.buffered.Load() != 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if b := srv.buffered.Load(); b != 0 {
		t.Fatalf("%d bytes still counted as buffered", b)
	}
	// The connections still open are served; the closed ones read an error.
	senders.Wait()
	alive := 0
	for i, c := range cs {
		if c.Send(`421["ping"]`) != nil {
			continue
		}
		got, err := c.Read(30 * time.Second)
		if err == nil {
			if got != `431["pong"]` {
				t.Fatalf("connection %d answered %q", i, got)
			}
			alive++
		}
	}
	if alive == 0 || alive == conns {
		t.Logf("logs:\n%s", logs.String())
		t.Fatalf("%d of %d connections still open, want some closed and some open", alive, conns)
	}
	c := dialRaw(t, url, 4)
	c.Send("40")
	if got := readUntil(t, c, "40"); !strings.HasPrefix(got, `40{"sid":`) {
		t.Fatalf("a new connection after the budget was hit: %q", got)
	}
}

package socketio

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/wiretest"
)

// heapAlloc returns the live heap after a collection.
func heapAlloc() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// bigEvent is a text EVENT packet of about size bytes.
func bigEvent(name string, size int) string {
	return `42["` + name + `","` + strings.Repeat("x", size) + `"]`
}

// flood sends packet n times on each of conns from its own goroutine and
// returns the number of packets each has written so far, and a WaitGroup
// done when every sender stopped. Writes that the server does not take
// block (the server stops reading); a sender stops at its first error.
func flood(conns []*wiretest.Conn, packet string, n int) ([]*atomic.Int64, *sync.WaitGroup) {
	sent := make([]*atomic.Int64, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		sent[i] = new(atomic.Int64)
		wg.Go(func() {
			for range n {
				if c.Send(packet) != nil {
					return
				}
				sent[i].Add(1)
			}
		})
	}
	return sent, &wg
}

// waitStalled waits until no count of sent has moved for a second (the
// server stopped reading), at most 60 s.
func waitStalled(sent []*atomic.Int64) {
	total := func() (n int64) {
		for _, s := range sent {
			n += s.Load()
		}
		return n
	}
	last, since := total(), time.Now()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		if n := total(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > time.Second {
			return
		}
	}
}

// The packets a client sends while its handler is blocked are held in
// bytes, not only in count: many big packets against a blocked handler
// leave at most about the per-connection bound (twice MaxHTTPBufferSize by
// default) on the heap, and none is lost.
func TestInboundQueueBoundedInBytes(t *testing.T) {
	const (
		bufSize = 100_000
		pktSize = 90_000
		conns   = 3
		perConn = 100
	)
	srv, url := newTestServer(t, &Options{Engine: &engineio.Options{
		MaxHTTPBufferSize: bufSize, PingInterval: time.Hour, PingTimeout: time.Hour}})
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	var entered, handled atomic.Int64
	srv.OnConnection(func(s *Socket) {
		s.On("big", func(s *Socket, e *Event) {
			if handled.Add(1) <= conns {
				entered.Add(1)
				<-release
			}
		})
	})
	packet := bigEvent("big", pktSize)
	var cs []*wiretest.Conn
	for range conns {
		c := dialRaw(t, url, 4)
		c.Send("40")
		readUntil(t, c, "40")
		cs = append(cs, c)
	}
	before := heapAlloc()
	sent, _ := flood(cs, packet, perConn)
	for deadline := time.Now().Add(60 * time.Second); entered.Load() < conns && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	waitStalled(sent)
	growth := heapAlloc() - before
	// The queue's bound, the packet running, the one waiting to enter the
	// queue and the one the engine is reading, per connection, plus the
	// test's own client frames.
	bound := int64(conns*(2*bufSize+4*len(packet)) + 2<<20)
	t.Logf("%d connections × %d packets of %d bytes against a blocked handler: heap +%d bytes (bound %d)",
		conns, perConn, len(packet), growth, bound)
	if growth > bound {
		t.Errorf("heap grew by %d bytes, more than %d", growth, bound)
	}
	unblock()
	for deadline := time.Now().Add(60 * time.Second); handled.Load() < conns*perConn && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := handled.Load(); n != conns*perConn {
		t.Fatalf("handled %d events, want %d", n, conns*perConn)
	}
}

package engineio_test

import (
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/childprobe"
)

// Environment of TestIdleWebSocketMemory: PIER_IDLEMEM_N sets the number
// of connections (default 2,000); the test sets PIER_IDLEMEM_DIAL for the
// child process that holds the client side.
const (
	idleMemEnvN    = "PIER_IDLEMEM_N"
	idleMemEnvDial = "PIER_IDLEMEM_DIAL"
)

// maxIdleHeapPerConn bounds the live heap an idle Engine.IO websocket
// costs the server once parked, after a GC: measured 1,233–1,261 B at
// 2,000 connections (1.39 KB before the session made its context on
// demand and kept its transport as a constant; 2.55 KB before it kept its
// handshake request packed into one string and its heartbeat in the
// server's heap).
const maxIdleHeapPerConn = 1500

// TestIdleWebSocketMemory opens N real loopback websockets from a child
// process (so that the client side is not in this heap), waits until every
// one is parked, and measures the live heap and the RSS they add to the
// server, per connection.
func TestIdleWebSocketMemory(t *testing.T) {
	if addr := os.Getenv(idleMemEnvDial); addr != "" {
		idleMemDialer(t, addr)
		return
	}
	if testing.Short() {
		t.Skip("opens thousands of connections")
	}
	writeProfile := childprobe.HeapProfile("PIER_IDLEMEM_HEAPPROFILE")
	n := childprobe.EnvInt(idleMemEnvN, 2000)
	srv, err := engineio.NewServer(nopHandler{}, &engineio.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(t.Context())

	parked0 := engineio.ParkedCount()
	m0 := childprobe.ReadMem()

	start := time.Now()
	child := childprobe.Start(t, "TestIdleWebSocketMemory", "", idleMemEnvDial+"="+hs.Listener.Addr().String(), idleMemEnvN+"="+strconv.Itoa(n))
	child.Expect(t, "ready") // the child exits, closing its connections, when the test ends
	dialed := time.Since(start)
	deadline := time.Now().Add(2 * time.Minute)
	for engineio.ParkedCount()-parked0 < n || srv.SessionCount() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections parked, %d sessions", engineio.ParkedCount()-parked0, n, srv.SessionCount())
		}
		time.Sleep(20 * time.Millisecond)
	}
	m1 := childprobe.ReadMem()
	perAlloc := float64(m1.TotalAlloc-m0.TotalAlloc) / float64(n)
	writeProfile()
	perHeap := float64(int64(m1.Heap)-int64(m0.Heap)) / float64(n)
	perInuse := float64(int64(m1.Inuse)-int64(m0.Inuse)) / float64(n)
	perRSS := float64(m1.RSS-m0.RSS) / float64(n)
	t.Logf("%d idle websockets (dialed in %v): live heap %.0f B/conn, heap in use %.0f B/conn, RSS %.0f B/conn (RSS %d → %d KiB), allocated %.0f B/conn",
		n, dialed.Round(time.Millisecond), perHeap, perInuse, perRSS, m0.RSS>>10, m1.RSS>>10, perAlloc)
	if perHeap > maxIdleHeapPerConn {
		t.Errorf("live heap %.0f B per idle websocket, want ≤ %d", perHeap, maxIdleHeapPerConn)
	}
}

// idleMemDialer is the child side: it opens the connections, reads each
// one's open packet, says "ready" and holds them until stdin closes.
func idleMemDialer(t *testing.T, addr string) {
	n := childprobe.EnvInt(idleMemEnvN, 0)
	conns := make([]*childprobe.WS, 0, n)
	for i := range n {
		c, err := childprobe.DialWS(addr, "/engine.io/?EIO=4&transport=websocket")
		if err != nil {
			t.Fatalf("conn %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	childprobe.Ready()
	for _, c := range conns {
		c.Close()
	}
}

package socketio

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/childprobe"
)

// Environment of TestIdleSocketMemory: PIER_SIO_IDLEMEM_N sets the number
// of connections (default 2,000); the test sets PIER_SIO_IDLEMEM_DIAL for
// the child process that holds the client side.
const (
	sioIdleEnvN    = "PIER_SIO_IDLEMEM_N"
	sioIdleEnvDial = "PIER_SIO_IDLEMEM_DIAL"
)

// maxIdleSocketHeap bounds the live heap of an idle Socket.IO connection
// (Engine.IO session, client, socket in the main namespace, joined to one
// room) once parked, after a GC: measured 1,948–1,976 B at 2,000
// connections (4.37 KB before the socket's handshake was built on demand,
// its own room kept as a flag and the session's context made on demand).
const maxIdleSocketHeap = 2300

// TestIdleSocketMemory connects N real Socket.IO clients over loopback
// websockets from a child process (so that the client side is not in this
// heap), each joined to a room, waits until they are idle, and measures the
// live heap and RSS they add, per connection.
func TestIdleSocketMemory(t *testing.T) {
	if addr := os.Getenv(sioIdleEnvDial); addr != "" {
		sioIdleDialer(t, addr)
		return
	}
	if testing.Short() {
		t.Skip("opens thousands of connections")
	}
	writeProfile := childprobe.HeapProfile("PIER_SIO_IDLEMEM_HEAPPROFILE")
	n := childprobe.EnvInt(sioIdleEnvN, 2000)
	srv, err := NewServer(&Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var connected atomic.Int64
	srv.Of("/").OnConnection(func(s *Socket) {
		s.Join("room")
		connected.Add(1)
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(t.Context())

	g0 := runtime.NumGoroutine()
	m0 := childprobe.ReadMem()
	child := childprobe.Start(t, "TestIdleSocketMemory", "", sioIdleEnvDial+"="+hs.Listener.Addr().String(), sioIdleEnvN+"="+strconv.Itoa(n))
	child.Expect(t, "ready") // the child exits, closing its connections, when the test ends
	// Idle: every socket connected, and the goroutines of their reads
	// and queues gone (the connections parked).
	deadline := time.Now().Add(2 * time.Minute)
	for connected.Load() < int64(n) || runtime.NumGoroutine() > g0+50 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connected, %d goroutines (%d before)", connected.Load(), n, runtime.NumGoroutine(), g0)
		}
		time.Sleep(20 * time.Millisecond)
	}
	m1 := childprobe.ReadMem()
	writeProfile()
	perHeap := float64(int64(m1.Heap)-int64(m0.Heap)) / float64(n)
	perRSS := float64(m1.RSS-m0.RSS) / float64(n)
	t.Logf("%d idle Socket.IO connections in a room: live heap %.0f B/conn, RSS %.0f B/conn", n, perHeap, perRSS)
	if perHeap > maxIdleSocketHeap {
		t.Errorf("live heap %.0f B per idle Socket.IO connection, want ≤ %d", perHeap, maxIdleSocketHeap)
	}
}

// sioIdleDialer is the child side: it opens the connections, connects each
// to the main namespace, says "ready" and holds them until stdin closes.
func sioIdleDialer(t *testing.T, addr string) {
	n := childprobe.EnvInt(sioIdleEnvN, 0)
	conns := make([]*childprobe.WS, 0, n)
	connect := childprobe.Frame("40")
	for i := range n {
		c, err := childprobe.DialWS(addr, "/socket.io/?EIO=4&transport=websocket")
		if err == nil {
			err = c.Write(connect)
		}
		for f := ""; err == nil && !strings.HasPrefix(f, `40{"sid"`); {
			f, err = c.Read()
		}
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

package socketio

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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
// room) once parked, after a GC: measured 4.37 KB at 5,000 connections,
// 5.02 KB when every socket made its context and every client its map of
// sockets at once.
const maxIdleSocketHeap = 4800

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
	if os.Getenv("PIER_SIO_IDLEMEM_HEAPPROFILE") != "" {
		runtime.MemProfileRate = 64
	}
	n := 2000
	if v := os.Getenv(sioIdleEnvN); v != "" {
		n, _ = strconv.Atoi(v)
	}
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
	heap0, rss0 := sioIdleSample()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleSocketMemory$", "-test.count=1")
	cmd.Env = append(os.Environ(), sioIdleEnvDial+"="+hs.Listener.Addr().String(), sioIdleEnvN+"="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close() // the child exits, closing its connections
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if !strings.HasPrefix(line, "ready") {
		t.Fatalf("dialer: %q %v", line, err)
	}
	// Idle: every socket connected, and the goroutines of their reads
	// and queues gone (the connections parked).
	deadline := time.Now().Add(2 * time.Minute)
	for connected.Load() < int64(n) || runtime.NumGoroutine() > g0+50 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connected, %d goroutines (%d before)", connected.Load(), n, runtime.NumGoroutine(), g0)
		}
		time.Sleep(20 * time.Millisecond)
	}
	heap1, rss1 := sioIdleSample()
	if p := os.Getenv("PIER_SIO_IDLEMEM_HEAPPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
	perHeap := float64(int64(heap1)-int64(heap0)) / float64(n)
	perRSS := float64(rss1-rss0) / float64(n)
	t.Logf("%d idle Socket.IO connections in a room: live heap %.0f B/conn, RSS %.0f B/conn", n, perHeap, perRSS)
	if perHeap > maxIdleSocketHeap {
		t.Errorf("live heap %.0f B per idle Socket.IO connection, want ≤ %d", perHeap, maxIdleSocketHeap)
	}
}

// sioIdleSample returns the live heap after a GC and the resident set, in
// bytes.
func sioIdleSample() (heap uint64, rss int64) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				rss = kb << 10
			}
		}
	}
	return ms.HeapAlloc, rss
}

// sioIdleDialer is the child side: it opens the connections, connects each
// to the main namespace, says "ready" and holds them until stdin closes.
func sioIdleDialer(t *testing.T, addr string) {
	n, _ := strconv.Atoi(os.Getenv(sioIdleEnvN))
	conns := make([]net.Conn, 0, n)
	const req = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nUser-Agent: pier-idlemem\r\n\r\n"
	// "40", masked with a zero key.
	connect := []byte{0x81, 0x82, 0, 0, 0, 0, '4', '0'}
	buf := make([]byte, 4096)
	readUntil := func(c net.Conn, i int, want string) {
		got := 0
		for !bytes.Contains(buf[:got], []byte(want)) {
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			k, err := c.Read(buf[got:])
			if err != nil {
				t.Fatalf("conn %d: %v after %q", i, err, buf[:got])
			}
			got += k
		}
	}
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		readUntil(c, i, `"maxPayload"`)
		if _, err := c.Write(connect); err != nil {
			t.Fatal(err)
		}
		readUntil(c, i, `40{"sid"`)
		conns = append(conns, c)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

package engineio_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/engineio"
)

// Environment of TestIdleWebSocketMemory: PIER_IDLEMEM_N sets the number
// of connections (default 2,000); the test sets PIER_IDLEMEM_DIAL for the
// child process that holds the client side.
const (
	idleMemEnvN    = "PIER_IDLEMEM_N"
	idleMemEnvDial = "PIER_IDLEMEM_DIAL"
)

// maxIdleHeapPerConn bounds the live heap an idle Engine.IO websocket
// costs the server once parked, after a GC: measured 1.39 KB at 10,000
// connections; 2.55 KB before the session kept its handshake request
// packed into one string and its heartbeat in the server's heap.
const maxIdleHeapPerConn = 2000

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
	if os.Getenv("PIER_IDLEMEM_HEAPPROFILE") != "" {
		runtime.MemProfileRate = 64
	}
	n := 2000
	if v := os.Getenv(idleMemEnvN); v != "" {
		n, _ = strconv.Atoi(v)
	}
	srv, err := engineio.NewServer(nopHandler{}, &engineio.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(t.Context())

	parked0 := engineio.ParkedCount()
	heap0, inuse0, rss0 := idleMemSample()
	alloc0 := idleTotalAlloc

	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleWebSocketMemory$", "-test.count=1")
	cmd.Env = append(os.Environ(), idleMemEnvDial+"="+hs.Listener.Addr().String(), idleMemEnvN+"="+strconv.Itoa(n))
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
	start := time.Now()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if !strings.HasPrefix(line, "ready") {
		t.Fatalf("dialer: %q %v", line, err)
	}
	dialed := time.Since(start)
	deadline := time.Now().Add(2 * time.Minute)
	for engineio.ParkedCount()-parked0 < n || srv.SessionCount() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections parked, %d sessions", engineio.ParkedCount()-parked0, n, srv.SessionCount())
		}
		time.Sleep(20 * time.Millisecond)
	}
	heap1, inuse1, rss1 := idleMemSample()
	perAlloc := float64(idleTotalAlloc-alloc0) / float64(n)
	if p := os.Getenv("PIER_IDLEMEM_HEAPPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
	perHeap := float64(int64(heap1)-int64(heap0)) / float64(n)
	perInuse := float64(int64(inuse1)-int64(inuse0)) / float64(n)
	perRSS := float64(rss1-rss0) / float64(n)
	t.Logf("%d idle websockets (dialed in %v): live heap %.0f B/conn, heap in use %.0f B/conn, RSS %.0f B/conn (RSS %d → %d KiB), allocated %.0f B/conn",
		n, dialed.Round(time.Millisecond), perHeap, perInuse, perRSS, rss0>>10, rss1>>10, perAlloc)
	if perHeap > maxIdleHeapPerConn {
		t.Errorf("live heap %.0f B per idle websocket, want ≤ %d", perHeap, maxIdleHeapPerConn)
	}
}

// idleTotalAlloc is the TotalAlloc of the last idleMemSample.
var idleTotalAlloc uint64

// idleMemSample returns the live heap and heap in use after a GC, and the
// process's resident set, in bytes.
func idleMemSample() (heapAlloc, heapInuse uint64, rss int64) {
	var ms runtime.MemStats
	defer func() { idleTotalAlloc = ms.TotalAlloc }()
	for range 2 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				rss = kb << 10
			}
		}
	}
	return ms.HeapAlloc, ms.HeapInuse, rss
}

// idleMemDialer is the child side: it opens the connections, reads each
// one's open packet, says "ready" and holds them until stdin closes.
func idleMemDialer(t *testing.T, addr string) {
	n, _ := strconv.Atoi(os.Getenv(idleMemEnvN))
	conns := make([]net.Conn, 0, n)
	const req = "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nUser-Agent: pier-idlemem\r\n\r\n"
	buf := make([]byte, 4096)
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		// The 101 response, then the open packet's frame.
		got := 0
		for !bytes.Contains(buf[:got], []byte("\r\n\r\n")) || !bytes.Contains(buf[:got], []byte(`"maxPayload"`)) {
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			k, err := c.Read(buf[got:])
			if err != nil {
				t.Fatalf("conn %d: %v after %q", i, err, buf[:got])
			}
			got += k
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

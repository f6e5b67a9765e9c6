//go:build unix

package engineio

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// TestClientClosedSessionMemory measures what the server keeps, for
// PingTimeout, of a polling session its client closed: a tomb of a few
// dozen bytes, not the session (about a kilobyte with its handshake).
func TestClientClosedSessionMemory(t *testing.T) {
	const n = 3000
	srv, err := NewServer(benchEcho{}, &Options{PingInterval: time.Minute, PingTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	defer hs.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &rawHTTP{conn: conn, br: bufio.NewReader(conn)}
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	const handshake = "/engine.io/?EIO=4&transport=polling"
	session := func() string {
		body, err := c.roundTrip(handshake, nil)
		if err != nil {
			t.Fatal(err)
		}
		sid := string(body[len(`0{"sid":"`) : len(`0{"sid":"`)+20])
		if body, err := c.roundTrip(handshake+"&sid="+sid, []byte("1")); err != nil || string(body) != "ok" {
			t.Fatalf("POST close: %q %v", body, err)
		}
		return sid
	}
	session() // warm up
	before := heap()
	var first string
	for i := range n {
		sid := session()
		if i == 0 {
			first = sid
		}
	}
	if !eventuallyTrue(func() bool { return srv.SessionCount() == 0 }) {
		t.Fatalf("%d sessions still counted", srv.SessionCount())
	}
	per := (float64(heap()) - float64(before)) / n
	t.Logf("heap kept per client-closed session: %.0f bytes", per)
	if per > 250 {
		t.Errorf("the server keeps %.0f bytes per session its client closed, want at most 250", per)
	}
	// The tombs still answer.
	if body, err := c.roundTrip(handshake+"&sid="+first, nil); err != nil || string(body) != "6" {
		t.Fatalf("GET after close: %q %v", body, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}

func eventuallyTrue(cond func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

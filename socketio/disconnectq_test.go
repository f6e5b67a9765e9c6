package socketio

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// A disconnect requested from another goroutine (DisconnectSockets, which
// the adapters run for the cluster) waits for the socket's running event
// handler: the disconnect handlers never overlap it, and the events queued
// behind it are dropped.
func TestDisconnectWaitsForRunningHandler(t *testing.T) {
	for _, closeConn := range []bool{false, true} {
		name := "namespace"
		if closeConn {
			name = "close"
		}
		t.Run(name, func(t *testing.T) { testDisconnectWaits(t, closeConn) })
	}
}

func testDisconnectWaits(t *testing.T, closeConn bool) {
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	var (
		mu  sync.Mutex
		log []string
	)
	add := func(s string) {
		mu.Lock()
		log = append(log, s)
		mu.Unlock()
	}
	got := func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(log, " ")
	}
	srv, url := newTestServer(t, nil)
	t.Cleanup(unblock)
	srv.OnConnection(func(s *Socket) {
		s.On("block", func(s *Socket, e *Event) {
			add("handler-start")
			entered <- struct{}{}
			<-release
			s.Emit("done")
			add("handler-end")
		})
		s.On("later", func(s *Socket, e *Event) { add("later") })
		s.OnDisconnecting(func(s *Socket, reason string) { add("disconnecting") })
		s.OnDisconnect(func(s *Socket, reason string) { add("disconnect:" + reason) })
	})
	c := dialRaw(t, url, 4)
	c.Send("40")
	readUntil(t, c, "40")
	c.Send(`42["block"]`)
	c.Send(`42["later"]`)
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the handler never ran")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	returned := make(chan error, 1)
	go func() { returned <- srv.Of("/").DisconnectSockets(ctx, closeConn) }()
	select {
	case err := <-returned:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		unblock()
		t.Fatal("DisconnectSockets waited for the running handler")
	}
	// DisconnectSockets returned; the handler is still blocked, so no
	// disconnect handler may have started.
	if l := got(); l != "handler-start" {
		unblock()
		t.Fatalf("while the handler runs: %q", l)
	}
	unblock()
	want := "handler-start handler-end disconnecting disconnect:" + ReasonServerDisconnect
	deadline := time.Now().Add(20 * time.Second)
	for got() != want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if l := got(); l != want {
		t.Fatalf("got %q, want %q", l, want)
	}
	if p := readUntil(t, c, "4"); p != `42["done"]` {
		t.Fatalf("first packet after release %q", p)
	}
	if p := readUntil(t, c, "4"); p != "41" {
		t.Fatalf("then %q, want 41", p)
	}
}

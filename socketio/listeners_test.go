package socketio

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/wiretest"
)

// TestListenerBookkeeping: removal functions remove exactly their
// handler and may be called twice; a Once removed before its event never
// runs; the outgoing handler counts that let broadcasts skip the work
// return to zero whichever way the handlers go (off, OffAnyOutgoing,
// disconnect); nil handlers panic.
func TestListenerBookkeeping(t *testing.T) {
	io, err := NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		log []string
	)
	add := func(s string) {
		mu.Lock()
		log = append(log, s)
		mu.Unlock()
	}
	socks := make(chan *Socket, 1)
	io.OnConnection(func(s *Socket) {
		offA := s.On("x", func(*Socket, *Event) { add("a") })
		s.On("x", func(*Socket, *Event) { add("b") })
		offA()
		offA()
		offOnce := s.Once("x", func(*Socket, *Event) { add("once") })
		offOnce()
		s.Once("x", func(*Socket, *Event) { add("once2") })
		s.On("sync", func(s *Socket, e *Event) { e.Ack() })
		socks <- s
	})
	srv := httptest.NewServer(io)
	defer srv.Close()
	defer io.Shutdown(context.Background())
	c, err := wiretest.Dial(context.Background(), srv.URL, "/socket.io/", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Send("40")
	c.Read(5 * time.Second)
	s := <-socks
	nsp := io.Of("/")

	for _, tt := range []struct {
		name   string
		remove func(offs []func())
	}{
		{"off functions", func(offs []func()) {
			for _, off := range offs {
				off()
				off()
			}
		}},
		{"OffAnyOutgoing", func([]func()) { s.OffAnyOutgoing() }},
	} {
		offs := []func(){
			s.OnAnyOutgoing(func(*Socket, *Event) {}),
			s.PrependAnyOutgoing(func(*Socket, *Event) {}),
		}
		if s.outgoing.Load() != 2 || nsp.outgoing.Load() != 2 {
			t.Fatalf("%s: counts %d, %d after adding 2", tt.name, s.outgoing.Load(), nsp.outgoing.Load())
		}
		tt.remove(offs)
		if s.outgoing.Load() != 0 || nsp.outgoing.Load() != 0 {
			t.Fatalf("%s: counts %d, %d after removing", tt.name, s.outgoing.Load(), nsp.outgoing.Load())
		}
	}

	c.Send(`42["x"]`)
	c.Send(`42["x"]`)
	c.Send(`421["sync"]`)
	if m, err := c.Read(5 * time.Second); err != nil || m != "431[]" {
		t.Fatalf("sync: %q, %v", m, err)
	}
	mu.Lock()
	got := strings.Join(log, ",")
	mu.Unlock()
	if got != "b,once2,b" {
		t.Errorf("handlers ran %q, want b,once2,b", got)
	}
	if n := s.ListenerCount("x"); n != 1 {
		t.Errorf("ListenerCount(x) = %d, want 1", n)
	}

	s.OnAnyOutgoing(func(*Socket, *Event) {})
	c.Send("41")
	deadline := time.Now().Add(10 * time.Second)
	for nsp.outgoing.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("namespace outgoing count %d after the socket left", nsp.outgoing.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.OnAnyOutgoing(func(*Socket, *Event) {}) // on a closed socket: not counted
	if nsp.outgoing.Load() != 0 {
		t.Errorf("a closed socket's handler counted")
	}

	for name, f := range map[string]func(){
		"On":            func() { s.On("x", nil) },
		"OnAny":         func() { s.OnAny(nil) },
		"OnAnyOutgoing": func() { s.OnAnyOutgoing(nil) },
		"Use":           func() { s.Use(nil) },
		"OnError":       func() { s.OnError(nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s(nil) did not panic", name)
				}
			}()
			f()
		}()
	}
}

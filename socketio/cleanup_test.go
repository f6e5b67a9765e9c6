package socketio_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/internal/wiretest"
	"github.com/pierhq/pier/socketio"
)

// closingAdapter counts the adapters closed.
type closingAdapter struct {
	*socketio.LocalAdapter
	closed *atomic.Int32
}

func (a closingAdapter) Close() error {
	a.closed.Add(1)
	return nil
}

// cleanupServer serves dynamic namespaces /dyn-* with
// CleanupEmptyChildNamespaces; "hello" acks whether the socket's namespace
// is a live child and how many namespaces were created so far.
func cleanupServer(t *testing.T) (*socketio.Server, *socketio.ParentNamespace, *atomic.Int32, *atomic.Int32) {
	var created, closed atomic.Int32
	io, err := socketio.NewServer(&socketio.Options{
		CleanupEmptyChildNamespaces: true,
		Adapter: func(n *socketio.Namespace) socketio.Adapter {
			if strings.HasPrefix(n.Name(), "/dyn-") {
				created.Add(1)
			}
			return closingAdapter{socketio.NewLocal(n), &closed}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	parent := io.OfRegexp(regexp.MustCompile(`^/dyn-`))
	parent.Use(func(s *socketio.Socket) error {
		if s.Namespace().Name() == "/dyn-refused" {
			return errors.New("refused")
		}
		return nil
	})
	io.OnConnection(func(s *socketio.Socket) {
		s.On("sync", func(s *socketio.Socket, e *socketio.Event) { e.Ack() })
	})
	parent.OnConnection(func(s *socketio.Socket) {
		s.On("hello", func(s *socketio.Socket, e *socketio.Event) {
			e.Ack(slices.Contains(parent.Children(), s.Namespace()), created.Load())
		})
	})
	return io, parent, &created, &closed
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestInteropCleanupEmptyChildNamespaces: a dynamic namespace that
// socket.io-client 4 or 2 left is removed and its adapter closed; the
// next connection creates it again.
func TestInteropCleanupEmptyChildNamespaces(t *testing.T) {
	jstest.Install(t)
	for _, client := range []string{"4", "2"} {
		t.Run("client"+client, func(t *testing.T) {
			t.Parallel()
			io, parent, created, closed := cleanupServer(t)
			srv := httptest.NewServer(io)
			defer srv.Close()
			defer io.Shutdown(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			for round := 1; round <= 2; round++ {
				events, err := jstest.Run(ctx, t, "sio-calls.js", "--url", srv.URL+"/dyn-1", "--client", client, "--calls", `[["hello"]]`)
				if err != nil {
					t.Fatal(err)
				}
				ack, ok := jstest.First(events, "ack")
				if !ok {
					t.Fatalf("round %d: no ack: %v", round, events)
				}
				wantJSON(t, fmt.Sprintf("round %d ack", round), ack["args"], []any{true, round})
				waitFor(t, "the empty namespace removed", func() bool {
					return len(parent.Children()) == 0 && closed.Load() == int32(round)
				})
			}
			if created.Load() != 2 {
				t.Errorf("%d namespaces created, want 2", created.Load())
			}
		})
	}
}

// TestCleanupEmptyChildNamespacesRace connects and leaves one dynamic
// namespace from many connections at once: every connection lands in the
// live namespace, none in one being removed, and each namespace created is
// closed once emptied. A refused connection leaves nothing behind.
func TestCleanupEmptyChildNamespacesRace(t *testing.T) {
	io, parent, created, closed := cleanupServer(t)
	srv := httptest.NewServer(io)
	defer srv.Close()
	defer io.Shutdown(context.Background())
	const conns, rounds = 4, 100
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Go(func() {
			c, err := wiretest.Dial(context.Background(), srv.URL, "/socket.io/", 4)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			// "/" answers "sync" after the work queued before it: the
			// client's DISCONNECT is handled by then.
			c.Send("40")
			if m, err := c.Read(10 * time.Second); err != nil || !strings.HasPrefix(m, "40") {
				errs <- fmt.Errorf("conn %d: connect to /: %q, %v", i, m, err)
				return
			}
			for r := range rounds {
				c.Send("40/dyn-x,")
				if m, err := c.Read(10 * time.Second); err != nil || !strings.HasPrefix(m, `40/dyn-x,{"sid":`) {
					errs <- fmt.Errorf("conn %d round %d: connect reply %q, %v", i, r, m, err)
					return
				}
				c.Send(`42/dyn-x,1["hello"]`)
				if m, err := c.Read(10 * time.Second); err != nil || !strings.HasPrefix(m, `43/dyn-x,1[true,`) {
					errs <- fmt.Errorf("conn %d round %d: ack %q, %v (false: connected to a removed namespace)", i, r, m, err)
					return
				}
				c.Send("41/dyn-x,")
				c.Send(`422["sync"]`)
				if m, err := c.Read(10 * time.Second); err != nil || m != `432[]` {
					errs <- fmt.Errorf("conn %d round %d: sync ack %q, %v", i, r, m, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitFor(t, "every namespace removed and closed", func() bool {
		return len(parent.Children()) == 0 && closed.Load() == created.Load()
	})
	t.Logf("%d connections x %d rounds: %d namespaces created and closed", conns, rounds, created.Load())

	c, err := wiretest.Dial(context.Background(), srv.URL, "/socket.io/", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := closed.Load()
	c.Send("40/dyn-refused,")
	if m, err := c.Read(10 * time.Second); err != nil || !strings.HasPrefix(m, `44/dyn-refused,{"message":"refused"`) {
		t.Fatalf("refused connect: %q, %v", m, err)
	}
	waitFor(t, "the refused namespace removed", func() bool {
		return len(parent.Children()) == 0 && closed.Load() == before+1
	})
}

package socketio

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/wiretest"
)

// newTestServer starts a Server with opts (a discarding logger unless set)
// on an httptest server.
func newTestServer(t *testing.T, opts *Options) (*Server, string) {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv, hs.URL
}

// dialRaw opens a raw Engine.IO websocket session with protocol eio.
func dialRaw(t *testing.T, url string, eio int) *wiretest.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wiretest.Dial(ctx, url, "/socket.io/", eio)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readUntil reads packets until one starts with prefix, and returns it.
func readUntil(t *testing.T, c *wiretest.Conn, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		p, err := c.Read(20 * time.Second)
		if err != nil {
			t.Fatalf("waiting for %q: %v", prefix, err)
		}
		if strings.HasPrefix(p, prefix) {
			return p
		}
	}
	t.Fatalf("no packet starting with %q", prefix)
	return ""
}

// A query after the namespace of a CONNECT is part of the name in protocol
// v5 (Node answers "Invalid namespace"); only protocol v4 clients, which
// carry their query there, have it stripped.
func TestNamespaceQueryByProtocol(t *testing.T) {
	srv, url := newTestServer(t, nil)
	srv.Of("/custom").OnConnection(func(s *Socket) { s.Emit("hello", s.Handshake().Auth) })

	t.Run("v5", func(t *testing.T) {
		c := dialRaw(t, url, 4)
		if err := c.Send("40/custom?x=1,"); err != nil {
			t.Fatal(err)
		}
		got := readUntil(t, c, "4")
		if want := `44/custom?x=1,{"message":"Invalid namespace"}`; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		// The plain name still connects.
		c.Send("40/custom,")
		if got := readUntil(t, c, "4"); !strings.HasPrefix(got, `40/custom,{"sid":`) {
			t.Fatalf("got %q after a plain CONNECT", got)
		}
	})
	t.Run("v4", func(t *testing.T) {
		c := dialRaw(t, url, 3)
		if got := readUntil(t, c, "40"); got != "40" {
			t.Fatalf("got %q, want the implicit CONNECT of /", got)
		}
		c.Send("40/custom?x=1,")
		if got := readUntil(t, c, "40/"); got != "40/custom," {
			t.Fatalf("got %q, want 40/custom,", got)
		}
		if got := readUntil(t, c, "42/"); got != `42/custom,["hello",{"x":"1"}]` {
			t.Fatalf("got %q", got)
		}
	})
}

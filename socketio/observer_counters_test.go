package socketio_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/wiretest"
	"github.com/pierhq/pier/socketio"
)

// The observer fields that feed metrics: broadcasts, acknowledgements
// waited for and timed out.
func TestObserverCounters(t *testing.T) {
	var recipients, waiting, maxWaiting, timeouts atomic.Int64
	obs := &socketio.Observer{
		Broadcast: func(_ *socketio.Namespace, n int) { recipients.Add(int64(n)) },
		AckWaiting: func(d int) {
			if v := waiting.Add(int64(d)); v > maxWaiting.Load() {
				maxWaiting.Store(v)
			}
		},
		AckTimeout: func() { timeouts.Add(1) },
	}
	io, err := socketio.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Observe(obs)
	defer io.Shutdown(context.Background())
	connected := make(chan *socketio.Socket, 2)
	io.OnConnection(func(s *socketio.Socket) { connected <- s })
	hs := httptest.NewServer(io)
	defer hs.Close()
	var socks []*socketio.Socket
	for range 2 {
		c, err := wiretest.Dial(t.Context(), hs.URL, "/socket.io/", 4)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Send("40")
		if m, err := c.Read(10 * time.Second); err != nil || !strings.HasPrefix(m, "40") {
			t.Fatalf("connect: %q %v", m, err)
		}
		socks = append(socks, <-connected)
	}
	if err := io.Emit("news", 1); err != nil {
		t.Fatal(err)
	}
	if got := recipients.Load(); got != 2 {
		t.Errorf("Broadcast observer saw %d recipients, want 2", got)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := socks[0].EmitWithAck(ctx, "ask"); err != socketio.ErrAckTimeout {
		t.Fatalf("EmitWithAck: %v", err)
	}
	if waiting.Load() != 0 || maxWaiting.Load() != 1 || timeouts.Load() != 1 {
		t.Errorf("ack observers: waiting %d (max %d), timeouts %d; want 0 (1), 1", waiting.Load(), maxWaiting.Load(), timeouts.Load())
	}
}

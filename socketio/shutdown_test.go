package socketio

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// Shutdown returns only after every socket's disconnect handlers have run,
// even those that wait behind a running event handler; when ctx ends
// first it says so.
func TestShutdownWaitsForDisconnectHandlers(t *testing.T) {
	srv, url := newTestServer(t, nil)
	var disconnected atomic.Int64
	entered := make(chan struct{})
	release := make(chan struct{})
	srv.OnConnection(func(s *Socket) {
		s.On("block", func(s *Socket, e *Event) {
			close(entered)
			<-release
		})
		s.OnDisconnect(func(s *Socket, reason string) {
			if reason == "server shutting down" {
				time.Sleep(20 * time.Millisecond)
				disconnected.Add(1)
			}
		})
	})
	const n = 20
	for i := range n {
		c := dialRaw(t, url, 4)
		c.Send("40")
		readUntil(t, c, "40")
		if i == 0 {
			c.Send(`42["block"]`)
			<-entered
		}
	}

	// The first client's handler is still running: a short ctx ends first.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := srv.Shutdown(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a handler still running: %v, want the deadline", err)
	}
	if got := disconnected.Load(); got != n-1 {
		t.Fatalf("%d disconnect handlers ran, want the %d not held by the running handler", got, n-1)
	}

	// Once it returns, a second Shutdown sees every handler done.
	close(release)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := disconnected.Load(); got != n {
		t.Fatalf("Shutdown returned with %d of %d disconnect handlers run", got, n)
	}
}

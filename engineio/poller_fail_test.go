//go:build linux

package engineio_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/syncbuf"
)

// A failed epoll wait no longer panics (killing the process): it is
// logged, every parked websocket is resumed and keeps working on a
// goroutine of its own, and nothing is parked from then on.
func TestPollerWaitFailure(t *testing.T) {
	t.Parallel()
	var logs syncbuf.Buffer
	var fail func(error)
	f := newFixtureWith(t, &engineio.Options{ParkIdleAfter: 20 * time.Millisecond}, nil, func(srv *engineio.Server) {
		fail = engineio.UsePrivatePoller(srv, slog.New(slog.NewTextHandler(&logs, nil)))
	})
	const n = 5
	var clients []*wsClient
	var sessions []*engineio.Session
	for range n {
		c, sid := f.openWebSocket(4)
		clients = append(clients, c)
		sessions = append(sessions, f.h.session(t, sid))
	}
	for _, s := range sessions {
		waitParked(t, s, true)
	}

	fail(errors.New("injected epoll failure"))
	if !eventually(waitFor, func() bool { return strings.Contains(logs.String(), "epoll wait failed") }) {
		t.Fatalf("no error logged; logs: %q", logs.String())
	}
	if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "injected epoll failure") || !strings.Contains(l, "resumed=5") {
		t.Errorf("log %q, want an error naming the failure and the 5 resumed connections", l)
	}
	for i, c := range clients {
		if engineio.Parked(sessions[i]) {
			t.Errorf("session %d still parked", i)
		}
		c.sendText("4after failure")
		c.expectText("4after failure")
	}
	// Parking stopped: idle connections keep their goroutines.
	c, sid := f.openWebSocket(4)
	clients = append(clients, c)
	sessions = append(sessions, f.h.session(t, sid))
	time.Sleep(200 * time.Millisecond) // 10 times ParkIdleAfter
	for i, s := range sessions {
		if engineio.Parked(s) {
			t.Errorf("session %d parked after the poller failed", i)
		}
		clients[i].sendText("4still served")
		clients[i].expectText("4still served")
	}
}

package socketio_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/socketio"
)

// TestInteropRecovery runs connection state recovery against the official
// socket.io-client 4.8: the client's transport is closed under it and the
// event broadcast while it was away reaches it after it reconnects.
func TestInteropRecovery(t *testing.T) {
	jstest.Install(t)
	for _, transports := range []string{"websocket", "polling"} {
		t.Run(transports, func(t *testing.T) {
			t.Parallel()
			io, err := socketio.NewServer(&socketio.Options{ConnectionStateRecovery: &socketio.RecoveryOptions{}})
			if err != nil {
				t.Fatal(err)
			}
			io.OnConnection(func(s *socketio.Socket) {
				if s.Recovered() {
					return
				}
				s.Join("room")
				s.On("ready", func(s *socketio.Socket, e *socketio.Event) {
					io.To("room").Emit("news", 1)
				})
				s.On("going-away", func(s *socketio.Socket, e *socketio.Event) {
					s.OnDisconnect(func(*socketio.Socket, string) {
						io.To("room").Emit("news", 2) // nobody connected: kept for recovery
					})
					e.Ack()
				})
			})
			srv := httptest.NewServer(io)
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			events, err := jstest.Run(ctx, t, "sio-recovery.js", "--url", srv.URL, "--transports", transports)
			if err != nil {
				t.Fatal(err)
			}
			var connects, recovered int
			for _, e := range events {
				if e.Name() == "connect" {
					connects++
					if e["recovered"] == true {
						recovered++
					}
				}
			}
			if connects != 2 || recovered != 1 {
				t.Fatalf("connects=%d recovered=%d, want 2 connects, the second recovered; events: %v", connects, recovered, events)
			}
		})
	}
}

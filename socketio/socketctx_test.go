package socketio

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pierhq/pier/engineio"
)

// TestSocketContext: a socket's context, made at the first Context call,
// is live while the socket is connected and cancelled when it disconnects,
// whether it was made before or only after the disconnection; the cause
// is ErrDisconnected, or the engine's *CloseError when the connection
// closed under the socket.
func TestSocketContext(t *testing.T) {
	tests := []struct {
		name      string
		early     bool   // Context is called at connection
		end       string // "disconnect": the client's DISCONNECT; "close": the connection closes
		wantCause func(error) bool
	}{
		{"made at connection, client disconnect", true, "disconnect", isDisconnected},
		{"made after, client disconnect", false, "disconnect", isDisconnected},
		{"made at connection, connection closed", true, "close", isCloseError},
		{"made after, connection closed", false, "close", func(err error) bool { return isCloseError(err) || isDisconnected(err) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, url := newTestServer(t, nil)
			type result struct {
				liveAtConnect bool
				ctx           context.Context
			}
			got := make(chan result, 1)
			ran := make(chan struct{})
			srv.Of("/").OnConnection(func(s *Socket) {
				var r result
				if tt.early {
					r.liveAtConnect = s.Context().Err() == nil
				}
				s.OnDisconnect(func(s *Socket, _ string) {
					r.ctx = s.Context()
					got <- r
				})
				close(ran)
			})
			c := dialRaw(t, url, 4)
			if _, err := c.ConnectSocketIO("/", "", 10*time.Second); err != nil {
				t.Fatal(err)
			}
			// The CONNECT reply goes out before the connection handler
			// runs: end the connection only once it has.
			select {
			case <-ran:
			case <-time.After(20 * time.Second):
				t.Fatal("no connection handler")
			}
			if tt.end == "disconnect" {
				c.Send("41")
			} else {
				c.Close()
			}
			var r result
			select {
			case r = <-got:
			case <-time.After(20 * time.Second):
				t.Fatal("no disconnect")
			}
			if tt.early && !r.liveAtConnect {
				t.Error("context done at connection")
			}
			select {
			case <-r.ctx.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("context not cancelled after the disconnection")
			}
			if cause := context.Cause(r.ctx); !tt.wantCause(cause) {
				t.Errorf("cause %v", cause)
			}
		})
	}
}

func isDisconnected(err error) bool { return errors.Is(err, ErrDisconnected) }

func isCloseError(err error) bool {
	var ce *engineio.CloseError
	return errors.As(err, &ce)
}

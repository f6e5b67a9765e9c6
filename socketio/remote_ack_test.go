package socketio_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/socketio"
)

// TestInteropRemoteSocketEmitWithAck: a socket found by FetchSockets is
// asked a question that socket.io-client 4 or 2 answers; an unanswered
// event ends in ErrAckTimeout, and once the client left, ErrDisconnected.
func TestInteropRemoteSocketEmitWithAck(t *testing.T) {
	jstest.Install(t)
	for _, client := range []string{"4", "2"} {
		t.Run("client"+client, func(t *testing.T) {
			t.Parallel()
			io, err := socketio.NewServer(nil)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(io)
			defer srv.Close()
			defer io.Shutdown(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				// The client stays until it got "question" and "bye".
				_, err := jstest.Run(ctx, t, "sio-calls.js", "--url", srv.URL, "--client", client, "--answer", "question", "--wait", "3")
				done <- err
			}()
			var socks []*socketio.RemoteSocket
			waitFor(t, "the client's socket", func() bool {
				socks, err = io.Of("/").FetchSockets(ctx)
				return err == nil && len(socks) == 1
			})
			rs := socks[0]
			a, err := rs.EmitWithAck(ctx, "question", "life", 42)
			if err != nil {
				t.Fatal(err)
			}
			var got struct{ Answer []any }
			if err := a.Decode(&got); err != nil {
				t.Fatal(err)
			}
			wantJSON(t, "answer", got.Answer, []any{"life", 42})
			tctx, tcancel := context.WithTimeout(ctx, 300*time.Millisecond)
			_, err = rs.EmitWithAck(tctx, "silent")
			tcancel()
			if !errors.Is(err, socketio.ErrAckTimeout) {
				t.Fatalf("unanswered: %v, want ErrAckTimeout", err)
			}
			rs.Emit("bye")
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the socket gone", func() bool { return io.Of("/").SocketCount() == 0 })
			if _, err := rs.EmitWithAck(ctx, "question"); !errors.Is(err, socketio.ErrDisconnected) {
				t.Fatalf("after the client left: %v, want ErrDisconnected", err)
			}
		})
	}
}

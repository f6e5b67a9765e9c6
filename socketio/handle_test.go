package socketio_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/socketio"
)

type chatIn struct {
	Room string `json:"room"`
	Text string `json:"text"`
}

type chatOut struct {
	ID   int    `json:"id"`
	Echo string `json:"echo"`
}

// codedError chooses its own acknowledgement.
type codedError struct{}

func (codedError) Error() string { return "coded" }
func (codedError) AckValue() any { return map[string]int{"code": 42} }

// TestInteropHandle drives typed handlers with socket.io-client 4 and 2:
// decoded arguments, typed acknowledgements, and the acknowledgement and
// OnError call of a bad argument or a failing handler.
func TestInteropHandle(t *testing.T) {
	jstest.Install(t)
	for _, c := range []struct{ client, transports string }{{"4", "websocket"}, {"4", "polling"}, {"2", "websocket"}, {"2", "polling"}} {
		t.Run("client"+c.client+"_"+c.transports, func(t *testing.T) {
			t.Parallel()
			io, err := socketio.NewServer(nil)
			if err != nil {
				t.Fatal(err)
			}
			var (
				mu     sync.Mutex
				errs   []string
				bumped []int
			)
			io.OnConnection(func(s *socketio.Socket) {
				socketio.Handle(s, "chat", func(s *socketio.Socket, in chatIn) (chatOut, error) {
					if in.Text == "" {
						return chatOut{}, errors.New("empty text")
					}
					return chatOut{ID: 1, Echo: in.Room + ":" + in.Text}, nil
				})
				socketio.Handle(s, "bump", func(s *socketio.Socket, n int) (struct{}, error) {
					mu.Lock()
					bumped = append(bumped, n)
					mu.Unlock()
					return struct{}{}, nil
				})
				socketio.Handle(s, "coded", func(s *socketio.Socket, in string) (string, error) {
					return "", codedError{}
				})
				s.OnError(func(s *socketio.Socket, err error) {
					var he *socketio.HandlerError
					if !errors.As(err, &he) {
						t.Errorf("OnError got %T %v, want a *HandlerError", err, err)
						return
					}
					mu.Lock()
					errs = append(errs, he.Event)
					mu.Unlock()
				})
			})
			srv := httptest.NewServer(io)
			defer srv.Close()
			defer io.Shutdown(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			calls := `[["chat",{"room":"r","text":"hi"}],["chat",{"room":"r","text":""}],["chat","not an object"],["bump",5],["coded","x"]]`
			events, err := jstest.Run(ctx, t, "sio-calls.js", "--url", srv.URL, "--client", c.client, "--transports", c.transports, "--calls", calls)
			if err != nil {
				t.Fatal(err)
			}
			acks := map[int][]any{}
			for _, e := range events {
				if e.Name() == "ack" {
					i, _ := e["i"].(float64)
					acks[int(i)], _ = e["args"].([]any)
				}
			}
			wantJSON(t, "ack 0", acks[0], []any{map[string]any{"id": 1, "echo": "r:hi"}})
			wantJSON(t, "ack 1", acks[1], []any{map[string]any{"error": "empty text"}})
			if len(acks[2]) != 1 || !strings.Contains(mustJSON(acks[2][0]), "cannot unmarshal string") {
				t.Errorf("ack 2 = %v, want the decoding error", acks[2])
			}
			wantJSON(t, "ack 3", acks[3], []any{})
			wantJSON(t, "ack 4", acks[4], []any{map[string]any{"code": 42}})
			mu.Lock()
			defer mu.Unlock()
			wantJSON(t, "OnError events", errs, []string{"chat", "chat", "coded"})
			wantJSON(t, "bumped", bumped, []int{5})
		})
	}
}

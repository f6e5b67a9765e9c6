package socketio_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/socketio"
)

// apiServer registers, on a Pier server, the handlers that
// testdata/js/sio-api.js registers on Node's socket.io server for its
// --node-server reference run: each socket logs its handler calls and
// hands the log to the client on "getlog".
func apiServer(t *testing.T) *socketio.Server {
	io, err := socketio.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	io.OnConnection(func(s *socketio.Socket) {
		var (
			mu  sync.Mutex
			log = []string{}
		)
		add := func(v string) {
			mu.Lock()
			log = append(log, v)
			mu.Unlock()
		}
		arg := func(e *socketio.Event) string {
			var v any
			if err := e.Args.Decode(&v); err != nil || v == nil {
				return "undefined"
			}
			switch v := v.(type) {
			case string:
				return v
			case float64:
				return strconv.FormatFloat(v, 'f', -1, 64)
			}
			return "?"
		}
		offPre := s.PrependAny(func(s *socketio.Socket, e *socketio.Event) { add("pre:" + e.Name) })
		s.OnAny(func(s *socketio.Socket, e *socketio.Event) {
			add("any:" + e.Name)
			if e.Name != "getlog" {
				e.Ack("ok")
			}
		})
		s.Use(func(s *socketio.Socket, e *socketio.Event) error {
			add("mw1:" + e.Name)
			return nil
		})
		s.Use(func(s *socketio.Socket, e *socketio.Event) error {
			add("mw2:" + e.Name)
			if e.Name == "forbidden" {
				return errors.New("not allowed")
			}
			return nil
		})
		s.OnError(func(s *socketio.Socket, err error) { add("error:" + err.Error()) })
		offX1 := s.On("x", func(s *socketio.Socket, e *socketio.Event) { add("x1:" + arg(e)) })
		s.On("x", func(s *socketio.Socket, e *socketio.Event) { add("x2:" + arg(e)) })
		s.Once("y", func(s *socketio.Socket, e *socketio.Event) { add("y:" + arg(e)) })
		s.OnAnyOutgoing(func(s *socketio.Socket, e *socketio.Event) { add("out:" + e.Name + ":" + arg(e)) })
		s.On("dropx1", func(s *socketio.Socket, e *socketio.Event) {
			offX1()
			offPre()
		})
		s.On("dropx", func(s *socketio.Socket, e *socketio.Event) { s.Off("x") })
		s.On("dropout", func(s *socketio.Socket, e *socketio.Event) { s.OffAnyOutgoing() })
		s.On("poke", func(s *socketio.Socket, e *socketio.Event) {
			s.Emit("reply", 1)
			io.Emit("bcast", 2)
			s.Broadcast().Emit("others", 3)
			s.Compress(false).Emit("small", 4)
		})
		s.On("getlog", func(s *socketio.Socket, e *socketio.Event) {
			mu.Lock()
			defer mu.Unlock()
			e.Ack(slices.Clone(log))
		})
	})
	return io
}

// wantAPILog is what both servers must log for the run of sio-api.js.
var wantAPILog = []string{
	// x: both handlers, in the order added, after onAny and middleware
	"pre:x", "any:x", "mw1:x", "mw2:x", "x1:a", "x2:a",
	// y twice: the once handler runs for the first only; onAny sees both
	"pre:y", "any:y", "mw1:y", "mw2:y", "y:b",
	"pre:y", "any:y", "mw1:y", "mw2:y",
	// refused by the second middleware: the error handler, no handler
	"pre:forbidden", "any:forbidden", "mw1:forbidden", "mw2:forbidden", "error:not allowed",
	"pre:dropx1", "any:dropx1", "mw1:dropx1", "mw2:dropx1",
	// x1 and the prepended any handler removed one by one
	"any:x", "mw1:x", "mw2:x", "x2:e",
	"any:dropx", "mw1:dropx", "mw2:dropx",
	// every x handler removed
	"any:x", "mw1:x", "mw2:x",
	// outgoing handlers see the socket's emits and the broadcast it is
	// in, not the broadcast it is excluded from
	"any:poke", "mw1:poke", "mw2:poke", "out:reply:1", "out:bcast:2", "out:small:4",
	"any:dropout", "mw1:dropout", "mw2:dropout",
	"any:poke", "mw1:poke", "mw2:poke",
	"any:getlog", "mw1:getlog", "mw2:getlog",
}

// TestInteropListeners runs the same socket.io-client 4 and 2 session
// against Node's socket.io 4.8 server and against Pier, and checks that
// both logged the handler calls of wantAPILog.
func TestInteropListeners(t *testing.T) {
	jstest.Install(t)
	for _, client := range []string{"4", "2"} {
		for _, transports := range []string{"websocket", "polling"} {
			t.Run("client"+client+"_"+transports, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				io := apiServer(t)
				srv := httptest.NewServer(io)
				defer srv.Close()
				defer io.Shutdown(context.Background())
				run := func(target ...string) []any {
					events, err := jstest.Run(ctx, t, "sio-api.js", append(target, "--client", client, "--transports", transports)...)
					if err != nil {
						t.Fatal(err)
					}
					ev, ok := jstest.First(events, "log")
					if !ok {
						t.Fatalf("%v: no log in %v", target, events)
					}
					log, _ := ev["log"].([]any)
					return log
				}
				pier := run("--url", srv.URL)
				node := run("--node-server")
				want := make([]any, len(wantAPILog))
				for i, s := range wantAPILog {
					want[i] = s
				}
				if !slices.Equal(node, want) {
					t.Errorf("Node's server logged\n%v\nwant\n%v", node, want)
				}
				if !slices.Equal(pier, want) {
					t.Errorf("Pier logged\n%v\nwant (as Node)\n%v", pier, want)
				}
			})
		}
	}
}

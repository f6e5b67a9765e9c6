package socketio_test

import (
	"bufio"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/internal/wiretest"
	"github.com/pierhq/pier/socketio"
)

var compressBig = strings.Repeat("compress me ", 300)

// compressServer emits, on "go", the events a to e: b, d and e with
// Compress(false), a and c without; c and d are broadcasts. "issued" is
// acknowledged with the handshake's Issued and Time.
func compressServer(t *testing.T, recovery bool) *socketio.Server {
	opts := &socketio.Options{Engine: &engineio.Options{PerMessageDeflate: true}}
	if recovery {
		opts.ConnectionStateRecovery = &socketio.RecoveryOptions{}
	}
	io, err := socketio.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	io.OnConnection(func(s *socketio.Socket) {
		s.On("go", func(s *socketio.Socket, e *socketio.Event) {
			s.Emit("a", compressBig)
			s.Compress(false).Emit("b", compressBig)
			io.Emit("c", compressBig)
			io.Compress(false).Emit("d", compressBig)
			go s.Compress(false).Timeout(time.Second).EmitWithAck(context.Background(), "e", compressBig)
			e.Ack()
		})
		s.On("issued", func(s *socketio.Socket, e *socketio.Event) {
			e.Ack(s.Handshake().Issued(), s.Handshake().Time.UnixMilli())
		})
	})
	return io
}

// TestCompressWire reads the frames of Compress(false) and default emits
// with permessage-deflate negotiated: only the default ones are
// compressed, for socket emits, broadcasts and emits with ack, with and
// without connection state recovery (whose emits go through the adapter).
func TestCompressWire(t *testing.T) {
	for _, recovery := range []bool{false, true} {
		name := "plain"
		if recovery {
			name = "recovery"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			io := compressServer(t, recovery)
			ts := httptest.NewServer(io)
			defer ts.Close()
			defer io.Shutdown(context.Background())
			d := ws.Dialer{Extensions: []httphead.Option{wsflate.Parameters{ClientNoContextTakeover: true}.Option()}}
			conn, br, _, err := d.Dial(context.Background(), "ws"+strings.TrimPrefix(ts.URL, "http")+"/socket.io/?EIO=4&transport=websocket")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if br == nil {
				br = bufio.NewReader(conn)
			}
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			read := func() (string, bool) {
				t.Helper()
				for {
					f, err := wiretest.ReadFrame(br)
					if err != nil {
						t.Fatal(err)
					}
					z := f.Header.Rsv1()
					if z {
						if f, err = wsflate.DecompressFrame(f); err != nil {
							t.Fatal(err)
						}
					}
					if string(f.Payload) != "2" { // not a ping
						return string(f.Payload), z
					}
				}
			}
			read() // open
			ws.WriteFrame(conn, ws.MaskFrame(ws.NewTextFrame([]byte("40"))))
			read() // CONNECT reply
			ws.WriteFrame(conn, ws.MaskFrame(ws.NewTextFrame([]byte(`42["go"]`))))
			want := map[string]bool{"a": true, "b": false, "c": true, "d": false, "e": false}
			for range want {
				p, z := read()
				name, _, _ := strings.Cut(strings.TrimLeft(p, "0123456789"), ",")
				name = strings.Trim(name, `["`)
				wz, ok := want[name]
				if !ok || !strings.Contains(p, compressBig) {
					t.Fatalf("unexpected packet %.40q", p)
				}
				if z != wz {
					t.Errorf("event %s: compressed %v, want %v", name, z, wz)
				}
				delete(want, name)
			}
		})
	}
}

// TestInteropCompress: socket.io-client 4 and 2, which offer
// permessage-deflate, get compressed and uncompressed events intact on one
// connection, and see Handshake.Issued as the handshake time in ms.
func TestInteropCompress(t *testing.T) {
	jstest.Install(t)
	for _, client := range []string{"4", "2"} {
		t.Run("client"+client, func(t *testing.T) {
			t.Parallel()
			io := compressServer(t, false)
			ts := httptest.NewServer(io)
			defer ts.Close()
			defer io.Shutdown(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			before := time.Now().UnixMilli()
			events, err := jstest.Run(ctx, t, "sio-calls.js", "--url", ts.URL, "--client", client, "--calls", `[["issued"],["go"]]`, "--wait", "5")
			if err != nil {
				t.Fatal(err)
			}
			after := time.Now().UnixMilli()
			got := map[string]bool{}
			for _, e := range events {
				if e.Name() == "recv" {
					args, _ := e["args"].([]any)
					if len(args) == 0 || args[0] != compressBig {
						t.Errorf("event %v: args of %d, want the big string", e["name"], len(args))
					}
					got[e.String("name")] = true
				}
			}
			wantJSON(t, "events received", got, map[string]bool{"a": true, "b": true, "c": true, "d": true, "e": true})
			ack, ok := jstest.First(events, "ack")
			args, _ := ack["args"].([]any)
			if !ok || len(args) != 2 {
				t.Fatalf("issued ack %v", ack)
			}
			issued, _ := args[0].(float64)
			if int64(issued) < before || int64(issued) > after || args[0] != args[1] {
				t.Errorf("issued %v (time %v), want the handshake time in ms in [%d, %d]", args[0], args[1], before, after)
			}
		})
	}
}

package engineio_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"io"
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
)

type plainEcho struct{}

func (plainEcho) OnOpen(*engineio.Session)                          {}
func (plainEcho) OnClose(*engineio.Session, error)                  {}
func (plainEcho) OnMessage(s *engineio.Session, m engineio.Message) { s.Send(m) }

// compress makes a permessage-deflate payload the way a client does.
func compress(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(b)
	w.Flush()
	return bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
}

func TestPerMessageDeflateWire(t *testing.T) {
	t.Parallel()
	srv, err := engineio.NewServer(plainEcho{}, &engineio.Options{PerMessageDeflate: true, MaxHTTPBufferSize: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	dial := func(t *testing.T) (io.ReadWriter, *bufio.Reader) {
		// What browsers and Node's ws offer; a server_max_window_bits offer is declined
		// (compress/flate cannot shrink its window).
		d := ws.Dialer{Extensions: []httphead.Option{wsflate.Parameters{ClientNoContextTakeover: true}.Option()}}
		conn, br, hs, err := d.Dial(context.Background(), "ws"+strings.TrimPrefix(ts.URL, "http")+"/engine.io/?EIO=4&transport=websocket")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		accepted := len(hs.Extensions) == 1 && string(hs.Extensions[0].Name) == "permessage-deflate"
		if !accepted {
			t.Fatal("permessage-deflate not accepted")
		}
		if br == nil {
			br = bufio.NewReader(conn)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		wiretest.ReadFrame(br) // open packet
		return conn, br
	}

	t.Run("round trip", func(t *testing.T) {
		t.Parallel()
		conn, br := dial(t)
		msg := "4" + strings.Repeat("compress me ", 300)
		f := ws.NewTextFrame(compress(t, []byte(msg)))
		f.Header.Rsv = ws.Rsv(true, false, false)
		ws.WriteFrame(conn, ws.MaskFrame(f))
		got, err := wiretest.ReadFrame(br)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Header.Rsv1() {
			t.Fatalf("echo of a %d-byte message not compressed", len(msg))
		}
		plain, err := wsflate.DecompressFrame(got)
		if err != nil || string(plain.Payload) != msg {
			t.Fatalf("echo = %q, %v", plain.Payload, err)
		}
		// Below the threshold, messages go uncompressed.
		ws.WriteFrame(conn, ws.MaskFrame(ws.NewTextFrame([]byte("4small"))))
		if got, _ := wiretest.ReadFrame(br); got.Header.Rsv1() || string(got.Payload) != "4small" {
			t.Fatalf("small echo = %q rsv1=%v", got.Payload, got.Header.Rsv1())
		}
	})
	t.Run("inflation bomb", func(t *testing.T) {
		t.Parallel()
		conn, br := dial(t)
		f := ws.NewTextFrame(compress(t, []byte("4"+strings.Repeat("a", 1<<20)))) // ~1 KB inflating to 1 MiB
		f.Header.Rsv = ws.Rsv(true, false, false)
		ws.WriteFrame(conn, ws.MaskFrame(f))
		got, err := wiretest.ReadFrame(br)
		if err != nil || got.Header.OpCode != ws.OpClose {
			t.Fatalf("got %v %v, want a close frame", got.Header, err)
		}
		if code, _ := ws.ParseCloseFrameData(got.Payload); code != 1009 {
			t.Fatalf("close code %d, want 1009", code)
		}
	})
}

// TestPerMessageDeflateInterop: the official engine.io-client (v4 and v3)
// offers permessage-deflate by default; large messages go compressed both
// ways and come back intact.
func TestPerMessageDeflateInterop(t *testing.T) {
	jstest.Install(t)
	srv, err := engineio.NewServer(plainEcho{}, &engineio.Options{PerMessageDeflate: true})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	for _, eio := range []string{"4", "3"} {
		t.Run("eio"+eio, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if _, err := jstest.Run(ctx, t, "eio-client.js", "--url", hs.URL, "--eio", eio, "--transports", "websocket", "--scenario", "echo"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

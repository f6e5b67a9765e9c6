package engineio_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/wiretest"
)

// ncEcho echoes messages; those starting with "nc" go back with
// NoCompress.
type ncEcho struct{}

func (ncEcho) OnOpen(*engineio.Session)         {}
func (ncEcho) OnClose(*engineio.Session, error) {}
func (ncEcho) OnMessage(s *engineio.Session, m engineio.Message) {
	m.NoCompress = strings.HasPrefix(string(m.Data), "nc")
	s.Send(m)
}

// TestMessageNoCompress: a message sent with NoCompress is never
// compressed, over websocket (permessage-deflate) or polling (gzip), while
// the same message without it is.
func TestMessageNoCompress(t *testing.T) {
	t.Parallel()
	srv, err := engineio.NewServer(ncEcho{}, &engineio.Options{PerMessageDeflate: true, HTTPCompression: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	big := strings.Repeat("compress me ", 300)
	tests := []struct {
		msg        string
		compressed bool
	}{{"c " + big, true}, {"nc " + big, false}}

	t.Run("websocket", func(t *testing.T) {
		t.Parallel()
		d := ws.Dialer{Extensions: []httphead.Option{wsflate.Parameters{ClientNoContextTakeover: true}.Option()}}
		conn, br, _, err := d.Dial(context.Background(), "ws"+strings.TrimPrefix(ts.URL, "http")+"/engine.io/?EIO=4&transport=websocket")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if br == nil {
			br = bufio.NewReader(conn)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		wiretest.ReadFrame(br) // open packet
		for _, tt := range tests {
			ws.WriteFrame(conn, ws.MaskFrame(ws.NewTextFrame([]byte("4"+tt.msg))))
			got, err := wiretest.ReadFrame(br)
			if err != nil {
				t.Fatal(err)
			}
			if got.Header.Rsv1() != tt.compressed {
				t.Errorf("%.3q: compressed %v, want %v", tt.msg, got.Header.Rsv1(), tt.compressed)
			}
			if got.Header.Rsv1() {
				if got, err = wsflate.DecompressFrame(got); err != nil {
					t.Fatal(err)
				}
			}
			if string(got.Payload) != "4"+tt.msg {
				t.Errorf("%.3q: echo of %d bytes, want %d", tt.msg, len(got.Payload), len(tt.msg)+1)
			}
		}
	})
	t.Run("polling", func(t *testing.T) {
		t.Parallel()
		c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
		base := ts.URL + "/engine.io/?EIO=4&transport=polling"
		res, err := c.Get(base)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var open struct{ Sid string }
		if err := json.Unmarshal(b[1:], &open); err != nil {
			t.Fatalf("open %q: %v", b, err)
		}
		base += "&sid=" + open.Sid
		for _, tt := range tests {
			res, err := c.Post(base, "text/plain", strings.NewReader("4"+tt.msg))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			req, _ := http.NewRequest("GET", base, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			if res, err = c.Do(req); err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if gz := res.Header.Get("Content-Encoding") == "gzip"; gz != tt.compressed {
				t.Errorf("%.3q: gzip %v, want %v", tt.msg, gz, tt.compressed)
			}
		}
	})
}

package redisadapter_test

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
	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/wiretest"
	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/socketio"
)

// TestBroadcastCompressFlag: a Compress(false) broadcast of server A
// reaches a client of server B uncompressed (the flag travels as Node's
// flags.compress), a default one compressed.
func TestBroadcastCompressFlag(t *testing.T) { eachProtocol(t, testBroadcastCompressFlag) }

func testBroadcastCompressFlag(t *testing.T, proto func(*redisadapter.Options)) {
	addr, key := sharedAddr(t), keyFor(t)
	start := func() (*socketio.Server, string) {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		o := &redisadapter.Options{Key: key, RequestsTimeout: 2 * time.Second, Logger: quiet}
		proto(o)
		io, err := socketio.NewServer(&socketio.Options{Adapter: redisadapter.New(rdb, o), Logger: quiet, Engine: &engineio.Options{PerMessageDeflate: true}})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(io)
		t.Cleanup(func() {
			io.Shutdown(context.Background())
			hs.Close()
			rdb.Close()
		})
		return io, hs.URL
	}
	a, _ := start()
	b, bURL := start()
	d := ws.Dialer{Extensions: []httphead.Option{wsflate.Parameters{ClientNoContextTakeover: true}.Option()}}
	conn, br, _, err := d.Dial(context.Background(), "ws"+strings.TrimPrefix(bURL, "http")+"/socket.io/?EIO=4&transport=websocket")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if br == nil {
		br = bufio.NewReader(conn)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	read := func() (string, bool) {
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
			if string(f.Payload) != "2" {
				return string(f.Payload), z
			}
		}
	}
	read() // open
	ws.WriteFrame(conn, ws.MaskFrame(ws.NewTextFrame([]byte("40"))))
	read() // CONNECT reply
	eventually(t, "B's socket", func() bool { return b.Of("/").SocketCount() == 1 })
	eventually(t, "A and B subscribed", func() bool {
		n, err := a.Of("/").Adapter().(*redisadapter.Adapter).ServerCount(context.Background())
		return err == nil && n == 2
	})
	big := strings.Repeat("compress me ", 300)
	if err := a.Compress(false).Emit("plain", big); err != nil {
		t.Fatal(err)
	}
	if err := a.Emit("deflated", big); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		event      string
		compressed bool
	}{{"plain", false}, {"deflated", true}} {
		p, z := read()
		if !strings.HasPrefix(p, `42["`+want.event+`"`) {
			t.Fatalf("got %.40q, want event %s", p, want.event)
		}
		if z != want.compressed {
			t.Errorf("%s: compressed %v, want %v", want.event, z, want.compressed)
		}
	}
}

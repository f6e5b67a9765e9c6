package socketio

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/wiretest"
)

// A broadcast to a room large enough to be split across processors
// (fanOut) reaches every member, and successive broadcasts arrive in order
// at each of them, including after a Send that the socket did not take at
// once.
func TestFanOutOrder(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	}
	const members, broadcasts = 2*fanOutChunk + 17, 30
	var joined sync.WaitGroup
	joined.Add(members)
	srv, err := NewServer(&Options{
		Engine: &engineio.Options{PingInterval: time.Hour, PingTimeout: time.Hour},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.OnConnection(func(s *Socket) {
		s.Join("all")
		joined.Done()
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	connect := DefaultParser().Encode(nil, &Packet{Type: PacketConnect, Namespace: "/"})
	base := strings.Replace(hs.URL, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
	type member struct {
		got []string
		err error
	}
	got := make([]member, members)
	var readers sync.WaitGroup
	for i := range members {
		conn, br, err := dialBenchClient(base, connect)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		t.Cleanup(func() { conn.Close() })
		readers.Add(1)
		go func() {
			defer readers.Done()
			conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			for len(got[i].got) < broadcasts {
				f, err := wiretest.ReadFrame(br)
				if err != nil {
					got[i].err = err
					return
				}
				got[i].got = append(got[i].got, string(f.Payload))
			}
		}()
	}
	joined.Wait()
	// A large payload now and then, so that some writes do not fit the
	// socket at once and finish on a flusher.
	big := strings.Repeat("x", 100_000)
	for n := range broadcasts {
		arg := strconv.Itoa(n)
		if n%10 == 5 {
			arg += big
		}
		srv.Of("/").To("all").Emit("n", arg)
	}
	readers.Wait()
	for i, m := range got {
		if m.err != nil {
			t.Fatalf("member %d: read: %v after %d events", i, m.err, len(m.got))
		}
		for n, p := range m.got {
			want := fmt.Sprintf(`42["n","%d`, n)
			if !strings.HasPrefix(p, want) {
				t.Fatalf("member %d: event %d is %.30q..., want %s...", i, n, p, want)
			}
		}
	}
	srv.Shutdown(t.Context())
}

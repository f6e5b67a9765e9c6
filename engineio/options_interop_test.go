package engineio_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/jstest"
)

// The options of Node engine.io 6.6 that a client can see, against the
// official engine.io-client (6.6.8, and 3.1.6 for EIO3) through
// testdata/js/eio-options.js.

// requestLog records the Cookie header of every request that names a
// session, by sid.
type requestLog struct {
	mu      sync.Mutex
	cookies map[string][]string // sid → "METHOD transport: cookie"
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if sid := q.Get("sid"); sid != "" {
			l.mu.Lock()
			l.cookies[sid] = append(l.cookies[sid], r.Method+" "+q.Get("transport")+": "+r.Header.Get("Cookie"))
			l.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (l *requestLog) of(sid string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.cookies[sid]...)
}

// optionsServer serves opts with an echo handler, behind a requestLog.
func optionsServer(t *testing.T, opts engineio.Options) (*httptest.Server, *requestLog) {
	t.Helper()
	opts.PingInterval = interopPingInterval
	opts.PingTimeout = interopPingTimeout
	opts.Logger = slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var protocols sync.Map
	srv, err := engineio.NewServer(echoHandler(&protocols), &opts)
	if err != nil {
		t.Fatal(err)
	}
	rl := &requestLog{cookies: map[string][]string{}}
	hs := httptest.NewServer(rl.wrap(srv))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	})
	return hs, rl
}

func runOptionsClient(t *testing.T, url string, args ...string) []jstest.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), interopCaseTimeout)
	defer cancel()
	events, err := jstest.Run(ctx, t, "eio-options.js", append([]string{"--url", url}, args...)...)
	if err != nil {
		logEvents(t, events)
		t.Fatal(err)
	}
	return events
}

func TestInteropEngineOptions(t *testing.T) {
	jstest.Install(t)

	// The sticky cookie, a generated id and the header hooks' cookies
	// reach engine.io-client 6, whose Node cookie jar (withCredentials)
	// sends them back on every later request, polls and the websocket
	// upgrade alike.
	t.Run("cookie, GenerateID and header hooks", func(t *testing.T) {
		t.Parallel()
		var ids, every atomic.Int32
		hs, rl := optionsServer(t, engineio.Options{
			Cookie: &engineio.CookieOptions{Name: "sticky", MaxAge: time.Hour},
			GenerateID: func(r *http.Request) (string, error) {
				return fmt.Sprintf("gen-%d", ids.Add(1)), nil
			},
			OnInitialHeaders: func(h http.Header, r *http.Request) { h.Add("Set-Cookie", "initial=yes; Path=/") },
			OnHeaders: func(h http.Header, r *http.Request) {
				h.Add("Set-Cookie", fmt.Sprintf("every=%d; Path=/", every.Add(1)))
			},
		})
		events := runOptionsClient(t, hs.URL, "--eio", "4", "--transports", "polling,websocket", "--with-credentials")
		open, ok := jstest.First(events, "open")
		if !ok {
			logEvents(t, events)
			t.Fatal("no open")
		}
		sid := open.String("sid")
		if !strings.HasPrefix(sid, "gen-") {
			t.Fatalf("client sid %q, want the generated gen-N", sid)
		}
		if _, ok := jstest.First(events, "upgrade"); !ok {
			t.Fatal("no upgrade")
		}
		reqs := rl.of(sid)
		var sawUpgrade bool
		for _, r := range reqs {
			sawUpgrade = sawUpgrade || strings.HasPrefix(r, "GET websocket")
			for _, want := range []string{"sticky=" + sid, "initial=yes", "every="} {
				if !strings.Contains(r, want) {
					t.Errorf("request %q lacks cookie %s", r, want)
				}
			}
		}
		if len(reqs) < 2 || !sawUpgrade {
			t.Errorf("requests of the session: %q, want polls and the websocket upgrade", reqs)
		}
	})

	// Without the cookie option the client gets no io cookie (Node's
	// default).
	t.Run("no cookie by default", func(t *testing.T) {
		t.Parallel()
		hs, rl := optionsServer(t, engineio.Options{})
		events := runOptionsClient(t, hs.URL, "--eio", "4", "--transports", "polling", "--with-credentials")
		open, _ := jstest.First(events, "open")
		for _, r := range rl.of(open.String("sid")) {
			if !strings.HasSuffix(r, ": ") {
				t.Errorf("request %q carries a cookie", r)
			}
		}
	})

	// AllowEIO3 off: engine.io-client 3 (socket.io-client 2, sails.io.js)
	// is refused with Node's error, on either transport, and told of.
	for _, tr := range []string{"polling", "websocket"} {
		t.Run("EIO3 refused over "+tr, func(t *testing.T) {
			t.Parallel()
			var ce connErrors
			hs, _ := optionsServer(t, engineio.Options{AllowEIO3: new(bool), OnConnectionError: ce.add})
			events := runOptionsClient(t, hs.URL, "--eio", "3", "--transports", tr, "--scenario", "refused")
			if _, ok := jstest.First(events, "error"); !ok {
				t.Fatal("client saw no error")
			}
			e, ok := ce.last("EIO=3")
			if !ok || e.Code != engineio.CodeUnsupportedProtocolVersion || e.Message != "Unsupported protocol version" {
				t.Errorf("OnConnectionError: %+v %v", e, ok)
			}
			// EIO4 clients are served as before.
			runOptionsClient(t, hs.URL, "--eio", "4", "--transports", tr)
		})
	}

	// A client asking for a transport the server does not offer.
	t.Run("transport unknown", func(t *testing.T) {
		t.Parallel()
		var ce connErrors
		hs, _ := optionsServer(t, engineio.Options{Transports: []string{engineio.WebSocket}, OnConnectionError: ce.add})
		events := runOptionsClient(t, hs.URL, "--eio", "4", "--transports", "polling", "--scenario", "refused")
		ev, _ := jstest.First(events, "error")
		if ev.Number("description") != 400 {
			t.Errorf("client error %v, want the 400 status as description", map[string]any(ev))
		}
		e, ok := ce.last("transport=polling")
		if !ok || e.Code != engineio.CodeUnknownTransport || e.Context["transport"] != "polling" {
			t.Errorf("OnConnectionError: %+v %v", e, ok)
		}
	})
}

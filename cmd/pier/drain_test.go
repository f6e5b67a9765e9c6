package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/pierhq/pier/internal/wiretest"
	"github.com/pierhq/pier/sailsbridge"
)

// drainFixture is Pier's serving path (engine options, drainer, Socket.IO
// server, a Sails bridge whose handler is tracked) on a real listener.
type drainFixture struct {
	a    *app
	srv  *http.Server
	base string
}

func newDrainFixture(t *testing.T, window time.Duration, slow http.Handler) *drainFixture {
	t.Helper()
	cfg := defaultConfig()
	cfg.Drain = Duration(window)
	log := slog.New(slog.DiscardHandler)
	d := newDrainer(window, log)
	m := newMetrics()
	io, err := newDefaultApp(socketOptions(&cfg, engineOptions(&cfg, log, d.allowHandshake), nil, nil, log))
	if err != nil {
		t.Fatal(err)
	}
	d.watch(io.Of("/"))
	a := &app{cfg: cfg, log: log, io: io, drain: d, metrics: m}
	a.metrics.watch(io, d)
	bridge, err := sailsbridge.New(a.wrapVirtual(slow), &sailsbridge.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	bridge.Attach(io.Of("/"))
	a.handler = a.routes(io)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(a.handler, log)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); io.Shutdown(context.Background()) })
	return &drainFixture{a: a, srv: srv, base: "http://" + ln.Addr().String()}
}

// sailsConn is a raw sails.io.js-like websocket client (EIO4, the SDK
// version in the query).
type sailsConn struct {
	c  net.Conn
	rw io.ReadWriter
}

func dialSails(t *testing.T, base string) *sailsConn {
	t.Helper()
	u := strings.Replace(base, "http", "ws", 1) + "/socket.io/?__sails_io_sdk_version=1.2.1&EIO=4&transport=websocket"
	c, br, _, err := ws.Dial(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	s := &sailsConn{c: c, rw: c}
	if br != nil {
		s.rw = struct {
			io.Reader
			io.Writer
		}{br, c}
	}
	if m, err := s.read(); err != nil || !strings.HasPrefix(m, "0") {
		t.Fatalf("open: %q %v", m, err)
	}
	wsutil.WriteClientText(c, []byte("40"))
	if m, err := s.read(); err != nil || !strings.HasPrefix(m, "40") {
		t.Fatalf("connect: %q %v", m, err)
	}
	return s
}

// read returns the next text message other than a ping, or wiretest.ErrClosed.
func (s *sailsConn) read() (string, error) {
	for {
		s.c.SetReadDeadline(time.Now().Add(30 * time.Second))
		b, op, err := wsutil.ReadServerData(s.rw)
		var closed wsutil.ClosedError
		if errors.As(err, &closed) {
			return "", wiretest.ErrClosed
		}
		if err != nil {
			return "", err
		}
		if op == ws.OpText && string(b) == "2" {
			wsutil.WriteClientText(s.c, []byte("3"))
			continue
		}
		return string(b), nil
	}
}

// TestDrain1000Clients: on a drain every one of 1,000 connected clients
// gets a transport close (from which socket.io-client reconnects; never a
// Socket.IO DISCONNECT, after which it would not), the closes are spread
// over the window, new handshakes are refused meanwhile, a slow virtual
// request in flight is answered before its socket is closed, and the drain
// ends within the window.
func TestDrain1000Clients(t *testing.T) {
	const n = 1000
	window := 6 * time.Second
	entered := make(chan struct{})
	var once sync.Once
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(entered) })
		// Longer than the spread of the closes (80% of the window): the
		// socket's turn always comes while it is in flight.
		time.Sleep(window * 85 / 100)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"slow":"done"}`)
	})
	f := newDrainFixture(t, window, slow)

	conns := make([]*wiretest.Conn, n)
	dialStart := time.Now()
	var wg sync.WaitGroup
	var dialErr atomic.Value
	sem := make(chan struct{}, 16)
	for i := range conns {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := wiretest.Dial(ctx, f.base, "/socket.io/", 4)
			if err == nil {
				err = c.Send("40")
			}
			if err == nil {
				var m string
				if m, err = c.Read(30 * time.Second); err == nil && !strings.HasPrefix(m, "40") {
					err = fmt.Errorf("connect answered %q", m)
				}
			}
			if err != nil {
				dialErr.Store(err)
				return
			}
			conns[i] = c
		})
	}
	wg.Wait()
	t.Logf("%d clients connected in %v", n, time.Since(dialStart).Round(time.Millisecond))
	if err := dialErr.Load(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	sails := dialSails(t, f.base)
	defer sails.c.Close()
	if got := f.a.io.Of("/").SocketCount(); got != n+1 {
		t.Fatalf("%d sockets, want %d", got, n+1)
	}
	wsutil.WriteClientText(sails.c, []byte(`421["get",{"method":"get","url":"/slow","headers":{},"data":{}}]`))
	<-entered

	// Every client reads from now on, noting when its close comes.
	start := time.Now()
	closedAt := make([]time.Duration, n)
	var readers sync.WaitGroup
	var bad atomic.Int64
	var firstBad atomic.Value
	for i, c := range conns {
		readers.Go(func() {
			m, err := c.Read(window + 30*time.Second)
			closedAt[i] = time.Since(start)
			if err != wiretest.ErrClosed {
				bad.Add(1)
				firstBad.CompareAndSwap(nil, fmt.Sprintf("client %d: %q %v", i, m, err))
			}
		})
	}
	drained := make(chan struct{})
	go func() { f.a.shutdown(f.srv); close(drained) }()
	for !f.a.drain.draining() {
		time.Sleep(time.Millisecond)
	}

	// New handshakes are refused while draining (the slow request keeps
	// the server up); /readyz says so.
	if _, err := wiretest.Dial(context.Background(), f.base, "/socket.io/", 4); err == nil {
		t.Error("a new websocket handshake was accepted while draining")
	}
	if res, err := http.Get(f.base + "/readyz"); err != nil || res.StatusCode != 503 {
		t.Fatalf("/readyz while draining: %v %v", res, err)
	}

	// The answer to the slow request comes before the close.
	var sawAnswer bool
	for {
		m, err := sails.read()
		if err != nil {
			if err != wiretest.ErrClosed {
				t.Fatalf("sails client: %v", err)
			}
			break
		}
		if strings.HasPrefix(m, "431") && strings.Contains(m, `"statusCode":200`) && strings.Contains(m, `"slow":"done"`) {
			sawAnswer = true
			continue
		}
		t.Fatalf("sails client got %q during the drain", m)
	}
	if !sawAnswer {
		t.Error("the virtual request in flight was not answered before the close")
	}

	readers.Wait()
	if bad.Load() > 0 {
		t.Fatalf("%d of %d clients got no transport close; first: %v", bad.Load(), n, firstBad.Load())
	}
	select {
	case <-drained:
	case <-time.After(window + closeGrace + 10*time.Second):
		t.Fatal("the drain did not end")
	}
	took := time.Since(start)
	rec := httptest.NewRecorder()
	f.a.metrics.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, series := range []string{
		"pier_connects_total 1001", `pier_disconnects_total{reason="forced close"} 1001`,
		`pier_virtual_requests_total{status="2xx"} 1`, "pier_virtual_request_seconds_count 1",
		`pier_handshakes_refused_total{reason="draining"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), series+"\n") {
			t.Errorf("metrics lack %q", series)
		}
	}
	first, last := closedAt[0], closedAt[0]
	for _, d := range closedAt {
		first, last = min(first, d), max(last, d)
	}
	t.Logf("%d clients closed between %v and %v; drain took %v (window %v)", n, first.Round(time.Millisecond), last.Round(time.Millisecond), took.Round(time.Millisecond), window)
	if last-first < window/4 {
		t.Errorf("closes not spread: all within %v", last-first)
	}
	if took > window+2*closeGrace {
		t.Errorf("drain took %v, over the window %v (+%v to close)", took, window, 2*closeGrace)
	}
}

package engineio_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"go.uber.org/goleak"

	"github.com/pierhq/pier/engineio"
)

// TestNoGoroutineLeak runs a burst of sessions of every kind, ending in
// every way, then shuts the server down and checks that every goroutine the
// test started is gone. It is not parallel: goroutines that exist when it
// starts (other tests' leftovers) are ignored, and no other test of this
// package runs meanwhile (parallel tests wait for the sequential ones).
func TestNoGoroutineLeak(t *testing.T) {
	ignore := []goleak.Option{goleak.IgnoreCurrent()}

	h := newRecHandler()
	opts := &engineio.Options{
		PingInterval:      5 * time.Second, // pings are tolerated but rare
		PingTimeout:       300 * time.Millisecond,
		UpgradeTimeout:    5 * time.Second,
		MaxHTTPBufferSize: 10_000,
		ParkIdleAfter:     5 * time.Millisecond, // idle websockets go through the poller
		Logger:            quietLogger(),
	}
	parkedBefore := engineio.ParkedCount()
	srv, err := engineio.NewServer(h, opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	f := &fixture{t: t, srv: srv, hs: hs, h: h, c: hs.Client()}

	// A second server whose sessions each run a HandlerFunc goroutine.
	fsrv, err := engineio.NewServer(engineio.HandlerFunc(func(s *engineio.Session) {
		for {
			m, err := s.Read(context.Background())
			if err != nil || s.Send(m) != nil {
				return
			}
		}
	}), opts)
	if err != nil {
		t.Fatal(err)
	}
	fhs := httptest.NewServer(fsrv)
	ff := &fixture{t: t, srv: fsrv, hs: fhs, h: newRecHandler(), c: fhs.Client()}

	// A third one with a fast heartbeat, for ping timeouts.
	popts := *opts
	popts.PingInterval, popts.PingTimeout = 30*time.Millisecond, 60*time.Millisecond
	popts.UpgradeTimeout = 100 * time.Millisecond
	psrv, err := engineio.NewServer(newRecHandler(), &popts)
	if err != nil {
		t.Fatal(err)
	}
	phs := httptest.NewServer(psrv)
	pf := &fixture{t: t, srv: psrv, hs: phs, h: newRecHandler(), c: phs.Client()}

	// Each scenario runs on its own goroutine; failures are collected, as
	// t.Fatal may only be called from the test goroutine.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []string
	)
	run := func(name string, n int, fn func(t testing.TB, i int)) {
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rt := &recorder{TB: t}
				defer func() {
					if r := recover(); r != nil && r != errFatal {
						panic(r)
					}
					if msgs := rt.messages(); len(msgs) > 0 {
						mu.Lock()
						errs = append(errs, fmt.Sprintf("%s #%d: %s", name, i, strings.Join(msgs, "; ")))
						mu.Unlock()
					}
				}()
				fn(rt, i)
			}()
		}
		wg.Wait() // one kind at a time, to keep the load reasonable under -race
	}

	for _, fx := range []*fixture{f, ff} {
		run("polling echo and close", 20, func(t testing.TB, i int) {
			f := fx.on(t)
			sid := f.openPolling(4, "")
			wantBody(t, "POST", f.post(f.q(4, sid), "4x"), "ok")
			if r := f.get(f.q(4, sid)); r.status != 200 || strings.TrimPrefix(r.body, "2\x1e") != "4x" {
				t.Errorf("GET: %v, want 4x", r)
			}
			wantBody(t, "POST close", f.post(f.q(4, sid), "1"), "ok")
		})
		run("v3 polling echo", 10, func(t testing.TB, i int) {
			f := fx.on(t)
			sid := f.openPolling(3, "")
			wantBody(t, "POST", f.post(f.q(3, sid), "2:4x1:2"), "ok")
			// The HandlerFunc server echoes asynchronously: the pong may
			// come first, alone.
			if r := f.get(f.q(3, sid)); r.status != 200 || !strings.Contains(r.body, "1:3") {
				t.Errorf("GET: %v, want the pong 1:3", r)
			}
		})
		run("websocket echo", 20, func(t testing.TB, i int) {
			f := fx.on(t)
			c, _ := f.openWebSocket(4)
			c.sendText("4x")
			expectSkippingPings(c, "4x")
			if i%2 == 0 {
				c.write(masked(byte(ws.OpClose), closeBody(1000, "")))
				c.wantClosed(waitFor)
			}
			c.conn.Close()
		})
		run("upgrade", 10, func(t testing.TB, i int) {
			f := fx.on(t)
			sid := f.openPolling(4, "")
			c := f.mustDial("EIO=4&transport=websocket&sid=" + sid)
			c.sendText("2probe")
			c.expectText("3probe")
			c.sendText("5")
			c.sendText("4up")
			expectSkippingPings(c, "4up")
			c.conn.Close()
		})
		run("probe timeout", 5, func(t testing.TB, i int) {
			f := pf.on(t)
			// The fast heartbeat (90 ms) may end the session before a
			// loaded machine dials the probe: then try with a new one.
			for attempt := 1; ; attempt++ {
				sid := f.openPolling(4, "")
				c, err := f.dial("EIO=4&transport=websocket&sid="+sid, nil)
				if err == ws.StatusError(400) && attempt < 10 {
					continue
				}
				if err != nil {
					t.Fatalf("probe dial (attempt %d): %v", attempt, err)
				}
				c.wantClosed(waitFor)
				return
			}
		})
		run("aborted poll", 10, func(t testing.TB, i int) {
			f := fx.on(t)
			sid := f.openPolling(4, "")
			f.abortedGET(f.q(4, sid))
			// A PUT with a sid gets code 1 once the session is gone, code 3
			// before, and changes nothing.
			gone := func() bool {
				r := f.request("PUT", f.q(4, sid), nil, "")
				return r.status == 400 && strings.Contains(r.body, `"code":1`)
			}
			if !eventually(waitFor, gone) {
				t.Errorf("session %s not closed by the aborted poll", sid)
			}
		})
		run("ping timeout polling", 10, func(t testing.TB, i int) {
			f := pf.on(t)
			sid := f.openPolling(4, "")
			if !eventually(waitFor, func() bool { return f.get(f.q(4, sid)).status == 400 }) {
				t.Errorf("session %s not closed by ping timeout", sid)
			}
		})
		run("ping timeout websocket", 10, func(t testing.TB, i int) {
			f := pf.on(t)
			c := f.mustDial("EIO=4&transport=websocket")
			c.wantClosed(waitFor)
		})
		run("parse errors", 10, func(t testing.TB, i int) {
			f := fx.on(t)
			sid := f.openPolling(4, "")
			f.post(f.q(4, sid), "abc")
			c, _ := f.openWebSocket(4)
			c.sendText("abc")
			c.wantClosed(waitFor)
			c2, _ := f.openWebSocket(4)
			c2.write(rawFrame(true, 0, byte(ws.OpText), false, []byte("4x")))
			c2.wantClosed(waitFor)
			c3, _ := f.openWebSocket(4)
			c3.write([]byte{0x81, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4}) // 1 GiB declared
			c3.wantClosed(waitFor)
		})
		run("too large POST", 5, func(t testing.TB, i int) {
			f := fx.on(t)
			sid := f.openPolling(4, "")
			if r := f.post(f.q(4, sid), "4"+strings.Repeat("x", 10_000)); r.status != 413 {
				t.Errorf("POST: %v, want 413", r)
			}
		})
	}
	wg.Wait()
	for _, e := range errs {
		t.Error(e)
	}

	// Sessions still open at shutdown: idle polling, pending polls,
	// websockets with queued messages (their clients read).
	var clients []*wsClient
	pending := make(chan response, 10)
	for _, fx := range []*fixture{f, ff} {
		for range 3 {
			fx.openPolling(4, "")
			sid := fx.openPolling(4, "")
			go func() {
				r, err := fx.do(context.Background(), "GET", fx.q(4, sid), nil, nil)
				if err != nil {
					r = response{status: -1, body: err.Error()}
				}
				pending <- r
			}()
			c, wsid := fx.openWebSocket(4)
			if s := fx.h.record(wsid); s != nil {
				s.sess.Send(engineio.Text("bye"))
			}
			clients = append(clients, c)
		}
	}
	for _, c := range clients {
		go func() { c.awaitClose(waitFor); c.conn.Close() }()
	}
	time.Sleep(20 * time.Millisecond) // let the GETs become pending

	for _, s := range []*engineio.Server{srv, fsrv, psrv} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		}()
	}
	wg.Wait()
	for range 6 {
		select {
		case r := <-pending:
			if r.status != 200 {
				t.Errorf("pending GET at shutdown: %v", r)
			}
		case <-time.After(waitFor):
			t.Error("pending GET not answered at shutdown")
		}
	}
	hs.Close()
	fhs.Close()
	phs.Close()

	// Wait (longer than goleak's own retries) for goroutines to end, then
	// report those that did not.
	eventually(5*time.Second, func() bool { return goleak.Find(ignore...) == nil })
	goleak.VerifyNone(t, ignore...)
	// Every closed connection left the poller's table.
	if !eventually(5*time.Second, func() bool { return engineio.ParkedCount() <= parkedBefore }) {
		t.Errorf("%d connections still parked, %d before the test", engineio.ParkedCount(), parkedBefore)
	}
}

// expectSkippingPings reads text frames until want, skipping server pings.
func expectSkippingPings(c *wsClient, want string) {
	c.t.Helper()
	for {
		got := c.readText()
		if got == want {
			return
		}
		if got != "2" {
			c.t.Fatalf("got text frame %q, want %q", got, want)
		}
	}
}

// recorder is a testing.TB usable from any goroutine: it records failures
// instead of reporting them, and Fatal ends the goroutine by panicking with
// errFatal.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

var errFatal = new(int)

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.msgs = append(r.msgs, s)
	r.mu.Unlock()
}

func (r *recorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msgs
}

func (r *recorder) Helper()                           {}
func (r *recorder) Error(args ...any)                 { r.add(fmt.Sprint(args...)) }
func (r *recorder) Errorf(format string, args ...any) { r.add(fmt.Sprintf(format, args...)) }
func (r *recorder) Fatal(args ...any)                 { r.add(fmt.Sprint(args...)); panic(errFatal) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.add(fmt.Sprintf(format, args...))
	panic(errFatal)
}
func (r *recorder) Cleanup(fn func()) { r.TB.Cleanup(fn) }

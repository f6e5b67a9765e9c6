package sailsbridge_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/session"
	"github.com/pierhq/pier/session/redisstore"
	"github.com/pierhq/pier/socketio"
)

// runHarden runs a scenario of testdata/js/sails-harden.js.
func runHarden(t *testing.T, url, scenario string, extra ...string) []jstest.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	events, err := jstest.Run(ctx, t, "sails-harden.js", append([]string{"--url", url, "--scenario", scenario}, extra...)...)
	if err != nil {
		for _, e := range events {
			b, _ := json.Marshal(e)
			t.Logf("event %s", b)
		}
		t.Fatal(err)
	}
	return events
}

// hardenResults maps "res" lines by name.
func hardenResults(events []jstest.Event) map[string]jstest.Event {
	out := make(map[string]jstest.Event)
	for _, e := range jstest.Filter(events, "res") {
		out[e.String("name")] = e
	}
	return out
}

// Issue 10 item 3: a virtual request's url and headers are bounded as
// Node's HTTP server bounds a request's (16 KiB, counted as url + header
// names + values); over it, 414 or 431, and the socket stays usable.
func TestSailsHeaderLimits(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil, nil, false)
	res := hardenResults(runHarden(t, a.url, "limits"))
	for name, want := range map[string]int{
		"url-900k":      414,
		"headers-10000": 431,
		"value-900k":    431,
		"url-16383":     200,
		"url-16384":     414,
		"total-16383":   200,
		"total-16384":   431,
		"after":         200,
	} {
		if got := res[name].Number("status"); got != float64(want) {
			t.Errorf("%s: status %v, want %d (%v)", name, got, want, res[name]["body"])
		}
	}
	if b := res["total-16384"].String("body"); b != "Request Header Fields Too Large" {
		t.Errorf("431 body %q", b)
	}
	if b := res["url-900k"].String("body"); b != "URI Too Long" {
		t.Errorf("414 body %q", b)
	}
	// Only the accepted requests reached the handler.
	a.mu.Lock()
	n := len(a.seen)
	a.mu.Unlock()
	if n != 2 {
		t.Errorf("/echo ran %d times, want 2", n)
	}
}

// Options.MaxHeaderBytes raises the bound.
func TestWireMaxHeaderBytes(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, &sailsbridge.Options{MaxHeaderBytes: 2 << 20}, nil, false)
	c := dialRaw(t, a.url, sailsQuery)
	c.open()
	big := strings.Repeat("v", 100<<10)
	c.send(`420["get",{"url":"/echo","headers":{"x-big":"` + big + `"}}]`)
	c.expectMatch(`^430\[\{"body":\{.*"statusCode":200\}\]$`)
	if got := a.lastEcho().Headers["X-Big"]; len(got) != 1 || len(got[0]) != len(big) {
		t.Errorf("X-Big not delivered whole")
	}
}

// holdApp adds /hold (waits for release or its context), /quick and
// /measure to a test app.
type holdApp struct {
	*testApp
	started  atomic.Int64
	release  chan struct{}
	once     sync.Once
	baseline uint64
	growth   atomic.Int64
}

func newHoldApp(t *testing.T, opts *sailsbridge.Options) *holdApp {
	h := &holdApp{testApp: newTestApp(t, opts, nil, false), release: make(chan struct{})}
	t.Cleanup(h.free)
	h.mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
		h.started.Add(1)
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
		writeJSON(w, http.StatusOK, map[string]bool{"held": true})
	})
	return h
}

func (h *holdApp) free() { h.once.Do(func() { close(h.release) }) }

// waitStarted polls until n /hold requests run.
func (h *holdApp) waitStarted(n int64) bool {
	deadline := time.Now().Add(20 * time.Second)
	for h.started.Load() < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// Issue 14: a socket's requests run concurrently, as in Sails: with 40
// slow requests pending (more than the former MaxInFlight of 32), a quick
// one is answered while they are still held.
func TestSailsConcurrentRequests(t *testing.T) {
	t.Parallel()
	h := newHoldApp(t, nil)
	const n = 40
	h.mux.HandleFunc("GET /quick", func(w http.ResponseWriter, r *http.Request) {
		ok := h.waitStarted(n)
		held := h.started.Load()
		h.free() // the held ones return only after this answer is on its way
		writeJSON(w, http.StatusOK, map[string]any{"allStarted": ok, "held": held})
	})
	events := runHarden(t, h.url, "concurrent", "--n", fmt.Sprint(n))
	quick := hardenResults(events)["quick"]
	body, _ := quick["body"].(map[string]any)
	if quick.Number("status") != 200 || body["allStarted"] != true || body["held"] != float64(n) {
		t.Fatalf("quick: %v", quick)
	}
	held, _ := jstest.First(events, "held")
	t.Logf("quick request answered in %v ms with %d requests pending", held["quickMs"], n)
	statuses, _ := held["statuses"].([]any)
	if len(statuses) != n || slices.ContainsFunc(statuses, func(s any) bool { return s != float64(200) }) {
		t.Errorf("held requests: %v", statuses)
	}
}

// Issue 14 and 10: the memory a socket's requests hold is bounded in
// bytes: 16 requests of 512 KiB to a handler that holds them, with a
// bound of 2 MiB: 3 run, 13 are refused at once with 429, the heap grows
// by about the bound, not by 8 MiB. Not parallel: it measures the heap.
func TestSailsInFlightBytes(t *testing.T) {
	const (
		n     = 16
		size  = 512 << 10
		bound = 2 << 20
	)
	h := newHoldApp(t, &sailsbridge.Options{MaxInFlightBytes: bound})
	h.mux.HandleFunc("GET /measure", func(w http.ResponseWriter, r *http.Request) {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		h.growth.Store(int64(m.HeapAlloc) - int64(h.baseline))
		held := h.started.Load()
		h.free()
		writeJSON(w, http.StatusOK, map[string]int64{"held": held, "growth": h.growth.Load()})
	})
	jstest.Install(t) // before the baseline: npm's work is not ours
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	h.baseline = m.HeapAlloc
	// Each request counts its payload (the data plus ~60 bytes of JSON)
	// and RequestOverhead: 3 fit in 2 MiB, a 4th would not.
	admit := int(bound / (size + 100 + sailsbridge.RequestOverhead))
	events := runHarden(t, h.url, "inflight", "--n", fmt.Sprint(n), "--admit", fmt.Sprint(admit), "--size", fmt.Sprint(size))
	refused, _ := jstest.First(events, "refused")
	if st, _ := refused["statuses"].([]any); len(st) != n-admit || slices.ContainsFunc(st, func(s any) bool { return s != float64(429) }) {
		t.Errorf("refused: %v", refused)
	}
	measure := hardenResults(events)["measure"]
	body, _ := measure["body"].(map[string]any)
	if measure.Number("status") != 200 || body["held"] != float64(admit) {
		t.Errorf("measure: %v", measure)
	}
	growth := h.growth.Load()
	t.Logf("heap growth with %d requests of %d bytes held (bound %d): %d bytes", admit, size, bound, growth)
	if growth > 2*bound {
		t.Errorf("heap grew by %d bytes, more than twice the bound of %d", growth, bound)
	}
	all, _ := jstest.First(events, "all")
	if st, _ := all["statuses"].([]any); len(st) != n || !slices.Contains(st, any(float64(200))) {
		t.Errorf("all: %v", all)
	}
}

// sailsSessionApp is the README's wiring: a session.Manager with Sails'
// cookie name, SessionMiddleware over the app for HTTP and sockets.
type sailsSessionApp struct {
	*testApp
	m *session.Manager
}

func newSailsSessionApp(t *testing.T, store session.Store) *sailsSessionApp {
	if c, ok := store.(io.Closer); ok {
		t.Cleanup(func() { c.Close() })
	}
	m, err := session.New(store, &session.Options{Secrets: []string{"test-secret-123"}, CookieName: session.SailsCookieName})
	if err != nil {
		t.Fatal(err)
	}
	a := &sailsSessionApp{m: m}
	a.testApp = newWrappedTestApp(t, &sailsbridge.Options{Sessions: sailsbridge.Sessions(m)}, nil, false,
		func(h http.Handler) http.Handler { return sailsbridge.SessionMiddleware(m, h) })
	mux := a.mux
	mux.HandleFunc("/session/visit", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		var n float64
		s.Get("visits", &n)
		n++
		s.Set("visits", n)
		writeJSON(w, http.StatusOK, map[string]any{"visits": n, "id": s.ID()})
	})
	mux.HandleFunc("/panic-late", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "partial")
		http.NewResponseController(w).Flush()
		panic("late")
	})
	return a
}

// Issue 14: the handshake's other cookies stay beside the session cookie
// made at connect time, and HTTP GET /__getcookie sets the session cookie
// with the README's wiring, as Sails (saveUninitialized).
func TestSailsCookiesAndGetCookie(t *testing.T) {
	t.Parallel()
	a := newSailsSessionApp(t, session.NewMemoryStore(nil))
	res := hardenResults(runHarden(t, a.url, "echo", "--cookie", "lang=fr"))
	var e1, e2 echoed
	remarshal(t, res["echo1"]["body"], &e1)
	remarshal(t, res["echo2"]["body"], &e2)
	c := strings.Join(e1.Headers["Cookie"], "; ")
	if !strings.HasPrefix(c, "lang=fr; sails.sid=s%3A") || strings.Count(c, ";") != 1 {
		t.Errorf("cookie seen: %q, want lang=fr and sails.sid", c)
	}
	if got := strings.Join(e2.Headers["Cookie"], "; "); got != c {
		t.Errorf("second request's cookie %q, want %q", got, c)
	}
	if gc := res["getcookie"]; gc.Number("status") != 200 || gc.String("body") != "_sailsIoJSConnect();" {
		t.Errorf("virtual /__getcookie: %v", gc)
	}

	resp, err := http.Get(a.url + "/__getcookie")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var sid *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == session.SailsCookieName {
			sid = c
		}
	}
	if resp.StatusCode != 200 || string(body) != "_sailsIoJSConnect();" || sid == nil || !sid.HttpOnly || sid.Path != "/" {
		t.Fatalf("HTTP /__getcookie: %d %q cookies %q", resp.StatusCode, body, resp.Header.Values("Set-Cookie"))
	}
	// The granted cookie names a stored session: a socket presenting it
	// uses it.
	res = hardenResults(runHarden(t, a.url, "echo", "--cookie", "lang=de; "+sid.Name+"="+sid.Value))
	remarshal(t, res["echo1"]["body"], &e1)
	if got := strings.Join(e1.Headers["Cookie"], "; "); got != "lang=de; "+sid.Name+"="+sid.Value {
		t.Errorf("cookie seen with a stored session: %q", got)
	}
}

// Issue 14: a panic in a plain HTTP request behind SessionMiddleware is a
// 500 and the connection serves the next request; one after the response
// started aborts the connection.
func TestRecoverHTTPPanic(t *testing.T) {
	t.Parallel()
	a := newSailsSessionApp(t, session.NewMemoryStore(nil))
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	var reused []bool
	get := func(path string) (*http.Response, string, error) {
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", a.url+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}
	resp, body, err := get("/panic")
	if err != nil || resp.StatusCode != 500 || body != "Internal Server Error" {
		t.Fatalf("panic: %v %v %q", resp, err, body)
	}
	resp, body, err = get("/__getcookie")
	if err != nil || resp.StatusCode != 200 || body != "_sailsIoJSConnect();" {
		t.Fatalf("after the panic: %v %v %q", resp, err, body)
	}
	if !slices.Equal(reused, []bool{false, true}) {
		t.Errorf("connection reused: %v, want the same connection for both", reused)
	}
	if _, body, err = get("/panic-late"); err == nil {
		t.Errorf("a panic after the response started gave a whole response: %q", body)
	}
}

// Issue 10 item 5: connect-time sessions are stored lazily. 200 idle
// cookieless sockets leave no key in a real Redis; a socket's virtual
// requests store exactly one, under the ID of the cookie they all carry.
func TestSailsLazySessionsRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Shared(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { rdb.Close() })
	var rb [6]byte
	rand.Read(rb[:])
	prefix := "lazy" + hex.EncodeToString(rb[:]) + ":sess:"
	a := newSailsSessionApp(t, redisstore.New(rdb, &redisstore.Options{Prefix: prefix}))
	ctx := context.Background()
	keys := func() []string {
		t.Helper()
		k, err := rdb.Keys(ctx, prefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	const idle = 200
	conns := make([]*rawConn, idle)
	for i := range conns {
		conns[i] = dialRaw(t, a.url, sailsQuery)
		conns[i].open()
	}
	if n := a.srv.Of("/").SocketCount(); n != idle {
		t.Fatalf("%d sockets connected, want %d", n, idle)
	}
	if k := keys(); len(k) != 0 {
		t.Fatalf("%d idle cookieless sockets left %d keys: %q", idle, len(k), k[:min(len(k), 3)])
	}
	for _, c := range conns {
		c.conn.Close()
	}
	// Wait for their AfterDisconnect: still nothing stored.
	for range idle {
		select {
		case <-a.disconnected:
		case <-time.After(10 * time.Second):
			t.Fatal("AfterDisconnect not called")
		}
	}
	if k := keys(); len(k) != 0 {
		t.Fatalf("after disconnecting: %d keys", len(k))
	}

	// A socket's requests: one session, the same in each, stored once.
	res := hardenResults(runHarden(t, a.url, "echo"))
	var e1, e2 echoed
	remarshal(t, res["echo1"]["body"], &e1)
	remarshal(t, res["echo2"]["body"], &e2)
	cookie := strings.Join(e1.Headers["Cookie"], "; ")
	if !strings.HasPrefix(cookie, "sails.sid=s%3A") || strings.Join(e2.Headers["Cookie"], "; ") != cookie {
		t.Errorf("cookies %q then %q", e1.Headers["Cookie"], e2.Headers["Cookie"])
	}
	id := strings.TrimPrefix(cookie, "sails.sid=s%3A")
	id = id[:strings.LastIndexByte(id, '.')]
	k := keys()
	if !slices.Equal(k, []string{prefix + id}) {
		t.Fatalf("keys %q, want only %q", k, prefix+id)
	}
	if ttl := rdb.TTL(ctx, k[0]).Val(); ttl < 86000*time.Second || ttl > 86400*time.Second {
		t.Errorf("TTL %v, want about 24 h (connect-redis' default)", ttl)
	}
	// The session is the one visits count in.
	results := hardenResults(runHarden(t, a.url, "visits"))
	v1, _ := results["v1"]["body"].(map[string]any)
	v2, _ := results["v2"]["body"].(map[string]any)
	if v1["visits"] != float64(1) || v2["visits"] != float64(2) || v1["id"] != v2["id"] || v1["id"] == "" {
		t.Errorf("visits %v then %v, want 1 then 2 in one session", v1, v2)
	}
	if n := len(keys()); n != 2 {
		t.Errorf("%d keys after a second socket's requests, want 2", n)
	}
}

// Issue 14: PublishDestroy retires the record as Sails' _retire does: the
// class room's watchers leave the record's room; a socket subscribed to
// the record alone stays, and hears of it later.
func TestPublishDestroyRetire(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil, nil, false)
	ctx := context.Background()
	users := a.socks.Model("user")
	whoami := func(c *rawConn) string {
		c.send(`420["get",{"url":"/whoami"}]`)
		var ack []struct{ Body struct{ ID string } }
		json.Unmarshal([]byte(c.expectMatch(`^430\[`)[3:]), &ack)
		return ack[0].Body.ID
	}
	watcher, subscriber := dialRaw(t, a.url, sailsQuery), dialRaw(t, a.url, sailsQuery)
	watcher.open()
	subscriber.open()
	wid, sid := whoami(watcher), whoami(subscriber)
	if err := users.Watch(ctx, wid); err != nil {
		t.Fatal(err)
	}
	if err := users.PublishCreate(ctx, 1, map[string]any{"id": 1}, ""); err != nil {
		t.Fatal(err)
	}
	watcher.expect(`42["user",{"verb":"created","data":{"id":1},"id":1}]`)
	if err := users.Subscribe(ctx, sid, 1); err != nil {
		t.Fatal(err)
	}
	if err := users.PublishDestroy(ctx, 1, nil, ""); err != nil {
		t.Fatal(err)
	}
	watcher.expect(`42["user",{"verb":"destroyed","id":1}]`)
	subscriber.expect(`42["user",{"verb":"destroyed","id":1}]`)
	wr, _ := a.socks.Rooms(ctx, wid)
	sr, _ := a.socks.Rooms(ctx, sid)
	if slices.Contains(wr, users.Room(1)) || !slices.Contains(wr, users.ClassRoom()) {
		t.Errorf("watcher's rooms %q: want the class room, not the record's", wr)
	}
	if !slices.Contains(sr, users.Room(1)) {
		t.Errorf("subscriber's rooms %q: want the record's kept", sr)
	}
	if err := users.Publish(ctx, []any{1}, map[string]int{"after": 1}, ""); err != nil {
		t.Fatal(err)
	}
	subscriber.expect(`42["user",{"after":1}]`)
	if got, err := watcher.read(200 * time.Millisecond); err == nil {
		t.Errorf("the retired watcher got %s", got)
	}
}

// A connect-time session that no request stored is stored after
// AfterDisconnect only when AfterDisconnect changed it, as Sails saves
// it then.
func TestLazySessionAfterDisconnect(t *testing.T) {
	t.Parallel()
	store := session.NewMemoryStore(nil)
	t.Cleanup(func() { store.Close() })
	m, err := session.New(store, &session.Options{Secrets: []string{"s"}, CookieName: session.SailsCookieName})
	if err != nil {
		t.Fatal(err)
	}
	a := newWrappedTestApp(t, &sailsbridge.Options{
		Sessions: sailsbridge.Sessions(m),
		AfterDisconnect: func(ctx context.Context, s *socketio.Socket, reason string) {
			if s.Handshake().Request.URL.Query().Get("mark") != "" {
				session.FromContext(ctx).Set("bye", true)
			}
		},
	}, nil, false, func(h http.Handler) http.Handler { return sailsbridge.SessionMiddleware(m, h) })
	for _, tc := range []struct {
		query string
		want  int
	}{{sailsQuery, 0}, {sailsQuery + "&mark=1", 1}} {
		c := dialRaw(t, a.url, tc.query)
		c.open()
		c.conn.Close()
		select {
		case <-a.disconnected: // sent before the session is saved: poll
		case <-time.After(10 * time.Second):
			t.Fatal("AfterDisconnect not called")
		}
		deadline := time.Now().Add(5 * time.Second)
		for store.Len() != tc.want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := store.Len(); n != tc.want {
			t.Fatalf("%s: %d sessions stored, want %d", tc.query, n, tc.want)
		}
	}
}

package upstream_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/internal/syncbuf"
	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/socketio"
	"github.com/pierhq/pier/upstream"
)

// sailsDir holds the Sails 1.5 app that these tests run behind Pier and
// directly, and its sails.io.js client.
const sailsDir = "../testdata/sails-upstream"

// startSailsApp runs the real Sails app of sailsDir (with the Redis
// adapter of sails-hook-sockets on redisURL when it is not empty) and
// returns its URL; the app is lowered when the test ends.
func startSailsApp(t *testing.T, redisURL string) string {
	t.Helper()
	args := []string{"app.js"}
	if redisURL != "" {
		args = append(args, "--redis", redisURL)
	}
	return jstest.Serve(t, sailsDir, 90*time.Second, args...)
}

// sailsPier is a Pier server in front of the Sails app: virtual requests
// go to it, its POST /pier/connect is the connect hook (Handshake inside
// Guard, as in `pier -upstream`), and with rdb the Redis adapter with
// legacy peers and the Sails admin bus join it to the app's cluster.
type sailsPier struct {
	url string
	srv *socketio.Server
	log *syncbuf.Buffer
}

func startSailsPier(t *testing.T, sailsURL string, rdb *redis.Client) *sailsPier {
	t.Helper()
	p := &sailsPier{log: &syncbuf.Buffer{}}
	logger := slog.New(slog.NewTextHandler(p.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pier log:\n%s", p.log.String())
		}
	})
	up, err := upstream.New(&upstream.Options{URL: sailsURL, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	eng := sailsbridge.EngineOptions()
	eng.Transports = []string{engineio.WebSocket, engineio.Polling} // as the app allows
	eng.Logger = logger
	opts := &socketio.Options{Engine: eng, Logger: logger}
	if rdb != nil {
		opts.Adapter = redisadapter.New(rdb, &redisadapter.Options{LegacyPeers: true, Logger: logger})
	}
	srv, err := socketio.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	p.srv = srv
	hooks, err := upstream.NewHooks(&upstream.HookOptions{ConnectURL: sailsURL + "/pier/connect", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	hooks.Attach(srv.Of("/"))
	bridge, err := sailsbridge.New(up, &sailsbridge.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	bridge.Attach(srv.Of("/"))
	if rdb != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		bus, err := redisadapter.NewSailsBus(ctx, rdb, srv.Of("/"), &redisadapter.SailsBusOptions{Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { bus.Close() })
	}
	root := http.NewServeMux()
	root.Handle("/socket.io/", bridge.Guard(hooks.Handshake(srv)))
	hs := httptest.NewServer(root)
	p.url = hs.URL
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
		up.CloseIdleConnections()
	})
	return p
}

// runSailsClient runs a scenario of the app's client.js against url.
func runSailsClient(t *testing.T, url, scenario string, extra ...string) []jstest.Event {
	t.Helper()
	script, _ := filepath.Abs(filepath.Join(sailsDir, "client.js"))
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	events, err := jstest.Run(ctx, t, script, append([]string{"--url", url, "--scenario", scenario}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// jwrs returns the responses of a client run by name.
func jwrs(t *testing.T, events []jstest.Event) (map[string]result, []string) {
	t.Helper()
	out := make(map[string]result)
	var names []string
	for _, e := range jstest.Filter(events, "res") {
		b, _ := json.Marshal(e)
		var r result
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		out[e.String("name")] = r
		names = append(names, e.String("name"))
	}
	return out, names
}

// sailsOnlyHeaders are the headers of the app's HTTP answers that its
// virtual responses never have (Sails' virtual response carries only the
// headers an action sets itself), and Pier's request id.
var sailsOnlyHeaders = map[string]bool{
	"content-type": true, "date": true, "etag": true, "x-powered-by": true, "vary": true, "x-request-id": true,
}

// differences compares a response of the app seen through Pier with the
// same response seen directly: "status", "body", "header k" (k lower
// case) for each header of the direct JWR that Pier's lacks or has with
// another value, and "extra header k" for one Pier's has beyond
// sailsOnlyHeaders.
func differences(direct, via result) []string {
	var d []string
	if direct.JWR.StatusCode != via.JWR.StatusCode {
		d = append(d, "status")
	}
	if !jsonEqual(direct.Body, via.Body) {
		d = append(d, "body")
	}
	want := map[string]string{}
	for k, v := range direct.JWR.Headers {
		want[strings.ToLower(k)] = v
	}
	for k, v := range want {
		if via.JWR.Headers[k] != v {
			d = append(d, "header "+k)
		}
	}
	for k := range via.JWR.Headers {
		if _, ok := want[k]; !ok && !sailsOnlyHeaders[k] {
			d = append(d, "extra header "+k)
		}
	}
	slices.Sort(d)
	return d
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// The same sails.io.js requests (verbs, bodies, query, status codes,
// headers, the session, cookies, redirects, the error responses) made to
// the real Sails app directly and through Pier give the same JWRs, apart
// from the differences listed here (and in the README) with their reasons.
func TestSameJWRsAsSails(t *testing.T) {
	t.Parallel()
	sailsURL := startSailsApp(t, "")
	p := startSailsPier(t, sailsURL, nil)
	direct, names := jwrs(t, runSailsClient(t, sailsURL, "compare"))
	via, _ := jwrs(t, runSailsClient(t, p.url, "compare"))
	if len(names) != 26 {
		t.Fatalf("the direct run answered %d requests, want 26", len(names))
	}
	// Expected differences, by request. Sails' virtual requests have no
	// Content-Type, so the echoing actions see none directly and
	// application/json through Pier (body). Sails copies a Set-Cookie into
	// the JWR, capital S, and forgets it; Pier keeps it in the socket's jar
	// (so the next request carries it). res.redirect answers the HTTP
	// request with Express' own text; res.serverError(string) is
	// JSON-encoded twice in a virtual response only; a thrown error's
	// stack (development mode) shows the HTTP router's frames.
	expected := map[string][]string{
		"post": {"body"}, "put": {"body"}, "patch": {"body"}, "delete": {"body"}, "post-empty": {"body"},
		"setcookie":   {"header set-cookie"},
		"getcookie":   {"body"},
		"redirect":    {"body", "header content-type"},
		"servererror": {"body", "header content-type"},
		"throw":       {"body"},
	}
	for _, n := range names {
		d, v := direct[n], via[n]
		got := differences(d, v)
		if want := expected[n]; !slices.Equal(got, want) {
			a, _ := json.Marshal(d)
			b, _ := json.Marshal(v)
			t.Errorf("%s: differences %q, want %q\n  direct %s\n  pier   %s", n, got, want, a, b)
		}
		if _, ok := v.JWR.Headers["set-cookie"]; ok {
			t.Errorf("%s: set-cookie in Pier's JWR", n)
		}
		if n != "setcookie" && v.JWR.Headers["x-request-id"] == "" {
			t.Errorf("%s: no x-request-id", n)
		}
	}
	// The expected differences are the ones described above.
	var echoed struct{ ContentType *string }
	for _, n := range []string{"post", "put", "patch", "delete", "post-empty"} {
		direct[n].decode(t, n, &echoed)
		if echoed.ContentType != nil {
			t.Errorf("%s: Sails' virtual request had Content-Type %q", n, *echoed.ContentType)
		}
		via[n].decode(t, n, &echoed)
		if echoed.ContentType == nil || *echoed.ContentType != "application/json" {
			t.Errorf("%s: through Pier, Content-Type %v", n, echoed.ContentType)
		}
	}
	if direct["setcookie"].JWR.Headers["Set-Cookie"] != "flavor=choc; Path=/" {
		t.Errorf("setcookie: Sails' JWR headers %v", direct["setcookie"].JWR.Headers)
	}
	var flavor struct{ Flavor *string }
	direct["getcookie"].decode(t, "getcookie", &flavor)
	if flavor.Flavor != nil {
		t.Errorf("getcookie: Sails saw flavor %q", *flavor.Flavor)
	}
	via["getcookie"].decode(t, "getcookie", &flavor)
	if flavor.Flavor == nil || *flavor.Flavor != "choc" {
		t.Errorf("getcookie: through Pier the cookie did not come back: %s", via["getcookie"].Body)
	}
	for n, want := range map[string][2]string{
		"redirect":    {`"Redirecting to /hello"`, `"Found. Redirecting to /hello"`},
		"servererror": {`"\"boom\""`, `"boom"`},
	} {
		if string(direct[n].Body) != want[0] || string(via[n].Body) != want[1] {
			t.Errorf("%s: bodies %s and %s, want %s and %s", n, direct[n].Body, via[n].Body, want[0], want[1])
		}
	}
	first := func(b json.RawMessage) string {
		var s string
		json.Unmarshal(b, &s)
		line, _, _ := strings.Cut(s, "\n")
		return line
	}
	if a, b := first(direct["throw"].Body), first(via["throw"].Body); a != "Error: thrown by the action" || a != b {
		t.Errorf("throw: first lines %q and %q", a, b)
	}
}

// rawHandshake sends a Sails handshake (EIO 3, as sails.io.js) with
// cookie to base, as a websocket upgrade or a polling request, and
// returns the answer's status, Content-Type and body.
func rawHandshake(t *testing.T, base, cookie string, websocket bool) (int, string, string) {
	t.Helper()
	transport := "polling"
	if websocket {
		transport = "websocket"
	}
	req, _ := http.NewRequest("GET", base+"/socket.io/?__sails_io_sdk_version=1.2.1&EIO=3&transport="+transport, nil)
	req.Header.Set("Cookie", cookie)
	if websocket {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// A connect hook's refusal reaches sails.io.js clients as a Sails app's
// beforeConnect refusal does: the same HTTP answers to the handshake, the
// same connect_error in the real client. An accepted handshake asks the
// hook once, on the HTTP request, and the socket gets the answer's data.
func TestConnectHookRefusesLikeSails(t *testing.T) {
	t.Parallel()
	sailsURL := startSailsApp(t, "")
	p := startSailsPier(t, sailsURL, nil)
	for _, tc := range []struct {
		cookie    string
		websocket bool
		status    int
		ctype     string
		body      string
	}{
		{"deny=msg", true, 400, "text/html", "denied-by-test"},
		{"deny=plain", true, 400, "text/html", "Forbidden"},
		{"deny=msg", false, 403, "application/json", `{"code":4,"message":"denied-by-test"}`},
		{"deny=plain", false, 403, "application/json", `{"code":4,"message":"Forbidden"}`},
	} {
		for _, base := range []string{sailsURL, p.url} {
			status, ctype, body := rawHandshake(t, base, tc.cookie, tc.websocket)
			if status != tc.status || ctype != tc.ctype || body != tc.body {
				t.Errorf("%s (websocket %v) at %s: %d %q %q, want %d %q %q", tc.cookie, tc.websocket, base, status, ctype, body, tc.status, tc.ctype, tc.body)
			}
		}
	}
	for _, base := range []string{sailsURL, p.url} {
		events := runSailsClient(t, base, "refused", "--cookie", "deny=msg")
		f, ok := jstest.First(events, "connect_failed")
		if !ok || f.String("kind") != "connect_error" || f.String("error") != "websocket error" {
			t.Errorf("%s: sails.io.js saw %v", base, events)
		}
	}
	// Admitted: the hook's data is the socket's.
	data := make(chan any, 1)
	p.srv.Of("/").OnConnection(func(s *socketio.Socket) { data <- s.Data() })
	events := runSailsClient(t, p.url, "refused", "--cookie", "ok=1")
	if _, ok := jstest.First(events, "connect"); !ok {
		t.Fatalf("not admitted: %v", events)
	}
	select {
	case d := <-data:
		if b, _ := json.Marshal(d); string(b) != `{"admitted":true}` {
			t.Errorf("socket data %s", b)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no connection seen")
	}
}

// sails.sockets.broadcast from the Sails app reaches a sails.io.js client
// of Pier: the app and Pier share a Redis server (the app with
// @sailshq/socket.io-redis, Pier with the Redis adapter in LegacyPeers mode
// and the Sails admin bus). The app's POST /subscribe joins the socket
// named by X-Socket-Id with sails.sockets.join(id, room); the socket is
// not the app's, so Sails publishes the join on its admin bus, which
// Pier's SailsBus applies; POST /publish broadcasts to the room.
func TestSailsBroadcastReachesPier(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	sailsURL := startSailsApp(t, rs.URL())
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	t.Cleanup(func() { rdb.Close() })
	p := startSailsPier(t, sailsURL, rdb)
	for _, base := range []string{sailsURL, p.url} {
		events := runSailsClient(t, base, "broadcast")
		c, _ := jstest.First(events, "connect")
		res, _ := jwrs(t, events)
		var sub struct{ Joined, ID string }
		res["subscribe"].decode(t, "subscribe", &sub)
		if sub.Joined != "lobby" || sub.ID != c.String("id") {
			t.Errorf("%s: subscribe answered %s for socket %s", base, res["subscribe"].Body, c.String("id"))
		}
		news, ok := jstest.First(events, "news")
		if !ok {
			t.Fatalf("%s: no news: %v", base, events)
		}
		if b, _ := json.Marshal(news["data"]); !strings.Contains(string(b), `"text":"hi"`) {
			t.Errorf("%s: news %s", base, b)
		}
		t.Logf("%s: news after %v publishes", base, news["tries"])
	}
}

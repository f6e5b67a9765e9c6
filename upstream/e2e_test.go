package upstream_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/internal/syncbuf"
	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/socketio"
	"github.com/pierhq/pier/upstream"
)

// pier is a Pier server whose Sails bridge serves virtual requests with
// an upstream.Handler (wrapped by wrap when not nil).
type pier struct {
	url string
	up  *upstream.Handler
	log *syncbuf.Buffer
}

// testAPIKey is the key of the sockets API of test servers, mounted at
// /pier/api; the backend learns its URL from the X-Pier-Api header.
const testAPIKey = "test-key-0123456789abcdef"

func startPier(t *testing.T, opts upstream.Options, wrap func(http.Handler) http.Handler) *pier {
	t.Helper()
	p := &pier{log: &syncbuf.Buffer{}}
	logger := slog.New(slog.NewTextHandler(p.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pier log:\n%s", p.log.String())
		}
	})
	root := http.NewServeMux()
	hs := httptest.NewServer(root)
	p.url = hs.URL
	opts.Logger = logger
	if opts.Headers == nil {
		opts.Headers = http.Header{}
	}
	opts.Headers.Set("X-Pier-Api", hs.URL+"/pier/api")
	opts.Headers.Set("X-Pier-Key", testAPIKey)
	up, err := upstream.New(&opts)
	if err != nil {
		t.Fatal(err)
	}
	p.up = up
	var h http.Handler = up
	if wrap != nil {
		h = wrap(up)
	}
	eng := sailsbridge.EngineOptions()
	eng.Logger = logger
	srv, err := socketio.NewServer(&socketio.Options{Engine: eng, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	bridge, err := sailsbridge.New(h, &sailsbridge.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	bridge.Attach(srv.Of("/"))
	api, err := upstream.NewAPI(srv, &upstream.APIOptions{Keys: []string{testAPIKey}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	root.Handle("/socket.io/", bridge.Guard(srv))
	root.Handle("/pier/api/", http.StripPrefix("/pier/api", api))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
		up.CloseIdleConnections()
	})
	return p
}

// result is a sails.io.js callback's (body, jwr).
type result struct {
	Body json.RawMessage `json:"body"`
	JWR  struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
	} `json:"jwr"`
}

func (r result) decode(t *testing.T, name string, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%s: body %s: %v", name, r.Body, err)
	}
}

// runClient runs a scenario of testdata/js/upstream-client.js and returns
// the socket id and the responses by name.
func runClient(t *testing.T, url, scenario string, extra ...string) (string, map[string]result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	events, err := jstest.Run(ctx, t, "upstream-client.js", append([]string{"--url", url, "--scenario", scenario}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]result)
	for _, e := range jstest.Filter(events, "res") {
		b, _ := json.Marshal(e)
		t.Logf("%s", b)
		var r result
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		out[e.String("name")] = r
	}
	c, _ := jstest.First(events, "connect")
	return c.String("id"), out
}

// seenReq is what a backend saw ("seen" in its answers).
type seenReq struct {
	Method      string  `json:"method"`
	URL         string  `json:"url"`
	XFF         *string `json:"xff"`
	XFProto     *string `json:"xfproto"`
	XFHost      *string `json:"xfhost"`
	SocketID    *string `json:"socketId"`
	RequestID   *string `json:"requestId"`
	Cookie      *string `json:"cookie"`
	ContentType *string `json:"contentType"`
	Client      *string `json:"client"`
}

func str(p *string) string {
	if p == nil {
		return "<none>"
	}
	return *p
}

// The must-show of the upstream mode, against a plain Node http backend
// and a Go one: sails.io.js requests reach the backend as HTTP requests
// and its answers come back as the JWRs Sails would send.
func TestMustShow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		backend func(t *testing.T) string
	}{
		{"node", startNodeBackend},
		{"go", func(t *testing.T) string { return startGoBackend(t).url }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startPier(t, upstream.Options{URL: tc.backend(t)}, nil)
			sid, res := runClient(t, p.url, "mustshow", "--cookie", "hs=1")
			if sid == "" {
				t.Fatal("no socket id")
			}

			login := res["login"]
			if login.JWR.StatusCode != 201 {
				t.Errorf("login: status %d, want 201", login.JWR.StatusCode)
			}
			for k := range login.JWR.Headers {
				if strings.EqualFold(k, "set-cookie") {
					t.Errorf("login: JWR carries %s", k)
				}
			}
			if got := login.JWR.Headers["x-backend"]; got != tc.name {
				t.Errorf("login: x-backend %q, want %q", got, tc.name)
			}
			if got := login.JWR.Headers["content-type"]; got != "application/json; charset=utf-8" {
				t.Errorf("login: content-type %q", got)
			}
			rid := login.JWR.Headers["x-request-id"]
			var lb struct {
				User string
				Seen seenReq
			}
			login.decode(t, "login", &lb)
			s := lb.Seen
			if lb.User != "alice" || s.Method != "POST" || s.URL != "/login?x=1" {
				t.Errorf("login: user %q, backend saw %s %s", lb.User, s.Method, s.URL)
			}
			if str(s.XFF) != "127.0.0.1" || str(s.XFProto) != "http" || !strings.HasPrefix(str(s.XFHost), "127.0.0.1:") {
				t.Errorf("login: forwarding headers %s / %s / %s", str(s.XFF), str(s.XFProto), str(s.XFHost))
			}
			if str(s.SocketID) != sid {
				t.Errorf("login: socket id header %q, want %q (the client's forged one must not pass)", str(s.SocketID), sid)
			}
			if rid == "" || str(s.RequestID) != rid {
				t.Errorf("login: request id sent %q, in the JWR %q", str(s.RequestID), rid)
			}
			if str(s.Cookie) != "hs=1" || !strings.HasPrefix(str(s.ContentType), "application/json") || str(s.Client) != "c1" {
				t.Errorf("login: cookie %q, content-type %q, x-client %q", str(s.Cookie), str(s.ContentType), str(s.Client))
			}

			var who struct{ Cookie string }
			res["whoami"].decode(t, "whoami", &who)
			if who.Cookie != "hs=1; sid=alice-token; theme=dark" {
				t.Errorf("whoami: backend got cookie %q, want the handshake's and the login's", who.Cookie)
			}

			nf := res["notfound"]
			if nf.JWR.StatusCode != 404 || !strings.Contains(string(nf.Body), "no route for GET /no/such/route") {
				t.Errorf("notfound: %d %s", nf.JWR.StatusCode, nf.Body)
			}
			rd := res["redirect"]
			if rd.JWR.StatusCode != 302 || rd.JWR.Headers["location"] != "/elsewhere" {
				t.Errorf("redirect: %d %v (must be returned, not followed)", rd.JWR.StatusCode, rd.JWR.Headers)
			}
			var text string
			if tx := res["text"]; json.Unmarshal(tx.Body, &text) != nil || tx.JWR.StatusCode != 200 || text != "<p>hi</p>" {
				t.Errorf("text: %d %s", tx.JWR.StatusCode, tx.Body)
			}
			var put struct {
				Body any
				Seen seenReq
			}
			res["put"].decode(t, "put", &put)
			if b, _ := json.Marshal(put.Body); string(b) != `{"a":[1,2]}` || put.Seen.Method != "PUT" {
				t.Errorf("put: backend saw %s %s", put.Seen.Method, b)
			}
			if lo := res["logout"]; lo.JWR.StatusCode != 204 {
				t.Errorf("logout: %d", lo.JWR.StatusCode)
			}
			res["whoami2"].decode(t, "whoami2", &who)
			if who.Cookie != "hs=1; theme=dark" {
				t.Errorf("whoami after logout: cookie %q, want the sid cookie removed", who.Cookie)
			}
		})
	}
}

// errorJWR is the body of the Handler's own error answers.
type errorJWR struct {
	Status    int
	Error     string
	Message   string
	RequestID string
}

// Bad answers from the backend (invalid JSON, a body over the bound, sent
// or only announced, no answer, a reset before the answer, a body that stops coming, a body cut
// by a reset) give clear JWR errors, logged with the request id, within
// the timeout, and the socket keeps working.
func TestBadAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		backend func(t *testing.T) string
	}{
		{"node", startNodeBackend},
		{"go", func(t *testing.T) string { return startGoBackend(t).url }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startPier(t, upstream.Options{URL: tc.backend(t), Timeout: 3 * time.Second, MaxBodyBytes: 1 << 20}, nil)
			_, res := runClient(t, p.url, "bad")
			for _, c := range []struct {
				name   string
				status int
				msg    string
			}{
				{"bad-json", 502, "not valid JSON"},
				{"huge", 502, "larger than maxBodyBytes"},
				{"slow", 504, "did not answer within 3s"},
				{"reset", 502, "did not answer"},
				{"huge-announced", 502, "larger than maxBodyBytes"},
				{"slow-body", 504, "did not answer within 3s"},
				{"cut", 502, "cut off"},
			} {
				r := res[c.name]
				var e errorJWR
				r.decode(t, c.name, &e)
				if r.JWR.StatusCode != c.status || e.Status != c.status || !strings.Contains(e.Message, c.msg) {
					t.Errorf("%s: %d %s, want %d with %q", c.name, r.JWR.StatusCode, r.Body, c.status, c.msg)
				}
				if e.RequestID == "" || r.JWR.Headers["x-request-id"] != e.RequestID {
					t.Errorf("%s: request id %q, header %q", c.name, e.RequestID, r.JWR.Headers["x-request-id"])
				}
				if log := p.log.String(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, "rid="+e.RequestID) {
					t.Errorf("%s: no warning with rid=%s in the log", c.name, e.RequestID)
				}
			}
			if r := res["after"]; r.JWR.StatusCode != 200 {
				t.Errorf("after the bad answers: %d %s", r.JWR.StatusCode, r.Body)
			}
		})
	}
}

// An unreachable backend gives a 502 JWR.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	ln := httptest.NewServer(http.NotFoundHandler())
	url := ln.URL
	ln.Close() // nobody listens there now
	p := startPier(t, upstream.Options{URL: url}, nil)
	_, res := runClient(t, p.url, "down")
	r := res["down"]
	var e errorJWR
	r.decode(t, "down", &e)
	if r.JWR.StatusCode != 502 || e.Error != "Bad Gateway" || !strings.Contains(e.Message, "did not answer") {
		t.Errorf("down: %d %s", r.JWR.StatusCode, r.Body)
	}
}

// The backend acts on the socket that called it: the Node backend's
// /subscribe joins the socket (by its X-Socket-Id) to a room through
// Pier's API, then broadcasts to the room; sails.io.js gets the event.
func TestBackendActsOnSockets(t *testing.T) {
	t.Parallel()
	p := startPier(t, upstream.Options{URL: startNodeBackend(t)}, nil)
	sid, res := runClient(t, p.url, "subscribe")
	r := res["subscribe"]
	if r.JWR.StatusCode != 200 || !strings.Contains(string(r.Body), `"joined":200`) || !strings.Contains(string(r.Body), `"emitted":200`) {
		t.Errorf("subscribe: %d %s", r.JWR.StatusCode, r.Body)
	}
	if got := string(res["news"].Body); got != `{"room":"news","to":"`+sid+`"}` {
		t.Errorf("news event: %s", got)
	}
}

// TestThroughput (PIER_BENCH=1) measures virtual requests per second
// through Pier to the Node backend against the same requests made to the
// backend directly, both from Node, and checks every answer was a 200.
func TestThroughput(t *testing.T) {
	if os.Getenv("PIER_BENCH") == "" {
		t.Skip("set PIER_BENCH=1 to measure")
	}
	be := startNodeBackend(t)
	p := startPier(t, upstream.Options{URL: be}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	events, err := jstest.Run(ctx, t, "upstream-client.js", "--url", p.url, "--scenario", "bench", "--backend", be, "--n", "4000", "--concurrency", "16")
	if err != nil {
		t.Fatal(err)
	}
	e, ok := jstest.First(events, "bench")
	if !ok {
		t.Fatal("no bench line")
	}
	var r struct {
		N      int
		Pier   struct{ OK, Ms float64 }
		Direct struct{ OK, Ms float64 }
	}
	b, _ := json.Marshal(e)
	json.Unmarshal(b, &r)
	if int(r.Pier.OK) != r.N || int(r.Direct.OK) != r.N {
		t.Fatalf("not every request got a 200: %s", b)
	}
	t.Logf("%d requests, 16 in flight: through Pier %.0f req/s (%.3f ms each), direct %.0f req/s (%.3f ms each)",
		r.N, float64(r.N)/r.Pier.Ms*1000, r.Pier.Ms/float64(r.N), float64(r.N)/r.Direct.Ms*1000, r.Direct.Ms/float64(r.N))
}

// A socket that leaves while its request waits on the backend ends that
// request at once (the backend's connection is closed), not at the
// timeout; goleak (TestMain) checks nothing is left running.
func TestLeaveWhilePending(t *testing.T) {
	t.Parallel()
	p := startPier(t, upstream.Options{URL: startGoBackend(t).url, Timeout: time.Minute}, nil)
	runClient(t, p.url, "leave")
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.log.String(), "upstream: the client went away") {
		if time.Now().After(deadline) {
			t.Fatalf("the request to /slow did not end when its socket left; log:\n%s", p.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package engineio_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/pierhq/pier/engineio"
)

// Raw-HTTP tests of the options and hooks modelled on Node engine.io 6.6
// (allowEIO3, cookie, generateId, initial_headers, headers,
// connection_error); options_interop_test.go runs the official clients
// against them.

func TestCloseErrorUnwrap(t *testing.T) {
	t.Parallel()
	for _, ce := range []*engineio.CloseError{
		{Reason: engineio.ReasonForcedClose},
		{Reason: engineio.ReasonTransportError, Err: errors.New("boom")},
	} {
		errs := ce.Unwrap()
		if slices.Contains(errs, nil) {
			t.Errorf("%v: Unwrap() = %v, holds nil", ce, errs)
		}
		if !errors.Is(ce, engineio.ErrClosed) {
			t.Errorf("%v: not ErrClosed", ce)
		}
		if ce.Err != nil && !errors.Is(ce, ce.Err) {
			t.Errorf("%v: does not wrap its Err", ce)
		}
	}
}

// connErrors records OnConnectionError calls.
type connErrors struct {
	mu   sync.Mutex
	errs []engineio.ConnectionError
}

func (c *connErrors) add(e engineio.ConnectionError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.Request == nil {
		panic("ConnectionError without Request")
	}
	c.errs = append(c.errs, e)
}

// last returns the last error reported for a request whose query holds
// marker.
func (c *connErrors) last(marker string) (engineio.ConnectionError, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.errs) - 1; i >= 0; i-- {
		if strings.Contains(c.errs[i].Request.URL.RawQuery, marker) {
			return c.errs[i], true
		}
	}
	return engineio.ConnectionError{}, false
}

func TestAllowEIO3(t *testing.T) {
	t.Parallel()
	on, off := true, false
	for _, tt := range []struct {
		name  string
		allow *bool
		v3ok  bool
	}{
		{"default", nil, true},
		{"on", &on, true},
		{"off", &off, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ce connErrors
			f := newFixture(t, &engineio.Options{AllowEIO3: tt.allow, OnConnectionError: ce.add}, nil)
			f.openPolling(4, "")
			f.openWebSocket(4)
			r := f.get("EIO=3&transport=polling&m=poll")
			_, err := f.dial("EIO=3&transport=websocket&m=ws", nil)
			if tt.v3ok {
				parseOpen(t, 3, r.body)
				if err != nil {
					t.Fatalf("v3 websocket: %v", err)
				}
				return
			}
			wantError(t, "v3 polling handshake", r, 400, 5, "Unsupported protocol version")
			if err != ws.StatusError(400) {
				t.Fatalf("v3 websocket handshake: %v, want 400", err)
			}
			for _, m := range []string{"m=poll", "m=ws"} {
				e, ok := ce.last(m)
				if !ok || e.Code != engineio.CodeUnsupportedProtocolVersion || e.Message != "Unsupported protocol version" || e.Context["protocol"] != 3 {
					t.Errorf("%s: OnConnectionError got %+v (%v), want code 5 with protocol 3", m, e, ok)
				}
			}
		})
	}
}

// JSONP polling is refused with the error contract; the j parameter means
// nothing to a websocket or to a session opened by XHR polling.
func TestJSONPRefused(t *testing.T) {
	t.Parallel()
	var ce connErrors
	f := newFixture(t, &engineio.Options{OnConnectionError: ce.add}, nil)
	for _, q := range []string{"EIO=3&transport=polling&j=0", "EIO=3&transport=polling&j=", "EIO=4&transport=polling&j=1"} {
		wantError(t, q, f.get(q), 400, 3, "Bad request")
		if e, ok := ce.last(q); !ok || e.Code != engineio.CodeBadRequest || e.Context["name"] != "JSONP_NOT_SUPPORTED" {
			t.Errorf("%s: OnConnectionError got %+v (%v)", q, e, ok)
		}
	}
	c := f.mustDial("EIO=3&transport=websocket&j=0")
	parseOpen(t, 4, c.readText()) // a websocket frame holds the bare packet in v3 too
	sid := f.openPolling(3, "")
	wantBody(t, "POST with j", f.post(f.q(3, sid)+"&j=0", "6:4hello"), "ok")
	wantBody(t, "GET with j", f.get(f.q(3, sid)+"&j=0"), "6:4hello")
}

func TestCookie(t *testing.T) {
	t.Parallel()
	no := false
	tests := []struct {
		name   string
		cookie *engineio.CookieOptions
		want   string // {sid} replaced; "" for no cookie
	}{
		{"nil", nil, ""},
		{"Node's defaults", &engineio.CookieOptions{}, "io={sid}; Path=/; HttpOnly; SameSite=Lax"},
		{"every attribute", &engineio.CookieOptions{Name: "sticky", Path: "/app", Domain: "example.com",
			MaxAge: 90*time.Second + 500*time.Millisecond, Secure: true, HTTPOnly: &no, SameSite: http.SameSiteStrictMode},
			"sticky={sid}; Path=/app; Domain=example.com; Max-Age=90; Secure; SameSite=Strict"},
		{"no SameSite", &engineio.CookieOptions{SameSite: http.SameSiteDefaultMode}, "io={sid}; Path=/; HttpOnly"},
		{"SameSite=None", &engineio.CookieOptions{SameSite: http.SameSiteNoneMode, Secure: true}, "io={sid}; Path=/; HttpOnly; Secure; SameSite=None"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, &engineio.Options{Cookie: tt.cookie}, nil)
			r := f.get("EIO=4&transport=polling")
			sid := parseOpen(t, 4, r.body)["sid"].(string)
			got := r.header.Values("Set-Cookie")
			want := []string{strings.ReplaceAll(tt.want, "{sid}", sid)}
			if tt.want == "" {
				want = nil
			}
			if !slices.Equal(got, want) {
				t.Fatalf("handshake Set-Cookie %q, want %q", got, want)
			}
			// Only the handshake sets it, as in Node.
			wantBody(t, "POST", f.post(f.q(4, sid), "4x"), "ok")
			if r := f.get(f.q(4, sid)); r.header.Get("Set-Cookie") != "" {
				t.Errorf("poll Set-Cookie %q", r.header.Get("Set-Cookie"))
			}
			var wsCookie string
			d := ws.Dialer{Timeout: waitFor, OnHeader: func(k, v []byte) error {
				if strings.EqualFold(string(k), "Set-Cookie") {
					wsCookie = string(v)
				}
				return nil
			}}
			conn, _, _, err := d.Dial(t.Context(), f.wsURL("EIO=4&transport=websocket"))
			if err != nil {
				t.Fatal(err)
			}
			conn.Close()
			if wsCookie != "" {
				t.Errorf("websocket handshake Set-Cookie %q, want none (as Node)", wsCookie)
			}
		})
	}
}

func TestGenerateID(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		next = map[string]string{} // X-Id header → id to return
	)
	var ce connErrors
	f := newFixture(t, &engineio.Options{
		OnConnectionError: ce.add,
		Cookie:            &engineio.CookieOptions{},
		GenerateID: func(r *http.Request) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			switch v := r.Header.Get("X-Id"); v {
			case "fail":
				return "", errors.New("no ids today")
			default:
				return next[v], nil
			}
		},
	}, nil)
	set := func(k, v string) {
		mu.Lock()
		next[k] = v
		mu.Unlock()
	}
	hdr := func(k string) http.Header { return http.Header{"X-Id": {k}} }

	set("a", "custom-a")
	r := f.request("GET", "EIO=4&transport=polling", hdr("a"), "")
	if sid := parseOpen(t, 4, r.body)["sid"]; sid != "custom-a" {
		t.Fatalf("sid %v, want custom-a", sid)
	}
	if c := r.header.Get("Set-Cookie"); !strings.HasPrefix(c, "io=custom-a;") {
		t.Errorf("Set-Cookie %q", c)
	}
	wantBody(t, "POST", f.post(f.q(4, "custom-a"), "4x"), "ok")
	wantBody(t, "GET", f.get(f.q(4, "custom-a")), "4x")

	// An id needing escapes: valid JSON in the open packet, escaped in the
	// cookie as Node's cookie module does, usable as the sid.
	set("b", `q"u/o t+e`)
	r = f.request("GET", "EIO=4&transport=polling", hdr("b"), "")
	if sid := parseOpen(t, 4, r.body)["sid"]; sid != `q"u/o t+e` {
		t.Fatalf("sid %v", sid)
	}
	if c := r.header.Get("Set-Cookie"); !strings.HasPrefix(c, "io=q%22u%2Fo%20t%2Be;") {
		t.Errorf("Set-Cookie %q", c)
	}
	wantBody(t, "POST", f.post("EIO=4&transport=polling&sid=q%22u%2Fo+t%2Be", "4y"), "ok")

	set("ws", "custom-ws")
	c := f.mustDialHeader("EIO=4&transport=websocket", hdr("ws"))
	if sid := parseOpen(t, 4, c.readText())["sid"]; sid != "custom-ws" {
		t.Fatalf("websocket sid %v", sid)
	}

	// Refusals: an error, an empty id, an id a live session has.
	set("empty", "")
	set("dup", "custom-a")
	for _, k := range []string{"fail", "empty", "dup"} {
		r := f.request("GET", "EIO=4&transport=polling&k="+k, hdr(k), "")
		wantError(t, k, r, 400, 3, "Bad request")
		e, ok := ce.last("k=" + k)
		if !ok || e.Code != engineio.CodeBadRequest || e.Context["name"] != "ID_GENERATION_ERROR" || e.Context["error"] == nil {
			t.Errorf("%s: OnConnectionError got %+v (%v)", k, e, ok)
		}
		if _, err := f.dial("EIO=4&transport=websocket", hdr(k)); err != ws.StatusError(400) {
			t.Errorf("%s: websocket handshake: %v, want 400", k, err)
		}
	}
	if e, _ := ce.last("k=fail"); fmt.Sprint(e.Context["error"]) != "no ids today" {
		t.Errorf("error in context: %v", e.Context["error"])
	}
}

func (f *fixture) mustDialHeader(query string, hdr http.Header) *wsClient {
	f.t.Helper()
	c, err := f.dial(query, hdr)
	if err != nil {
		f.t.Fatalf("dial ?%s: %v", query, err)
	}
	return c
}

// headerCalls records the header hooks' calls and marks each response.
type headerCalls struct {
	mu    sync.Mutex
	calls []string // "initial ?query" / "headers ?query"
}

func (h *headerCalls) hook(kind string) func(http.Header, *http.Request) {
	return func(hdr http.Header, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.calls = append(h.calls, kind+" "+r.Method+" "+r.URL.Query().Get("m"))
		hdr.Add("X-Hook", kind)
	}
}

func (h *headerCalls) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.calls
	h.calls = nil
	return c
}

func TestHeaderHooks(t *testing.T) {
	t.Parallel()
	var hc headerCalls
	f := newFixture(t, &engineio.Options{
		Cookie: &engineio.CookieOptions{},
		OnInitialHeaders: func(h http.Header, r *http.Request) {
			if r.URL.Query().Get("transport") == "polling" && h.Get("Set-Cookie") == "" {
				t.Error("OnInitialHeaders ran before the cookie was set")
			}
			hc.hook("initial")(h, r)
		},
		OnHeaders: hc.hook("headers"),
	}, nil)
	check := func(what string, got http.Header, want ...string) {
		t.Helper()
		if calls := hc.take(); !slices.Equal(calls, want) {
			t.Errorf("%s: hook calls %q, want %q", what, calls, want)
		}
		var kinds []string
		for _, w := range want {
			kinds = append(kinds, strings.Fields(w)[0])
		}
		if got := got.Values("X-Hook"); !slices.Equal(got, kinds) {
			t.Errorf("%s: response X-Hook %q, want %q", what, got, kinds)
		}
	}

	r := f.get("EIO=4&transport=polling&m=hs")
	sid := parseOpen(t, 4, r.body)["sid"].(string)
	check("polling handshake", r.header, "initial GET hs", "headers GET hs")
	r = f.post(f.q(4, sid)+"&m=post", "4x")
	check("POST", r.header, "headers POST post")
	r = f.get(f.q(4, sid) + "&m=poll")
	check("poll", r.header, "headers GET poll")
	r = f.get("EIO=4&transport=polling&sid=nope&m=bad")
	check("refused request", r.header)

	var got http.Header
	dial := func(q string) *wsClient {
		got = http.Header{}
		d := ws.Dialer{Timeout: waitFor, OnHeader: func(k, v []byte) error {
			got.Add(string(k), string(v))
			return nil
		}}
		conn, _, _, err := d.Dial(t.Context(), f.wsURL(q))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return &wsClient{t: t, conn: conn, br: nil}
	}
	dial("EIO=4&transport=websocket&m=wshs")
	check("websocket handshake", got, "initial GET wshs", "headers GET wshs")
	dial("EIO=4&transport=websocket&m=upgrade&sid=" + sid)
	check("websocket upgrade", got, "headers GET upgrade")
}

// Every refusal is reported with Node's code, message and context, and
// the request.
func TestOnConnectionError(t *testing.T) {
	t.Parallel()
	var ce connErrors
	f := newFixture(t, &engineio.Options{
		OnConnectionError: ce.add,
		AllowedOrigins:    []string{"https://good.example"},
		AllowRequest: func(r *http.Request) error {
			if r.Header.Get("X-Deny") != "" {
				return errors.New("denied")
			}
			return nil
		},
	}, nil)
	sid := f.openPolling(4, "")
	c := f.mustDial("EIO=4&transport=websocket&sid=" + sid) // upgrade it
	c.sendText("2probe")
	c.expectText("3probe")
	c.sendText("5")
	if !eventually(waitFor, func() bool { return f.h.session(t, sid).Transport() == engineio.WebSocket }) {
		t.Fatal("no upgrade")
	}
	tests := []struct {
		name, method, query string
		hdr                 http.Header
		code                int
		context             map[string]any
	}{
		{"unknown transport", "GET", "EIO=4&transport=xhr", nil, 0, map[string]any{"transport": "xhr"}},
		{"unknown sid", "GET", "EIO=4&transport=polling&sid=nope", nil, 1, map[string]any{"sid": "nope"}},
		{"handshake method", "POST", "EIO=4&transport=polling", nil, 2, map[string]any{"method": "POST"}},
		{"websocket without upgrade", "GET", "EIO=4&transport=websocket", nil, 3, map[string]any{"name": "TRANSPORT_HANDSHAKE_ERROR"}},
		{"polling on upgraded session", "GET", "EIO=4&transport=polling&sid=" + sid, nil, 3,
			map[string]any{"name": "TRANSPORT_MISMATCH", "transport": "polling", "previousTransport": "websocket"}},
		{"bad query", "GET", "EIO=4&transport=polling&EIO=4", nil, 3, map[string]any{"name": "INVALID_QUERY"}},
		{"origin", "GET", "EIO=4&transport=polling", http.Header{"Origin": {"https://evil.example"}}, 4,
			map[string]any{"name": "ORIGIN_NOT_ALLOWED", "origin": "https://evil.example"}},
		{"allowRequest", "GET", "EIO=4&transport=polling", http.Header{"X-Deny": {"1"}}, 4, map[string]any{"message": "denied"}},
		{"protocol", "GET", "EIO=9&transport=polling", nil, 5, map[string]any{"protocol": "9"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := fmt.Sprintf("%s&case=%d", tt.query, i)
			r := f.request(tt.method, q, tt.hdr, "")
			wantError(t, tt.name, r, r.status, tt.code, "")
			e, ok := ce.last(fmt.Sprintf("case=%d", i))
			if !ok {
				t.Fatal("OnConnectionError not called")
			}
			if e.Code != tt.code || e.Message != []string{"Transport unknown", "Session ID unknown", "Bad handshake method",
				"Bad request", "Forbidden", "Unsupported protocol version"}[tt.code] || e.Request.Method != tt.method {
				t.Errorf("got code %d message %q method %s", e.Code, e.Message, e.Request.Method)
			}
			if fmt.Sprint(e.Context) != fmt.Sprint(tt.context) {
				t.Errorf("context %v, want %v", e.Context, tt.context)
			}
		})
	}
	// A websocket refusal is reported too.
	if _, err := f.dial("EIO=4&transport=websocket&sid=nope&case=ws", nil); err != ws.StatusError(400) {
		t.Fatalf("dial: %v", err)
	}
	if e, ok := ce.last("case=ws"); !ok || e.Code != 1 {
		t.Errorf("websocket refusal: %+v %v", e, ok)
	}
}

package sailsbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/socketio"
)

// These tests drive the real sails.io.js 1.2.1 over socket.io-client 2.0.3
// in Node (testdata/js/sails-client.js) against testApp: the scenarios
// recorded from a real Sails app that do not need sessions.

func runNode(t *testing.T, a *testApp, scenario string, extra ...string) []jstest.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	events, err := jstest.Run(ctx, t, "sails-client.js", append([]string{"--url", a.url, "--scenario", scenario}, extra...)...)
	if err != nil {
		for _, e := range events {
			b, _ := json.Marshal(e)
			t.Logf("event %s", b)
		}
		t.Fatal(err)
	}
	return events
}

// result is a "res" line: a sails.io.js callback's (body, jwr).
type result struct {
	Body any `json:"body"`
	JWR  struct {
		StatusCode int            `json:"statusCode"`
		Headers    map[string]any `json:"headers"`
		Error      *string        `json:"error"`
	} `json:"jwr"`
}

func results(t *testing.T, events []jstest.Event) map[string]result {
	t.Helper()
	out := make(map[string]result)
	for _, e := range jstest.Filter(events, "res") {
		var r result
		remarshal(t, e, &r)
		out[e.String("name")] = r
	}
	return out
}

func remarshal(t *testing.T, from, to any) {
	t.Helper()
	b, err := json.Marshal(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, to); err != nil {
		t.Fatal(err)
	}
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (r result) check(t *testing.T, name string, status int, headers, body string) {
	t.Helper()
	if r.JWR.StatusCode != status {
		t.Errorf("%s: statusCode %d, want %d", name, r.JWR.StatusCode, status)
	}
	if headers != "" && asJSON(r.JWR.Headers) != headers {
		t.Errorf("%s: headers %s, want %s", name, asJSON(r.JWR.Headers), headers)
	}
	if body != "" && asJSON(r.Body) != body {
		t.Errorf("%s: body %s, want %s", name, asJSON(r.Body), body)
	}
}

// Over a socket: every kind of request and response.
func TestSailsRequests(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil, nil, false)
	events := runNode(t, a, "requests")
	res := results(t, events)
	id := res["whoami"].Body.(map[string]any)["id"].(string)

	res["json-obj"].check(t, "json-obj", 200, `{}`, `{"a":1,"b":[1,2],"c":null}`)
	if res["json-obj"].JWR.Error != nil {
		t.Errorf("json-obj: error %q", *res["json-obj"].JWR.Error)
	}

	// What the handler saw.
	var e echoed
	remarshal(t, res["echo"].Body, &e)
	if e.Method != "GET" || e.Path != "/echo" || e.RawQuery != "a=1&b=x%20y&c[]=1&c[]=2" || !e.IsSocket || e.SocketID != id {
		t.Errorf("echo: %+v", e)
	}
	if !reflect.DeepEqual(e.Query, map[string][]string{"a": {"1"}, "b": {"x y"}, "c[]": {"1", "2"}}) {
		t.Errorf("echo query %v", e.Query)
	}
	if e.BodyText != `{"d":1}` {
		t.Errorf("echo body %s", e.BodyText)
	}
	if got := e.Headers["X-Foo"]; !slices.Equal(got, []string{"Bar"}) {
		t.Errorf("X-Foo %q", got)
	}
	if got := e.Headers["X-Global"]; !slices.Equal(got, []string{"g"}) {
		t.Errorf("io.sails.headers not merged: %q", got)
	}
	for _, h := range []string{"Origin", "Cookie"} {
		if v, ok := e.Headers[h]; ok {
			t.Errorf("%s set from the request: %q", h, v)
		}
	}
	if !strings.HasPrefix(e.Host, "127.0.0.1:") || !strings.HasPrefix(e.RemoteAddr, "127.0.0.1:") {
		t.Errorf("host %q remote %q", e.Host, e.RemoteAddr)
	}

	for _, tc := range []struct{ name, method, path, body string }{
		{"post", "POST", "/echo", `{"name":"alice","n":2}`},
		{"put", "PUT", "/echo/put", `{"a":[1,2]}`},
		{"patch", "PATCH", "/echo/patch", `{"p":true}`},
		{"delete", "DELETE", "/echo/delete", `{"d":null}`},
		{"head", "HEAD", "/echo/head", `{}`},
		{"options", "OPTIONS", "/echo/options", `{}`},
		{"binary-upload", "POST", "/echo", `{"file":"eHl6"}`},
	} {
		r := res[tc.name]
		r.check(t, tc.name, 200, `{"content-type":"application/json"}`, "")
		var e echoed
		remarshal(t, r.Body, &e)
		if e.Method != tc.method || e.Path != tc.path || e.BodyText != tc.body || e.Headers["Content-Type"][0] != "application/json" {
			t.Errorf("%s: handler saw %s %s %s %v", tc.name, e.Method, e.Path, e.BodyText, e.Headers)
		}
	}

	// Status codes, bodies and headers of every kind of response.
	res["headers"].check(t, "headers", 201, `{"content-type":"text/plain","x-custom-header":"abc","x-via-setheader":"def"}`, `"hello"`)
	r := res["status-418"]
	r.check(t, "status-418", 418, `{"content-type":"application/json"}`, `{"tea":true}`)
	if r.JWR.Error == nil || !strings.HasPrefix(*r.JWR.Error, "Server responded with a 418 status code:") {
		t.Errorf("418 error %v", r.JWR.Error)
	}
	res["notfound"].check(t, "notfound", 404, `{}`, `"Not Found"`)
	res["relative"].check(t, "relative", 404, `{}`, `"Not Found"`)
	res["panic"].check(t, "panic", 500, `{}`, `"Internal Server Error"`)
	res["redirect"].check(t, "redirect", 302, `{"content-type":"text/html; charset=utf-8","location":"/somewhere?x=1 y"}`, "")
	res["send-buffer"].check(t, "send-buffer", 200, `{"content-type":"application/octet-stream"}`, `{"$bin":"616263"}`)
	res["json-string"].check(t, "json-string", 200, `{"content-type":"application/json"}`, `"str"`)
	res["empty"].check(t, "empty", 200, `{}`, `{"$undefined":true}`)
	// Set-Cookie stripped, kept by the socket.
	res["set-cookie"].check(t, "set-cookie", 200, `{"content-type":"application/json"}`, `{}`)
	remarshal(t, res["after-set-cookie"].Body, &e)
	if !slices.Equal(e.Headers["Cookie"], []string{"cap=1"}) {
		t.Errorf("cookie after Set-Cookie: %q", e.Headers["Cookie"])
	}
	res["getcookie"].check(t, "getcookie", 200, `{"content-type":"application/javascript; charset=utf-8"}`, `"_sailsIoJSConnect();"`)

	select {
	case d := <-a.disconnected:
		if d.id != id {
			t.Errorf("AfterDisconnect for %s, want %s", d.id, id)
		}
	case <-time.After(5 * time.Second):
		t.Error("AfterDisconnect not called")
	}
}

// Acks arrive as responses complete.
func TestSailsOutOfOrder(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil, nil, false)
	events := runNode(t, a, "order")
	var order []string
	for _, e := range jstest.Filter(events, "res") {
		order = append(order, e.String("name"))
	}
	if !slices.Equal(order, []string{"fast", "delayed"}) {
		t.Errorf("callback order %v", order)
	}
	res := results(t, events)
	res["delayed"].check(t, "delayed", 200, "", `{"delayed":300}`)
	res["fast"].check(t, "fast", 200, "", `{"a":1,"b":[1,2],"c":null}`)
}

// The connection goes away under a pending request.
func TestSailsPendingDisconnect(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil, nil, false)
	// The server closes the connection once /never is under way.
	go func() {
		if s := a.socks.Get(<-a.neverStarted); s != nil {
			s.Session().Close("server going away")
		}
	}()
	events := runNode(t, a, "pending")
	cb, ok := jstest.First(events, "pending_cb")
	if !ok {
		t.Fatal("no callback")
	}
	if !cb.Bool("isError") || cb.String("message") != "The socket disconnected before the request completed." ||
		asJSON(cb["jwr"]) != `{"body":null,"headers":{},"statusCode":0}` {
		t.Errorf("callback %v", cb)
	}
	if d, _ := jstest.First(events, "disconnect"); d.String("reason") != "transport close" {
		t.Errorf("disconnect %v", d)
	}
	select {
	case err := <-a.neverReturned:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("handler context: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler not cancelled")
	}
	select {
	case d := <-a.disconnected:
		if !d.neverReturned {
			t.Error("AfterDisconnect ran before the pending handler returned")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("AfterDisconnect not called")
	}
}

// Raw emits with the real client's raw socket.
func TestSailsParseErrors(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil, nil, false)
	events := runNode(t, a, "raw")
	parseErr := func(details string) string {
		return `{"code":"SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ","details":` + asJSON(details) +
			`,"message":"Failed to parse incoming socket.io request.","name":"Error (SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ):","status":400}`
	}
	acks := map[string]string{}
	for _, e := range jstest.Filter(events, "ack") {
		acks[e.String("name")] = asJSON(e["args"])
	}
	for name, want := range map[string]string{
		"no-url":         "[" + parseErr("No url provided in request: { method: 'get' }") + "]",
		"bad-url":        "[" + parseErr("Invalid url provided: 42") + "]",
		"string-payload": "[" + parseErr("No url provided in request: abc") + "]",
		"after":          `[{"body":{"count":2},"headers":{"content-type":"application/json"},"statusCode":200}]`,
	} {
		if acks[name] != want {
			t.Errorf("%s: ack %s\nwant %s", name, acks[name], want)
		}
	}
	pe, ok := jstest.First(events, "parse_error_event")
	if !ok || asJSON(pe["data"]) != parseErr("No url provided in request: { method: 'get' }") {
		t.Errorf("sails:parseError %v", pe)
	}
	if ig, _ := jstest.First(events, "ignored"); ig.Number("replies") != 0 {
		t.Errorf("ignored events answered: %v", ig)
	}
	if n := a.count.Load(); n != 2 {
		t.Errorf("/count ran %d times, want 2 (no-ack request served)", n)
	}
}

// The SDK version check with socket.io-client 2.0.3 alone.
func TestSailsSDKVersion(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil, nil, false)
	for _, tc := range []struct{ query, want string }{
		{"", "0.9.0"},
		{"__sails_io_sdk_version=abc", "abc"},
		{"__sails_io_sdk_version=1.2.1", ""},
	} {
		var extra []string
		if tc.query != "" {
			extra = []string{"--query", tc.query}
		}
		events := runNode(t, a, "sdk", extra...)
		ack, _ := jstest.First(events, "ack")
		got := asJSON(ack["args"])
		if tc.want == "" {
			if got != `[{"body":{"a":1,"b":[1,2],"c":null},"headers":{},"statusCode":200}]` {
				t.Errorf("%q: %s", tc.query, got)
			}
		} else if !strings.Contains(got, "client SDK version you are using ("+tc.want+")") {
			t.Errorf("%q: %s", tc.query, got)
		}
	}
}

// Broadcasts (decisions 3 and 4: omit always honoured, one delivery per socket).
func TestSailsRooms(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil, nil, false)
	events := runNode(t, a, "rooms")
	ids := map[float64]string{}
	for _, e := range jstest.Filter(events, "connect") {
		ids[e.Number("c")] = e.String("id")
	}
	msgs := map[float64][]string{}
	for _, e := range jstest.Filter(events, "msg") {
		msgs[e.Number("c")] = append(msgs[e.Number("c")], e.String("name")+" "+asJSON(e["data"]))
	}
	want := map[float64][]string{
		0: {`evt {"n":1}`, `evt {"n":4}`, `multi {"n":5}`},
		1: {`evt {"n":1}`, `evt {"n":2}`, `message {"n":3}`, `evt {"n":4}`},
	}
	for c, w := range want {
		if !slices.Equal(msgs[c], w) {
			t.Errorf("client %v got %q, want %q", c, msgs[c], w)
		}
	}
	if len(msgs[2]) != 0 {
		t.Errorf("client 2 got %q", msgs[2])
	}
	res := results(t, events)
	rooms := func(name string) []string {
		var v struct{ Rooms []string }
		remarshal(t, res[name].Body, &v)
		return v.Rooms
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	if got := rooms("rooms-a"); !slices.Equal(got, sorted(ids[0], "r1", "r2", "r3")) {
		t.Errorf("A rooms after add: %q", got)
	}
	if got := rooms("rooms-a2"); !slices.Equal(got, []string{ids[0]}) {
		t.Errorf("A rooms after leaveAll(r2): %q", got)
	}
	if got := rooms("rooms-b2"); !slices.Equal(got, []string{ids[1]}) {
		t.Errorf("B rooms after leaveAll(r2): %q", got)
	}
	if got := rooms("rooms-a3"); !slices.Equal(got, sorted(ids[0], "m1", "m2")) {
		t.Errorf("A rooms after joining m1, m2: %q", got)
	}
	if got := rooms("rooms-a4"); !slices.Equal(got, sorted(ids[0], "m1")) {
		t.Errorf("A rooms after remove(m1→m2): %q", got)
	}
	if got := rooms("rooms-a5"); !slices.Equal(got, []string{ids[0]}) {
		t.Errorf("A rooms after leave(m1): %q", got)
	}
	for c, n := range map[float64]float64{0: 3, 1: 4, 2: 0} {
		for _, e := range jstest.Filter(events, "inbox") {
			if e.Number("c") == c && e.Number("n") != n {
				t.Errorf("client %v received %v events, want %v", c, e.Number("n"), n)
			}
		}
	}
}

// Resourceful pub/sub payload shapes.
func TestSailsPubSub(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil, nil, false)
	events := runNode(t, a, "pubsub")
	var got []string
	for _, e := range jstest.Filter(events, "msg") {
		if e.Number("c") != 1 || e.String("name") != "user" {
			t.Errorf("unexpected %v", e)
			continue
		}
		b, _ := json.Marshal(e["data"]) // keys sorted by Go; order is checked on the wire below
		got = append(got, string(b))
	}
	want := []string{
		`{"data":{"id":1,"name":"alice"},"id":1,"verb":"created"}`,
		`{"data":{"id":1,"name":"alice2"},"id":1,"previous":{"id":1,"name":"alice"},"verb":"updated"}`,
		`{"addedId":7,"attribute":"pets","id":1,"verb":"addedTo"}`,
		`{"attribute":"pets","id":1,"removedId":7,"verb":"removedFrom"}`,
		`{"id":1,"previous":{"id":1,"name":"alice2"},"verb":"destroyed"}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("B got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The pub/sub payloads keep Sails' key order on the wire.
func TestPubSubWireOrder(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil, nil, false)
	c := dialRaw(t, a.url, sailsQuery)
	c.open()
	c.send(`420["get",{"url":"/whoami"}]`)
	got := c.expectMatch(`^430\[`)
	var ack []struct {
		Body struct{ ID string }
	}
	json.Unmarshal([]byte(got[3:]), &ack)
	id := ack[0].Body.ID
	users := a.socks.Model("user")
	ctx := context.Background()
	if err := users.Watch(ctx, id); err != nil {
		t.Fatal(err)
	}
	users.PublishCreate(ctx, 1, map[string]any{"name": "a"}, "")
	c.expect(`42["user",{"verb":"created","data":{"name":"a"},"id":1}]`)
	users.PublishUpdate(ctx, 1, map[string]any{"name": "b"}, map[string]any{"name": "a"}, "")
	c.expect(`42["user",{"verb":"updated","data":{"name":"b"},"id":1,"previous":{"name":"a"}}]`)
	users.PublishUpdate(ctx, 1, map[string]any{"name": "c"}, nil, "")
	c.expect(`42["user",{"verb":"updated","data":{"name":"c"},"id":1}]`)
	users.PublishAdd(ctx, 1, "pets", 2, "")
	c.expect(`42["user",{"id":1,"verb":"addedTo","attribute":"pets","addedId":2}]`)
	users.PublishRemove(ctx, 1, "pets", 2, "")
	c.expect(`42["user",{"id":1,"verb":"removedFrom","attribute":"pets","removedId":2}]`)
	users.Publish(ctx, []any{1, 1}, map[string]int{"custom": 1}, "")
	c.expect(`42["user",{"custom":1}]`)
	users.PublishDestroy(ctx, 1, map[string]any{"name": "c"}, "")
	c.expect(`42["user",{"verb":"destroyed","id":1,"previous":{"name":"c"}}]`)
	// Destroyed: unsubscribed.
	if rooms, _ := a.socks.Rooms(ctx, id); slices.Contains(rooms, users.Room(1)) {
		t.Errorf("still in %s: %q", users.Room(1), rooms)
	}
	if users.Room(1) != "sails_model_user_1:user" || users.ClassRoom() != "sails_model_create_user" {
		t.Errorf("rooms %q %q", users.Room(1), users.ClassRoom())
	}
	a.socks.Blast(ctx, "", nil, "")
	c.expect(`42["message",null]`)
}

// sendResponseHeaders/sendStatusCode with the real client.
func TestSailsOmitStatusCode(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, &sailsbridge.Options{OmitStatusCode: true}, nil, false)
	events := runNode(t, a, "omit")
	r := results(t, events)["notfound"]
	r.check(t, "notfound", 200, `{}`, `"Not Found"`)
	if r.JWR.Error != nil {
		t.Errorf("error %q", *r.JWR.Error)
	}
	if ack, _ := jstest.First(events, "ack"); asJSON(ack["args"]) != `[{"body":"Not Found","headers":{}}]` {
		t.Errorf("ack %v", ack)
	}
}

// Options.Timeout with the real client.
func TestSailsTimeout(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, &sailsbridge.Options{Timeout: 200 * time.Millisecond}, nil, false)
	res := results(t, runNode(t, a, "timeout"))
	res["slow"].check(t, "slow", 504, `{}`, `"Gateway Timeout"`)
	if e := res["slow"].JWR.Error; e == nil || !strings.HasPrefix(*e, "Server responded with a 504") {
		t.Errorf("error %v", e)
	}
	res["after"].check(t, "after", 200, `{}`, `{"a":1,"b":[1,2],"c":null}`)
}

// onlyAllowOrigins with the real client, through Guard and through the middleware.
func TestSailsOrigins(t *testing.T) {
	t.Parallel()
	opts := &sailsbridge.Options{OnlyAllowOrigins: []string{"http://allowed.com"}}
	for _, guard := range []bool{true, false} {
		a := newTestApp(t, opts, nil, !guard)
		events := runNode(t, a, "connect", "--origin", "http://allowed.com")
		var e echoed
		remarshal(t, results(t, events)["echo"].Body, &e)
		if !slices.Equal(e.Headers["Origin"], []string{"http://allowed.com"}) {
			t.Errorf("guard %v: origin seen %q", guard, e.Headers["Origin"])
		}
		for _, origin := range []string{"http://evil.com", "http://allowed.com/"} {
			events := runNode(t, a, "refused", "--origin", origin)
			f, _ := jstest.First(events, "connect_failed")
			if guard && f.String("kind") != "connect_error" {
				t.Errorf("guard: %s: %v", origin, f)
			}
			if !guard && (f.String("kind") != "error" || f.String("error") != "Origin not allowed") {
				t.Errorf("middleware: %s: %v", origin, f)
			}
		}
		events = runNode(t, a, "refused") // no Origin at all
		if _, ok := jstest.First(events, "connect_failed"); !ok {
			t.Errorf("guard %v: no Origin connected", guard)
		}
	}
}

// beforeConnect with the real client.
func TestSailsBeforeConnect(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	opts := &sailsbridge.Options{BeforeConnect: func(r *http.Request) error {
		mu.Lock()
		seen = append(seen, r.URL.RequestURI())
		mu.Unlock()
		if strings.Contains(r.Header.Get("Cookie"), "deny") {
			return errors.New("denied-by-test")
		}
		return nil
	}}
	for _, guard := range []bool{true, false} {
		a := newTestApp(t, opts, nil, !guard)
		runNode(t, a, "refused", "--cookie", "deny=1")
		events := runNode(t, a, "connect", "--cookie", "ok=1")
		var e echoed
		remarshal(t, results(t, events)["echo"].Body, &e)
		if !slices.Equal(e.Headers["Cookie"], []string{"ok=1"}) {
			t.Errorf("guard %v: cookie seen %q", guard, e.Headers["Cookie"])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 4 || !strings.Contains(seen[0], "__sails_io_sdk_version=1.2.1") || !strings.Contains(seen[0], "EIO=3") {
		t.Errorf("BeforeConnect saw %q", seen)
	}
}

// fakeSessions records the SessionProvider calls.
type fakeSessions struct {
	mu          sync.Mutex
	connects    []string
	connectCtxs []context.Context
	connectErrs []error // of the context when Connect was called
	disconnects []string
}

type sessionKey struct{}

func (f *fakeSessions) Connect(ctx context.Context, s *socketio.Socket, hs *http.Request) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connects = append(f.connects, hs.Header.Get("Cookie"))
	f.connectCtxs = append(f.connectCtxs, ctx)
	f.connectErrs = append(f.connectErrs, ctx.Err())
	if hs.Header.Get("Cookie") == "" {
		return "sails.sid=generated"
	}
	return ""
}

func (f *fakeSessions) Disconnect(_ context.Context, s *socketio.Socket, cookie string, after func(ctx context.Context)) {
	f.mu.Lock()
	f.disconnects = append(f.disconnects, cookie)
	f.mu.Unlock()
	after(context.WithValue(context.Background(), sessionKey{}, "session of "+cookie))
}

// The SessionProvider hook and nosession (without a
// session store).
func TestSailsSessionHook(t *testing.T) {
	t.Parallel()
	f := &fakeSessions{}
	afterCtx := make(chan any, 8)
	a := newTestApp(t, &sailsbridge.Options{
		Sessions: f,
		AfterDisconnect: func(ctx context.Context, s *socketio.Socket, reason string) {
			afterCtx <- ctx.Value(sessionKey{})
		},
	}, nil, false)
	check := func(name string, extra []string, cookie string, noSession bool) {
		t.Helper()
		events := runNode(t, a, "connect", extra...)
		res := results(t, events)
		var e, e2 echoed
		remarshal(t, res["echo"].Body, &e)
		remarshal(t, res["echo2"].Body, &e2)
		if got := strings.Join(e.Headers["Cookie"], ";"); got != cookie {
			t.Errorf("%s: cookie %q, want %q", name, got, cookie)
		}
		if !e.NoSession || e2.NoSession != noSession {
			t.Errorf("%s: NoSession %v (per-request header) then %v, want true then %v", name, e.NoSession, e2.NoSession, noSession)
		}
		if noSession && (e.Headers["Nosession"][0] != "true" || e2.Headers["Nosession"][0] != "true") {
			t.Errorf("%s: nosession headers %q %q", name, e.Headers["Nosession"], e2.Headers["Nosession"])
		}
		select {
		case v := <-afterCtx:
			if want := "session of " + cookie; noSession {
				if v != "session of " {
					t.Errorf("%s: AfterDisconnect ctx %v, want an empty session", name, v)
				}
			} else if v != want {
				t.Errorf("%s: AfterDisconnect ctx %v, want %q", name, v, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: AfterDisconnect not called", name)
		}
	}
	check("cookieless", nil, "sails.sid=generated", false)
	check("cookie", []string{"--cookie", "sails.sid=mine"}, "sails.sid=mine", false)
	check("nosession header", []string{"--nosession-header"}, "", true)
	check("nosession query", []string{"--query", "nosession=true"}, "", false)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Equal(f.connects, []string{"", "sails.sid=mine"}) {
		t.Errorf("Connect calls %q", f.connects)
	}
	// Connect's context is bounded by Options.Timeout (DefaultTimeout
	// here) and ends once Connect returned.
	for i, ctx := range f.connectCtxs {
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > sailsbridge.DefaultTimeout {
			t.Errorf("Connect %d: context deadline %v, %v", i, dl, ok)
		}
		if f.connectErrs[i] != nil || ctx.Err() == nil {
			t.Errorf("Connect %d: context error %v during the call, %v after, want nil then an error", i, f.connectErrs[i], ctx.Err())
		}
	}
	if !slices.Equal(f.disconnects, []string{"sails.sid=generated", "sails.sid=mine", "", ""}) {
		t.Errorf("Disconnect calls %q", f.disconnects)
	}
}

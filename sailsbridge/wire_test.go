package sailsbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/sailsbridge"
)

// The query sails.io.js 1.2.1 sends in Node.
const sailsQuery = "__sails_io_sdk_version=1.2.1&__sails_io_sdk_platform=node&__sails_io_sdk_language=javascript&EIO=3&transport=websocket"

// rawConn is an EIO3 websocket client speaking frame by frame.
type rawConn struct {
	t    testing.TB
	conn net.Conn
	rw   io.ReadWriter
}

func dialRaw(t testing.TB, base, query string) *rawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, strings.Replace(base, "http", "ws", 1)+"/socket.io/?"+query)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	var r io.Reader = conn
	if br != nil {
		r = br
	}
	return &rawConn{t: t, conn: conn, rw: struct {
		io.Reader
		io.Writer
	}{r, conn}}
}

func (c *rawConn) send(s string) {
	c.t.Helper()
	if err := wsutil.WriteClientText(c.rw, []byte(s)); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

// read returns the next frame: text as is, binary as "<bin HEX>".
func (c *rawConn) read(timeout time.Duration) (string, error) {
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	data, op, err := wsutil.ReadServerData(c.rw)
	if err != nil {
		return "", err
	}
	if op == ws.OpBinary {
		return fmt.Sprintf("<bin %x>", data), nil
	}
	return string(data), nil
}

func (c *rawConn) expect(want string) {
	c.t.Helper()
	got, err := c.read(5 * time.Second)
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", want, err)
	}
	if got != want {
		c.t.Fatalf("frame\n got %s\nwant %s", got, want)
	}
}

func (c *rawConn) expectMatch(re string) string {
	c.t.Helper()
	got, err := c.read(5 * time.Second)
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", re, err)
	}
	if !regexp.MustCompile(re).MatchString(got) {
		c.t.Fatalf("frame\n got %s\nwant match %s", got, re)
	}
	return got
}

// open reads the open packet and the CONNECT.
func (c *rawConn) open() {
	c.t.Helper()
	c.expectMatch(`^0\{"sid":"[A-Za-z0-9_-]{20}","upgrades":\[\],"pingInterval":25000,"pingTimeout":60000,"maxPayload":100000000\}$`)
	c.expect("40")
}

const parseErrorPrefix = `{"code":"SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ","name":"Error (SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ):","status":400,"message":"Failed to parse incoming socket.io request.","details":`

func sdkDetails(v string) string {
	return fmt.Sprintf(`"This version of Sails is not compatible with the socket.io/sails.io.js client SDK version you are using (%s). Please see https://sailsjs.com/documentation/upgrading/to-v-0-11 for more information-- then please continue upgrading all the way to the installed version of Sails."`, v)
}

// Virtual requests and their JWRs on the wire.
func TestWire(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil, nil, false)
	c := dialRaw(t, a.url, sailsQuery)
	c.open()
	c.send("2")
	c.expect("3")

	c.send(`420["get",{"method":"get","headers":{"x-req":"r","x-global":"g"},"data":{"a":1},"url":"/json-obj"}]`)
	c.expect(`430[{"body":{"a":1,"b":[1,2],"c":null},"headers":{},"statusCode":200}]`)

	c.send(`421["get",{"method":"get","headers":{"x-global":"g"},"data":{},"url":"/send-buffer"}]`)
	c.expect(`461-1[{"body":{"_placeholder":true,"num":0},"headers":{"content-type":"application/octet-stream"},"statusCode":200}]`)
	c.expect(`<bin 04616263>`)

	c.send(`422["get",{"method":"get"}]`)
	c.expect(`432[` + parseErrorPrefix + `"No url provided in request: { method: 'get' }"}]`)
	c.send(`42["get",{"method":"get"}]`)
	c.expect(`42["sails:parseError",` + parseErrorPrefix + `"No url provided in request: { method: 'get' }"}]`)
	c.send(`423["put",{"method":"put","url":7}]`)
	c.expect(`433[` + parseErrorPrefix + `"Invalid url provided: 7"}]`)

	// Ignored: other event names; a valid request without ack is served
	// but not answered.
	c.send(`426["GET",{"url":"/json-obj"}]`)
	c.send(`427["copy",{"url":"/json-obj"}]`)
	c.send(`42["get",{"url":"/count"}]`)
	c.send(`428["get",{"url":"/empty"}]`)
	c.expect(`438[{"headers":{},"statusCode":200}]`)
	deadline := time.Now().Add(5 * time.Second)
	for a.count.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := a.count.Load(); n != 1 {
		t.Errorf("/count ran %d times, want 1", n)
	}

	c.send(`429["get",{"url":"/json-string"}]`)
	c.expect(`439[{"body":"str","headers":{"content-type":"application/json"},"statusCode":200}]`)

	// Set-Cookie never reaches the client; the socket's requests carry it.
	c.send(`4210["get",{"url":"/set-cookie-header"}]`)
	c.expect(`4310[{"body":{},"headers":{"content-type":"application/json"},"statusCode":200}]`)
	c.send(`4211["post",{"url":"/echo","headers":{"cookie":"forged=1"}}]`)
	c.expectMatch(`^4311\[\{"body":\{.*\},"headers":\{"content-type":"application/json"\},"statusCode":200\}\]$`)
	if got := a.lastEcho().Headers["Cookie"]; !slices.Equal(got, []string{"cap=1"}) {
		t.Errorf("cookie after Set-Cookie = %q, want [cap=1]", got)
	}

	c.send(`4212["get",{"url":"/redirect"}]`)
	// Strings are quoted as JSON.stringify quotes them (no HTML escaping),
	// byte for byte what Sails sends.
	c.expect(`4312[{"body":"<a href=\"/somewhere?x=1 y\">Found</a>.\n\n","headers":{"content-type":"text/html; charset=utf-8","location":"/somewhere?x=1 y"},"statusCode":302}]`)
	c.send(`4213["get",{"url":"/nowhere"}]`)
	c.expect(`4313[{"body":"Not Found","headers":{},"statusCode":404}]`)
	c.send(`4214["get",{"url":"/panic"}]`)
	c.expect(`4314[{"body":"Internal Server Error","headers":{},"statusCode":500}]`)
	c.send(`4215["get",{"url":"/__getcookie"}]`)
	c.expect(`4315[{"body":"_sailsIoJSConnect();","headers":{"content-type":"application/javascript; charset=utf-8"},"statusCode":200}]`)

	c.send(`41`)
	select {
	case d := <-a.disconnected:
		if d.reason != "client namespace disconnect" {
			t.Errorf("AfterDisconnect reason %q", d.reason)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("AfterDisconnect not called")
	}
}

// The SDK version is checked on every request.
func TestWireSDKVersion(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil, nil, false)
	for _, tc := range []struct {
		query, version string // version "" means accepted
	}{
		{"EIO=3&transport=websocket", "0.9.0"},
		{"__sails_io_sdk_version=0.10.5&EIO=3&transport=websocket", "0.10.5"},
		{"__sails_io_sdk_version=abc&EIO=3&transport=websocket", "abc"},
		{"__sails_io_sdk_version=0.11.0-rc1&EIO=3&transport=websocket", ""},
		{"__sails_io_sdk_version=0.11.0&EIO=3&transport=websocket", ""},
	} {
		c := dialRaw(t, a.url, tc.query)
		c.open()
		for i := range 2 {
			c.send(fmt.Sprintf(`42%d["get",{"method":"get","headers":{},"data":{},"url":"/json-obj"}]`, i))
			if tc.version == "" {
				c.expect(fmt.Sprintf(`43%d[{"body":{"a":1,"b":[1,2],"c":null},"headers":{},"statusCode":200}]`, i))
			} else {
				c.expect(fmt.Sprintf(`43%d[%s%s}]`, i, parseErrorPrefix, sdkDetails(tc.version)))
			}
		}
		c.conn.Close()
	}
	// Still serving.
	c := dialRaw(t, a.url, sailsQuery)
	c.open()
	c.send(`420["get",{"url":"/json-obj"}]`)
	c.expect(`430[{"body":{"a":1,"b":[1,2],"c":null},"headers":{},"statusCode":200}]`)
}

// sendResponseHeaders and sendStatusCode off.
func TestWireOmit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opts sailsbridge.Options
		want string
	}{
		{sailsbridge.Options{OmitStatusCode: true}, `430[{"body":"Not Found","headers":{}}]`},
		{sailsbridge.Options{OmitHeaders: true}, `430[{"body":"Not Found","statusCode":404}]`},
		{sailsbridge.Options{OmitHeaders: true, OmitStatusCode: true}, `430[{"body":"Not Found"}]`},
	} {
		a := newTestApp(t, &tc.opts, nil, false)
		c := dialRaw(t, a.url, sailsQuery)
		c.open()
		c.send(`420["get",{"url":"/notfound"}]`)
		c.expect(tc.want)
	}
}

// Options.Timeout answers 504 and cancels the handler's context; later
// requests are served.
func TestWireTimeout(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, &sailsbridge.Options{Timeout: 150 * time.Millisecond}, nil, false)
	c := dialRaw(t, a.url, sailsQuery)
	c.open()
	start := time.Now()
	c.send(`420["get",{"url":"/never"}]`)
	c.expect(`430[{"body":"Gateway Timeout","headers":{},"statusCode":504}]`)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("answered after %v", d)
	}
	select {
	case err := <-a.neverReturned:
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "write: http: Handler timeout") {
			t.Errorf("handler saw %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler still running")
	}
	c.send(`421["get",{"url":"/json-obj"}]`)
	c.expect(`431[{"body":{"a":1,"b":[1,2],"c":null},"headers":{},"statusCode":200}]`)
}

// MaxInFlightBytes refuses a request that would go over it at once (429),
// without holding back the socket's other requests.
func TestWireInFlightBytes(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, &sailsbridge.Options{MaxInFlightBytes: 2*sailsbridge.RequestOverhead + 100}, nil, false)
	c := dialRaw(t, a.url, sailsQuery)
	c.open()
	c.send(`420["get",{"url":"/never"}]`)
	c.send(`421["get",{"url":"/never"}]`)
	c.send(`422["get",{"url":"/json-obj"}]`)
	c.expect(`432[{"body":"Too Many Requests","headers":{},"statusCode":429}]`)
	for range 2 {
		select {
		case <-a.neverStarted:
		case <-time.After(5 * time.Second):
			t.Fatal("handler did not start")
		}
	}
	select {
	case id := <-a.neverStarted:
		t.Fatalf("third /never-like start from %s", id)
	default:
	}
	// Closing the connection cancels both; AfterDisconnect runs after them.
	c.conn.Close()
	for range 2 {
		select {
		case err := <-a.neverReturned:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("handler saw %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("handler not cancelled")
		}
	}
	select {
	case d := <-a.disconnected:
		if !d.neverReturned || d.reason != "transport close" {
			t.Errorf("AfterDisconnect %+v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("AfterDisconnect not called")
	}
}

// upgradeRequest is a websocket handshake request as a browser sends it.
func upgradeRequest(t testing.TB, url string, h http.Header) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readBody(resp *http.Response) string {
	if resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body.Close()
		return ""
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(b)
}

func pollingEngine() *engineio.Options {
	o := sailsbridge.EngineOptions()
	o.Transports = []string{engineio.Polling, engineio.WebSocket}
	return o
}

// onlyAllowOrigins at the HTTP level.
func TestOriginsHTTP(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, &sailsbridge.Options{OnlyAllowOrigins: []string{"http://allowed.com"}}, pollingEngine(), false)
	ws := a.url + "/socket.io/?" + sailsQuery
	for _, origin := range [][]string{nil, {"http://evil.com"}, {"http://allowed.com/"}, {"http://ALLOWED.com"}, {"http://allowed.com", "http://allowed.com"}} {
		h := http.Header{}
		if origin != nil {
			h["Origin"] = origin
		}
		resp := upgradeRequest(t, ws, h)
		body := readBody(resp)
		if resp.StatusCode != 400 || body != "Bad request" || resp.Header.Get("Content-Type") != "text/html" || !resp.Close {
			t.Errorf("origin %q: %d %q %v close=%v", origin, resp.StatusCode, body, resp.Header, resp.Close)
		}
	}
	resp := upgradeRequest(t, ws, http.Header{"Origin": {"http://allowed.com"}})
	readBody(resp)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Errorf("allowed origin: %d", resp.StatusCode)
	}

	polling := a.url + "/socket.io/?__sails_io_sdk_version=1.2.1&EIO=3&transport=polling"
	req, _ := http.NewRequest("GET", polling, nil)
	req.Header.Set("Origin", "http://evil.com")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(resp); resp.StatusCode != 400 || body != `{"code":3,"message":"Bad request"}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("polling evil origin: %d %q", resp.StatusCode, body)
	}
	req.Header.Set("Origin", "http://allowed.com")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(resp)
	if resp.StatusCode != 200 || !strings.Contains(body, `"upgrades":["websocket"]`) ||
		resp.Header.Get("Access-Control-Allow-Origin") != "http://allowed.com" || !slices.Contains(resp.Header.Values("Vary"), "Origin") {
		t.Errorf("polling allowed origin: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	// CORS preflight.
	req, _ = http.NewRequest("OPTIONS", polling, nil)
	req.Header.Set("Origin", "http://allowed.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(resp)
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

// beforeConnect at the HTTP level.
func TestBeforeConnectHTTP(t *testing.T) {
	t.Parallel()
	seen := make(chan *http.Request, 16)
	a := newTestApp(t, &sailsbridge.Options{BeforeConnect: func(r *http.Request) error {
		seen <- r
		switch r.Header.Get("X-Deny") {
		case "msg":
			return errors.New("denied-by-test")
		case "empty":
			return errors.New("")
		case "forbidden":
			return sailsbridge.ErrForbidden
		}
		return nil
	}}, pollingEngine(), false)
	ws := a.url + "/socket.io/?" + sailsQuery
	polling := a.url + "/socket.io/?__sails_io_sdk_version=1.2.1&EIO=3&transport=polling"
	for _, tc := range []struct{ deny, msg string }{{"msg", "denied-by-test"}, {"empty", "Forbidden"}, {"forbidden", "Forbidden"}} {
		resp := upgradeRequest(t, ws, http.Header{"X-Deny": {tc.deny}, "Cookie": {"a=b"}})
		if body := readBody(resp); resp.StatusCode != 400 || body != tc.msg {
			t.Errorf("websocket %s: %d %q", tc.deny, resp.StatusCode, body)
		}
		r := <-seen
		if r.Header.Get("Cookie") != "a=b" || r.URL.Query().Get("__sails_io_sdk_version") != "1.2.1" || r.URL.Query().Get("EIO") != "3" {
			t.Errorf("BeforeConnect saw %v %v", r.URL, r.Header)
		}
		req, _ := http.NewRequest("GET", polling, nil)
		req.Header.Set("X-Deny", tc.deny)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(map[string]any{"code": 4, "message": tc.msg})
		if body := readBody(resp); resp.StatusCode != 403 || body != string(want) {
			t.Errorf("polling %s: %d %q, want %s", tc.deny, resp.StatusCode, body, want)
		}
		<-seen
	}
	resp := upgradeRequest(t, ws, nil)
	readBody(resp)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Errorf("allowed: %d", resp.StatusCode)
	}
	<-seen
}

// GET /__getcookie.
func TestGetCookieHTTP(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil, nil, false)
	resp, err := http.Get(a.url + "/__getcookie")
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(resp); resp.StatusCode != 200 || body != "_sailsIoJSConnect();" || resp.Header.Get("Content-Type") != "application/javascript; charset=utf-8" {
		t.Errorf("getcookie: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, err = http.Post(a.url+"/__getcookie", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	if readBody(resp); resp.StatusCode != 404 {
		t.Errorf("POST getcookie: %d", resp.StatusCode)
	}
	off := newTestApp(t, &sailsbridge.Options{DisableGetCookie: true}, nil, false)
	resp, err = http.Get(off.url + "/__getcookie")
	if err != nil {
		t.Fatal(err)
	}
	if readBody(resp); resp.StatusCode != 404 {
		t.Errorf("disabled getcookie: %d", resp.StatusCode)
	}
}

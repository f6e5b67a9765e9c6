package engineio_test

// Black-box wire-level tests of the Engine.IO server: raw HTTP requests and a
// raw websocket client (gobwas/ws) that can send malformed frames, checked
// against what Node's engine.io 6.6 answers.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/wiretest"
)

const (
	eioPath = "/engine.io/"
	// waitFor bounds every wait for an event that should happen promptly.
	waitFor = 3 * time.Second
)

// ---------------------------------------------------------------------------
// Handler recording every session

type sessionRecord struct {
	sess   *engineio.Session
	closes atomic.Int32
	late   atomic.Int32 // OnMessage calls after OnClose

	mu    sync.Mutex
	cause error
}

func (r *sessionRecord) getCause() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cause
}

// recHandler echoes every message (unless noEcho), records sessions by ID
// and their OnClose calls, and runs the optional hooks.
type recHandler struct {
	noEcho  bool
	onOpen  func(*engineio.Session)
	onClose func(*engineio.Session, error)

	mu       sync.Mutex
	sessions map[string]*sessionRecord
	opened   chan *engineio.Session
}

func newRecHandler() *recHandler {
	return &recHandler{sessions: make(map[string]*sessionRecord), opened: make(chan *engineio.Session, 256)}
}

func (h *recHandler) OnOpen(s *engineio.Session) {
	h.mu.Lock()
	h.sessions[s.ID()] = &sessionRecord{sess: s}
	h.mu.Unlock()
	if h.onOpen != nil {
		h.onOpen(s)
	}
	select {
	case h.opened <- s:
	default:
	}
}

func (h *recHandler) OnMessage(s *engineio.Session, m engineio.Message) {
	if r := h.record(s.ID()); r != nil && r.closes.Load() > 0 {
		r.late.Add(1)
	}
	if !h.noEcho {
		s.Send(m)
	}
}

func (h *recHandler) OnClose(s *engineio.Session, cause error) {
	r := h.record(s.ID())
	r.mu.Lock()
	r.cause = cause
	r.mu.Unlock()
	if h.onClose != nil {
		h.onClose(s, cause)
	}
	r.closes.Add(1)
}

func (h *recHandler) record(sid string) *sessionRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessions[sid]
}

func (h *recHandler) all() []*sessionRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*sessionRecord
	for _, r := range h.sessions {
		out = append(out, r)
	}
	return out
}

// session returns the server-side session sid.
func (h *recHandler) session(t testing.TB, sid string) *engineio.Session {
	t.Helper()
	r := h.record(sid)
	if r == nil {
		t.Fatalf("no session %q was opened", sid)
	}
	return r.sess
}

// waitClosed waits until OnClose was called for sid and returns its cause.
func (h *recHandler) waitClosed(t testing.TB, sid string) error {
	t.Helper()
	r := h.record(sid)
	if r == nil {
		t.Fatalf("no session %q was opened", sid)
	}
	if !eventually(waitFor, func() bool { return r.closes.Load() > 0 }) {
		t.Fatalf("session %s: OnClose not called within %v", sid, waitFor)
	}
	return r.getCause()
}

func (h *recHandler) wantClosedWith(t testing.TB, sid, reason string) {
	t.Helper()
	cause := h.waitClosed(t, sid)
	if got := engineio.CloseReason(cause); got != reason {
		t.Errorf("session closed with reason %q (%v), want %q", got, cause, reason)
	}
}

// eventually polls cond until it holds or d passes.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Fixture: an httptest server with an Engine.IO server on /engine.io/

type fixture struct {
	t   testing.TB
	srv *engineio.Server
	hs  *httptest.Server
	h   *recHandler
	c   *http.Client
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newFixture starts a server. Zero heartbeat options default to long values
// so that no ping interferes unless a test asks for one.
func newFixture(t testing.TB, opts *engineio.Options, h *recHandler) *fixture {
	t.Helper()
	return newFixtureWith(t, opts, h, nil)
}

// newFixtureWith is newFixture with setup run on the server before it
// serves.
func newFixtureWith(t testing.TB, opts *engineio.Options, h *recHandler, setup func(*engineio.Server)) *fixture {
	t.Helper()
	if h == nil {
		h = newRecHandler()
	}
	var o engineio.Options
	if opts != nil {
		o = *opts
	}
	if o.PingInterval == 0 {
		o.PingInterval = 10 * time.Second
	}
	if o.PingTimeout == 0 {
		o.PingTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	if o.ParkIdleAfter == 0 {
		// Park idle websockets almost at once, so that every test reads
		// its websockets through the poller as well as directly.
		o.ParkIdleAfter = 5 * time.Millisecond
	}
	srv, err := engineio.NewServer(h, &o)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	if setup != nil {
		setup(srv)
	}
	hs := httptest.NewServer(srv)
	f := &fixture{t: t, srv: srv, hs: hs, h: h, c: hs.Client()}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		srv.Shutdown(ctx) // polling sessions closed gracefully may wait for a last poll
		cancel()
		hs.Close()
		// Every session gets OnClose exactly once, and no OnMessage after it.
		for _, r := range h.all() {
			if !eventually(waitFor, func() bool { return r.closes.Load() >= 1 }) {
				t.Errorf("session %s: OnClose never called", r.sess.ID())
			}
		}
		time.Sleep(10 * time.Millisecond) // let a duplicate OnClose show up
		for _, r := range h.all() {
			if n := r.closes.Load(); n != 1 {
				t.Errorf("session %s: OnClose called %d times", r.sess.ID(), n)
			}
			if n := r.late.Load(); n != 0 {
				t.Errorf("session %s: OnMessage called %d times after OnClose", r.sess.ID(), n)
			}
		}
	})
	return f
}

func (f *fixture) url(query string) string { return f.hs.URL + eioPath + "?" + query }

func (f *fixture) wsURL(query string) string {
	return "ws" + strings.TrimPrefix(f.hs.URL, "http") + eioPath + "?" + query
}

type response struct {
	status int
	header http.Header
	body   string
}

func (r response) String() string { return fmt.Sprintf("%d %q", r.status, r.body) }

// do sends a request and returns the response, or an error (safe to call
// from any goroutine).
func (f *fixture) do(ctx context.Context, method, query string, hdr http.Header, body io.Reader) (response, error) {
	req, err := http.NewRequestWithContext(ctx, method, f.url(query), body)
	if err != nil {
		return response{}, err
	}
	copyHeader(req.Header, hdr)
	res, err := f.c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}, nil
}

func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

func (f *fixture) request(method, query string, hdr http.Header, body string) response {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := f.do(ctx, method, query, hdr, rd)
	if err != nil {
		f.t.Fatalf("%s ?%s: %v", method, query, err)
	}
	return r
}

func (f *fixture) get(query string) response { return f.request(http.MethodGet, query, nil, "") }

func (f *fixture) post(query, body string) response {
	return f.request(http.MethodPost, query, http.Header{"Content-Type": {"text/plain;charset=UTF-8"}}, body)
}

// wantBody checks a 200 response with the given body.
func wantBody(t testing.TB, what string, r response, body string) {
	t.Helper()
	if r.status != http.StatusOK || r.body != body {
		t.Fatalf("%s = %v, want 200 %q", what, r, body)
	}
}

// wantError checks an Engine.IO JSON error response.
func wantError(t testing.TB, what string, r response, status, code int, message string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d (body %q), want %d", what, r.status, r.body, status)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("%s: body %q is not a JSON object: %v", what, r.body, err)
	}
	if len(m) != 2 {
		t.Errorf("%s: body %q, want exactly the keys code and message", what, r.body)
	}
	var gotCode int
	var gotMsg string
	if err := json.Unmarshal(m["code"], &gotCode); err != nil {
		t.Errorf("%s: code in %q: %v", what, r.body, err)
	}
	if err := json.Unmarshal(m["message"], &gotMsg); err != nil {
		t.Errorf("%s: message in %q: %v", what, r.body, err)
	}
	if gotCode != code || (message != "" && gotMsg != message) {
		t.Errorf("%s: body %q, want code %d message %q", what, r.body, code, message)
	}
}

// wantGone checks that the session sid is unknown to the server.
func (f *fixture) wantGone(eio int, sid string) {
	f.t.Helper()
	r := f.get(fmt.Sprintf("EIO=%d&transport=polling&sid=%s", eio, sid))
	wantError(f.t, "GET on a closed session", r, 400, 1, "Session ID unknown")
}

// openPolling performs a polling handshake and returns the session id.
func (f *fixture) openPolling(eio int, extra string) string {
	f.t.Helper()
	r := f.get(fmt.Sprintf("EIO=%d&transport=polling%s", eio, extra))
	if r.status != 200 {
		f.t.Fatalf("handshake: %v", r)
	}
	return parseOpen(f.t, eio, r.body)["sid"].(string)
}

// parseOpen decodes a handshake payload (v4: "0{...}", v3: "<n>:0{...}").
func parseOpen(t testing.TB, eio int, body string) map[string]any {
	t.Helper()
	pkt := body
	if eio == 3 {
		n, rest, ok := strings.Cut(body, ":")
		if !ok {
			t.Fatalf("v3 handshake %q: no length", body)
		}
		if l, err := strconv.Atoi(n); err != nil || l != len(rest) {
			t.Fatalf("v3 handshake %q: length %q, packet has %d characters", body, n, len(rest))
		}
		pkt = rest
	}
	if !strings.HasPrefix(pkt, "0{") {
		t.Fatalf("handshake %q: not an open packet", body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(pkt[1:]), &m); err != nil {
		t.Fatalf("handshake %q: %v", body, err)
	}
	if sid, _ := m["sid"].(string); sid == "" {
		t.Fatalf("handshake %q: no sid", body)
	}
	return m
}

func (f *fixture) q(eio int, sid string) string {
	return fmt.Sprintf("EIO=%d&transport=polling&sid=%s", eio, sid)
}

// ---------------------------------------------------------------------------
// Raw websocket client

type wsClient struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

func (f *fixture) dial(query string, hdr http.Header) (*wsClient, error) {
	d := ws.Dialer{Timeout: waitFor}
	if hdr != nil {
		d.Header = ws.HandshakeHeaderHTTP(hdr)
	}
	conn, br, _, err := d.Dial(context.Background(), f.wsURL(query))
	if err != nil {
		return nil, err
	}
	if br == nil {
		br = bufio.NewReader(conn)
	}
	c := &wsClient{t: f.t, conn: conn, br: br}
	f.t.Cleanup(func() { conn.Close() })
	return c, nil
}

func (f *fixture) mustDial(query string) *wsClient {
	f.t.Helper()
	c, err := f.dial(query, nil)
	if err != nil {
		f.t.Fatalf("dial ?%s: %v", query, err)
	}
	return c
}

// openWebSocket opens a websocket session and returns it with its sid.
func (f *fixture) openWebSocket(eio int) (*wsClient, string) {
	f.t.Helper()
	c := f.mustDial(fmt.Sprintf("EIO=%d&transport=websocket", eio))
	m := parseOpen(f.t, 4, c.readText())
	if up, _ := m["upgrades"].([]any); len(up) != 0 {
		f.t.Errorf("websocket handshake upgrades = %v, want []", m["upgrades"])
	}
	return c, m["sid"].(string)
}

func (c *wsClient) write(b []byte) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(waitFor))
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("websocket write: %v", err)
	}
}

func (c *wsClient) send(op ws.OpCode, payload []byte) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(waitFor))
	if err := ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewFrame(op, true, payload))); err != nil {
		c.t.Fatalf("websocket write: %v", err)
	}
}

func (c *wsClient) sendText(s string) { c.t.Helper(); c.send(ws.OpText, []byte(s)) }

func (c *wsClient) read() (ws.Frame, error) {
	c.conn.SetReadDeadline(time.Now().Add(waitFor))
	f, err := wiretest.ReadFrame(c.br)
	if err == nil && f.Header.Masked {
		err = errors.New("server sent a masked frame")
	}
	return f, err
}

func (c *wsClient) readFrame() ws.Frame {
	c.t.Helper()
	f, err := c.read()
	if err != nil {
		c.t.Fatalf("websocket read: %v", err)
	}
	return f
}

func (c *wsClient) readText() string {
	c.t.Helper()
	f := c.readFrame()
	if f.Header.OpCode != ws.OpText || !f.Header.Fin {
		c.t.Fatalf("got frame %v %q, want a final text frame", f.Header.OpCode, f.Payload)
	}
	return string(f.Payload)
}

func (c *wsClient) expectText(want string) {
	c.t.Helper()
	if got := c.readText(); got != want {
		c.t.Fatalf("got text frame %q, want %q", got, want)
	}
}

func (c *wsClient) expectBinary(want []byte) {
	c.t.Helper()
	f := c.readFrame()
	if f.Header.OpCode != ws.OpBinary || !bytes.Equal(f.Payload, want) {
		c.t.Fatalf("got frame %v % x, want binary % x", f.Header.OpCode, f.Payload, want)
	}
}

// closeResult is what a client saw at the end of a connection.
type closeResult struct {
	gotClose bool
	code     ws.StatusCode
	before   []string // data frames received before the close frame
	err      error    // the read error that ended the connection
}

func (r closeResult) String() string {
	if r.gotClose {
		return fmt.Sprintf("close frame %d", r.code)
	}
	return fmt.Sprintf("no close frame (%v)", r.err)
}

// awaitClose reads until the server closes the connection, within d. It
// returns what was seen; ok is false if the connection stayed open.
func (c *wsClient) awaitClose(d time.Duration) (res closeResult, ok bool) {
	deadline := time.Now().Add(d)
	for {
		c.conn.SetReadDeadline(deadline)
		f, err := wiretest.ReadFrame(c.br)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return res, false
			}
			res.err = err
			return res, true
		}
		switch f.Header.OpCode {
		case ws.OpClose:
			if !res.gotClose {
				res.gotClose = true
				res.code, _ = ws.ParseCloseFrameData(f.Payload)
				// Answer as a client does, then wait for the server to
				// close the TCP connection.
				c.conn.SetWriteDeadline(time.Now().Add(time.Second))
				c.conn.Write(masked(byte(ws.OpClose), closeBody(uint16(res.code), "")))
			}
		case ws.OpText, ws.OpBinary:
			if !res.gotClose {
				res.before = append(res.before, string(f.Payload))
			}
		}
	}
}

func (c *wsClient) wantClosed(d time.Duration) closeResult {
	c.t.Helper()
	res, ok := c.awaitClose(d)
	if !ok {
		c.t.Fatalf("connection still open after %v (saw %q)", d, res.before)
	}
	return res
}

// rawFrame builds a frame byte by byte, malformed if asked.
func rawFrame(fin bool, rsv byte, op byte, masked bool, payload []byte) []byte {
	b0 := op&0x0f | rsv<<4
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	var m byte
	if masked {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, m|byte(n))
	case n <= 0xffff:
		b = append(b, m|126, byte(n>>8), byte(n))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

// masked is a well-formed final client frame.
func masked(op byte, payload []byte) []byte { return rawFrame(true, 0, op, true, payload) }

func closeBody(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// ---------------------------------------------------------------------------
// Handshake

func TestHandshakeFormat(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &engineio.Options{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, MaxHTTPBufferSize: 1000000}, nil)

	t.Run("v4 polling", func(t *testing.T) {
		f := f.on(t)
		r := f.get("EIO=4&transport=polling")
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
			t.Fatalf("handshake: %v, Content-Type %q", r, r.header.Get("Content-Type"))
		}
		m := parseOpen(t, 4, r.body)
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range m {
				if !yield(k) {
					return
				}
			}
		})
		if !slices.Equal(keys, []string{"maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"}) {
			t.Errorf("handshake keys %v", keys)
		}
		if fmt.Sprint(m["upgrades"]) != "[websocket]" || m["pingInterval"] != 300.0 || m["pingTimeout"] != 200.0 || m["maxPayload"] != 1e6 {
			t.Errorf("handshake %q", r.body)
		}
	})
	t.Run("v3 polling", func(t *testing.T) {
		f := f.on(t)
		r := f.get("EIO=3&transport=polling")
		m := parseOpen(t, 3, r.body)
		if fmt.Sprint(m["upgrades"]) != "[websocket]" || m["pingInterval"] != 300.0 {
			t.Errorf("handshake %q", r.body)
		}
	})
	t.Run("v4 websocket", func(t *testing.T) {
		f := f.on(t)
		f.openWebSocket(4) // checks upgrades == []
	})
}

// ---------------------------------------------------------------------------
// Error contract (Node's Server.errors: code and message in a JSON body)

func TestErrorContract(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, nil)
	sid4 := f.openPolling(4, "")
	sid3 := f.openPolling(3, "")

	tests := []struct {
		name    string
		method  string
		query   string // {sid4} and {sid3} are replaced
		status  int
		code    int
		message string
	}{
		{"missing EIO", "GET", "transport=polling", 400, 5, "Unsupported protocol version"},
		{"EIO=5", "GET", "EIO=5&transport=polling", 400, 5, "Unsupported protocol version"},
		{"EIO=abc", "GET", "EIO=abc&transport=polling", 400, 5, "Unsupported protocol version"},
		{"EIO empty", "GET", "EIO=&transport=polling", 400, 5, "Unsupported protocol version"},
		{"EIO=04", "GET", "EIO=04&transport=polling", 400, 5, "Unsupported protocol version"},
		{"missing transport", "GET", "EIO=4", 400, 0, "Transport unknown"},
		{"unknown transport", "GET", "EIO=4&transport=abc", 400, 0, "Transport unknown"},
		{"transport __proto__", "GET", "EIO=4&transport=__proto__", 400, 0, "Transport unknown"},
		{"transport constructor", "GET", "EIO=4&transport=constructor", 400, 0, "Transport unknown"},
		{"transport webtransport", "GET", "EIO=4&transport=webtransport", 400, 0, "Transport unknown"},
		{"transport Polling", "GET", "EIO=4&transport=Polling", 400, 0, "Transport unknown"},
		{"POST handshake", "POST", "EIO=4&transport=polling", 400, 2, "Bad handshake method"},
		{"PUT handshake", "PUT", "EIO=4&transport=polling", 400, 2, "Bad handshake method"},
		{"POST handshake v3", "POST", "EIO=3&transport=polling", 400, 2, "Bad handshake method"},
		{"websocket transport without upgrade", "GET", "EIO=4&transport=websocket", 400, 3, "Bad request"},
		{"unknown sid", "GET", "EIO=4&transport=polling&sid=nope", 400, 1, "Session ID unknown"},
		{"unknown sid POST", "POST", "EIO=4&transport=polling&sid=nope", 400, 1, "Session ID unknown"},
		{"sid __proto__", "GET", "EIO=4&transport=polling&sid=__proto__", 400, 1, "Session ID unknown"},
		{"v3 sid with EIO=4", "GET", "EIO=4&transport=polling&sid={sid3}", 400, 1, "Session ID unknown"},
		{"v4 sid with EIO=3", "GET", "EIO=3&transport=polling&sid={sid4}", 400, 1, "Session ID unknown"},
		{"duplicate sid", "GET", "EIO=4&transport=polling&sid={sid4}&sid=other", 400, 3, "Bad request"},
		{"duplicate sid same value", "GET", "EIO=4&transport=polling&sid={sid4}&sid={sid4}", 400, 3, "Bad request"},
		{"duplicate EIO", "GET", "EIO=4&EIO=4&transport=polling", 400, 3, "Bad request"},
		{"duplicate transport", "GET", "EIO=4&transport=polling&transport=polling", 400, 3, "Bad request"},
		{"bad query escape", "GET", "EIO=4&transport=polling&x=%zz", 400, 3, "Bad request"},
		{"PUT with sid", "PUT", "EIO=4&transport=polling&sid={sid4}", 400, 3, "Bad request"},
		{"DELETE with sid", "DELETE", "EIO=4&transport=polling&sid={sid4}", 400, 3, "Bad request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := f.on(t)
			q := strings.NewReplacer("{sid4}", sid4, "{sid3}", sid3).Replace(tt.query)
			r := f.request(tt.method, q, nil, "")
			wantError(t, tt.method+" ?"+q, r, tt.status, tt.code, tt.message)
		})
	}

	t.Cleanup(func() { // runs after the parallel subtests
		// None of the refused requests carrying a real sid closed its
		// session (the duplicated-sid ones are refused before the lookup).
		if f.h.record(sid4).closes.Load() != 0 || f.h.record(sid3).closes.Load() != 0 {
			t.Errorf("a refused request closed a session")
		}
	})
}

func TestAllowRequest(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	f := newFixture(t, &engineio.Options{AllowRequest: func(r *http.Request) error {
		calls.Add(1)
		if r.Header.Get("X-Deny") != "" {
			return errors.New("go away: " + r.Header.Get("X-Deny"))
		}
		return nil
	}}, nil)

	t.Run("polling refused", func(t *testing.T) {
		f := f.on(t)
		r := f.request("GET", "EIO=4&transport=polling", http.Header{"X-Deny": {"1"}}, "")
		wantError(t, "refused handshake", r, 403, 4, "go away: 1")
	})
	t.Run("websocket refused", func(t *testing.T) {
		f := f.on(t)
		_, err := f.dial("EIO=4&transport=websocket", http.Header{"X-Deny": {"1"}})
		if err != ws.StatusError(400) {
			t.Fatalf("dial: %v, want status 400", err)
		}
	})
	t.Run("only handshakes", func(t *testing.T) {
		f := f.on(t)
		sid := f.openPolling(4, "")
		before := calls.Load()
		wantBody(t, "POST", f.request("POST", f.q(4, sid), http.Header{"X-Deny": {"1"}}, "4x"), "ok")
		wantBody(t, "GET", f.request("GET", f.q(4, sid), http.Header{"X-Deny": {"1"}}, ""), "4x")
		if n := calls.Load(); n != before {
			t.Errorf("AllowRequest called %d times for requests with a sid", n-before)
		}
	})
}

func TestWebSocketRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, nil)
	sid := f.openPolling(4, "")
	tests := []struct{ name, query string }{
		{"missing EIO", "transport=websocket"},
		{"EIO=5", "EIO=5&transport=websocket"},
		{"EIO=abc", "EIO=abc&transport=websocket"},
		{"missing transport", "EIO=4"},
		{"transport abc", "EIO=4&transport=abc"},
		{"transport __proto__", "EIO=4&transport=__proto__"},
		{"transport polling", "EIO=4&transport=polling"},
		{"unknown sid", "EIO=4&transport=websocket&sid=nope"},
		{"sid __proto__", "EIO=4&transport=websocket&sid=__proto__"},
		{"duplicate sid", "EIO=4&transport=websocket&sid=" + sid + "&sid=" + sid},
		{"duplicate EIO", "EIO=4&EIO=4&transport=websocket"},
		{"wrong protocol for sid", "EIO=3&transport=websocket&sid=" + sid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := f.on(t)
			c, err := f.dial(tt.query, nil)
			if err == nil {
				res := c.wantClosed(waitFor)
				t.Fatalf("upgrade accepted (then %v), want a refused handshake (400)", res)
			}
			if err != ws.StatusError(400) {
				t.Fatalf("dial: %v, want status 400", err)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Origin allow-list

func TestOrigins(t *testing.T) {
	t.Parallel()
	const good = "https://good.example"
	f := newFixture(t, &engineio.Options{AllowedOrigins: []string{good, "http://localhost:8080", "HTTP://Other.Example:80/"}}, nil)
	origin := func(o ...string) http.Header { return http.Header{"Origin": o} }

	t.Run("handshakes", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		tests := []struct {
			name   string
			hdr    http.Header
			status int
			code   int
		}{
			{"allowed", origin(good), 200, 0},
			{"configured list normalised", origin("http://other.example"), 200, 0},
			{"upper case", origin("HTTPS://GOOD.EXAMPLE"), 403, 4},
			{"upper case host", origin("https://GOOD.example"), 403, 4},
			{"default port", origin("https://good.example:443"), 403, 4},
			{"trailing slash", origin(good + "/"), 403, 4},
			{"allowed second", origin("http://localhost:8080"), 200, 0},
			{"no Origin", nil, 200, 0},
			{"foreign", origin("https://evil.example"), 403, 4},
			{"scheme differs", origin("http://good.example"), 403, 4},
			{"port differs", origin("https://good.example:8443"), 403, 4},
			{"suffix", origin("https://good.example.evil.example"), 403, 4},
			{"userinfo", origin("https://evil@good.example"), 403, 4},
			{"null", origin("null"), 403, 4},
			{"garbage", origin("not an origin"), 403, 4},
			{"list in one header", origin(good + ", https://evil.example"), 403, 4},
			{"two Origin headers", origin(good, good), 400, 3},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				f := f.on(t)
				r := f.request("GET", "EIO=4&transport=polling", tt.hdr, "")
				if tt.status == 200 {
					if r.status != 200 {
						t.Fatalf("handshake: %v, want 200", r)
					}
					parseOpen(t, 4, r.body)
					return
				}
				wantError(t, "handshake", r, tt.status, tt.code, "")
				_, err := f.dial("EIO=4&transport=websocket", tt.hdr)
				if err != ws.StatusError(400) {
					t.Fatalf("websocket handshake: %v, want status 400", err)
				}
			})
		}
	})

	t.Run("websocket allowed", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		c, err := f.dial("EIO=4&transport=websocket", origin(good))
		if err != nil {
			t.Fatal(err)
		}
		parseOpen(t, 4, c.readText())
	})

	t.Run("existing session", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		r := f.request("GET", "EIO=4&transport=polling", origin(good), "")
		sid := parseOpen(t, 4, r.body)["sid"].(string)
		q := f.q(4, sid)
		for _, bad := range []string{"https://evil.example", "null"} {
			wantError(t, "POST from "+bad, f.request("POST", q, origin(bad), "4stolen"), 403, 4, "")
			wantError(t, "GET from "+bad, f.request("GET", q, origin(bad), ""), 403, 4, "")
			if _, err := f.dial("EIO=4&transport=websocket&sid="+sid, origin(bad)); err != ws.StatusError(400) {
				t.Fatalf("upgrade from %s: %v, want status 400", bad, err)
			}
		}
		// The refused POST was not delivered, the session goes on.
		wantBody(t, "POST", f.request("POST", q, origin(good), "4mine"), "ok")
		wantBody(t, "GET", f.request("GET", q, origin(good), ""), "4mine")
		c, err := f.dial("EIO=4&transport=websocket&sid="+sid, origin(good))
		if err != nil {
			t.Fatalf("upgrade from the allowed origin: %v", err)
		}
		c.sendText("2probe")
		c.expectText("3probe")
	})

	t.Run("RequireOrigin", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, &engineio.Options{AllowedOrigins: []string{good}, RequireOrigin: true}, nil)
		wantError(t, "no Origin", f.get("EIO=4&transport=polling"), 403, 4, "")
		wantError(t, "empty Origin", f.request("GET", "EIO=4&transport=polling", origin(""), ""), 403, 4, "")
		if _, err := f.dial("EIO=4&transport=websocket", nil); err != ws.StatusError(400) {
			t.Fatalf("websocket without Origin: %v, want status 400", err)
		}
		r := f.request("GET", "EIO=4&transport=polling", origin(good), "")
		sid := parseOpen(t, 4, r.body)["sid"].(string)
		wantError(t, "POST without Origin", f.post(f.q(4, sid), "4x"), 403, 4, "")
	})

	t.Run("empty list", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, &engineio.Options{AllowedOrigins: []string{}}, nil)
		wantError(t, "any Origin", f.request("GET", "EIO=4&transport=polling", origin(good), ""), 403, 4, "")
		if r := f.get("EIO=4&transport=polling"); r.status != 200 {
			t.Fatalf("no Origin: %v, want 200", r)
		}
	})

	t.Run("no list", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil, nil)
		if r := f.request("GET", "EIO=4&transport=polling", origin("null"), ""); r.status != 200 {
			t.Fatalf("without AllowedOrigins: %v, want 200", r)
		}
	})

	t.Run("invalid option", func(t *testing.T) {
		t.Parallel()
		for _, o := range []string{"not an origin", "*", "null", "https://good.example/path", "ftp://good.example",
			"https://good.example?x=1", "https://u@good.example", "good.example", ""} {
			if _, err := engineio.NewServer(newRecHandler(), &engineio.Options{AllowedOrigins: []string{o}}); err == nil {
				t.Errorf("NewServer accepted AllowedOrigins %q", o)
			}
		}
	})
}

// ---------------------------------------------------------------------------
// Polling

func TestPollingEcho(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, nil)
	tests := []struct {
		name       string
		eio        int
		extra      string
		post, want string
	}{
		{"v4 one", 4, "", "4hello", "4hello"},
		{"v4 three in order", 4, "", "4test1\x1e4test2\x1e4test3", "4test1\x1e4test2\x1e4test3"},
		{"v4 binary", 4, "", "4hello\x1ebAQIDBA==", "4hello\x1ebAQIDBA=="},
		{"v4 unicode", 4, "", "4héllo ✓ 😀", "4héllo ✓ 😀"},
		{"v4 empty message", 4, "", "4", "4"},
		{"v3 text", 3, "", "6:4hello2:4é3:4😀", "6:4hello2:4é3:4😀"},
		{"v3 b64", 3, "&b64=1", "6:4hello10:b4AQIDBA==", "6:4hello10:b4AQIDBA=="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := f.on(t)
			sid := f.openPolling(tt.eio, tt.extra)
			q := fmt.Sprintf("EIO=%d&transport=polling&sid=%s%s", tt.eio, sid, tt.extra)
			wantBody(t, "POST", f.post(q, tt.post), "ok")
			r := f.get(q)
			wantBody(t, "GET", r, tt.want)
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestPollingHTTPCompression(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &engineio.Options{HTTPCompression: true}, nil)
	big := "4" + strings.Repeat("a", 2000)
	tests := []struct {
		name, msg, accept string
		gzipped           bool
	}{
		{"large, gzip accepted", big, "gzip, deflate", true},
		{"large, identity", big, "identity", false},
		{"small, gzip accepted", "4small", "gzip", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := f.on(t)
			sid := f.openPolling(4, "")
			wantBody(t, "POST", f.post(f.q(4, sid), tt.msg), "ok")
			r := f.request("GET", f.q(4, sid), http.Header{"Accept-Encoding": {tt.accept}}, "")
			body := r.body
			if gz := r.header.Get("Content-Encoding") == "gzip"; gz != tt.gzipped {
				t.Fatalf("Content-Encoding %q, want gzip %v", r.header.Get("Content-Encoding"), tt.gzipped)
			} else if gz {
				zr, err := gzip.NewReader(strings.NewReader(r.body))
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(zr)
				if err != nil {
					t.Fatal(err)
				}
				body = string(b)
			}
			if r.status != 200 || body != tt.msg {
				t.Fatalf("GET = %d, %d bytes, want the %d-byte message", r.status, len(body), len(tt.msg))
			}
		})
	}
}

// TestPollingBurstReplies: engine.io-client sends everything it buffered in
// one POST. A POST of 1100 small messages (well under MaxHTTPBufferSize) to
// an echo handler queues 1100 replies before the client can poll; that is
// not a slow client, but it is over the default MaxBufferedPackets (1024).
// (Node has no such bound.) Policy question: see the report.
func TestPollingBurstReplies(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, nil)
	sid := f.openPolling(4, "")
	const n = 1100
	body := strings.TrimSuffix(strings.Repeat("4a\x1e", n), "\x1e")
	wantBody(t, "POST", f.post(f.q(4, sid), body), "ok")
	r := f.get(f.q(4, sid))
	if r.status != 200 || strings.Count(r.body, "4a") != n {
		cause := "none"
		if rec := f.h.record(sid); rec.closes.Load() > 0 {
			cause = rec.getCause().Error()
		}
		t.Fatalf("GET after a POST of %d messages: %d (%d bytes), want the %d echoes; session close cause: %s", n, r.status, len(r.body), n, cause)
	}
}

func TestPollingV3BinaryFormat(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, nil)
	octet := http.Header{"Content-Type": {"application/octet-stream"}}
	binaryPayload := []byte{0x00, 0x06, 0xff, '4', 'h', 'e', 'l', 'l', 'o', 0x01, 0x05, 0xff, 0x04, 1, 2, 3, 4}
	tests := []struct {
		name   string
		extra  string
		hdr    http.Header
		post   string
		want   string
		wantCT string
	}{
		{"text POST, binary GET", "", nil, "6:4hello10:b4AQIDBA==", string(binaryPayload), "application/octet-stream"},
		{"binary POST, binary GET", "", octet, string(binaryPayload), string(binaryPayload), "application/octet-stream"},
		{"binary POST, b64 GET", "&b64=1", octet, string(binaryPayload), "6:4hello10:b4AQIDBA==", "text/plain"},
		{"text only stays text", "", nil, "6:4hello", "6:4hello", "text/plain"},
		{"binary POST with text only", "", octet, "\x00\x06\xff4hello", "6:4hello", "text/plain"},
		{"binary POST, UTF-8 length in bytes", "", octet, "\x00\x03\xff4é", "2:4é", "text/plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := f.on(t)
			sid := f.openPolling(3, tt.extra)
			q := "EIO=3&transport=polling&sid=" + sid + tt.extra
			hdr := tt.hdr
			if hdr == nil {
				hdr = http.Header{"Content-Type": {"text/plain;charset=UTF-8"}}
			}
			wantBody(t, "POST", f.request("POST", q, hdr, tt.post), "ok")
			r := f.get(q)
			if r.status != 200 || r.body != tt.want {
				t.Fatalf("GET = %d % x, want % x", r.status, r.body, tt.want)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, tt.wantCT) {
				t.Errorf("Content-Type %q, want %s", ct, tt.wantCT)
			}
		})
	}
}

// TestPollingSessionKillers: requests that must close the session; the next
// GET for it gets 400 "Session ID unknown".
func TestPollingSessionKillers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &engineio.Options{MaxHTTPBufferSize: 1000}, nil)
	text := http.Header{"Content-Type": {"text/plain;charset=UTF-8"}}
	octet := http.Header{"Content-Type": {"application/octet-stream"}}
	tests := []struct {
		name    string
		eio     int
		hdr     http.Header
		body    io.Reader
		status  int // 0: any
		reason  string
		chunked bool
	}{
		{name: "POST over MaxHTTPBufferSize", eio: 4, hdr: text, body: strings.NewReader("4" + strings.Repeat("a", 1000)), status: 413, reason: engineio.ReasonTransportError},
		{name: "chunked POST over MaxHTTPBufferSize", eio: 4, hdr: text, body: io.MultiReader(strings.NewReader("4"), strings.NewReader(strings.Repeat("a", 1000))), status: 413, reason: engineio.ReasonTransportError},
		{name: "v3 POST over MaxHTTPBufferSize", eio: 3, hdr: text, body: strings.NewReader("1001:4" + strings.Repeat("a", 1000)), status: 413, reason: engineio.ReasonTransportError},
		{name: "v4 octet-stream", eio: 4, hdr: octet, body: strings.NewReader("4hello"), status: 400, reason: engineio.ReasonTransportError},
		{name: "v4 octet-stream with parameters", eio: 4, hdr: http.Header{"Content-Type": {"Application/Octet-Stream; x=y"}}, body: strings.NewReader("4hello"), status: 400, reason: engineio.ReasonTransportError},
		{name: "trailing separator", eio: 4, hdr: text, body: strings.NewReader("4a\x1e"), reason: engineio.ReasonParseError},
		{name: "invalid payload", eio: 4, hdr: text, body: strings.NewReader("abc"), reason: engineio.ReasonParseError},
		{name: "empty payload", eio: 4, hdr: text, body: strings.NewReader(""), reason: engineio.ReasonParseError},
		{name: "invalid UTF-8", eio: 4, hdr: text, body: strings.NewReader("4\xff\xfe"), reason: engineio.ReasonParseError},
		{name: "unknown packet type", eio: 4, hdr: text, body: strings.NewReader("4a\x1e9b"), reason: engineio.ReasonParseError},
		{name: "v4 client ping", eio: 4, hdr: text, body: strings.NewReader("2"), reason: engineio.ReasonTransportError},
		{name: "v3 client pong", eio: 3, hdr: text, body: strings.NewReader("1:3"), reason: engineio.ReasonTransportError},
		{name: "v3 invalid payload", eio: 3, hdr: text, body: strings.NewReader("abc"), reason: engineio.ReasonParseError},
		{name: "v3 length mismatch", eio: 3, hdr: text, body: strings.NewReader("7:4hello"), reason: engineio.ReasonParseError},
		{name: "v3 huge length", eio: 3, hdr: text, body: strings.NewReader("99999999999999999999:4a"), reason: engineio.ReasonParseError},
		{name: "v3 binary huge length", eio: 3, hdr: octet, body: strings.NewReader("\x01\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\xff\x04"), reason: engineio.ReasonParseError},
		{name: "v3 binary bad marker", eio: 3, hdr: octet, body: strings.NewReader("\x02\x01\xff4"), reason: engineio.ReasonParseError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := f.on(t)
			sid := f.openPolling(tt.eio, "")
			q := f.q(tt.eio, sid)
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			r, err := f.do(ctx, "POST", q, tt.hdr, tt.body)
			if err != nil {
				t.Fatalf("POST: %v", err)
			}
			if tt.status != 0 && r.status != tt.status {
				t.Fatalf("POST: %v, want status %d", r, tt.status)
			}
			if tt.status == 400 {
				wantError(t, "POST", r, 400, 3, "")
			}
			f.wantGone(tt.eio, sid)
			f.h.wantClosedWith(t, sid, tt.reason)
		})
	}

	t.Run("body of exactly MaxHTTPBufferSize", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		sid := f.openPolling(4, "")
		msg := "4" + strings.Repeat("a", 999)
		wantBody(t, "POST", f.post(f.q(4, sid), msg), "ok")
		wantBody(t, "GET", f.get(f.q(4, sid)), msg)
	})
}

// rawPost sends a POST with Content-Length n but only the first bytes of its
// body, over its own connection; the response arrives on the channel.
func (f *fixture) rawPost(query string, n int, first string) (net.Conn, <-chan response) {
	f.t.Helper()
	conn, err := net.Dial("tcp", f.hs.Listener.Addr().String())
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST %s?%s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: %d\r\n\r\n%s",
		eioPath, query, f.hs.Listener.Addr(), n, first)
	ch := make(chan response, 1)
	go func() {
		conn.SetReadDeadline(time.Now().Add(2 * waitFor))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			ch <- response{status: -1, body: err.Error()}
			return
		}
		b, _ := io.ReadAll(res.Body)
		ch <- response{status: res.StatusCode, header: res.Header, body: string(b)}
	}()
	return conn, ch
}

func TestPollingOverlap(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, nil)

	t.Run("two concurrent POSTs", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		// POST A sends half its body and waits; POST B, complete, arrives
		// while A is being read and is refused. (net/http drains B's small
		// body before answering, so B must be complete.) Whether A's
		// handler already runs when B arrives is not observable, so retry
		// with a longer head start if B won the race.
		for _, headStart := range []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond, time.Second} {
			sid := f.openPolling(4, "")
			q := f.q(4, sid)
			connA, a := f.rawPost(q, 6, "4h")
			time.Sleep(headStart)
			_, b := f.rawPost(q, 6, "4hello")
			var rb response
			select {
			case rb = <-b:
			case <-time.After(waitFor):
				t.Fatal("overlapping POST not answered")
			}
			connA.Write([]byte("ello"))
			select {
			case <-a:
			case <-time.After(waitFor):
				t.Fatal("first POST not answered")
			}
			if rb.status == 200 {
				t.Logf("head start %v: second POST ran first, retrying", headStart)
				continue
			}
			wantError(t, "overlapping POST", rb, 400, 3, "")
			f.wantGone(4, sid)
			f.h.wantClosedWith(t, sid, engineio.ReasonTransportError)
			return
		}
		t.Fatal("could not get two overlapping POSTs")
	})

	t.Run("two concurrent GETs", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		sid := f.openPolling(4, "")
		results := make(chan response, 2)
		for i := range 2 {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), waitFor)
				defer cancel()
				r, err := f.do(ctx, "GET", f.q(4, sid)+fmt.Sprintf("&t=%d", i), nil, nil)
				if err != nil {
					r = response{status: -1, body: err.Error()}
				}
				results <- r
			}()
		}
		r1, r2 := <-results, <-results
		if r1.status != 200 {
			r1, r2 = r2, r1
		}
		wantBody(t, "pending GET", r1, "1")
		wantError(t, "overlapping GET", r2, 400, 3, "")
		f.wantGone(4, sid)
		f.h.wantClosedWith(t, sid, engineio.ReasonTransportError)
	})
}

func TestPollingClientClose(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, nil)
	for _, eio := range []int{3, 4} {
		close, noop := "1", "6"
		if eio == 3 {
			close, noop = "1:1", "1:6"
		}
		t.Run(fmt.Sprintf("v%d with pending GET", eio), func(t *testing.T) {
			t.Parallel()
			f := f.on(t)
			sid := f.openPolling(eio, "")
			got := make(chan response, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), waitFor)
				defer cancel()
				r, err := f.do(ctx, "GET", f.q(eio, sid), nil, nil)
				if err != nil {
					r = response{status: -1, body: err.Error()}
				}
				got <- r
			}()
			// Whether the POST arrives before or after the GET is pending,
			// the GET gets a NOOP.
			wantBody(t, "POST close", f.post(f.q(eio, sid), close), "ok")
			wantBody(t, "GET", <-got, noop)
			f.wantGone(eio, sid)
			f.h.wantClosedWith(t, sid, engineio.ReasonTransportClose)
		})
		t.Run(fmt.Sprintf("v%d without pending GET", eio), func(t *testing.T) {
			t.Parallel()
			f := f.on(t)
			sid := f.openPolling(eio, "")
			wantBody(t, "POST close", f.post(f.q(eio, sid), close), "ok")
			f.h.wantClosedWith(t, sid, engineio.ReasonTransportClose)
			wantBody(t, "GET after close", f.get(f.q(eio, sid)), noop)
			f.wantGone(eio, sid)
			wantError(t, "POST after close", f.post(f.q(eio, sid), "4x"), 400, 1, "")
		})
	}
}

func TestPollingServerClose(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, nil)
	tests := []struct {
		eio  int
		want string
	}{
		{4, "4a\x1e4b\x1e1"},
		{3, "2:4a2:4b1:1"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("v%d queued then close", tt.eio), func(t *testing.T) {
			t.Parallel()
			f := f.on(t)
			sid := f.openPolling(tt.eio, "")
			s := f.h.session(t, sid)
			if err := s.Send(engineio.Text("a"), engineio.Text("b")); err != nil {
				t.Fatal(err)
			}
			s.Close("bye")
			f.h.wantClosedWith(t, sid, engineio.ReasonForcedClose)
			if err := s.Send(engineio.Text("c")); !errors.Is(err, engineio.ErrClosed) {
				t.Errorf("Send after Close = %v, want ErrClosed", err)
			}
			if got := f.pollUntilClose(tt.eio, sid); got != tt.want {
				t.Fatalf("polls after server close = %q, want %q", got, tt.want)
			}
			f.wantGone(tt.eio, sid)
		})
	}
	t.Run("pending GET", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		sid := f.openPolling(4, "")
		got := make(chan response, 1)
		go func() {
			r, err := f.do(context.Background(), "GET", f.q(4, sid), nil, nil)
			if err != nil {
				r = response{status: -1, body: err.Error()}
			}
			got <- r
		}()
		f.h.session(t, sid).Close("bye")
		select {
		case r := <-got:
			wantBody(t, "pending GET", r, "1")
		case <-time.After(waitFor):
			t.Fatal("pending GET not answered")
		}
		f.wantGone(4, sid)
	})
	t.Run("last poll never comes", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, &engineio.Options{PingInterval: time.Second, PingTimeout: 50 * time.Millisecond}, nil)
		sid := f.openPolling(4, "")
		f.h.session(t, sid).Close("bye")
		if !eventually(waitFor, func() bool { return f.srv.SessionCount() == 0 }) {
			t.Fatalf("closed session still counted after PingTimeout: %d", f.srv.SessionCount())
		}
		f.wantGone(4, sid)
	})
}

// pollUntilClose polls until a payload ends with the CLOSE packet and
// returns the payloads joined as one. The CLOSE may come in the payload of
// the queued data or in a payload of its own.
func (f *fixture) pollUntilClose(eio int, sid string) string {
	f.t.Helper()
	sep, closePkt := "\x1e", "1"
	if eio == 3 {
		sep, closePkt = "", "1:1"
	}
	var parts []string
	for range 3 {
		r := f.get(f.q(eio, sid))
		if r.status != 200 {
			f.t.Fatalf("poll after close: %v (so far %q)", r, parts)
		}
		parts = append(parts, r.body)
		if r.body == closePkt || strings.HasSuffix(r.body, sep+closePkt) {
			break
		}
	}
	return strings.Join(parts, sep)
}

func TestPollingAbortedGET(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, nil)
	sid := f.openPolling(4, "")
	f.abortedGET(f.q(4, sid))
	f.h.wantClosedWith(t, sid, engineio.ReasonTransportError)
	f.wantGone(4, sid)
}

// abortedGET sends a GET on its own connection and closes the connection
// at once: the server reads the request, then sees the client gone.
func (f *fixture) abortedGET(query string) {
	f.t.Helper()
	conn, err := net.Dial("tcp", f.hs.Listener.Addr().String())
	if err != nil {
		f.t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET %s?%s HTTP/1.1\r\nHost: %s\r\n\r\n", eioPath, query, f.hs.Listener.Addr())
	conn.Close()
}

func TestPollingHeartbeat(t *testing.T) {
	t.Parallel()
	t.Run("v4", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, &engineio.Options{PingInterval: 50 * time.Millisecond, PingTimeout: 500 * time.Millisecond}, nil)
		sid := f.openPolling(4, "")
		for range 3 {
			wantBody(t, "GET", f.get(f.q(4, sid)), "2")
			wantBody(t, "POST pong", f.post(f.q(4, sid), "3"), "ok")
		}
		// Stop answering: closed about PingInterval+PingTimeout later.
		start := time.Now()
		f.h.wantClosedWith(t, sid, engineio.ReasonPingTimeout)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("ping timeout after %v", d)
		}
		f.wantGone(4, sid)
	})
	t.Run("v3", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, &engineio.Options{PingInterval: 50 * time.Millisecond, PingTimeout: 500 * time.Millisecond}, nil)
		sid := f.openPolling(3, "")
		for range 3 {
			wantBody(t, "POST ping", f.post(f.q(3, sid), "1:2"), "ok")
			wantBody(t, "GET", f.get(f.q(3, sid)), "1:3")
		}
		f.h.wantClosedWith(t, sid, engineio.ReasonPingTimeout)
		wantError(t, "POST after timeout", f.post(f.q(3, sid), "1:2"), 400, 1, "")
	})
}

// ---------------------------------------------------------------------------
// WebSocket

func TestWebSocketEcho(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, nil)
	t.Run("v4", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		c, _ := f.openWebSocket(4)
		c.sendText("4hello")
		c.expectText("4hello")
		c.sendText("4héllo ✓ 😀")
		c.expectText("4héllo ✓ 😀")
		c.send(ws.OpBinary, []byte{1, 2, 3, 4})
		c.expectBinary([]byte{1, 2, 3, 4})
		c.send(ws.OpBinary, nil)
		c.expectBinary([]byte{})
		big := strings.Repeat("x", 200_000)
		c.sendText("4" + big)
		c.expectText("4" + big)
	})
	t.Run("v3", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		c, _ := f.openWebSocket(3)
		c.sendText("4hello")
		c.expectText("4hello")
		c.send(ws.OpBinary, []byte{4, 1, 2, 3, 4})
		c.expectBinary([]byte{4, 1, 2, 3, 4})
		c.sendText("2probe") // v3 client ping
		c.expectText("3probe")
	})
	t.Run("fragmented", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		c, _ := f.openWebSocket(4)
		c.write(rawFrame(false, 0, byte(ws.OpText), true, []byte("4hé"[:3])))
		c.write(rawFrame(false, 0, byte(ws.OpContinuation), true, []byte("4hé"[3:]))) // splits é
		c.write(masked(byte(ws.OpPing), []byte("mid")))                               // control frame in between
		c.write(rawFrame(true, 0, byte(ws.OpContinuation), true, []byte("llo")))
		f1 := c.readFrame()
		if f1.Header.OpCode != ws.OpPong || string(f1.Payload) != "mid" {
			t.Fatalf("got %v %q, want pong \"mid\"", f1.Header.OpCode, f1.Payload)
		}
		c.expectText("4héllo")
		c.write(rawFrame(false, 0, byte(ws.OpBinary), true, []byte{1, 2}))
		c.write(rawFrame(false, 0, byte(ws.OpContinuation), true, nil))
		c.write(rawFrame(true, 0, byte(ws.OpContinuation), true, []byte{3}))
		c.expectBinary([]byte{1, 2, 3})
	})
	t.Run("ping frame", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		c, _ := f.openWebSocket(4)
		c.write(masked(byte(ws.OpPing), []byte("xyz")))
		fr := c.readFrame()
		if fr.Header.OpCode != ws.OpPong || string(fr.Payload) != "xyz" {
			t.Fatalf("got %v %q, want pong \"xyz\"", fr.Header.OpCode, fr.Payload)
		}
		c.write(masked(byte(ws.OpPong), []byte("unsolicited"))) // ignored
		c.sendText("4still")
		c.expectText("4still")
	})
	t.Run("client close frame", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		c, sid := f.openWebSocket(4)
		c.write(masked(byte(ws.OpClose), closeBody(1000, "bye")))
		res := c.wantClosed(waitFor)
		if res.gotClose && res.code != 1000 {
			t.Errorf("got %v, want close 1000 or none", res)
		}
		f.h.wantClosedWith(t, sid, engineio.ReasonTransportClose)
	})
}

// TestWebSocketViolations sends one bad thing on an open v4 (or v3) websocket
// session and checks the close code (RFC 6455, and what the ws 8.x package sends).
func TestWebSocketViolations(t *testing.T) {
	t.Parallel()
	const max = 1000
	f := newFixture(t, &engineio.Options{MaxHTTPBufferSize: max}, nil)
	var (
		text   = byte(ws.OpText)
		bin    = byte(ws.OpBinary)
		cont   = byte(ws.OpContinuation)
		closeO = byte(ws.OpClose)
		ping   = byte(ws.OpPing)
	)
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	hugeHeader := func(n uint64) []byte {
		b := []byte{0x80 | text, 0x80 | 127}
		b = binary.BigEndian.AppendUint64(b, n)
		return append(b, 1, 2, 3, 4) // mask key, then nothing
	}
	tests := []struct {
		name   string
		eio    int
		send   []byte
		codes  []ws.StatusCode // acceptable close codes; nil: closed, any code
		reason string          // the session's close reason, if checked
	}{
		{name: "unmasked frame", send: rawFrame(true, 0, text, false, []byte("4hello")), codes: []ws.StatusCode{1002}, reason: engineio.ReasonParseError},
		{name: "RSV1 without extension", send: rawFrame(true, 4, text, true, []byte("4hello")), codes: []ws.StatusCode{1002}},
		{name: "RSV3", send: rawFrame(true, 1, text, true, []byte("4hello")), codes: []ws.StatusCode{1002}},
		{name: "reserved data opcode", send: rawFrame(true, 0, 0x3, true, []byte("4hello")), codes: []ws.StatusCode{1002}},
		{name: "reserved control opcode", send: rawFrame(true, 0, 0xb, true, nil), codes: []ws.StatusCode{1002}},
		{name: "fragmented ping", send: rawFrame(false, 0, ping, true, []byte("x")), codes: []ws.StatusCode{1002}},
		{name: "ping over 125 bytes", send: masked(ping, bytes.Repeat([]byte("x"), 126)), codes: []ws.StatusCode{1002}},
		{name: "continuation without start", send: masked(cont, []byte("4hello")), codes: []ws.StatusCode{1002}},
		{name: "new message inside fragmented", send: cat(rawFrame(false, 0, text, true, []byte("4a")), masked(text, []byte("4b"))), codes: []ws.StatusCode{1002}},
		{name: "one-byte close payload", send: masked(closeO, []byte{3}), codes: []ws.StatusCode{1002}},
		{name: "close code 1005", send: masked(closeO, closeBody(1005, "")), codes: []ws.StatusCode{1002}},
		{name: "close code 999", send: masked(closeO, closeBody(999, "")), codes: []ws.StatusCode{1002}},
		{name: "close reason invalid UTF-8", send: masked(closeO, closeBody(1000, "\xff")), codes: []ws.StatusCode{1007}},
		{name: "invalid UTF-8 text", send: masked(text, []byte("4\xff\xfe")), codes: []ws.StatusCode{1007}, reason: engineio.ReasonParseError},
		{name: "invalid UTF-8 across fragments", send: cat(rawFrame(false, 0, text, true, []byte("4\xe2\x82")), rawFrame(true, 0, cont, true, []byte("x"))), codes: []ws.StatusCode{1007}},
		{name: "truncated UTF-8 at end", send: masked(text, []byte("4\xe2\x82")), codes: []ws.StatusCode{1007}},
		{name: "message over MaxHTTPBufferSize", send: masked(text, bytes.Repeat([]byte("4"), max+1)), codes: []ws.StatusCode{1009}, reason: engineio.ReasonParseError},
		{name: "fragments over MaxHTTPBufferSize", send: cat(rawFrame(false, 0, bin, true, make([]byte, 600)), rawFrame(true, 0, cont, true, make([]byte, 600))), codes: []ws.StatusCode{1009}},
		{name: "declared 1 GiB, nothing sent", send: hugeHeader(1 << 30), codes: []ws.StatusCode{1009}},
		{name: "64-bit length with MSB set", send: hugeHeader(1 << 63), codes: []ws.StatusCode{1002, 1009}},
		{name: "64-bit length over 2^53-1", send: hugeHeader(1 << 60), codes: []ws.StatusCode{1009}},
		{name: "invalid packet abc", send: masked(text, []byte("abc")), reason: engineio.ReasonParseError},
		{name: "empty text frame", send: masked(text, nil), reason: engineio.ReasonParseError},
		{name: "v4 client ping", send: masked(text, []byte("2")), reason: engineio.ReasonTransportError},
		{name: "v4 client ping probe", send: masked(text, []byte("2probe")), reason: engineio.ReasonTransportError},
		{name: "v3 client pong", eio: 3, send: masked(text, []byte("3")), reason: engineio.ReasonTransportError},
		{name: "v3 empty binary frame", eio: 3, send: masked(bin, nil), reason: engineio.ReasonParseError},
		{name: "v3 binary frame bad type", eio: 3, send: masked(bin, []byte{9, 1}), reason: engineio.ReasonParseError},
		{name: "CLOSE packet", send: masked(text, []byte("1")), reason: engineio.ReasonTransportClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := f.on(t)
			eio := tt.eio
			if eio == 0 {
				eio = 4
			}
			c, sid := f.openWebSocket(eio)
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			c.write(tt.send)
			start := time.Now()
			res := c.wantClosed(waitFor)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("connection closed after %v", d)
			}
			if tt.codes != nil && (!res.gotClose || !slices.Contains(tt.codes, res.code)) {
				t.Errorf("got %v, want close frame %v", res, tt.codes)
			}
			if len(res.before) != 0 {
				t.Errorf("frames before close: %q", res.before)
			}
			if tt.reason != "" {
				f.h.wantClosedWith(t, sid, tt.reason)
			} else {
				f.h.waitClosed(t, sid)
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if d := after.TotalAlloc - before.TotalAlloc; d > 256<<20 {
				t.Errorf("%d MiB allocated while handling the frame", d>>20)
			}
		})
	}
}

// TestWebSocketOversizeFrameSent: the client sends a whole oversize message
// (as a browser would). It must still see the 1009 close frame, which it
// cannot if the server resets the connection by closing it with unread data.
func TestWebSocketOversizeFrameSent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &engineio.Options{MaxHTTPBufferSize: 1000}, nil)
	for i := range 5 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			f := f.on(t)
			c, _ := f.openWebSocket(4)
			go func() {
				c.conn.SetWriteDeadline(time.Now().Add(waitFor))
				c.conn.Write(masked(byte(ws.OpText), bytes.Repeat([]byte("4"), 256<<10)))
			}()
			res := c.wantClosed(waitFor)
			if !res.gotClose || res.code != 1009 {
				t.Fatalf("got %v, want close frame 1009", res)
			}
		})
	}
}

// TestWebSocketCloseDeliversPendingData: a protocol violation arrives while
// the server is writing a large message to a client that reads slowly. The
// client must get the whole message and then the close frame (ws queues the
// close behind pending sends, then half-closes), not a reset connection
// that drops what the server had written but the client had not yet read.
func TestWebSocketCloseDeliversPendingData(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &engineio.Options{MaxBufferedBytes: 64 << 20}, nil)
	// A small receive buffer, so that most of the message stays in the
	// server's send queue while the client does not read.
	d := ws.Dialer{Timeout: waitFor, NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := new(net.Dialer).DialContext(ctx, network, addr)
		if err == nil {
			conn.(*net.TCPConn).SetReadBuffer(32 << 10)
		}
		return conn, err
	}}
	conn, br, _, err := d.Dial(context.Background(), f.wsURL("EIO=4&transport=websocket"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if br == nil {
		br = bufio.NewReader(conn)
	}
	c := &wsClient{t: t, conn: conn, br: br}
	sid := parseOpen(t, 4, c.readText())["sid"].(string)

	const size = 16 << 20 // more than the server's send buffer (4 MiB max here)
	f.h.session(t, sid).Send(engineio.Message{Binary: true, Data: make([]byte, size)})
	time.Sleep(100 * time.Millisecond)                               // the flusher is now blocked in its write
	c.write(rawFrame(true, 0, byte(ws.OpText), false, []byte("4x"))) // unmasked: 1002
	f.h.wantClosedWith(t, sid, engineio.ReasonParseError)
	time.Sleep(100 * time.Millisecond) // the server is closing; the client starts reading only now
	res := c.wantClosed(10 * time.Second)
	if len(res.before) != 1 || len(res.before[0]) != size || !res.gotClose || res.code != 1002 {
		t.Fatalf("client got %d complete messages then %v, want the %d-byte message then close 1002", len(res.before), res, size)
	}
}

func TestTransportsOption(t *testing.T) {
	t.Parallel()
	t.Run("websocket only", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, &engineio.Options{Transports: []string{engineio.WebSocket}}, nil)
		wantError(t, "polling handshake", f.get("EIO=4&transport=polling"), 400, 0, "Transport unknown")
		f.openWebSocket(4)
	})
	t.Run("polling only", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, &engineio.Options{Transports: []string{engineio.Polling}}, nil)
		r := f.get("EIO=4&transport=polling")
		if up := parseOpen(t, 4, r.body)["upgrades"]; fmt.Sprint(up) != "[]" {
			t.Errorf("upgrades = %v, want []", up)
		}
		sid := parseOpen(t, 4, r.body)["sid"].(string)
		for _, q := range []string{"EIO=4&transport=websocket", "EIO=4&transport=websocket&sid=" + sid} {
			if _, err := f.dial(q, nil); err != ws.StatusError(400) {
				t.Errorf("dial ?%s: %v, want status 400", q, err)
			}
		}
	})
	t.Run("upgrades disabled", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, &engineio.Options{DisableUpgrades: true}, nil)
		r := f.get("EIO=4&transport=polling")
		m := parseOpen(t, 4, r.body)
		if fmt.Sprint(m["upgrades"]) != "[]" {
			t.Errorf("upgrades = %v, want []", m["upgrades"])
		}
		if _, err := f.dial("EIO=4&transport=websocket&sid="+m["sid"].(string), nil); err != ws.StatusError(400) {
			t.Errorf("upgrade: %v, want status 400", err)
		}
		f.openWebSocket(4)
	})
	t.Run("invalid", func(t *testing.T) {
		t.Parallel()
		for _, tr := range [][]string{{}, {"flash"}, {"polling", "__proto__"}} {
			if _, err := engineio.NewServer(newRecHandler(), &engineio.Options{Transports: tr}); err == nil {
				t.Errorf("NewServer accepted Transports %q", tr)
			}
		}
	})
}

func TestWebSocketHeartbeat(t *testing.T) {
	t.Parallel()
	opts := &engineio.Options{PingInterval: 50 * time.Millisecond, PingTimeout: 500 * time.Millisecond}
	t.Run("v4", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, opts, nil)
		c, sid := f.openWebSocket(4)
		for range 3 {
			c.expectText("2")
			c.sendText("3")
		}
		c.expectText("2")
		res := c.wantClosed(waitFor)
		f.h.wantClosedWith(t, sid, engineio.ReasonPingTimeout)
		if len(res.before) != 0 {
			t.Errorf("frames before close: %q", res.before)
		}
	})
	t.Run("v3", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, opts, nil)
		c, sid := f.openWebSocket(3)
		for range 3 {
			c.sendText("2")
			c.expectText("3")
		}
		res := c.wantClosed(waitFor)
		f.h.wantClosedWith(t, sid, engineio.ReasonPingTimeout)
		if len(res.before) != 0 {
			t.Errorf("v3 server sent %q (it must not ping)", res.before)
		}
	})
}

// ---------------------------------------------------------------------------
// Upgrade

func TestUpgrade(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, nil)
	short := newFixture(t, &engineio.Options{UpgradeTimeout: 200 * time.Millisecond}, nil) // for the timeouts
	upQ := func(eio int, sid string) string { return fmt.Sprintf("EIO=%d&transport=websocket&sid=%s", eio, sid) }

	for _, eio := range []int{3, 4} {
		t.Run(fmt.Sprintf("v%d complete", eio), func(t *testing.T) {
			t.Parallel()
			f := f.on(t)
			sid := f.openPolling(eio, "")
			noop := map[int]string{3: "1:6", 4: "6"}[eio]
			c := f.mustDial(upQ(eio, sid))
			c.sendText("2probe")
			c.expectText("3probe")
			wantBody(t, "GET during upgrade", f.get(f.q(eio, sid)), noop)
			s := f.h.session(t, sid)
			s.Send(engineio.Text("queued"))
			// The message queued before UPGRADE may go out on a poll or on
			// the websocket, never lost. Here nobody polls: websocket.
			c.sendText("5")
			c.expectText("4queued")
			c.sendText("4hello")
			c.expectText("4hello")
			if tr := s.Transport(); tr != engineio.WebSocket {
				t.Errorf("Transport() = %q after upgrade", tr)
			}
			wantError(t, "GET after upgrade", f.get(f.q(eio, sid)), 400, 3, "")
			wantError(t, "POST after upgrade", f.post(f.q(eio, sid), "4x"), 400, 3, "")
			c2 := f.mustDial(upQ(eio, sid))
			c2.wantClosed(waitFor)
			c.sendText("4again")
			c.expectText("4again")
		})
	}

	t.Run("probe misuse", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		for _, first := range []string{"4hello", "2", "3probe", "1", "2probex"} {
			sid := f.openPolling(4, "")
			c := f.mustDial(upQ(4, sid))
			c.sendText(first)
			c.wantClosed(waitFor)
			// The polling session goes on; the probe's message was not
			// delivered.
			wantBody(t, "POST after bad probe "+first, f.post(f.q(4, sid), "4poll"), "ok")
			wantBody(t, "GET after bad probe "+first, f.get(f.q(4, sid)), "4poll")
			// And a proper upgrade still works.
			c2 := f.mustDial(upQ(4, sid))
			c2.sendText("2probe")
			c2.expectText("3probe")
			c2.sendText("5")
			c2.sendText("4ws")
			c2.expectText("4ws")
		}
	})

	t.Run("binary probe", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		sid := f.openPolling(4, "")
		c := f.mustDial(upQ(4, sid))
		c.send(ws.OpBinary, []byte("2probe"))
		c.wantClosed(waitFor)
		wantBody(t, "POST", f.post(f.q(4, sid), "4poll"), "ok")
		wantBody(t, "GET", f.get(f.q(4, sid)), "4poll")
	})

	for _, probed := range []bool{false, true} {
		t.Run(fmt.Sprintf("timeout probed=%v", probed), func(t *testing.T) {
			t.Parallel()
			f := short.on(t)
			sid := f.openPolling(4, "")
			c := f.mustDial(upQ(4, sid))
			if probed {
				c.sendText("2probe")
				c.expectText("3probe")
			}
			start := time.Now()
			c.wantClosed(waitFor)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("probe closed after %v, UpgradeTimeout is 200ms", d)
			}
			wantBody(t, "POST", f.post(f.q(4, sid), "4poll"), "ok")
			wantBody(t, "GET", f.get(f.q(4, sid)), "4poll")
			if tr := f.h.session(t, sid).Transport(); tr != engineio.Polling {
				t.Errorf("Transport() = %q", tr)
			}
		})
	}

	t.Run("two probes", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		sid := f.openPolling(4, "")
		c1 := f.mustDial(upQ(4, sid))
		c1.sendText("2probe")
		c1.expectText("3probe")
		c2 := f.mustDial(upQ(4, sid))
		c2.wantClosed(waitFor)
		c1.sendText("5")
		c1.sendText("4one")
		c1.expectText("4one")
	})

	t.Run("upgrade of a websocket session", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		c1, sid := f.openWebSocket(4)
		c2 := f.mustDial(upQ(4, sid))
		c2.wantClosed(waitFor)
		c1.sendText("4still")
		c1.expectText("4still")
	})

	t.Run("upgrade of a closed session", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		sid := f.openPolling(4, "")
		f.h.session(t, sid).Close("bye") // tombstone kept for one last poll
		c := f.mustDial(upQ(4, sid))
		c.wantClosed(waitFor)
	})

	t.Run("pending poll during upgrade", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		sid := f.openPolling(4, "")
		got := make(chan response, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			r, err := f.do(ctx, "GET", f.q(4, sid), nil, nil)
			if err != nil {
				r = response{status: -1, body: err.Error()}
			}
			got <- r
		}()
		time.Sleep(20 * time.Millisecond) // let the GET become pending
		c := f.mustDial(upQ(4, sid))
		c.sendText("2probe")
		c.expectText("3probe")
		select {
		case r := <-got:
			wantBody(t, "pending GET", r, "6")
		case <-time.After(waitFor):
			t.Fatal("pending GET not released by the probe")
		}
		c.sendText("5")
		c.sendText("4x")
		c.expectText("4x")
	})
}

// ---------------------------------------------------------------------------
// Session API

func TestSessionClose(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, nil)
	t.Run("websocket", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		c, sid := f.openWebSocket(4)
		s := f.h.session(t, sid)
		ctx := s.Context()
		if ctx.Err() != nil {
			t.Fatal("context done before close")
		}
		s.Send(engineio.Text("a"))
		s.Send(engineio.Message{Binary: true, Data: []byte{9}})
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() { defer wg.Done(); s.Close("bye") }()
		}
		wg.Wait()
		res := c.wantClosed(waitFor)
		if !slices.Equal(res.before, []string{"4a", "\x09"}) || !res.gotClose || res.code != 1000 {
			t.Errorf("client saw %q then %v, want 4a, binary 09, close 1000", res.before, res)
		}
		select {
		case <-ctx.Done():
		case <-time.After(waitFor):
			t.Fatal("context not cancelled at close")
		}
		if r := engineio.CloseReason(context.Cause(ctx)); r != engineio.ReasonForcedClose {
			t.Errorf("context cause reason %q", r)
		}
		err := s.Send(engineio.Text("late"))
		if !errors.Is(err, engineio.ErrClosed) || engineio.CloseReason(err) != engineio.ReasonForcedClose {
			t.Errorf("Send after close = %v, want ErrClosed with reason forced close", err)
		}
		f.h.wantClosedWith(t, sid, engineio.ReasonForcedClose)
	})
	t.Run("client goes away", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		c, sid := f.openWebSocket(4)
		s := f.h.session(t, sid)
		c.conn.Close()
		f.h.wantClosedWith(t, sid, engineio.ReasonTransportClose)
		if err := s.Send(engineio.Text("x")); !errors.Is(err, engineio.ErrClosed) {
			t.Errorf("Send = %v, want ErrClosed", err)
		}
		if s.Context().Err() == nil {
			t.Error("context not cancelled")
		}
	})
}

// sendUntilClosed calls Send until it fails, checking that no call blocks.
func sendUntilClosed(t *testing.T, s *engineio.Session, m engineio.Message, max int) (sent int, err error) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for sent = 0; sent < max; sent++ {
			if err = s.Send(m); err != nil {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal("Send blocked")
	}
	return sent, err
}

func TestOutboxOverflow(t *testing.T) {
	t.Parallel()
	t.Run("polling packets", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, &engineio.Options{MaxBufferedPackets: 8}, nil)
		sid := f.openPolling(4, "")
		s := f.h.session(t, sid)
		sent, err := sendUntilClosed(t, s, engineio.Text("x"), 100)
		if sent != 8 {
			t.Errorf("%d messages queued before overflow, want 8", sent)
		}
		if !errors.Is(err, engineio.ErrClosed) || engineio.CloseReason(err) != engineio.ReasonSlowClient {
			t.Fatalf("Send = %v, want ErrClosed with reason slow client", err)
		}
		if r := engineio.CloseReason(context.Cause(s.Context())); r != engineio.ReasonSlowClient {
			t.Errorf("context cause reason %q", r)
		}
		f.h.wantClosedWith(t, sid, engineio.ReasonSlowClient)
		f.wantGone(4, sid)
	})
	t.Run("polling one batch over the bound", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, &engineio.Options{MaxBufferedPackets: 8}, nil)
		sid := f.openPolling(4, "")
		s := f.h.session(t, sid)
		batch := make([]engineio.Message, 9)
		for i := range batch {
			batch[i] = engineio.Text("x")
		}
		if err := s.Send(batch...); engineio.CloseReason(err) != engineio.ReasonSlowClient {
			t.Fatalf("Send of 9 = %v, want slow client", err)
		}
		f.wantGone(4, sid)
	})
	t.Run("polling bytes", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, &engineio.Options{MaxBufferedBytes: 10_000}, nil)
		sid := f.openPolling(4, "")
		s := f.h.session(t, sid)
		sent, err := sendUntilClosed(t, s, engineio.Text(strings.Repeat("x", 999)), 100)
		if sent != 10 || engineio.CloseReason(err) != engineio.ReasonSlowClient {
			t.Fatalf("sent %d then %v, want 10 then slow client", sent, err)
		}
		f.wantGone(4, sid)
	})
	t.Run("websocket reader stalled", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, &engineio.Options{MaxBufferedBytes: 1 << 20}, nil)
		c, sid := f.openWebSocket(4)
		s := f.h.session(t, sid)
		// The client never reads: the socket buffers fill, then the outbox.
		_, err := sendUntilClosed(t, s, engineio.Message{Binary: true, Data: make([]byte, 64<<10)}, 100_000)
		if engineio.CloseReason(err) != engineio.ReasonSlowClient {
			t.Fatalf("Send = %v, want slow client", err)
		}
		f.h.wantClosedWith(t, sid, engineio.ReasonSlowClient)
		// The connection is closed (after whatever was in flight).
		c.conn.SetReadDeadline(time.Now().Add(waitFor))
		if _, err := io.Copy(io.Discard, c.conn); isTimeout(err) {
			t.Fatal("connection not closed")
		}
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestHandlerFuncRead(t *testing.T) {
	t.Parallel()
	got := make(chan string, 16)
	h := engineio.HandlerFunc(func(s *engineio.Session) {
		for {
			m, err := s.Read(context.Background())
			if err != nil {
				got <- "err:" + engineio.CloseReason(err)
				return
			}
			got <- string(m.Data)
			if string(m.Data) == "quit" {
				return // closes the session
			}
		}
	})
	srv, err := engineio.NewServer(h, &engineio.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	f := &fixture{t: t, srv: srv, hs: hs, h: newRecHandler(), c: hs.Client()}

	c, _ := f.openWebSocket(4)
	c.sendText("4a")
	c.sendText("4b")
	c.sendText("1")
	for _, want := range []string{"a", "b", "err:" + engineio.ReasonTransportClose} {
		select {
		case g := <-got:
			if g != want {
				t.Fatalf("Read = %q, want %q", g, want)
			}
		case <-time.After(waitFor):
			t.Fatalf("no Read result, want %q", want)
		}
	}
	c.wantClosed(waitFor)

	c2, _ := f.openWebSocket(4)
	c2.sendText("4quit")
	<-got
	res := c2.wantClosed(waitFor)
	if !res.gotClose || res.code != 1000 {
		t.Errorf("handler return: %v, want close 1000", res)
	}
}

// ---------------------------------------------------------------------------
// Shutdown

func TestShutdown(t *testing.T) {
	t.Parallel()
	t.Run("websocket flushed then closed", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil, nil)
		c, sid := f.openWebSocket(4)
		s := f.h.session(t, sid)
		for i := range 50 {
			s.Send(engineio.Text(strconv.Itoa(i)))
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := f.srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if n := f.srv.SessionCount(); n != 0 {
			t.Errorf("SessionCount() = %d after Shutdown", n)
		}
		res := c.wantClosed(waitFor)
		if len(res.before) != 50 || res.before[49] != "449" || !res.gotClose || res.code != 1000 {
			t.Errorf("client saw %d messages (%q…) then %v, want 50 messages and close 1000", len(res.before), res.before[:min(3, len(res.before))], res)
		}
		f.h.wantClosedWith(t, sid, engineio.ReasonShutdown)
	})
	t.Run("polling pending GET", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil, nil)
		sid := f.openPolling(4, "")
		got := make(chan response, 1)
		go func() {
			r, err := f.do(context.Background(), "GET", f.q(4, sid), nil, nil)
			if err != nil {
				r = response{status: -1, body: err.Error()}
			}
			got <- r
		}()
		time.Sleep(20 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := f.srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		wantBody(t, "pending GET", <-got, "1")
	})
	t.Run("polling last poll", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil, nil)
		sid := f.openPolling(4, "")
		f.h.session(t, sid).Send(engineio.Text("last"))
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			done <- f.srv.Shutdown(ctx)
		}()
		f.h.wantClosedWith(t, sid, engineio.ReasonShutdown)
		if got := f.pollUntilClose(4, sid); got != "4last\x1e1" {
			t.Fatalf("polls after Shutdown = %q, want %q", got, "4last\x1e1")
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		case <-time.After(waitFor):
			t.Fatal("Shutdown did not return after the last poll")
		}
		wantError(t, "handshake after Shutdown", f.get("EIO=4&transport=polling"), 400, 3, "")
		if _, err := f.dial("EIO=4&transport=websocket", nil); err != ws.StatusError(400) {
			t.Errorf("websocket handshake after Shutdown: %v, want 400", err)
		}
	})
	t.Run("polling closed by the client", func(t *testing.T) {
		t.Parallel()
		// The client's CLOSE by POST, with no poll pending, leaves the
		// session for one PingTimeout to answer a racing poll with NOOP;
		// nothing is left to deliver, so Shutdown does not wait for it.
		f := newFixture(t, nil, nil) // PingTimeout 5s, more than the deadline below
		sid := f.openPolling(4, "")
		wantBody(t, "client CLOSE", f.post(f.q(4, sid), "1"), "ok")
		f.h.wantClosedWith(t, sid, engineio.ReasonTransportClose)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := f.srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown with a session the client closed: %v", err)
		}
	})
	t.Run("waits for OnClose", func(t *testing.T) {
		t.Parallel()
		h := newRecHandler()
		var finished atomic.Int32
		h.onClose = func(*engineio.Session, error) {
			time.Sleep(100 * time.Millisecond)
			finished.Add(1)
		}
		f := newFixture(t, nil, h)
		f.openWebSocket(4)
		f.openWebSocket(3)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := f.srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if n := finished.Load(); n != 2 {
			t.Errorf("Shutdown returned with %d of 2 OnClose calls finished", n)
		}
	})
	t.Run("slow websocket reader", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil, nil) // write deadline PingInterval+PingTimeout = 15s
		c, sid := f.openWebSocket(4)
		s := f.h.session(t, sid)
		// More than the socket buffers hold; the client does not read.
		for range 200 {
			if err := s.Send(engineio.Message{Binary: true, Data: make([]byte, 64<<10)}); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := f.srv.Shutdown(ctx)
		if err == nil {
			t.Errorf("Shutdown returned nil after %v while 12 MiB were still being written to a client that does not read", time.Since(start))
		}
		// Once ctx has ended, Shutdown "drops what remains": the client,
		// which starts reading only now, must not get all 12 MiB and a
		// close frame.
		time.Sleep(500 * time.Millisecond)
		res := c.wantClosed(waitFor)
		if len(res.before) == 200 && res.gotClose {
			t.Errorf("all 200 queued messages and a close frame were written after Shutdown returned")
		}
	})
}

// on returns f reporting to t (a subtest).
func (f *fixture) on(t testing.TB) *fixture {
	g := *f
	g.t = t
	return &g
}

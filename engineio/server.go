package engineio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash/maphash"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	errHeartbeatDirection = errors.New("invalid heartbeat direction")
	errPollOverlap        = errors.New("overlapping polling requests")
	errPollAborted        = errors.New("poll connection closed prematurely")
	errPayloadTooLarge    = errors.New("payload too large")
	errBadContentType     = errors.New("binary content type not allowed")
)

// Server is an Engine.IO server: an http.Handler serving protocol v3 and v4
// over polling and websocket on Options.Path.
//
// Concurrency: all methods may be called concurrently. Handler callbacks
// of one session are serialised (see Handler).
type Server struct {
	opts    *Options
	handler Handler
	log     *slog.Logger

	hb        heartbeats // deadlines of every session's heartbeat
	seed      maphash.Seed
	shards    [sessionShards]sessionShard
	count     atomic.Int64 // registered sessions
	callbacks atomic.Int64 // OnClose calls not yet returned
	closing   atomic.Bool
	drained   chan struct{} // signalled when count drops while closing

	// testPoller, when set (by tests), parks this server's websockets
	// instead of the process-wide poller.
	testPoller *poller
}

// poller returns the poller that parks the server's websockets, or nil.
func (s *Server) poller() *poller {
	if s.testPoller != nil {
		return s.testPoller
	}
	return getPoller()
}

const sessionShards = 32

type sessionShard struct {
	mu    sync.RWMutex
	m     map[string]*Session
	tombs map[string]clientTomb // sessions the client closed, kept for a racing poll
	order []tombOrder           // tombs[head:] in expiry order
	head  int
}

// NewServer returns a Server that reports sessions to h. A nil opts means
// the defaults of Options. It fails only on invalid options (an unknown
// transport, a malformed origin).
func NewServer(h Handler, opts *Options) (*Server, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: o, handler: h, log: o.Logger, seed: maphash.MakeSeed(), drained: make(chan struct{}, 1)}
	for i := range s.shards {
		s.shards[i].m = make(map[string]*Session)
	}
	return s, nil
}

// Options returns the options in effect, defaults filled in. They must
// not be modified.
func (s *Server) Options() *Options { return s.opts }

// SessionCount returns the number of open sessions.
func (s *Server) SessionCount() int { return int(s.count.Load()) }

func (s *Server) shard(id string) *sessionShard {
	return &s.shards[maphash.String(s.seed, id)%sessionShards]
}

func (s *Server) lookup(id string) *Session {
	sh := s.shard(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.m[id]
}

// add registers sess, unless a session has its id: then it reports false.
func (s *Server) add(sess *Session) bool {
	sh := s.shard(sess.id)
	sh.mu.Lock()
	_, taken := sh.m[sess.id]
	if t, ok := sh.tombs[sess.id]; ok && t.until > hbNanos(time.Now()) {
		taken = true
	}
	if taken {
		sh.mu.Unlock()
		return false
	}
	sh.m[sess.id] = sess
	sh.mu.Unlock()
	s.count.Add(1)
	return true
}

// appendJSONString appends str as a JSON string, as encoding/json writes
// it.
func appendJSONString(dst []byte, str string) []byte {
	for i := 0; i < len(str); i++ {
		if c := str[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(str) // escapes needed
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, str...)
	return append(dst, '"')
}

// remove forgets sess; it is idempotent.
func (s *Server) remove(sess *Session) {
	sh := s.shard(sess.id)
	sh.mu.Lock()
	found := sh.m[sess.id] == sess
	if found {
		delete(sh.m, sess.id)
	}
	if sess.byClient {
		// Its tomb answered the racing poll through sess itself.
		delete(sh.tombs, sess.id)
	}
	sh.mu.Unlock()
	if found {
		s.released()
	}
}

// released counts a session out of the registered ones.
func (s *Server) released() {
	if s.count.Add(-1) == 0 && s.closing.Load() {
		select {
		case s.drained <- struct{}{}:
		default:
		}
	}
}

func (s *Server) all() []*Session {
	var out []*Session
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for _, sess := range sh.m {
			out = append(out, sess)
		}
		sh.mu.RUnlock()
	}
	return out
}

// Shutdown refuses new sessions, closes every session gracefully (what is
// queued is written, then a close), and waits until every transport is
// done and every OnClose has returned, or ctx ends: then it closes what
// remains at once and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	for _, sess := range s.all() {
		sess.closeWith(ReasonShutdown, nil, closeGraceful)
		sess.dropClientTombstone()
	}
	s.dropClientTombs()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.count.Load() > 0 || s.callbacks.Load() > 0 {
		select {
		case <-s.drained:
		case <-tick.C:
		case <-ctx.Done():
			for _, sess := range s.all() {
				sess.abortTransport()
				s.remove(sess)
			}
			return ctx.Err()
		}
	}
	return nil
}

// request is what ServeHTTP parsed from a request's query.
type request struct {
	protocol  int
	transport string
	sid       string
	b64       bool
	upgrade   bool // a websocket upgrade request
	jsonp     bool // the j parameter of JSONP polling is present
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, s.opts.Path) && r.URL.Path+"/" != s.opts.Path {
		http.NotFound(w, r)
		return
	}
	if s.opts.CORS != nil && s.opts.CORS.serveCORS(w, r) {
		return
	}
	req, rerr := s.parse(r)
	if rerr == nil {
		rerr = s.checkOrigin(r)
	}
	if rerr != nil {
		s.refuse(w, r, req.upgrade, rerr)
		return
	}
	if req.sid == "" {
		s.handshake(w, r, req)
		return
	}
	sess := s.lookup(req.sid)
	if sess == nil {
		if t, ok := s.clientTomb(req.sid); ok && t.protocol == req.protocol {
			s.serveClientTomb(w, r, req, t)
			return
		}
	}
	if sess == nil || sess.protocol != req.protocol || sess.heartbeatExpired() {
		s.refuse(w, r, req.upgrade, refuseWith(CodeUnknownSID, "sid", req.sid))
		return
	}
	if req.transport == WebSocket {
		s.upgrade(w, r, sess)
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.poll(w, r, sess)
	case http.MethodPost:
		s.post(w, r, sess)
	default:
		s.refuse(w, r, false, refuseWith(CodeBadRequest, "name", "BAD_METHOD", "method", r.Method))
	}
}

func (s *Server) parse(r *http.Request) (request, *requestError) {
	req := request{upgrade: isWebSocketUpgrade(r)}
	q, ok := scanQuery(r.URL.RawQuery)
	if !ok || q.count[qEIO] > 1 || q.count[qTransport] > 1 || q.count[qSID] > 1 || q.count[qB64] > 1 {
		return req, refuseWith(CodeBadRequest, "name", "INVALID_QUERY")
	}
	// The constants, not the query's bytes: a session keeps its
	// transport, and a slice of the query would keep the whole request
	// line it was read from.
	switch t := q.value[qTransport]; t {
	case Polling:
		req.transport = Polling
	case WebSocket:
		req.transport = WebSocket
	default:
		req.transport = t
	}
	if (req.transport != Polling && req.transport != WebSocket) || !s.opts.allows(req.transport) {
		return req, refuseWith(CodeUnknownTransport, "transport", req.transport)
	}
	req.sid = q.value[qSID]
	if req.upgrade != (req.transport == WebSocket) {
		if req.sid == "" && !req.upgrade {
			return req, refuseWith(CodeBadRequest, "name", "TRANSPORT_HANDSHAKE_ERROR")
		}
		return req, refuseWith(CodeBadRequest, "name", "TRANSPORT_MISMATCH", "transport", req.transport)
	}
	switch v := q.value[qEIO]; v {
	case "4":
		req.protocol = 4
	case "3":
		req.protocol = 3
	default:
		return req, refuseWith(CodeUnsupportedProtocolVersion, "protocol", v)
	}
	req.b64 = q.value[qB64] != ""
	req.jsonp = q.count[qJ] > 0
	return req, nil
}

func isWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(headerGet(r.Header, "Upgrade"), "websocket") && headerHasToken(r.Header, "Connection", "upgrade")
}

// headerGet is h.Get(key) for a key already in canonical form: it skips
// the canonicalisation.
func headerGet(h http.Header, key string) string {
	if vs := h[key]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// headerHasToken reports whether a comma-separated value of header key (in
// canonical form) holds token, compared case-insensitively.
func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h[key] {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

func (s *Server) checkOrigin(r *http.Request) *requestError {
	values := r.Header["Origin"]
	if len(values) > 1 {
		return refuseWith(CodeBadRequest, "name", "INVALID_ORIGIN", "origin", strings.Join(values, ", "))
	}
	if s.opts.AllowedOrigins == nil {
		return nil
	}
	if len(values) == 0 || values[0] == "" {
		if s.opts.RequireOrigin {
			return &requestError{code: CodeForbidden, message: "Origin required", context: map[string]any{"name": "ORIGIN_REQUIRED"}}
		}
		return nil
	}
	// Compared as the browser sent it: browsers send the serialised
	// origin (lower case, no default port, no path), the form the list was
	// normalised to; any other spelling comes from something else.
	for _, o := range s.opts.AllowedOrigins {
		if o == values[0] {
			return nil
		}
	}
	return &requestError{code: CodeForbidden, message: "Origin not allowed",
		context: map[string]any{"name": "ORIGIN_NOT_ALLOWED", "origin": values[0]}}
}

func (s *Server) refuse(w http.ResponseWriter, r *http.Request, upgrade bool, e *requestError) {
	s.log.Debug("engineio: request refused", "code", e.code, "message", e.text(),
		"method", r.Method, "query", r.URL.RawQuery, "remote", r.RemoteAddr)
	if s.opts.OnConnectionError != nil {
		s.opts.OnConnectionError(ConnectionError{Request: r, Code: e.code, Message: codeMessages[e.code], Context: e.context})
	}
	if upgrade {
		writeUpgradeError(w, e)
	} else {
		writeHTTPError(w, e)
	}
}

func (s *Server) handshake(w http.ResponseWriter, r *http.Request, req request) {
	if req.transport == Polling && r.Method != http.MethodGet {
		s.refuse(w, r, false, refuseWith(CodeBadHandshakeMethod, "method", r.Method))
		return
	}
	if req.transport == Polling && req.jsonp {
		// JSONP polling (the j parameter, engine.io-client 3's fallback
		// for browsers without CORS XHR) is not served: its script
		// requests carry no Origin header, so they would pass the Origin
		// allow-list from any site.
		s.refuse(w, r, false, refuseWith(CodeBadRequest, "name", "JSONP_NOT_SUPPORTED"))
		return
	}
	if s.closing.Load() {
		s.refuse(w, r, req.upgrade, &requestError{code: CodeBadRequest, message: "Server shutting down",
			context: map[string]any{"name": "SERVER_SHUTTING_DOWN"}})
		return
	}
	if s.opts.AllowRequest != nil {
		if err := s.opts.AllowRequest(r); err != nil {
			s.refuse(w, r, req.upgrade, &requestError{code: CodeForbidden, message: err.Error(),
				context: map[string]any{"message": err.Error()}})
			return
		}
	}
	// After AllowRequest, as in Node.
	if req.protocol == 3 && !s.opts.allowsEIO3() {
		s.refuse(w, r, req.upgrade, refuseWith(CodeUnsupportedProtocolVersion, "protocol", 3))
		return
	}
	id, rerr := s.generateID(r)
	if rerr != nil {
		s.refuse(w, r, req.upgrade, rerr)
		return
	}
	if req.transport == WebSocket {
		c, err := s.acceptWebSocket(w, r, true)
		if err != nil {
			return
		}
		sess := s.newSession(r, req, id, c)
		if sess == nil {
			c.close() // the id was taken meanwhile
			return
		}
		// Read on a fresh goroutine and let the handler return, so that
		// net/http's per-request state is freed.
		go sess.serveWebSocket(c)
		return
	}
	sess := s.newSession(r, req, id, nil)
	if sess == nil {
		s.refuse(w, r, false, refuseWith(CodeBadRequest, "name", "ID_GENERATION_ERROR", "error", errDuplicateID))
		return
	}
	sess.mu.Lock()
	sess.polling = true
	batch := sess.takeLocked()
	sess.polling = false
	sess.mu.Unlock()
	s.writePayload(w, r, sess, batch, true)
}

var errDuplicateID = errors.New("engineio: GenerateID returned the id of a live session")

// generateID returns the id of a new session: Options.GenerateID's, or 15
// random bytes in URL-safe base64.
func (s *Server) generateID(r *http.Request) (string, *requestError) {
	if s.opts.GenerateID == nil {
		var raw [15]byte
		rand.Read(raw[:])
		return base64.RawURLEncoding.EncodeToString(raw[:]), nil
	}
	id, err := s.opts.GenerateID(r)
	switch {
	case err != nil:
	case id == "":
		err = errors.New("engineio: GenerateID returned an empty id")
	case s.lookup(id) != nil:
		err = errDuplicateID
	default:
		if _, ok := s.clientTomb(id); ok {
			err = errDuplicateID
		}
	}
	if err != nil {
		return "", refuseWith(CodeBadRequest, "name", "ID_GENERATION_ERROR", "error", err)
	}
	return id, nil
}

// writeHeaders runs the header hooks on h, the headers of a response to r
// (initial: a handshake's), after setting the session cookie on a polling
// handshake of session id.
func (s *Server) writeHeaders(h http.Header, r *http.Request, initial bool, cookieID string) {
	if initial {
		if s.opts.Cookie != nil && cookieID != "" {
			h.Add("Set-Cookie", s.opts.Cookie.cookie(cookieID))
		}
		if s.opts.OnInitialHeaders != nil {
			s.opts.OnInitialHeaders(h, r)
		}
	}
	if s.opts.OnHeaders != nil {
		s.opts.OnHeaders(h, r)
	}
}

// newSession creates and registers a session whose outbox starts with the
// open packet, then calls the handler's OnOpen. It returns nil when a
// live session has the id.
func (s *Server) newSession(r *http.Request, req request, id string, ws *wsConn) *Session {
	sess := &Session{
		srv:       s,
		id:        id,
		protocol:  req.protocol,
		b64:       req.b64,
		transport: req.transport,
		ws:        ws,
	}
	sess.hs = keepHandshake(r)
	upgrades := `[]`
	if req.transport == Polling && !s.opts.DisableUpgrades && s.opts.allows(WebSocket) {
		upgrades = `["websocket"]`
	}
	open := make([]byte, 0, 128)
	open = append(open, `{"sid":`...)
	open = appendJSONString(open, sess.id)
	open = append(open, `,"upgrades":`...)
	open = append(open, upgrades...)
	open = append(open, `,"pingInterval":`...)
	open = strconv.AppendInt(open, s.opts.PingInterval.Milliseconds(), 10)
	open = append(open, `,"pingTimeout":`...)
	open = strconv.AppendInt(open, s.opts.PingTimeout.Milliseconds(), 10)
	open = append(open, `,"maxPayload":`...)
	open = strconv.AppendInt(open, s.opts.MaxHTTPBufferSize, 10)
	open = append(open, '}')
	sess.queue = append(sess.queue, packet{typ: typeOpen, data: open})
	first := s.opts.PingInterval
	if req.protocol == 3 {
		first += s.opts.PingTimeout
	}
	sess.due = hbNanos(time.Now().Add(first))
	if !s.add(sess) {
		return nil
	}
	sess.mu.Lock()
	sess.armLocked(hbTime(sess.due))
	sess.mu.Unlock()
	if s.log.Enabled(context.Background(), slog.LevelDebug) { // the arguments would cost allocations
		s.log.Debug("engineio: session open", "sid", sess.id, "protocol", sess.protocol,
			"transport", req.transport, "remote", r.RemoteAddr)
	}

	sess.dispatch.Lock()
	s.handler.OnOpen(sess)
	sess.dispatch.Unlock()
	if ws != nil {
		sess.mu.Lock()
		sess.kickLocked()
		sess.mu.Unlock()
	}
	return sess
}

func (s *Server) logClose(sess *Session) {
	level := slog.LevelDebug
	if sess.cause.Reason == ReasonSlowClient {
		level = slog.LevelWarn
	}
	if !s.log.Enabled(context.Background(), level) {
		return // before the attributes are built
	}
	attrs := []any{"sid", sess.id, "reason", sess.cause.Reason}
	if sess.cause.Err != nil {
		attrs = append(attrs, "err", sess.cause.Err.Error())
	}
	s.log.Log(context.Background(), level, "engineio: session closed", attrs...)
}

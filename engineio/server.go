package engineio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"hash/maphash"
	"log/slog"
	"net/http"
	"net/url"
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

	seed      maphash.Seed
	shards    [sessionShards]sessionShard
	count     atomic.Int64 // registered sessions
	callbacks atomic.Int64 // OnClose calls not yet returned
	closing   atomic.Bool
	drained   chan struct{} // signalled when count drops while closing
}

const sessionShards = 32

type sessionShard struct {
	mu sync.RWMutex
	m  map[string]*Session
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

func (s *Server) add(sess *Session) {
	sh := s.shard(sess.id)
	sh.mu.Lock()
	sh.m[sess.id] = sess
	sh.mu.Unlock()
	s.count.Add(1)
}

// remove forgets sess; it is idempotent.
func (s *Server) remove(sess *Session) {
	sh := s.shard(sess.id)
	sh.mu.Lock()
	found := sh.m[sess.id] == sess
	if found {
		delete(sh.m, sess.id)
	}
	sh.mu.Unlock()
	if found && s.count.Add(-1) == 0 && s.closing.Load() {
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
	}
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
	if sess == nil || sess.protocol != req.protocol || sess.heartbeatExpired() {
		s.refuse(w, r, req.upgrade, refuse(codeUnknownSID))
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
		s.refuse(w, r, false, refuse(codeBadRequest))
	}
}

func (s *Server) parse(r *http.Request) (request, *requestError) {
	req := request{upgrade: isWebSocketUpgrade(r)}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return req, refuse(codeBadRequest)
	}
	for _, k := range [...]string{"EIO", "transport", "sid", "b64"} {
		if len(q[k]) > 1 {
			return req, refuse(codeBadRequest)
		}
	}
	req.transport = q.Get("transport")
	if (req.transport != Polling && req.transport != WebSocket) || !s.opts.allows(req.transport) {
		return req, refuse(codeUnknownTransport)
	}
	if req.upgrade != (req.transport == WebSocket) {
		return req, refuse(codeBadRequest)
	}
	switch q.Get("EIO") {
	case "4":
		req.protocol = 4
	case "3":
		req.protocol = 3
	default:
		return req, refuse(codeUnsupportedVersion)
	}
	req.sid = q.Get("sid")
	req.b64 = q.Get("b64") != ""
	return req, nil
}

func isWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") && headerHasToken(r.Header, "Connection", "upgrade")
}

func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

func (s *Server) checkOrigin(r *http.Request) *requestError {
	values := r.Header.Values("Origin")
	if len(values) > 1 {
		return refuse(codeBadRequest)
	}
	if s.opts.AllowedOrigins == nil {
		return nil
	}
	if len(values) == 0 || values[0] == "" {
		if s.opts.RequireOrigin {
			return &requestError{code: codeForbidden, message: "Origin required"}
		}
		return nil
	}
	n, err := NormalizeOrigin(values[0])
	if err == nil {
		for _, o := range s.opts.AllowedOrigins {
			if o == n {
				return nil
			}
		}
	}
	return &requestError{code: codeForbidden, message: "Origin not allowed"}
}

func (s *Server) refuse(w http.ResponseWriter, r *http.Request, upgrade bool, e *requestError) {
	s.log.Debug("engineio: request refused", "code", e.code, "message", e.text(),
		"method", r.Method, "query", r.URL.RawQuery, "remote", r.RemoteAddr)
	if upgrade {
		writeUpgradeError(w, e)
	} else {
		writeHTTPError(w, e)
	}
}

func (s *Server) handshake(w http.ResponseWriter, r *http.Request, req request) {
	if req.transport == Polling && r.Method != http.MethodGet {
		s.refuse(w, r, false, refuse(codeBadHandshakeMethod))
		return
	}
	if s.closing.Load() {
		s.refuse(w, r, req.upgrade, &requestError{code: codeBadRequest, message: "Server shutting down"})
		return
	}
	if s.opts.AllowRequest != nil {
		if err := s.opts.AllowRequest(r); err != nil {
			s.refuse(w, r, req.upgrade, &requestError{code: codeForbidden, message: err.Error()})
			return
		}
	}
	if req.transport == WebSocket {
		c, err := s.acceptWebSocket(w, r)
		if err != nil {
			return
		}
		sess := s.newSession(r, req, c)
		// Read on a fresh goroutine and let the handler return, so that
		// net/http's per-request state is freed.
		go sess.serveWebSocket(c)
		return
	}
	sess := s.newSession(r, req, nil)
	sess.mu.Lock()
	sess.polling = true
	batch := sess.takeLocked()
	sess.polling = false
	sess.mu.Unlock()
	s.writePayload(w, r, sess, batch)
}

// newSession creates and registers a session whose outbox starts with the
// open packet, then calls the handler's OnOpen.
func (s *Server) newSession(r *http.Request, req request, ws *wsConn) *Session {
	var raw [15]byte
	rand.Read(raw[:])
	sess := &Session{
		srv:       s,
		id:        base64.RawURLEncoding.EncodeToString(raw[:]),
		protocol:  req.protocol,
		b64:       req.b64,
		transport: req.transport,
		wake:      make(chan struct{}, 1),
		ws:        ws,
	}
	sess.ctx, sess.cancel = context.WithCancelCause(context.Background())
	hs := r.WithContext(sess.ctx)
	hs.Body = http.NoBody
	sess.req = hs
	upgrades := `[]`
	if req.transport == Polling && !s.opts.DisableUpgrades && s.opts.allows(WebSocket) {
		upgrades = `["websocket"]`
	}
	open := make([]byte, 0, 128)
	open = append(open, `{"sid":"`...)
	open = append(open, sess.id...)
	open = append(open, `","upgrades":`...)
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
	sess.due = time.Now().Add(first)
	sess.timer = time.AfterFunc(first, sess.onTimer)
	s.add(sess)
	s.log.Debug("engineio: session open", "sid", sess.id, "protocol", sess.protocol,
		"transport", req.transport, "remote", r.RemoteAddr)

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
	attrs := []any{"sid", sess.id, "reason", sess.cause.Reason}
	if sess.cause.Err != nil {
		attrs = append(attrs, "err", sess.cause.Err.Error())
	}
	s.log.Log(context.Background(), level, "engineio: session closed", attrs...)
}

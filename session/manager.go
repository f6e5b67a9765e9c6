package session

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// Cookie names.
const (
	DefaultCookieName = "connect.sid" // express-session's
	SailsCookieName   = "sails.sid"   // Sails' (sails.config.session.name)
)

// Options configures a Manager. A nil *Options, or a zero field, means the
// documented default, which is express-session's unless noted.
type Options struct {
	// CookieName is the session cookie's name. Default DefaultCookieName
	// ("connect.sid"); Sails apps use SailsCookieName ("sails.sid").
	CookieName string

	// Secrets sign the cookie in express-session's format (ExpressCodec):
	// the first signs, all are accepted, so a secret rotates by being put
	// first. Required unless Codec is set.
	Secrets []string

	// Codec replaces the express-session format, for example with
	// securecookie.New(hashKey, blockKey) when no Node server has to read
	// the cookie. Default NewExpressCodec(Secrets...).
	Codec Codec

	// Cookie holds the settings of new sessions' cookies.
	Cookie CookieOptions

	// Rolling sends the cookie with every response, renewing its expiry in
	// the browser too. Default false: only when the session is new and
	// saved, or modified with an expiry (express-session's rule).
	Rolling bool

	// Resave saves every loaded session at the end of each request, even
	// unmodified. Default false: an unmodified session is only touched
	// (Store.Touch renews its TTL). Sails uses true.
	Resave bool

	// SaveUninitialized saves, and sends the cookie of, new sessions that
	// the request did not modify. Default false, which keeps anonymous
	// visitors out of the store. Sails uses true.
	SaveUninitialized bool

	// TrustProxy takes the first X-Forwarded-Proto value as the request's
	// scheme when deciding whether a Secure cookie may be sent (a Secure
	// cookie is only sent over HTTPS, as express-session does). Default
	// false: only r.TLS counts.
	TrustProxy bool

	// ErrorHandler answers a request whose session could not be loaded or
	// saved (the store failed). Default: 500 Internal Server Error, plain
	// text. Requests fail closed: the handler does not run without its
	// session.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Logger receives invalid cookies and corrupt sessions (Debug, Warn)
	// and store failures (Error). Default slog.Default().
	Logger *slog.Logger
}

// CookieOptions are the settings of a new session's cookie (express's
// session({cookie})). They are kept in the session, so changing them does
// not change existing sessions.
type CookieOptions struct {
	// Path defaults to "/".
	Path   string
	Domain string
	// MaxAge is the cookie's lifetime, renewed by each request that saves
	// or touches the session; it is also the stored session's TTL. Default
	// 0: a browser-session cookie, with the store's default TTL (one day
	// for connect-redis and redisstore).
	MaxAge time.Duration
	// Secure restricts the cookie to HTTPS; over plain HTTP the cookie is
	// then not sent at all (the session is still saved).
	Secure bool
	// DisableHTTPOnly lets page scripts read the cookie. Default false:
	// HttpOnly, as express-session.
	DisableHTTPOnly bool
	// SameSite defaults to not sending the attribute.
	SameSite    http.SameSite
	Partitioned bool
}

// Manager loads sessions from requests' cookies and saves them: Middleware
// for HTTP handlers, FromRequest for a socket's handshake. It is safe for
// concurrent use.
type Manager struct {
	store        Store
	codec        Codec
	name         string
	cookie       CookieOptions
	rolling      bool
	resave       bool
	saveUninit   bool
	trustProxy   bool
	errorHandler func(http.ResponseWriter, *http.Request, error)
	log          *slog.Logger
}

// New returns a Manager keeping sessions in store. It fails when opts has
// neither Secrets nor Codec, or an empty secret.
func New(store Store, opts *Options) (*Manager, error) {
	if store == nil {
		return nil, errors.New("session: nil store")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	m := &Manager{
		store:        store,
		codec:        o.Codec,
		name:         o.CookieName,
		cookie:       o.Cookie,
		rolling:      o.Rolling,
		resave:       o.Resave,
		saveUninit:   o.SaveUninitialized,
		trustProxy:   o.TrustProxy,
		errorHandler: o.ErrorHandler,
		log:          o.Logger,
	}
	if m.codec == nil {
		c, err := NewExpressCodec(o.Secrets...)
		if err != nil {
			return nil, fmt.Errorf("%w (Options.Secrets or Options.Codec)", err)
		}
		m.codec = c
	}
	if m.name == "" {
		m.name = DefaultCookieName
	}
	if m.cookie.Path == "" {
		m.cookie.Path = "/"
	}
	if m.errorHandler == nil {
		m.errorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) {
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		}
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	return m, nil
}

// WithSaveRules returns a Manager that shares m's store, codec, cookie
// name and settings, logger and error handler, and decides what to save as
// Options.Resave and Options.SaveUninitialized say here: for one part of
// an application that must save as another server does (Sails turns both
// on). m is unchanged.
func (m *Manager) WithSaveRules(resave, saveUninitialized bool) *Manager {
	c := *m
	c.resave, c.saveUninit = resave, saveUninitialized
	return &c
}

// CookieName returns the session cookie's name.
func (m *Manager) CookieName() string { return m.name }

type ctxKey int

const (
	sessionKey ctxKey = iota
	disabledKey
)

// FromContext returns the session Middleware put in ctx, or nil.
func FromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(sessionKey).(*Session)
	return s
}

// NewContext returns a context carrying s, which FromContext returns: for
// code that loads a session outside Middleware (a socket's afterDisconnect,
// say) and calls handlers that look for it there.
func NewContext(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, sessionKey, s)
}

// WithoutSession returns a context with which Middleware neither loads nor
// saves a session, and FromContext returns nil: for requests that must not
// touch the session, such as Sails' virtual requests with a "nosession"
// header.
func WithoutSession(ctx context.Context) context.Context {
	return context.WithValue(context.WithValue(ctx, sessionKey, nil), disabledKey, true)
}

// FromRequest returns the session named by the request's cookie, loaded
// from the store, or a new session when the request has no valid cookie or
// the store does not have its session (check IsNew). The error is the
// store's, or the context's; an invalid cookie is not an error.
//
// FromRequest neither saves nor sends anything: this is for a socket's
// handshake, where the caller saves the session (Save) and, for a new
// session, puts Cookie's name=value into the handshake's Cookie header so
// that later virtual requests carry it (what Sails does).
func (m *Manager) FromRequest(r *http.Request) (*Session, error) {
	return m.load(r.Context(), r.Header.Values("Cookie"))
}

// Cookie returns the Set-Cookie form of the session's cookie: the encoded
// ID and the session's cookie attributes. Its Name and Value also make the
// Cookie request header that names the session.
func (m *Manager) Cookie(s *Session) (*http.Cookie, error) {
	s.mu.Lock()
	id, c := s.id, s.cookie
	s.mu.Unlock()
	return m.httpCookie(id, &c)
}

func (m *Manager) httpCookie(id string, c *Cookie) (*http.Cookie, error) {
	v, err := m.codec.Encode(m.name, id)
	if err != nil {
		return nil, fmt.Errorf("session: encoding cookie: %w", err)
	}
	// No Max-Age attribute: express-session sends Expires only.
	return &http.Cookie{
		Name:        m.name,
		Value:       v,
		Path:        c.Path,
		Domain:      c.Domain,
		Expires:     c.Expires,
		HttpOnly:    c.HTTPOnly,
		Secure:      c.Secure,
		SameSite:    c.SameSite,
		Partitioned: c.Partitioned,
	}, nil
}

// Middleware loads the request's session (FromContext gives it to next)
// and saves it when the response starts, or when next returns without
// writing, following express-session: a new session is saved and its
// cookie sent only if modified (or with SaveUninitialized), a loaded one is
// saved if modified (or with Resave) and otherwise touched, and the cookie
// is re-sent on changes to a session with an expiry (or always with
// Rolling). Because the save happens before the response's header is
// written, the client's next request sees it. Changes made after the
// response started are saved when next returns (the cookie can no longer
// change then).
//
// When the store fails, ErrorHandler answers instead: before next runs
// for a load, in place of next's response for a save.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if ctx.Value(disabledKey) != nil || FromContext(ctx) != nil {
			next.ServeHTTP(w, r) // opted out, or already loaded by an outer Middleware
			return
		}
		s, err := m.FromRequest(r)
		if err != nil {
			m.log.ErrorContext(ctx, "session: loading failed", "err", err)
			m.errorHandler(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(ctx, sessionKey, s))
		rw := &responseWriter{ResponseWriter: w, m: m, r: r, s: s}
		next.ServeHTTP(rw, r)
		if !rw.committed {
			rw.commit()
			return
		}
		if rw.err == nil {
			m.saveLate(r.Context(), s)
		}
	})
}

// load finds the session named by the Cookie header lines.
func (m *Manager) load(ctx context.Context, cookieHeaders []string) (*Session, error) {
	var id string
	if raw, ok := cookieValue(cookieHeaders, m.name); ok && raw != "" {
		if err := m.codec.Decode(m.name, raw, &id); err != nil {
			m.log.DebugContext(ctx, "session: ignoring cookie", "name", m.name, "err", err)
			id = ""
		}
	}
	if id == "" {
		return m.newSession(""), nil
	}
	data, err := m.store.Load(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return m.newSession(id), nil
	}
	if err != nil {
		return nil, fmt.Errorf("session: load: %w", err)
	}
	keys, values, c, hasCookie, err := decodeData(data)
	if err != nil {
		m.log.WarnContext(ctx, "session: ignoring corrupt session", "err", err)
		return m.newSession(id), nil
	}
	if !hasCookie {
		// express-session would fail on such data; give it the defaults.
		keys = append([]string{"cookie"}, keys...)
		c = m.newCookie(time.Now())
	}
	// Note: a stored cookie.expires in the past is not checked: connect-redis
	// renews an unmodified session's TTL with EXPIRE and leaves the stored
	// expires as it was, so the store's TTL alone says whether it lives.
	s := &Session{m: m, id: id, cookieID: id, keys: keys, values: values, cookie: c, originalID: id}
	s.originalHash = s.hashLocked()
	if !m.resave {
		s.saved, s.savedID, s.savedHash = true, id, s.originalHash
	}
	return s, nil
}

func (m *Manager) newSession(cookieID string) *Session {
	id := newID()
	s := &Session{
		m:          m,
		id:         id,
		cookieID:   cookieID,
		isNew:      true,
		keys:       []string{"cookie"},
		values:     make(map[string]json.RawMessage),
		cookie:     m.newCookie(time.Now()),
		originalID: id,
	}
	s.originalHash = s.hashLocked()
	return s
}

func (m *Manager) newCookie(now time.Time) Cookie {
	c := Cookie{
		MaxAge:      m.cookie.MaxAge,
		Path:        m.cookie.Path,
		Domain:      m.cookie.Domain,
		Secure:      m.cookie.Secure,
		HTTPOnly:    !m.cookie.DisableHTTPOnly,
		SameSite:    m.cookie.SameSite,
		Partitioned: m.cookie.Partitioned,
	}
	if c.MaxAge != 0 {
		c.Expires = now.Add(c.MaxAge)
	}
	return c
}

// newID returns 24 random bytes in unpadded base64url (32 characters), as
// uid-safe(24) does for express-session and Sails.
func newID() string {
	var b [24]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ttl is the time left to a session whose cookie expires at expires, in
// Store's convention (0: none; < 0: expired).
func ttl(expires, now time.Time) time.Duration {
	if expires.IsZero() {
		return 0
	}
	d := expires.Sub(now)
	if d <= 0 {
		return -1
	}
	return d
}

// write saves snap and records it as saved.
func (m *Manager) write(ctx context.Context, s *Session, snap snapshot) error {
	if err := m.store.Save(ctx, snap.id, snap.data, ttl(snap.expires, time.Now())); err != nil {
		return fmt.Errorf("session: save: %w", err)
	}
	s.mu.Lock()
	if s.id == snap.id {
		s.saved, s.savedID, s.savedHash = true, snap.id, snap.hash
	}
	s.mu.Unlock()
	return nil
}

// commit runs when the response starts: touch, Set-Cookie into h, then
// save or touch in the store.
func (m *Manager) commit(ctx context.Context, h http.Header, r *http.Request, s *Session) error {
	now := time.Now()
	s.mu.Lock()
	if s.destroyed {
		s.mu.Unlock()
		return nil
	}
	s.touchLocked(now)
	var cookie *http.Cookie
	var err error
	if s.shouldSetCookieLocked(m.saveUninit, m.rolling) && (!s.cookie.Secure || m.secure(r)) {
		cookie, err = m.httpCookie(s.id, &s.cookie)
	}
	save, touch := s.shouldSaveLocked(m.saveUninit), s.shouldTouchLocked(m.saveUninit)
	var snap snapshot
	if save {
		snap = s.snapshotLocked()
	}
	id, expires := s.id, s.cookie.Expires
	s.mu.Unlock()
	if err != nil {
		return err
	}
	switch {
	case save:
		if err := m.write(ctx, s, snap); err != nil {
			return err
		}
	case touch:
		if err := m.store.Touch(ctx, id, ttl(expires, now)); err != nil {
			return fmt.Errorf("session: touch: %w", err)
		}
	}
	if cookie != nil {
		if v := cookie.String(); v != "" {
			h.Add("Set-Cookie", v)
		}
	}
	return nil
}

// saveLate saves changes made after the response started.
func (m *Manager) saveLate(ctx context.Context, s *Session) {
	s.mu.Lock()
	if !s.shouldSaveLocked(m.saveUninit) {
		s.mu.Unlock()
		return
	}
	snap := s.snapshotLocked()
	s.mu.Unlock()
	if err := m.write(ctx, s, snap); err != nil {
		m.log.ErrorContext(ctx, "session: saving after the response started failed", "err", err)
	}
}

func (m *Manager) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if !m.trustProxy {
		return false
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// responseWriter commits the session when the response starts.
type responseWriter struct {
	http.ResponseWriter
	m         *Manager
	r         *http.Request
	s         *Session
	committed bool
	err       error // the commit failed: ErrorHandler answered; next's writes are dropped
}

// commit commits once and reports whether next's response may proceed.
func (w *responseWriter) commit() bool {
	if w.committed {
		return w.err == nil
	}
	w.committed = true
	if err := w.m.commit(w.r.Context(), w.Header(), w.r, w.s); err != nil {
		w.err = err
		w.m.log.ErrorContext(w.r.Context(), "session: saving failed", "err", err)
		w.m.errorHandler(w.ResponseWriter, w.r, err)
		return false
	}
	return true
}

func (w *responseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // informational: the response has not started
		return
	}
	if w.commit() {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.commit() {
		return 0, w.err
	}
	return w.ResponseWriter.Write(p)
}

// FlushError is found by http.ResponseController.
func (w *responseWriter) FlushError() error {
	if !w.commit() {
		return w.err
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *responseWriter) Flush() { w.FlushError() }

// Hijack commits (the session is saved; the Set-Cookie header is only
// delivered if the hijacker writes the header) and hands over the
// connection.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.commit() {
		return nil, nil, w.err
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the other methods.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

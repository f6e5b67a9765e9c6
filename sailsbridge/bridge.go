package sailsbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/socketio"
)

// Options configures a Bridge. A nil *Options, and every zero field, means
// the documented default, which is Sails' default unless noted.
type Options struct {
	// OnlyAllowOrigins, when non-nil, is the list of origins allowed to
	// connect (sails.config.sockets.onlyAllowOrigins): the Origin header of
	// every Engine.IO request must equal one entry exactly (case-sensitive,
	// no normalisation); a request without Origin is refused. Each entry
	// must be "http(s)://host[:port]" without default port, path or
	// trailing slash, in lower case, or start with "file://"; New checks
	// them. An empty non-nil list refuses every connection. Enforced by
	// Guard (or, without Guard, by Attach's middleware).
	OnlyAllowOrigins []string

	// BeforeConnect, when set, sees each Engine.IO handshake request (the
	// first request of a connection; it must not modify it) and refuses
	// the connection by returning an error, whose text the client gets
	// ("Forbidden" for an empty text; see ErrForbidden). Unlike Sails, it
	// runs in addition to OnlyAllowOrigins, after it, rather than
	// replacing it.
	BeforeConnect func(r *http.Request) error

	// AfterDisconnect, when set, runs once a socket has disconnected and
	// its pending virtual requests have returned, on its own goroutine.
	// With a SessionProvider, ctx carries the socket's session (see
	// SessionProvider.Disconnect), saved after AfterDisconnect returns.
	AfterDisconnect func(ctx context.Context, s *socketio.Socket, reason string)

	// Production makes New fail unless OnlyAllowOrigins or BeforeConnect
	// is set, as Sails refuses to lift in production without either.
	Production bool

	// Host is the Host of every virtual request (sails.config.host).
	// Default: the Host of the socket's handshake request. The host a
	// client puts in a request's headers or URL is never used.
	Host string

	// MaxInFlightBytes bounds the memory held by the virtual requests of
	// one socket being served at once. A socket's requests run
	// concurrently, as in Sails: a slow one never holds back the next.
	// Each request counts its payload as received (url, headers and data,
	// binary attachments included) plus RequestOverhead for its
	// goroutine and request; one that would take the socket over the
	// bound is refused at once with a 429 "Too Many Requests" JWR, and
	// the socket stays usable. A request is always admitted when the
	// socket has none in flight, so the bound is MaxInFlightBytes or one
	// request (itself bounded by the transport's maxHttpBufferSize),
	// whichever is larger. Default DefaultMaxInFlightBytes.
	MaxInFlightBytes int64

	// MaxHeaderBytes bounds the url and headers of one virtual request,
	// counted as Node's HTTP server counts them (--max-http-header-size):
	// the url's length plus the length of every header name and value
	// the client sent; a request reaching the bound is refused with a
	// JWR, 414 "URI Too Long" when the url alone reaches it, 431 "Request
	// Header Fields Too Large" otherwise (Node answers 431 to both), and
	// the socket stays usable. Default DefaultMaxHeaderBytes (Node's 16
	// KiB); raise it for clients that send more. Sails itself has no
	// bound on virtual requests.
	MaxHeaderBytes int

	// Timeout bounds how long a virtual request may take. When it
	// expires, the request's context is cancelled and the client gets
	// the JWR {"body":"Gateway Timeout","headers":{},"statusCode":504};
	// what the handler writes afterwards is discarded. Default
	// DefaultTimeout; negative means no timeout (Sails has none, so a
	// handler that never answers leaves the client waiting).
	Timeout time.Duration

	// MaxResponseBytes bounds the body a handler may write for one
	// virtual request; past it, writes fail and the client gets a 500
	// JWR. Default DefaultMaxResponseBytes.
	MaxResponseBytes int

	// OmitStatusCode leaves "statusCode" out of JWRs
	// (sails.config.sockets.sendStatusCode false); sails.io.js then treats
	// every response as a 200.
	OmitStatusCode bool

	// OmitHeaders leaves "headers" out of JWRs
	// (sails.config.sockets.sendResponseHeaders false, which crashes
	// Sails); sails.io.js then shows {}.
	OmitHeaders bool

	// DisableGetCookie makes GetCookieHandler answer 404
	// (sails.config.sockets.grant3rdPartyCookie false).
	DisableGetCookie bool

	// Sessions connects sockets to a session system. Default none: the
	// socket's cookie jar (see doc.go) still carries cookies between its
	// virtual requests.
	Sessions SessionProvider

	// Logger receives parse errors, handler panics and timeouts at Debug
	// and Warn levels. Default slog.Default().
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultMaxInFlightBytes = 16 << 20
	DefaultMaxHeaderBytes   = 16 << 10
	DefaultTimeout          = 60 * time.Second
	DefaultMaxResponseBytes = 8 << 20
)

// RequestOverhead is what a virtual request counts against
// Options.MaxInFlightBytes besides its payload: about the memory of its
// goroutine, *http.Request and response buffers when the handler writes
// little. With the default bound, a socket can have 1,024 small requests
// in flight.
const RequestOverhead = 16 << 10

// ErrForbidden refuses a connection from BeforeConnect with Sails' default
// message.
var ErrForbidden = errors.New("Forbidden")

// ErrResponseTooLarge is returned by the ResponseWriter of a virtual
// request once the body goes over Options.MaxResponseBytes.
var ErrResponseTooLarge = errors.New("sailsbridge: response body too large")

// methods are the events a Bridge answers, as sails-hook-sockets. Any
// other event (upper-case "GET" included) is ignored.
var methods = [...]string{"get", "post", "put", "delete", "patch", "options", "head"}

// Bridge turns the virtual requests of sails.io.js clients into requests
// to an http.Handler and acknowledges them with JWRs.
//
// Concurrency: all methods may be called concurrently. Each virtual
// request is served on its own goroutine, as many at once per socket as
// Options.MaxInFlightBytes allows; its response is acknowledged as soon as it is ready, so
// responses may arrive out of order, as with Sails.
type Bridge struct {
	h       http.Handler
	opts    Options
	log     *slog.Logger
	origins map[string]struct{} // nil: no origin check
	guarded atomic.Bool         // Guard was called: it enforces the checks
}

// New returns a Bridge serving virtual requests with h; nil opts means the
// defaults. It fails when an origin is invalid, or in Production mode
// without OnlyAllowOrigins nor BeforeConnect.
func New(h http.Handler, opts *Options) (*Bridge, error) {
	if h == nil {
		return nil, errors.New("sailsbridge: nil handler")
	}
	b := &Bridge{h: h}
	if opts != nil {
		b.opts = *opts
	}
	if b.opts.MaxInFlightBytes <= 0 {
		b.opts.MaxInFlightBytes = DefaultMaxInFlightBytes
	}
	if b.opts.MaxHeaderBytes <= 0 {
		b.opts.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if b.opts.Timeout == 0 {
		b.opts.Timeout = DefaultTimeout
	}
	if b.opts.MaxResponseBytes <= 0 {
		b.opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if b.opts.Logger == nil {
		b.opts.Logger = slog.Default()
	}
	b.log = b.opts.Logger
	if b.opts.OnlyAllowOrigins != nil {
		b.origins = make(map[string]struct{}, len(b.opts.OnlyAllowOrigins))
		for _, o := range b.opts.OnlyAllowOrigins {
			if err := CheckOrigin(o); err != nil {
				return nil, err
			}
			b.origins[o] = struct{}{}
		}
	}
	if b.opts.Production && b.opts.OnlyAllowOrigins == nil && b.opts.BeforeConnect == nil {
		return nil, errors.New("sailsbridge: production mode needs OnlyAllowOrigins or BeforeConnect")
	}
	return b, nil
}

// EngineOptions returns Sails' Engine.IO settings (sails-hook-sockets
// defaults): path /socket.io/, websocket only, pingInterval 25s,
// pingTimeout 60s, maxHttpBufferSize 1e8. Use it as socketio.Options.Engine
// for servers that must look exactly like Sails on the wire; add
// engineio.Polling to Transports to allow polling.
func EngineOptions() *engineio.Options {
	return &engineio.Options{
		Path:              "/socket.io/",
		Transports:        []string{engineio.WebSocket},
		PingInterval:      25 * time.Second,
		PingTimeout:       60 * time.Second,
		MaxHTTPBufferSize: 100_000_000,
	}
}

// Attach makes the bridge answer the virtual requests of ns's sockets: it
// registers handlers of the events get, post, put, delete, patch, options
// and head on each socket (other events are left alone), and a
// connection middleware that enforces OnlyAllowOrigins and BeforeConnect
// when Guard is not used (refusing with a CONNECT_ERROR rather than Sails'
// HTTP answer). Attach a bridge once per namespace, before clients
// connect.
func (b *Bridge) Attach(ns *socketio.Namespace) {
	ns.Use(b.middleware)
	ns.OnConnection(b.onConnection)
}

// middleware applies the connection checks when Guard does not.
func (b *Bridge) middleware(s *socketio.Socket) error {
	if b.guarded.Load() {
		return nil
	}
	r := s.Handshake().Request
	if b.origins != nil && !b.originAllowed(r) {
		return &socketio.ConnectError{Message: "Origin not allowed"}
	}
	if b.opts.BeforeConnect != nil {
		if err := b.opts.BeforeConnect(r); err != nil {
			return &socketio.ConnectError{Message: refusalMessage(err)}
		}
	}
	return nil
}

// socketState is what the bridge keeps for one socket.
type socketState struct {
	sock *socketio.Socket
	hs   *http.Request // the handshake request; never modified
	host string
	// sdkError is the parse error details of every request when the
	// socket's SDK version is not supported, "" otherwise.
	sdkError        string
	noSessionHeader bool         // handshake header nosession
	noSessionQuery  bool         // handshake query nosession
	inFlight        atomic.Int64 // bytes counted by the requests being served
	wg              sync.WaitGroup
	jar             cookieJar
}

func (b *Bridge) onConnection(s *socketio.Socket) {
	hs := s.Handshake().Request
	st := &socketState{
		sock: s,
		hs:   hs,
		host: b.opts.Host,
	}
	if st.host == "" {
		st.host = hs.Host
	}
	if v, ok := checkSDKVersion(sdkVersion(hs)); !ok {
		st.sdkError = fmt.Sprintf(sdkVersionMessage, v)
	}
	st.noSessionHeader = hs.Header.Get("Nosession") != ""
	st.noSessionQuery = hs.URL.Query().Get("nosession") != ""
	st.jar.reset(strings.Join(hs.Header.Values("Cookie"), "; "))
	if b.opts.Sessions != nil && !st.noSessionHeader && !st.noSessionQuery {
		ctx, cancel := b.requestContext(s)
		c := b.opts.Sessions.Connect(ctx, s, hs)
		cancel()
		if c != "" {
			st.jar.merge(c)
		}
	}
	for _, m := range methods {
		s.On(m, b.eventHandler(st, m))
	}
	s.OnDisconnect(func(s *socketio.Socket, reason string) {
		go b.afterDisconnect(st, reason)
	})
}

// afterDisconnect waits for the socket's pending requests (their contexts
// are cancelled), then runs the session hook and AfterDisconnect.
func (b *Bridge) afterDisconnect(st *socketState, reason string) {
	st.wg.Wait()
	after := func(ctx context.Context) {
		if b.opts.AfterDisconnect != nil {
			b.opts.AfterDisconnect(ctx, st.sock, reason)
		}
	}
	if b.opts.Sessions != nil {
		cookie := ""
		if !st.noSessionHeader && !st.noSessionQuery {
			cookie = st.jar.header()
		}
		b.opts.Sessions.Disconnect(context.Background(), st.sock, cookie, after)
		return
	}
	after(context.Background())
}

// eventHandler returns the handler of the virtual requests of one method.
// It runs on the socket's dispatch queue, where it parses the payload and
// admits the request (never waiting), so that requests start in the order
// they arrived; the handler then runs on a goroutine of its own.
func (b *Bridge) eventHandler(st *socketState, method string) socketio.EventHandler {
	upper := strings.ToUpper(method)
	return func(s *socketio.Socket, e *socketio.Event) {
		var payload json.RawMessage
		cost := int64(RequestOverhead)
		if e.Len() > 0 {
			payload = e.Raw(0)
			if len(e.Attachments()) > 0 {
				// Binary placeholders become base64 strings.
				var decoded json.RawMessage
				if e.Decode(&decoded) == nil {
					payload = decoded
				}
				for _, a := range e.Attachments() {
					cost += int64(len(a))
				}
			}
		}
		cost += int64(len(payload))
		msg, details := parsePayload(payload)
		if details == "" {
			details = st.sdkError
		}
		if details != "" {
			b.parseError(s, e, details)
			return
		}
		if r := b.checkSize(st, &msg); r != nil {
			b.reply(st, e, r)
			return
		}
		u, immediate := parseURL(msg.url)
		if immediate != nil {
			b.reply(st, e, immediate)
			return
		}
		if !st.admit(cost, b.opts.MaxInFlightBytes) {
			b.log.Warn("sailsbridge: virtual request refused: too many bytes in flight", "sid", s.ID(), "bytes", cost, "inFlight", st.inFlight.Load(), "limit", b.opts.MaxInFlightBytes)
			b.reply(st, e, statusReply(http.StatusTooManyRequests))
			return
		}
		ctx, cancel := b.requestContext(s)
		req := buildRequest(ctx, upper, u, &msg, requestEnv{
			handshake:       st.hs,
			host:            st.host,
			cookie:          st.jar.header(),
			noSessionHeader: st.noSessionHeader,
		})
		st.wg.Add(1)
		go func() {
			defer func() {
				cancel()
				st.inFlight.Add(-cost)
				st.wg.Done()
			}()
			if err := b.prepareSession(st, req); err != nil {
				b.log.Error("sailsbridge: storing the socket's session failed", "sid", s.ID(), "err", err)
				b.reply(st, e, statusReply(http.StatusInternalServerError))
				return
			}
			b.serve(st, e, req)
		}()
	}
}

// admit counts cost against the socket's in-flight bytes and reports
// whether the request may run: always when none is in flight, else when
// the total stays within max.
func (st *socketState) admit(cost, max int64) bool {
	for {
		cur := st.inFlight.Load()
		if cur > 0 && cur+cost > max {
			return false
		}
		if st.inFlight.CompareAndSwap(cur, cur+cost) {
			return true
		}
	}
}

// checkSize applies Options.MaxHeaderBytes the way Node's HTTP parser
// counts: url, then header names and values, refused once the total
// reaches the bound. It returns the refusal, or nil.
func (b *Bridge) checkSize(st *socketState, msg *message) *reply {
	max := b.opts.MaxHeaderBytes
	n := len(msg.url)
	if n >= max {
		b.log.Warn("sailsbridge: virtual request refused: url too long", "sid", st.sock.ID(), "bytes", n, "limit", max)
		return statusReply(http.StatusRequestURITooLong)
	}
	for _, m := range msg.headers {
		n += len(m.key) + headerSize(m.value)
		if n >= max {
			b.log.Warn("sailsbridge: virtual request refused: headers too large", "sid", st.sock.ID(), "headers", len(msg.headers), "limit", max)
			return statusReply(http.StatusRequestHeaderFieldsTooLarge)
		}
	}
	return nil
}

// prepareSession lets a SessionProvider that stores connect-time sessions
// lazily store the socket's before the request uses it.
func (b *Bridge) prepareSession(st *socketState, req *http.Request) error {
	p, ok := b.opts.Sessions.(requestPreparer)
	if !ok || st.noSessionHeader || st.noSessionQuery || NoSession(req) {
		return nil
	}
	return p.prepareRequest(req.Context(), st.sock)
}

type ctxKey struct{}

// requestContext is the context of a virtual request: the socket's,
// carrying the socket, bounded by the timeout.
func (b *Bridge) requestContext(s *socketio.Socket) (context.Context, context.CancelFunc) {
	ctx := context.WithValue(s.Context(), ctxKey{}, s)
	if b.opts.Timeout > 0 {
		return context.WithTimeout(ctx, b.opts.Timeout)
	}
	return context.WithCancel(ctx)
}

// FromContext returns the socket a virtual request came from, given the
// request's context, or nil for a plain HTTP request. Handlers use it to
// join rooms or broadcast (s.Join, s.Broadcast(), NewSockets).
func FromContext(ctx context.Context) *socketio.Socket {
	s, _ := ctx.Value(ctxKey{}).(*socketio.Socket)
	return s
}

// IsSocket reports whether r is a virtual request (Sails' req.isSocket).
func IsSocket(r *http.Request) bool { return FromContext(r.Context()) != nil }

// GetID returns the id of the socket r came from (sails.sockets.getId), or
// "" for a plain HTTP request.
func GetID(r *http.Request) string {
	if s := FromContext(r.Context()); s != nil {
		return s.ID()
	}
	return ""
}

// NoSession reports whether r must be served without a session: it
// carries a nosession header, set by the client for this request or, for
// every request of a socket, by its handshake. Session middleware should
// honour it.
func NoSession(r *http.Request) bool { return r.Header.Get("Nosession") != "" }

// serve runs the handler for one virtual request and acknowledges its
// response, or a 504 once the timeout has expired, whether or not the
// handler has returned by then.
func (b *Bridge) serve(st *socketState, e *socketio.Event, req *http.Request) {
	ctx := req.Context()
	rw := newResponseWriter(ctx, b.opts.MaxResponseBytes)
	// answered is set once, under mu, by whoever answers: the timeout or
	// the handler's return. serve does not return (and free the slot)
	// while the timeout's answer is being sent.
	var (
		mu       sync.Mutex
		answered bool
	)
	timedOut := func() {
		mu.Lock()
		defer mu.Unlock()
		if answered || st.sock.Context().Err() != nil {
			return
		}
		answered = true
		rw.abandon()
		b.log.Warn("sailsbridge: virtual request timed out", "sid", st.sock.ID(), "method", req.Method, "url", req.URL.String())
		b.reply(st, e, statusReply(http.StatusGatewayTimeout))
	}
	stop := context.AfterFunc(ctx, func() {
		if ctx.Err() == context.DeadlineExceeded {
			timedOut()
		}
	})
	defer stop()
	panicked := b.run(rw, req)
	if ctx.Err() == context.DeadlineExceeded {
		timedOut()
		return
	}
	mu.Lock()
	defer mu.Unlock()
	if answered || st.sock.Context().Err() != nil {
		return // the socket is gone: nobody to answer
	}
	answered = true
	res := rw.finish()
	st.jar.update(res.header)
	switch {
	case panicked:
		b.reply(st, e, statusReply(http.StatusInternalServerError))
	case res.tooLarge:
		b.log.Warn("sailsbridge: response body too large", "sid", st.sock.ID(), "method", req.Method, "url", req.URL.String(), "limit", b.opts.MaxResponseBytes)
		b.reply(st, e, statusReply(http.StatusInternalServerError))
	default:
		b.reply(st, e, res.reply())
	}
}

// run calls the handler and reports whether it panicked.
func (b *Bridge) run(rw *responseWriter, req *http.Request) (panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			panicked = true
			if v != http.ErrAbortHandler {
				b.log.Warn("sailsbridge: panic serving virtual request", "method", req.Method, "url", req.URL.String(), "panic", v, "stack", string(debug.Stack()))
			}
		}
	}()
	b.h.ServeHTTP(rw, req)
	return false
}

// reply acknowledges a request with a JWR, if the client asked for one.
func (b *Bridge) reply(st *socketState, e *socketio.Event, r *reply) {
	if !e.WantsAck() {
		return
	}
	if err := e.Ack(r.jwr(!b.opts.OmitHeaders, !b.opts.OmitStatusCode)); err != nil {
		b.log.Debug("sailsbridge: ack failed", "sid", st.sock.ID(), "err", err)
	}
}

// parseError answers a request Sails cannot parse: through its ack, or
// with a "sails:parseError" event when it has none.
func (b *Bridge) parseError(s *socketio.Socket, e *socketio.Event, details string) {
	pe := newParseError(details)
	b.log.Debug("sailsbridge: parse error", "sid", s.ID(), "event", e.Name, "details", details)
	var err error
	if e.WantsAck() {
		err = e.Ack(pe)
	} else {
		err = s.Emit("sails:parseError", pe)
	}
	if err != nil {
		b.log.Debug("sailsbridge: sending parse error failed", "sid", s.ID(), "err", err)
	}
}

func refusalMessage(err error) string {
	if msg := err.Error(); msg != "" {
		return msg
	}
	return "Forbidden"
}

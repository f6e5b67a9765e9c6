package engineio

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Transport names, as they appear in the transport query parameter.
const (
	Polling   = "polling"
	WebSocket = "websocket"
)

// Options configures a Server. A nil *Options, and every zero field, means
// the documented default, which is Node engine.io's default unless noted.
type Options struct {
	// Path is the URL path the server answers, with a trailing slash.
	// Requests whose path does not start with it get 404. Default
	// "/engine.io/". Socket.IO servers use "/socket.io/".
	Path string

	// PingInterval is the heartbeat period sent in the handshake. In v4
	// the server pings every PingInterval; in v3 the client does.
	// Default 25s.
	PingInterval time.Duration

	// PingTimeout is how long a pong (v4) or the next client ping (v3,
	// counted from PingInterval) may be late before the session is closed
	// with the reason "ping timeout". Default 20s.
	PingTimeout time.Duration

	// UpgradeTimeout bounds a polling-to-websocket upgrade: a probe
	// websocket that has not completed the upgrade by then is closed (the
	// session goes on over polling). Default 10s.
	UpgradeTimeout time.Duration

	// MaxHTTPBufferSize is the largest polling POST body and the largest
	// websocket message, in bytes (Node: maxHttpBufferSize). A larger POST
	// gets 413 and a larger websocket message closes the connection with
	// status 1009; either way the session is closed. Default 1e6.
	MaxHTTPBufferSize int64

	// Transports lists the allowed transports. Default both, polling and
	// websocket.
	Transports []string

	// DisableUpgrades forbids polling-to-websocket upgrades (Node:
	// allowUpgrades false). The handshake then announces no upgrades.
	DisableUpgrades bool

	// AllowRequest, when set, sees every handshake request (the first
	// request of a session, on either transport) and refuses it by
	// returning an error: polling gets 403 with the Engine.IO error body
	// {"code":4,"message":err.Error()}, websocket gets a plain 400.
	AllowRequest func(r *http.Request) error

	// AllowedOrigins, when non-nil, is the list of origins (scheme://host
	// or scheme://host:port) a browser may connect from. The list is
	// normalised (see NormalizeOrigin); a request's Origin header is
	// compared with it byte for byte, as browsers send it, so
	// "HTTPS://Example.com:443" or a trailing slash does not match. It is checked on every
	// request of a session, not only the handshake. The literal Origin
	// "null" is always refused when a list is set. An empty non-nil list
	// refuses every request that carries an Origin header.
	AllowedOrigins []string

	// RequireOrigin refuses requests without an Origin header when
	// AllowedOrigins is set. By default a request without Origin (a
	// non-browser client) is let through.
	RequireOrigin bool

	// MaxBufferedPackets bounds the packets queued for one session and not
	// yet written. A session over it is closed with the reason "slow
	// client" rather than blocking the sender. Default 16384 (a polling client
	// may get that many between two polls; the bytes bound is the main one).
	MaxBufferedPackets int

	// MaxBufferedBytes bounds the bytes queued for one session, as
	// MaxBufferedPackets does. Default 16 MiB.
	MaxBufferedBytes int64

	// PerMessageDeflate enables websocket permessage-deflate when the
	// client offers it (with no context takeover, so that connections keep
	// no compression state), for messages of 1024 bytes or more. It costs
	// a compression per recipient and message. Default off, as in Node.
	PerMessageDeflate bool

	// HTTPCompression gzips polling responses of at least 1024 bytes when
	// the client accepts gzip. Default off (Node's default is on; it costs
	// CPU on every poll for little gain on small payloads).
	HTTPCompression bool

	// AllowEIO3 serves Engine.IO protocol v3 clients (socket.io-client 1
	// and 2, and the client sails.io.js bundles) beside v4 ones on the
	// same path. nil means on, unlike Node (allowEIO3 false), because
	// sails.io.js needs it; set it to new(bool) to refuse them: a v3
	// handshake then gets 400 {"code":5,"message":"Unsupported protocol
	// version"}, as Node answers.
	AllowEIO3 *bool

	// Cookie, when set, makes the polling handshake response set a cookie
	// holding the session id, for load balancers' sticky sessions (Node:
	// cookie). nil sets none, as in Node. A websocket opened without
	// polling gets none either, as in Node: it needs no stickiness.
	Cookie *CookieOptions

	// GenerateID returns the id of a new session, from its handshake
	// request (Node: generateId). An error refuses the handshake with 400
	// {"code":3,"message":"Bad request"}, as does an empty id or one a
	// live session has. Default: 15 random bytes in URL-safe base64.
	GenerateID func(r *http.Request) (string, error)

	// OnInitialHeaders may change the headers of the response to a
	// handshake, polling or websocket (Node: the initial_headers event).
	// It runs before OnHeaders, after the Cookie is set, on the request's
	// goroutine, and must not keep h or r.
	OnInitialHeaders func(h http.Header, r *http.Request)

	// OnHeaders may change the headers of every successful response: the
	// polling handshake, each poll and each POST's "ok", and the 101 of
	// every websocket, handshake or upgrade (Node: the headers event).
	// Refusals (Engine.IO error bodies, 413) do not get it, as in Node.
	OnHeaders func(h http.Header, r *http.Request)

	// OnConnectionError is told of every request refused with the
	// Engine.IO error contract, before the answer is written (Node: the
	// connection_error event). Requests that break a live session's
	// protocol (overlapping polls, a binary POST in v4) are not reported
	// here: they close the session, whose OnClose says why.
	OnConnectionError func(ConnectionError)

	// ParkIdleAfter is how long a websocket waits for its next message on
	// a goroutine of its own. After that it is parked: on Linux its socket
	// is watched by one process-wide epoll set and it holds no goroutine
	// and no buffer until data arrives, which is what keeps an idle
	// connection at a few KB. A negative value never parks (elsewhere than
	// Linux, and for connections that are not plain sockets, such as TLS
	// served by net/http, connections are never parked). Default 100ms
	// (DefaultParkIdleAfter): a connection quiet that long is likely to
	// stay quiet for a while, and parking or resuming one costs a few
	// microseconds.
	ParkIdleAfter time.Duration

	// CORS, when set, adds CORS headers to polling requests and answers
	// preflights, as Node's cors option (see CORSOptions). Default nil: no
	// CORS headers, as in Node.
	CORS *CORSOptions

	// Logger receives session lifecycle and error logs at Debug and Warn
	// levels. Default slog.Default().
	Logger *slog.Logger
}

// CookieOptions configures the sticky-session cookie (Options.Cookie),
// with Node's defaults for zero fields: name "io", path "/", HttpOnly,
// SameSite=Lax.
type CookieOptions struct {
	Name   string        // default "io"
	Path   string        // default "/"
	Domain string        // default none: the host that answered
	MaxAge time.Duration // default none: a session cookie; rounded down to seconds
	Secure bool          // default false
	// HTTPOnly hides the cookie from scripts. nil means true, as in Node;
	// new(bool) leaves the attribute out.
	HTTPOnly *bool
	// SameSite defaults to http.SameSiteLaxMode, as in Node;
	// http.SameSiteDefaultMode leaves the attribute out.
	SameSite    http.SameSite
	Partitioned bool // default false
}

// cookie returns the Set-Cookie value for session id.
func (c *CookieOptions) cookie(id string) string {
	k := http.Cookie{
		Name: c.Name, Value: cookieValue(id), Path: c.Path, Domain: c.Domain,
		Secure: c.Secure, HttpOnly: c.HTTPOnly == nil || *c.HTTPOnly,
		SameSite: c.SameSite, Partitioned: c.Partitioned,
	}
	if k.Name == "" {
		k.Name = "io"
	}
	if k.Path == "" {
		k.Path = "/"
	}
	if k.SameSite == 0 {
		k.SameSite = http.SameSiteLaxMode
	}
	if s := int(c.MaxAge / time.Second); s > 0 {
		k.MaxAge = s
	}
	return k.String()
}

// cookieValue escapes an id as Node's cookie module does
// (encodeURIComponent); the default ids need no escaping.
func cookieValue(id string) string {
	return strings.ReplaceAll(url.QueryEscape(id), "+", "%20")
}

// Defaults, exported so that documentation and callers can refer to them.
const (
	DefaultPath               = "/engine.io/"
	DefaultPingInterval       = 25 * time.Second
	DefaultPingTimeout        = 20 * time.Second
	DefaultUpgradeTimeout     = 10 * time.Second
	DefaultMaxHTTPBufferSize  = 1_000_000
	DefaultMaxBufferedPackets = 16384
	DefaultMaxBufferedBytes   = 16 << 20
	DefaultParkIdleAfter      = 100 * time.Millisecond
)

// withDefaults returns a copy of o with every zero field set to its
// default, and checks the values that cannot be defaulted.
func (o *Options) withDefaults() (*Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if !strings.HasSuffix(c.Path, "/") {
		c.Path += "/"
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	if c.UpgradeTimeout <= 0 {
		c.UpgradeTimeout = DefaultUpgradeTimeout
	}
	if c.ParkIdleAfter == 0 {
		c.ParkIdleAfter = DefaultParkIdleAfter
	}
	if c.MaxHTTPBufferSize <= 0 {
		c.MaxHTTPBufferSize = DefaultMaxHTTPBufferSize
	}
	if c.Transports == nil {
		c.Transports = []string{Polling, WebSocket}
	}
	for _, t := range c.Transports {
		if t != Polling && t != WebSocket {
			return nil, fmt.Errorf("engineio: unknown transport %q", t)
		}
	}
	if len(c.Transports) == 0 {
		return nil, fmt.Errorf("engineio: no transport allowed")
	}
	if c.MaxBufferedPackets <= 0 {
		c.MaxBufferedPackets = DefaultMaxBufferedPackets
	}
	if c.MaxBufferedBytes <= 0 {
		c.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.AllowedOrigins != nil {
		list := make([]string, len(c.AllowedOrigins))
		for i, o := range c.AllowedOrigins {
			n, err := NormalizeOrigin(o)
			if err != nil {
				return nil, err
			}
			list[i] = n
		}
		c.AllowedOrigins = list
	}
	return &c, nil
}

// allowsEIO3 reports whether protocol v3 clients are served.
func (o *Options) allowsEIO3() bool { return o.AllowEIO3 == nil || *o.AllowEIO3 }

func (o *Options) allows(transport string) bool {
	for _, t := range o.Transports {
		if t == transport {
			return true
		}
	}
	return false
}

// NormalizeOrigin checks that origin is a bare scheme://host[:port] with an
// http, https, ws or wss scheme, and returns it lower-cased with the default
// port removed: the form in which browsers send an Origin header, and in
// which AllowedOrigins are kept.
func NormalizeOrigin(origin string) (string, error) {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("engineio: invalid origin %q: want scheme://host[:port]", origin)
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	switch {
	case scheme == "http" || scheme == "ws":
		if port == "80" {
			port = ""
		}
	case scheme == "https" || scheme == "wss":
		if port == "443" {
			port = ""
		}
	default:
		return "", fmt.Errorf("engineio: invalid origin %q: scheme must be http or https", origin)
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		return scheme + "://" + host + ":" + port, nil
	}
	return scheme + "://" + host, nil
}

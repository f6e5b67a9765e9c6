package main

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/engineio"
)

// Config is everything `pier` can be told, from a YAML file (-config), the
// environment (PIER_ + the key in upper snake case, nested keys joined with
// _) and flags (-key, nested keys joined with a dot), in that rising order
// of precedence over the defaults of defaultConfig.
//
// Keys take the name of the Node socket.io / engine.io option where there
// is one, and Sails' config/sockets.js and config/session.js names for the
// Sails side. The help tag is shown by `pier -h` and in the README table;
// a secret tag masks the value in `pier config check`.
type Config struct {
	Environment string `yaml:"environment" help:"development or production (NODE_ENV=production also selects production): production refuses to start without an origin policy and a session secret"`
	Addr        string `yaml:"addr" help:"listen address host:port"`
	Path        string `yaml:"path" help:"the Socket.IO path"`

	PingInterval      Duration `yaml:"pingInterval" help:"heartbeat period (milliseconds, or a duration such as 25s)"`
	PingTimeout       Duration `yaml:"pingTimeout" help:"how late a heartbeat may be before the connection is closed"`
	UpgradeTimeout    Duration `yaml:"upgradeTimeout" help:"how long a polling-to-websocket upgrade may take"`
	MaxHTTPBufferSize int64    `yaml:"maxHttpBufferSize" help:"largest message or polling body in bytes"`
	Transports        []string `yaml:"transports" help:"allowed transports: polling, websocket"`
	AllowUpgrades     bool     `yaml:"allowUpgrades" help:"allow polling-to-websocket upgrades"`
	PerMessageDeflate bool     `yaml:"perMessageDeflate" help:"websocket compression when the client offers it"`
	HTTPCompression   bool     `yaml:"httpCompression" help:"gzip polling responses of 1 KiB or more"`
	ConnectTimeout    Duration `yaml:"connectTimeout" help:"close a connection that joins no namespace by then"`
	AllowEIO3         bool     `yaml:"allowEIO3" help:"accept Engine.IO v3 clients (socket.io-client 2, sails.io.js)"`

	ConnectionStateRecovery RecoveryConfig `yaml:"connectionStateRecovery"`
	CORS                    CORSConfig     `yaml:"cors"`

	OnlyAllowOrigins    []string      `yaml:"onlyAllowOrigins" help:"Sails: the only origins sockets may connect from (exact match)"`
	Grant3rdPartyCookie bool          `yaml:"grant3rdPartyCookie" help:"Sails: serve /__getcookie"`
	SendResponseHeaders bool          `yaml:"sendResponseHeaders" help:"Sails: put headers in virtual request responses"`
	SendStatusCode      bool          `yaml:"sendStatusCode" help:"Sails: put statusCode in virtual request responses"`
	Session             SessionConfig `yaml:"session"`
	SailsJS             string        `yaml:"sailsJs" help:"the sails.io.js browser bundle the demo page loads (default: found as the client bundle is)"`

	Redis RedisConfig `yaml:"redis"`
	TLS   TLSConfig   `yaml:"tls"`

	LogFormat   string   `yaml:"logFormat" help:"text or json"`
	LogLevel    string   `yaml:"logLevel" help:"a level (debug, info, warn, error), then component=level pairs: info,engine=debug,redis=warn (components: engine, socket, sails, redis, http)"`
	Drain       Duration `yaml:"drain" help:"on SIGTERM, the window over which connected clients are closed"`
	Metrics     bool     `yaml:"metrics" help:"serve Prometheus metrics at /metrics"`
	Pprof       string   `yaml:"pprof" help:"serve net/http/pprof on this separate address (off when empty)"`
	ServeClient bool     `yaml:"serveClient" help:"serve the socket.io-client bundle at <path>socket.io.js"`
	ClientDir   string   `yaml:"clientDir" help:"folder of the socket.io-client dist files (default: searched, see README)"`

	Admin    AdminConfig    `yaml:"admin"`
	Upstream UpstreamConfig `yaml:"upstream"`
}

// RecoveryConfig is Node's connectionStateRecovery. Writing the mapping in
// the file enables it unless enabled says otherwise.
type RecoveryConfig struct {
	Enabled                  bool     `yaml:"enabled" help:"restore the state of clients that reconnect in time"`
	MaxDisconnectionDuration Duration `yaml:"maxDisconnectionDuration" help:"how long a disconnected client's state is kept"`
	SkipMiddlewares          bool     `yaml:"skipMiddlewares" help:"skip connection middlewares for a recovered client"`
}

// CORSConfig is Node's cors option (the cors npm package's names).
type CORSConfig struct {
	Origin         []string `yaml:"origin" help:"allowed origins, or * for any; empty: no CORS headers"`
	Methods        []string `yaml:"methods" help:"methods allowed in preflights"`
	AllowedHeaders []string `yaml:"allowedHeaders" help:"headers allowed in preflights (default: those the browser asks for)"`
	ExposedHeaders []string `yaml:"exposedHeaders" help:"response headers the page may read"`
	Credentials    bool     `yaml:"credentials" help:"allow cookies (Access-Control-Allow-Credentials)"`
	MaxAge         int      `yaml:"maxAge" help:"seconds a preflight may be cached"`
}

// SessionConfig is Sails' config/session.js.
type SessionConfig struct {
	Secret string       `yaml:"secret" secret:"true" help:"signs session cookies (required in production)"`
	Name   string       `yaml:"name" help:"session cookie name"`
	Cookie CookieConfig `yaml:"cookie"`
}

// CookieConfig is the session cookie's attributes.
type CookieConfig struct {
	MaxAge   Duration `yaml:"maxAge" help:"session cookie lifetime (0: a browser-session cookie)"`
	Secure   bool     `yaml:"secure" help:"send the cookie over HTTPS only"`
	SameSite string   `yaml:"sameSite" help:"lax, strict, none, or empty"`
}

// RedisConfig says where the shared state lives.
type RedisConfig struct {
	URL         string `yaml:"url" secret:"url" help:"Redis URL (redis://host:port/db); empty: in memory (REDIS_URL is read too)"`
	Adapter     string `yaml:"adapter" help:"pubsub (Node's @socket.io/redis-adapter) or streams (@socket.io/redis-streams-adapter: connection state recovery across servers, short Redis outages survived)"`
	Key         string `yaml:"key" help:"adapter channel prefix (Node's key option)"`
	Cluster     bool   `yaml:"cluster" help:"the URL names Redis Cluster nodes (more with ?addr=host:port)"`
	Sharded     bool   `yaml:"sharded" help:"use the sharded adapter protocol (Redis 7 SPUBLISH)"`
	LegacyPeers bool   `yaml:"legacyPeers" help:"talk to socket.io-redis 5 (Sails) peers"`
	SailsBus    bool   `yaml:"sailsBus" help:"carry Sails room operations to Node Sails servers on the same Redis"`
}

// TLSConfig enables HTTPS; the pair is read again on SIGHUP.
type TLSConfig struct {
	Cert string `yaml:"cert" help:"PEM certificate chain file"`
	Key  string `yaml:"key" help:"PEM private key file"`
}

// AdminConfig is the @socket.io/admin-ui support.
type AdminConfig struct {
	Enabled  bool            `yaml:"enabled" help:"serve the /admin namespace of the admin UI"`
	Path     string          `yaml:"path" help:"namespace of the admin protocol"`
	Auth     AdminAuthConfig `yaml:"auth"`
	Readonly bool            `yaml:"readonly" help:"refuse the admin UI's actions (join, leave, disconnect)"`
	UIPath   string          `yaml:"uiPath" help:"URL path of the admin UI page (empty: not served)"`
}

// UpstreamConfig puts Pier in front of an existing HTTP backend (package
// upstream): virtual requests and plain HTTP go to it instead of the demo.
type UpstreamConfig struct {
	URL          string          `yaml:"url" help:"backend that sails.io.js virtual requests and other HTTP requests go to (http(s)://host:port); empty: the built-in demo"`
	Timeout      Duration        `yaml:"timeout" help:"how long the backend may take to answer (a 504 JWR past it)"`
	MaxBodyBytes int64           `yaml:"maxBodyBytes" help:"largest backend answer in bytes (a 502 JWR past it)"`
	Headers      []string        `yaml:"headers" help:"extra headers sent to the backend, as Name: value"`
	APIKeys      []string        `yaml:"apiKeys" secret:"true" help:"bearer keys of the sockets API at /pier/api/ (empty: no API)"`
	Connect      UpstreamConnect `yaml:"connect"`
	Events       UpstreamEvents  `yaml:"events"`
}

// UpstreamConnect is the backend's say on each new socket.
type UpstreamConnect struct {
	URL string `yaml:"url" help:"backend URL POSTed each handshake: 2xx accepts (JSON kept as the socket's data), 4xx refuses"`
}

// UpstreamEvents are the client events the backend hears of.
type UpstreamEvents struct {
	URL   string   `yaml:"url" help:"backend URL POSTed the listed client events and disconnections (a JSON array answer is the ack)"`
	Names []string `yaml:"names" help:"client events POSTed to events.url"`
}

// AdminAuthConfig is the admin UI's basic authentication.
type AdminAuthConfig struct {
	Username     string `yaml:"username" help:"admin UI user name (empty: no authentication)"`
	PasswordHash string `yaml:"passwordHash" secret:"true" help:"bcrypt hash of the admin UI password"`
}

// defaultConfig is what `pier` uses for every key nothing sets.
func defaultConfig() Config {
	return Config{
		Environment:       "development",
		Addr:              ":1337",
		Path:              "/socket.io/",
		PingInterval:      Duration(engineio.DefaultPingInterval),
		PingTimeout:       Duration(engineio.DefaultPingTimeout),
		UpgradeTimeout:    Duration(engineio.DefaultUpgradeTimeout),
		MaxHTTPBufferSize: engineio.DefaultMaxHTTPBufferSize,
		Transports:        []string{engineio.Polling, engineio.WebSocket},
		AllowUpgrades:     true,
		ConnectTimeout:    Duration(45 * time.Second),
		AllowEIO3:         true,
		ConnectionStateRecovery: RecoveryConfig{
			MaxDisconnectionDuration: Duration(2 * time.Minute),
			SkipMiddlewares:          true,
		},
		CORS: CORSConfig{
			Methods: []string{"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"},
		},
		Grant3rdPartyCookie: true,
		SendResponseHeaders: true,
		SendStatusCode:      true,
		Session: SessionConfig{
			Name:   "sails.sid",
			Cookie: CookieConfig{MaxAge: Duration(24 * time.Hour)},
		},
		Redis:       RedisConfig{Adapter: "pubsub", Key: "socket.io", SailsBus: true},
		LogFormat:   "text",
		LogLevel:    "info",
		Drain:       Duration(10 * time.Second),
		Metrics:     true,
		ServeClient: true,
		Admin:       AdminConfig{Path: "/admin"},
		Upstream:    UpstreamConfig{Timeout: Duration(30 * time.Second), MaxBodyBytes: 8 << 20},
	}
}

// Production reports whether the configuration is for production.
func (c *Config) Production() bool { return c.Environment == "production" }

// keyError is a bad value for one key.
type keyError struct {
	key string
	msg string
}

// validate checks the values that parsing alone cannot, returning one
// error per bad key.
func (c *Config) validate() []keyError {
	var errs []keyError
	bad := func(key, format string, args ...any) {
		errs = append(errs, keyError{key, fmt.Sprintf(format, args...)})
	}
	oneOf := func(key, v string, allowed ...string) {
		if !slices.Contains(allowed, v) {
			bad(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
		}
	}
	oneOf("environment", c.Environment, "development", "production")
	oneOf("logFormat", c.LogFormat, "text", "json")
	oneOf("redis.adapter", c.Redis.Adapter, "pubsub", "streams")
	if c.Redis.Adapter == "streams" && (c.Redis.Sharded || c.Redis.LegacyPeers) {
		bad("redis.adapter", "streams has no sharded or legacy-peers mode")
	}
	oneOf("session.cookie.sameSite", strings.ToLower(c.Session.Cookie.SameSite), "", "lax", "strict", "none")
	if _, err := parseLogLevels(c.LogLevel); err != nil {
		bad("logLevel", "%v", err)
	}
	if !strings.HasPrefix(c.Path, "/") {
		bad("path", "%q must start with /", c.Path)
	}
	if len(c.Transports) == 0 {
		bad("transports", "at least one of polling, websocket")
	}
	for _, t := range c.Transports {
		oneOf("transports", t, engineio.Polling, engineio.WebSocket)
	}
	for key, d := range map[string]Duration{
		"pingInterval": c.PingInterval, "pingTimeout": c.PingTimeout, "upgradeTimeout": c.UpgradeTimeout,
		"connectTimeout": c.ConnectTimeout, "drain": c.Drain,
		"connectionStateRecovery.maxDisconnectionDuration": c.ConnectionStateRecovery.MaxDisconnectionDuration,
	} {
		if d <= 0 && key != "drain" {
			bad(key, "must be positive")
		}
		if d < 0 {
			bad(key, "must not be negative")
		}
	}
	if c.MaxHTTPBufferSize <= 0 {
		bad("maxHttpBufferSize", "must be positive")
	}
	if c.CORS.MaxAge < 0 {
		bad("cors.maxAge", "must not be negative")
	}
	for _, o := range c.CORS.Origin {
		if o == "*" {
			if len(c.CORS.Origin) > 1 {
				bad("cors.origin", "* must stand alone")
			}
			continue
		}
		if err := checkOrigin(o); err != nil {
			bad("cors.origin", "%v", err)
		}
	}
	for _, o := range c.OnlyAllowOrigins {
		if err := checkOrigin(o); err != nil && !strings.HasPrefix(o, "file://") {
			bad("onlyAllowOrigins", "%v", err)
		}
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		bad("tls", "cert and key go together")
	}
	if c.Redis.URL != "" {
		if _, err := url.Parse(c.Redis.URL); err != nil {
			bad("redis.url", "not a URL")
		}
	}
	if (c.Admin.Auth.Username == "") != (c.Admin.Auth.PasswordHash == "") {
		bad("admin.auth", "username and passwordHash go together")
	}
	if c.Production() {
		if len(c.CORS.Origin) == 0 && len(c.OnlyAllowOrigins) == 0 {
			bad("environment", "production needs an origin policy: set cors.origin or onlyAllowOrigins")
		}
		if c.Session.Secret == "" {
			bad("environment", "production needs session.secret")
		}
	}
	return errs
}

// checkOrigin accepts scheme://host[:port] exactly as a browser sends it:
// no path, no trailing slash.
func checkOrigin(o string) error {
	if _, err := engineio.NormalizeOrigin(o); err != nil {
		return fmt.Errorf("invalid origin %q: want scheme://host[:port]", o)
	}
	if strings.HasSuffix(o, "/") {
		return fmt.Errorf("invalid origin %q: no trailing slash (browsers send none)", o)
	}
	return nil
}

// Duration is a time.Duration written as Node writes its timings, a number
// of milliseconds, or as a Go duration ("25s", "1m30s").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// parseDuration reads milliseconds or a Go duration.
func parseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return Duration(time.Duration(ms) * time.Millisecond), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want milliseconds (25000) or a duration (25s)", s)
	}
	return Duration(d), nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/session"
	"github.com/pierhq/pier/socketio"
)

// newDefaultApp is what `pier` serves: a Socket.IO server on the
// configured path, and a small relay application:
//
//   - "join" (room) joins a room and acknowledges with true;
//   - "leave" (room) leaves it;
//   - "message" (args...) goes to every other client, or, when the first
//     argument is {"room": name}, to the others in that room;
//   - "echo" (args...) is acknowledged with its arguments.
func newDefaultApp(opts *socketio.Options) (*socketio.Server, error) {
	io, err := socketio.NewServer(opts)
	if err != nil {
		return nil, err
	}
	io.OnConnection(func(s *socketio.Socket) {
		s.On("join", func(s *socketio.Socket, e *socketio.Event) {
			var room string
			if e.Decode(&room) == nil && room != "" {
				s.Join(socketio.Room(room))
				e.Ack(true)
			}
		})
		s.On("leave", func(s *socketio.Socket, e *socketio.Event) {
			var room string
			if e.Decode(&room) == nil {
				s.Leave(socketio.Room(room))
			}
		})
		s.On("message", func(s *socketio.Socket, e *socketio.Event) {
			var to struct{ Room string }
			op := s.Broadcast()
			if e.Len() > 0 && e.Decode(&to) == nil && to.Room != "" {
				op = s.To(socketio.Room(to.Room))
			}
			op.Emit("message", e.Values()...)
		})
		s.On("echo", func(s *socketio.Socket, e *socketio.Event) {
			e.Ack(e.Values()...)
		})
	})
	return io, nil
}

// engineOptions maps the configuration onto the Engine.IO server's
// options; allow refuses handshakes (draining).
func engineOptions(c *Config, log *slog.Logger, allow func(*http.Request) error) *engineio.Options {
	eo := &engineio.Options{
		Path:              c.Path,
		PingInterval:      c.PingInterval.D(),
		PingTimeout:       c.PingTimeout.D(),
		UpgradeTimeout:    c.UpgradeTimeout.D(),
		MaxHTTPBufferSize: c.MaxHTTPBufferSize,
		Transports:        c.Transports,
		DisableUpgrades:   !c.AllowUpgrades,
		PerMessageDeflate: c.PerMessageDeflate,
		HTTPCompression:   c.HTTPCompression,
		Logger:            log,
	}
	if len(c.CORS.Origin) > 0 {
		eo.CORS = &engineio.CORSOptions{
			Origin:         c.CORS.Origin,
			Methods:        c.CORS.Methods,
			AllowedHeaders: c.CORS.AllowedHeaders,
			ExposedHeaders: c.CORS.ExposedHeaders,
			Credentials:    c.CORS.Credentials,
			MaxAge:         c.CORS.MaxAge,
		}
	}
	allowEIO3 := c.AllowEIO3
	eo.AllowEIO3 = &allowEIO3 // off: Node's 400 "Unsupported protocol version"
	only := c.OnlyAllowOrigins
	eo.AllowRequest = func(r *http.Request) error {
		// Sails' onlyAllowOrigins: the Origin exactly as listed, and
		// none missing (checked here on the handshake, whatever the
		// application does with the Sails bridge).
		if only != nil && !slices.Contains(only, r.Header.Get("Origin")) {
			return errors.New("origin not allowed")
		}
		if allow != nil {
			return allow(r)
		}
		return nil
	}
	return eo
}

// socketOptions maps the configuration onto the Socket.IO server's.
func socketOptions(c *Config, eo *engineio.Options, adapter socketio.AdapterFactory, client *clientBundle, log *slog.Logger) *socketio.Options {
	so := &socketio.Options{
		Engine:         eo,
		ConnectTimeout: c.ConnectTimeout.D(),
		Adapter:        adapter,
		Logger:         log,
	}
	if client != nil {
		so.ClientFS = client.fsys
	}
	if r := c.ConnectionStateRecovery; r.Enabled {
		so.ConnectionStateRecovery = &socketio.RecoveryOptions{
			MaxDisconnectionDuration: r.MaxDisconnectionDuration.D(),
			RunMiddlewares:           !r.SkipMiddlewares,
		}
	}
	return so
}

// sessionOptions maps session.* onto the session manager's options.
func sessionOptions(c *Config, log *slog.Logger) *session.Options {
	o := &session.Options{
		CookieName: c.Session.Name,
		Secrets:    sessionSecrets(c.Session.Secret, log),
		Logger:     log,
	}
	o.Cookie.MaxAge = c.Session.Cookie.MaxAge.D()
	o.Cookie.Secure = c.Session.Cookie.Secure
	switch strings.ToLower(c.Session.Cookie.SameSite) {
	case "lax":
		o.Cookie.SameSite = http.SameSiteLaxMode
	case "strict":
		o.Cookie.SameSite = http.SameSiteStrictMode
	case "none":
		o.Cookie.SameSite = http.SameSiteNoneMode
	}
	return o
}

// sailsOptions maps the Sails keys onto the Sails bridge's options, for
// the application to build its bridge with (adding Sessions and Logger).
// Production is left off: the configuration already refuses production
// without an origin policy, which cors.origin alone may be.
func sailsOptions(c *Config) sailsbridge.Options {
	return sailsbridge.Options{
		OnlyAllowOrigins: c.OnlyAllowOrigins,
		OmitStatusCode:   !c.SendStatusCode,
		OmitHeaders:      !c.SendResponseHeaders,
		DisableGetCookie: !c.Grant3rdPartyCookie,
	}
}

// app is a configured Pier: the handler and what must be shut down.
type app struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler
	io      *socketio.Server
	drain   *drainer
	metrics *metrics
	ready   func(context.Context) error // nil, or reports Redis unreachable
	closers []func() error
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// newApp builds Pier from its configuration.
func newApp(ctx context.Context, c Config, root *slog.Logger) (_ *app, err error) {
	a := &app{cfg: c, log: root}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	a.metrics = newMetrics()
	redisLog := component(root, "redis")
	redis.SetLogger(redisLogger{redisLog})
	be, err := newBackend(ctx, c.Redis, redisLog, a.metrics.redisHook())
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, be.close)
	if be.rdb != nil {
		rdb := be.rdb
		a.ready = func(ctx context.Context) error { return rdb.Ping(ctx).Err() }
	}
	client, err := findClient(c.ClientDir, c.ServeClient)
	if err != nil {
		return nil, err
	}
	switch {
	case client != nil:
		root.Info("pier: serving the socket.io-client bundle", "dir", client.dir)
	case c.ServeClient:
		root.Warn("pier: socket.io-client bundle not found (set clientDir, or run `make run` once to install it): not serving it")
	}
	a.drain = newDrainer(c.Drain.D(), component(root, "http"))
	eo := engineOptions(&c, component(root, "engine"), a.drain.allowHandshake)
	so := socketOptions(&c, eo, be.adapter, client, component(root, "socket"))
	so.Parser = a.metrics.parser(so.Parser)
	io, err := newDefaultApp(so)
	if err != nil {
		return nil, err
	}
	io.Observe(a.metrics.observer())
	a.io = io
	a.drain.watch(io.Of("/"))
	a.metrics.watch(io, a.drain)
	sessions, err := session.New(be.sessions, sessionOptions(&c, component(root, "sails")))
	if err != nil {
		return nil, err
	}
	var bus sailsbridge.RoomBus
	if be.rdb != nil && c.Redis.SailsBus {
		// Sails servers sharing the Redis hear our room operations too.
		sb, err := redisadapter.NewSailsBus(ctx, be.rdb, io.Of("/"), &redisadapter.SailsBusOptions{Logger: redisLog})
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, func() error { sb.Close(); return nil })
		bus = sb
	}
	sailsJS := c.SailsJS
	if sailsJS == "" {
		sailsJS = findSailsJS()
	}
	var demo http.Handler
	if c.Upstream.URL != "" {
		uc, err := upstreamConfigOf(&c.Upstream)
		if err != nil {
			return nil, err
		}
		demo, err = newUpstreamApp(io, uc, sailsOptions(&c), a.wrapVirtual, component(root, "sails"))
		if err != nil {
			return nil, err
		}
	} else if demo, err = newDemo(io, sessions, bus, sailsJS, component(root, "sails"), sailsOptions(&c), a.wrapVirtual); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", demo)
	ad, err := mountAdmin(mux, io, adminConfig{AdminConfig: c.Admin, Production: c.Production()}, component(root, "socket"))
	if err != nil {
		return nil, err
	}
	if ad != nil {
		a.closers = append(a.closers, ad.Close)
	}
	a.handler = a.routes(mux)
	return a, nil
}

// wrapVirtual wraps the handler of Sails virtual requests (what the Sails
// bridge is built with) so that they are counted and timed, and so that a
// drain closes no socket while one of its requests is being served.
func (a *app) wrapVirtual(h http.Handler) http.Handler {
	return a.metrics.trackVirtual(a.drain.track(h))
}

// routes adds the operator's endpoints in front of the application.
func (a *app) routes(demo http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	if a.cfg.Metrics {
		mux.Handle("GET /metrics", a.metrics.handler())
	}
	mux.Handle("/", demo)
	return a.metrics.wrapHTTP(mux, a.cfg.Path)
}

// readyz is 200 when Pier takes new clients: not draining, and Redis (when
// configured) answers a PING within 2 seconds.
func (a *app) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if a.drain.draining() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "draining")
		return
	}
	if a.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := a.ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "redis unreachable:", err)
			return
		}
	}
	fmt.Fprintln(w, "ready")
}

// runServe is `pier` serving with its configuration.
func runServe(o *options) error {
	c := o.cfg
	root, err := newRootLogger(os.Stderr, c.LogFormat, c.LogLevel)
	if err != nil {
		return err
	}
	if o.file != "" {
		root.Info("pier: configuration", "file", o.file, "environment", c.Environment)
	}
	a, err := newApp(context.Background(), c, root)
	if err != nil {
		return err
	}
	defer a.close()
	return a.run(context.Background())
}

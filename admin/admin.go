package admin

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/socketio"
)

// Options configures Instrument. A zero field means its documented default.
type Options struct {
	// Auth is the login the dashboard must present. Instrument refuses a
	// nil Auth unless NoAuth is set, so that an open dashboard is always a
	// decision (as Node's instrument() requires an explicit auth option).
	Auth *BasicAuth
	// NoAuth lets any client into the admin namespace.
	NoAuth bool

	// Namespace is the admin namespace. Default "/admin".
	Namespace string

	// ReadOnly refuses the dashboard's commands (join, leave, disconnect,
	// emit): they are dropped without an answer, as Node does.
	ReadOnly bool

	// Production sends only the server statistics: no socket list, no
	// per-socket, room or event notifications (Node's mode "production").
	// The default is the development mode, which reports everything.
	Production bool

	// ServerID names this server on the dashboard's Servers page. Default
	// the host name; servers of one cluster need distinct IDs.
	ServerID string

	// Store keeps the session IDs handed to logged-in dashboards. Default
	// an in-memory store (sessions valid on this server only).
	Store SessionStore

	// StatsInterval is the period of the server_stats messages. Default 2s
	// (the dashboard marks a server unhealthy after 10s without one).
	StatsInterval time.Duration

	// Logger receives errors of the commands. Default slog.Default().
	Logger *slog.Logger
}

// DefaultNamespace and DefaultStatsInterval are the defaults of Options.
const (
	DefaultNamespace     = "/admin"
	DefaultStatsInterval = 2 * time.Second
)

// commandTimeout bounds one dashboard command across the cluster.
const commandTimeout = 10 * time.Second

// Admin is the admin namespace attached to a server by Instrument.
//
// Concurrency: all methods may be called concurrently.
type Admin struct {
	io    *socketio.Server
	nsp   *socketio.Namespace
	opts  Options
	log   *slog.Logger
	stats *stats
	auth  *authenticator

	mu      sync.Mutex // guards conns and polling (leaf lock)
	conns   map[*engineio.Session]*conn
	polling map[*engineio.Session]*conn // the conns last seen on polling

	closed atomic.Bool // set by Close: the hooks then do nothing

	stop chan struct{}
	done chan struct{}
}

// conn is what the Admin remembers of one Engine.IO connection.
type conn struct {
	transport string                      // as last reported
	sockets   map[string]*socketio.Socket // by socket id
}

// Instrument attaches the admin namespace that the official Socket.IO
// Admin UI (@socket.io/admin-ui) connects to, and starts sending the
// server statistics. Call it before clients connect: connections already
// open are not counted. Close stops it.
func Instrument(io *socketio.Server, opts *Options) (*Admin, error) {
	a := &Admin{
		io:      io,
		conns:   make(map[*engineio.Session]*conn),
		polling: make(map[*engineio.Session]*conn),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if opts != nil {
		a.opts = *opts
	}
	if a.opts.Auth == nil && !a.opts.NoAuth {
		return nil, errors.New("admin: Options.Auth is required (or set NoAuth to leave the dashboard open)")
	}
	if a.opts.Namespace == "" {
		a.opts.Namespace = DefaultNamespace
	}
	if a.opts.StatsInterval <= 0 {
		a.opts.StatsInterval = DefaultStatsInterval
	}
	if a.opts.ServerID == "" {
		a.opts.ServerID, _ = os.Hostname()
	}
	if a.opts.Store == nil {
		a.opts.Store = NewMemoryStore()
	}
	a.log = a.opts.Logger
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.opts.Auth != nil {
		au, err := newAuthenticator(a.opts.Auth, a.opts.Store)
		if err != nil {
			return nil, err
		}
		a.auth = au
	}
	a.stats = newStats()
	a.nsp = io.Of(a.opts.Namespace)
	if a.auth != nil {
		a.nsp.Use(a.auth.middleware)
	}
	a.nsp.OnConnection(a.onAdminConnect)
	io.Observe(a.observer())
	go a.loop()
	return a, nil
}

// Namespace returns the admin namespace.
func (a *Admin) Namespace() *socketio.Namespace { return a.nsp }

// Close stops the statistics timer and the notifications. The admin
// namespace stays; connected dashboards see no more updates.
func (a *Admin) Close() error {
	if a.closed.Swap(true) {
		return nil
	}
	close(a.stop)
	<-a.done
	a.mu.Lock()
	clear(a.conns)
	clear(a.polling)
	a.mu.Unlock()
	a.stats.drain()
	return nil
}

// Shutdown is Close, for servers that shut their parts down with a context.
func (a *Admin) Shutdown(context.Context) error { return a.Close() }

// transportCheck is how often connections still on polling are checked
// for an upgrade to WebSocket.
const transportCheck = 250 * time.Millisecond

// loop sends the statistics at once, then every StatsInterval, and reports
// upgraded connections in between.
func (a *Admin) loop() {
	defer close(a.done)
	t := time.NewTicker(a.opts.StatsInterval)
	defer t.Stop()
	up := time.NewTicker(transportCheck)
	defer up.Stop()
	a.emitStats()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			a.emitStats()
		case <-up.C:
			a.checkTransports()
		}
	}
}

// features is the feature list of the config message.
func (a *Admin) features() []string {
	var f []string
	if !a.opts.ReadOnly {
		f = append(f, "EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT")
	}
	f = append(f, "AGGREGATED_EVENTS")
	if !a.opts.Production {
		f = append(f, "ALL_EVENTS")
	}
	return f
}

// onAdminConnect greets a dashboard: its session ID after a login, the
// configuration, and in development mode every socket.
func (a *Admin) onAdminConnect(s *socketio.Socket) {
	if a.auth != nil {
		if id := a.auth.takeIssued(s.ID()); id != "" {
			s.Emit("session", id)
		}
	}
	s.Emit("config", map[string]any{"supportedFeatures": a.features()})
	if !a.opts.Production {
		ctx, cancel := context.WithTimeout(s.Context(), commandTimeout)
		defer cancel()
		s.Emit("all_sockets", a.allSockets(ctx))
	}
	if !a.opts.ReadOnly {
		a.registerCommands(s)
	}
}

// allSockets describes the sockets of every namespace of this server (on
// every server of the cluster).
func (a *Admin) allSockets(ctx context.Context) []serializedSocket {
	out := []serializedSocket{}
	for _, n := range a.io.Namespaces() {
		socks, err := n.FetchSockets(ctx)
		if err != nil {
			a.log.Warn("admin: fetching sockets", "nsp", n.Name(), "err", err)
		}
		for _, rs := range socks {
			out = append(out, a.serializeRemote(n, rs))
		}
	}
	return out
}

// emitToAdmins sends an event to every dashboard.
func (a *Admin) emitToAdmins(event string, args ...any) {
	if err := a.nsp.Emit(event, args...); err != nil {
		a.log.Debug("admin: emit", "event", event, "err", err)
	}
}

// timestamp is a time as JavaScript's Date serialises to JSON.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

package socketio

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/engineio"
)

// Options configures a Server. A nil *Options, and every zero field, means
// the documented default (Node socket.io's default unless noted).
type Options struct {
	// Engine configures the Engine.IO server underneath. Its Path
	// defaults to "/socket.io/" here.
	Engine *engineio.Options

	// ConnectTimeout closes a connection that has not joined any namespace
	// by then (protocol v5 only; v4 clients join "/" at once). Default 45s.
	ConnectTimeout time.Duration

	// Adapter creates the adapter of each namespace. Default
	// NewLocalAdapter: rooms and broadcasts within this process.
	Adapter AdapterFactory

	// Limits bounds what the packet decoder accepts. Zero fields take the
	// defaults of Limits; MaxAttachmentBytes defaults to the engine's
	// MaxHTTPBufferSize.
	Limits Limits

	// Parser encodes and decodes packets. Default DefaultParser() (JSON);
	// clients must use the same parser (socket.io-client's parser option).
	Parser Parser

	// ConnectionStateRecovery, when set, lets clients that lost their
	// connection get their socket back with the events they missed (Node:
	// connectionStateRecovery). Default off.
	ConnectionStateRecovery *RecoveryOptions

	// MaxBufferedBytes bounds the bytes of the received packets of one
	// connection that wait for their handlers (a handler that blocks
	// holds up the next packets of its client). Past it, and past 256
	// packets, Pier stops reading from the connection until the handlers
	// catch up. A packet is always taken when none waits. Default twice
	// the engine's MaxHTTPBufferSize (2 MB with its default).
	MaxBufferedBytes int64

	// MaxBufferedBytesTotal bounds the bytes of received packets waiting
	// for their handlers across all connections. A connection whose
	// packet would pass it is closed (logged at warning level, reason
	// "inbound buffer budget exceeded"). Default
	// DefaultMaxBufferedBytesTotal (256 MiB).
	MaxBufferedBytesTotal int64

	// MaxRoomsPerSocket bounds the rooms one socket may be in, its own id
	// room included; a Join past it is refused (Socket.Join returns
	// ErrTooManyRooms) and logged at warning level. Node has no bound.
	// Default DefaultMaxRoomsPerSocket.
	MaxRoomsPerSocket int

	// AckTimeout bounds EmitWithAck calls whose context has no deadline.
	// Default: none (the context decides).
	AckTimeout time.Duration

	// CleanupEmptyChildNamespaces removes a dynamic namespace (one created
	// through OfMatch or OfRegexp) once its last socket has left, and
	// closes its adapter; a later connection creates it again (Node 4.6+:
	// cleanupEmptyChildNamespaces). A connection refused by the middleware
	// leaves no namespace behind either. Default false.
	CleanupEmptyChildNamespaces bool

	// ClientFS, when set, serves the socket.io-client browser bundles at
	// the server's path, as Node's serveClient: socket.io.js,
	// socket.io.min.js, socket.io.esm.min.js, socket.io.msgpack.min.js and
	// their .map files, read from the root of ClientFS (the dist folder of
	// the socket.io-client npm package), with an ETag. Default nil: not
	// served.
	ClientFS fs.FS

	// Logger receives connection logs. Default slog.Default().
	Logger *slog.Logger
}

// DefaultConnectTimeout is the default of Options.ConnectTimeout.
const DefaultConnectTimeout = 45 * time.Second

// DefaultMaxRoomsPerSocket is the default of Options.MaxRoomsPerSocket.
const DefaultMaxRoomsPerSocket = 10_000

// Server is a Socket.IO server: an http.Handler serving Socket.IO protocol
// v5 (EIO4 clients, socket.io-client 3 and 4) and v4 (EIO3 clients,
// socket.io-client 2 and sails.io.js) on one path.
//
// Concurrency: all methods may be called concurrently.
type Server struct {
	engine  *engineio.Server
	opts    Options
	log     *slog.Logger
	limits  Limits
	parser  Parser
	adapter AdapterFactory

	maxRooms         int          // Options.MaxRoomsPerSocket, resolved
	maxBuffered      int64        // Options.MaxBufferedBytes, resolved
	maxBufferedTotal int64        // Options.MaxBufferedBytesTotal, resolved
	buffered         atomic.Int64 // bytes queued by all clients
	closing          atomic.Int64 // closed connections whose sockets' disconnect handlers have not all run

	mu       sync.RWMutex
	nsps     map[string]*Namespace
	building map[string]*nspBuild // namespaces being created; nil when none
	parents  []*ParentNamespace

	obsMu sync.Mutex                  // serialises Observe
	obs   atomic.Pointer[[]*Observer] // copy on write

	client *clientServer // nil unless Options.ClientFS
}

// NewServer returns a Server; nil opts means the defaults.
func NewServer(opts *Options) (*Server, error) {
	s := &Server{nsps: make(map[string]*Namespace)}
	if opts != nil {
		s.opts = *opts
	}
	var eo engineio.Options
	if s.opts.Engine != nil {
		eo = *s.opts.Engine
	}
	if eo.Path == "" {
		eo.Path = "/socket.io/"
	}
	if eo.Logger == nil {
		eo.Logger = s.opts.Logger
	}
	if s.opts.ConnectTimeout <= 0 {
		s.opts.ConnectTimeout = DefaultConnectTimeout
	}
	if s.opts.Logger == nil {
		s.opts.Logger = slog.Default()
	}
	s.log = s.opts.Logger
	s.maxRooms = s.opts.MaxRoomsPerSocket
	if s.maxRooms <= 0 {
		s.maxRooms = DefaultMaxRoomsPerSocket
	}
	if s.opts.Parser == nil {
		s.opts.Parser = DefaultParser()
	}
	s.parser = s.opts.Parser
	s.adapter = s.opts.Adapter
	if s.adapter == nil {
		s.adapter = NewLocalAdapter
	}
	eng, err := engineio.NewServer((*engineHandler)(s), &eo)
	if err != nil {
		return nil, err
	}
	s.engine = eng
	s.bufferLimits(eng.Options())
	if s.opts.ClientFS != nil {
		s.client = &clientServer{fsys: s.opts.ClientFS, path: eng.Options().Path, etags: map[string]string{}}
	}
	s.limits = s.opts.Limits
	if s.limits.MaxAttachmentBytes <= 0 {
		s.limits.MaxAttachmentBytes = eng.Options().MaxHTTPBufferSize
	}
	s.Of("/")
	return s, nil
}

// ServeHTTP serves the Engine.IO requests of Socket.IO clients.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.client != nil && s.client.serve(w, r) {
		return
	}
	s.engine.ServeHTTP(w, r)
}

// Engine returns the Engine.IO server underneath.
func (s *Server) Engine() *engineio.Server { return s.engine }

// Of returns the namespace called name, creating it if needed. A name
// without a leading slash gets one. The adapter factory runs without any
// server lock held (it may wait on the network), once per name even when
// several goroutines ask for a new namespace at the same time.
func (s *Server) Of(name string) *Namespace {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	s.mu.RLock()
	n := s.nsps[name]
	s.mu.RUnlock()
	if n != nil {
		return n
	}
	return s.build(name, nil)
}

// nspBuild is a namespace being created: others asking for the same name
// wait for done (without holding Server.mu) and look again.
type nspBuild struct{ done chan struct{} }

// build returns the namespace name, creating it with parent if no one has.
// The namespace (and its adapter) is made outside Server.mu.
func (s *Server) build(name string, parent *ParentNamespace) *Namespace {
	for {
		s.mu.Lock()
		if n := s.nsps[name]; n != nil {
			s.mu.Unlock()
			return n
		}
		if b := s.building[name]; b != nil {
			s.mu.Unlock()
			<-b.done
			continue
		}
		b := &nspBuild{done: make(chan struct{})}
		if s.building == nil {
			s.building = make(map[string]*nspBuild)
		}
		s.building[name] = b
		s.mu.Unlock()
		return s.create(name, parent, b)
	}
}

// create makes the namespace that b announces and publishes it. If the
// adapter factory panics, the announcement is withdrawn so that waiters
// try again, and the panic goes on.
func (s *Server) create(name string, parent *ParentNamespace, b *nspBuild) (n *Namespace) {
	defer func() {
		s.mu.Lock()
		if n != nil {
			s.nsps[name] = n
		}
		delete(s.building, name)
		s.mu.Unlock()
		close(b.done)
	}()
	n = newNamespace(s, name, parent)
	if parent != nil {
		parent.addChild(n)
	}
	return n
}

// NamespaceMatcher decides whether a namespace that does not exist yet may
// be created for a client that asks for it, as Node's io.of(fn) does.
type NamespaceMatcher func(name string, hs *Handshake) bool

// OfMatch declares dynamic namespaces: when a client connects to a
// namespace that does not exist and match accepts its name, the namespace
// is created as a child of the returned parent, with the parent's
// middleware and connection handlers.
func (s *Server) OfMatch(match NamespaceMatcher) *ParentNamespace {
	p := &ParentNamespace{srv: s, match: match}
	s.mu.Lock()
	s.parents = append(s.parents, p)
	s.mu.Unlock()
	return p
}

// OfRegexp declares the dynamic namespaces whose names match re.
func (s *Server) OfRegexp(re *regexp.Regexp) *ParentNamespace {
	return s.OfMatch(func(name string, _ *Handshake) bool { return re.MatchString(name) })
}

// lookup finds or, for a dynamic namespace, creates the namespace name;
// hs gives the client's handshake to the matchers.
func (s *Server) lookup(name string, hs func() *Handshake) *Namespace {
	s.mu.RLock()
	n := s.nsps[name]
	parents := s.parents
	s.mu.RUnlock()
	if n != nil {
		return n
	}
	for _, p := range parents {
		if p.match(name, hs()) {
			return s.build(name, p)
		}
	}
	return nil
}

// Use adds middleware to the main namespace "/".
func (s *Server) Use(m Middleware) { s.Of("/").Use(m) }

// OnConnection sets the connection handler of the main namespace "/".
func (s *Server) OnConnection(h func(*Socket)) { s.Of("/").OnConnection(h) }

// To returns an operator broadcasting to the rooms of the main namespace.
func (s *Server) To(rooms ...Room) BroadcastOperator { return s.Of("/").To(rooms...) }

// Emit sends an event to every client of the main namespace.
func (s *Server) Emit(event string, args ...any) error { return s.Of("/").Emit(event, args...) }

// Shutdown disconnects every client (each socket sees the reason "server
// shutting down"), closes the adapters, and shuts the engine down. It
// returns once every socket's disconnecting and disconnect handlers have
// run (these wait for a handler of the same client that is still
// running), or with ctx's error when ctx ends first.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.engine.Shutdown(ctx)
	if err == nil {
		err = s.waitCloses(ctx)
	}
	s.mu.RLock()
	nsps := make([]*Namespace, 0, len(s.nsps))
	for _, n := range s.nsps {
		nsps = append(nsps, n)
	}
	s.mu.RUnlock()
	for _, n := range nsps {
		if c, ok := n.adapter.(interface{ Close() error }); ok {
			if cerr := c.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
	}
	return err
}

// waitCloses waits until the disconnect handlers of every closed
// connection have run.
func (s *Server) waitCloses(ctx context.Context) error {
	if s.closing.Load() == 0 {
		return nil
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for s.closing.Load() > 0 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// engineHandler is the Server seen by the engine.
type engineHandler Server

func (h *engineHandler) OnOpen(sess *engineio.Session) {
	s := (*Server)(h)
	c := newClient(s, sess)
	sess.SetData(c)
	for _, o := range s.observers() {
		if o.ConnOpened != nil {
			o.ConnOpened(sess)
		}
	}
	if sess.Protocol() == 3 {
		// Protocol v4 clients are connected to "/" without asking.
		c.enqueueConnect(&Packet{Type: PacketConnect, Namespace: "/"})
		return
	}
	c.connectTimer = time.AfterFunc(s.opts.ConnectTimeout, func() {
		c.mu.Lock()
		none := len(c.sockets) == 0
		c.mu.Unlock()
		if none {
			sess.Close("connect timeout")
		}
	})
}

func (h *engineHandler) OnMessage(sess *engineio.Session, m engineio.Message) {
	for _, o := range (*Server)(h).observers() {
		if o.MessageIn != nil {
			o.MessageIn(sess, m)
		}
	}
	if c, ok := sess.Data().(*client); ok {
		c.onMessage(m)
	}
}

func (h *engineHandler) OnClose(sess *engineio.Session, cause error) {
	if c, ok := sess.Data().(*client); ok {
		c.onClose(cause)
	}
	for _, o := range (*Server)(h).observers() {
		if o.ConnClosed != nil {
			o.ConnClosed(sess, engineio.CloseReason(cause))
		}
	}
}

// Error values.
var (
	// ErrDisconnected is returned when emitting on a disconnected socket.
	ErrDisconnected = errors.New("socketio: socket disconnected")
	// ErrAckTimeout is returned by EmitWithAck when not every expected
	// acknowledgement arrived in time.
	ErrAckTimeout = errors.New("socketio: acknowledgement timeout")
)

// ConnectError refuses a connection from a Middleware: the client gets a
// CONNECT_ERROR packet whose message is Message and whose data is Data
// (socket.io-client gives both to its "connect_error" listeners).
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return e.Message }

// NewConnectError returns a *ConnectError.
func NewConnectError(message string, data any) error {
	return &ConnectError{Message: message, Data: data}
}

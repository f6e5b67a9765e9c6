package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/socketio"
)

// errDraining refuses handshakes while Pier drains.
var errDraining = errors.New("server shutting down")

// maxCloseGap is the longest pause between two clients closed by a drain.
const maxCloseGap = 100 * time.Millisecond

// answerSettle is how long a drain waits, after a socket's last virtual
// request returned from its handler, before closing the socket: the Sails
// bridge writes the answer just after the handler returns, on the
// handler's goroutine, which a busy machine may not run at once.
const answerSettle = 250 * time.Millisecond

// drainer takes Pier out of service: it refuses new handshakes, closes
// the connected clients spread over its window (each gets a transport
// close, from which Socket.IO clients reconnect, to another node), and
// lets the virtual requests in flight finish first.
//
// Concurrency: all methods may be called concurrently. mu guards socks and
// inflight; it is held only to read or change them.
type drainer struct {
	window time.Duration
	log    *slog.Logger
	on     atomic.Bool

	mu       sync.Mutex
	socks    map[*socketio.Socket]struct{}
	inflight map[string]int       // socket id -> virtual requests being served
	lastDone map[string]time.Time // socket id -> when its last request returned, while draining
	idle     *sync.Cond           // signalled when an inflight count drops
	total    int
}

func newDrainer(window time.Duration, log *slog.Logger) *drainer {
	d := &drainer{window: window, log: log, socks: map[*socketio.Socket]struct{}{}, inflight: map[string]int{}, lastDone: map[string]time.Time{}}
	d.idle = sync.NewCond(&d.mu)
	return d
}

func (d *drainer) draining() bool { return d.on.Load() }

// allowHandshake is the engine's AllowRequest while draining.
func (d *drainer) allowHandshake(*http.Request) error {
	if d.on.Load() {
		return errDraining
	}
	return nil
}

// watch keeps the sockets of ns, to close them when draining.
func (d *drainer) watch(ns *socketio.Namespace) {
	ns.OnConnection(func(s *socketio.Socket) {
		d.mu.Lock()
		d.socks[s] = struct{}{}
		d.mu.Unlock()
		s.OnDisconnect(func(s *socketio.Socket, _ string) {
			d.mu.Lock()
			delete(d.socks, s)
			d.mu.Unlock()
		})
	})
}

// sockets returns the watched sockets.
func (d *drainer) sockets() []*socketio.Socket {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*socketio.Socket, 0, len(d.socks))
	for s := range d.socks {
		out = append(out, s)
	}
	return out
}

// track wraps the handler of virtual requests (the Sails bridge's) so that
// a drain closes no socket while one of its requests is being served.
func (d *drainer) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := sailsbridge.GetID(r)
		if id == "" {
			next.ServeHTTP(w, r)
			return
		}
		d.mu.Lock()
		d.inflight[id]++
		d.total++
		d.mu.Unlock()
		defer func() {
			d.mu.Lock()
			if d.inflight[id]--; d.inflight[id] == 0 {
				delete(d.inflight, id)
			}
			if d.on.Load() {
				d.lastDone[id] = time.Now()
			}
			d.total--
			d.mu.Unlock()
			d.idle.Broadcast()
		}()
		next.ServeHTTP(w, r)
	})
}

// waitIdle waits until id (or, for "", every socket) has no virtual
// request in flight, or ctx ends.
func (d *drainer) waitIdle(ctx context.Context, id string) error {
	stop := context.AfterFunc(ctx, func() {
		d.mu.Lock()
		d.idle.Broadcast()
		d.mu.Unlock()
	})
	defer stop()
	d.mu.Lock()
	defer d.mu.Unlock()
	for (id == "" && d.total > 0) || (id != "" && d.inflight[id] > 0) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d.idle.Wait()
	}
	last, ok := d.lastDone[id]
	if id == "" {
		for _, t := range d.lastDone {
			if t.After(last) {
				last, ok = t, true
			}
		}
	}
	if ok {
		d.mu.Unlock()
		select {
		case <-time.After(time.Until(last.Add(answerSettle))):
		case <-ctx.Done():
		}
		d.mu.Lock()
	}
	return nil
}

// run drains: from now on handshakes are refused; the connected clients
// are closed one by one, spaced over 80% of the window (at most
// maxCloseGap apart), each once its virtual requests are answered; then it
// waits for the requests still in flight. It returns when all are closed,
// or when ctx ends.
func (d *drainer) run(ctx context.Context) {
	d.on.Store(true)
	socks := d.sockets()
	d.log.Info("pier: draining", "clients", len(socks), "window", d.window)
	start := time.Now()
	var gap time.Duration
	if n := len(socks); n > 0 {
		gap = min(d.window*8/10/time.Duration(n), maxCloseGap)
	}
	var wg sync.WaitGroup
	for i, s := range socks {
		if wait := time.Until(start.Add(gap * time.Duration(i))); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return
			}
		}
		wg.Go(func() {
			d.waitIdle(ctx, s.ID())
			if sess := s.Session(); sess != nil {
				sess.Close("server draining")
			}
		})
	}
	wg.Wait()
	d.waitIdle(ctx, "")
	d.log.Info("pier: drained", "clients", len(socks), "took", time.Since(start).Round(time.Millisecond))
}

package socketio

import (
	"sync/atomic"
)

// This file holds a socket's listeners, as Node's socket.on, once, off,
// onAny, onAnyOutgoing and use. Every list is copy-on-write: a change
// builds a new slice under Socket.mu, so an event takes the lists as they
// are when it arrives, without copying them, and runs them after
// releasing the lock. A handler added or removed while an event is being
// handled takes effect from the next event, as with Node's EventEmitter.

// EventMiddleware runs for each event a client sends to a socket, after
// the OnAny handlers and before the event's own handlers (Node:
// socket.use). Middleware run in the order added, on the client's
// dispatch queue like the handlers. Returning an error refuses the event:
// the remaining middleware and the handlers do not run, and the error goes
// to the socket's OnError handlers. The client is told nothing; if it
// asked for an acknowledgement, none comes (its timeout fires). A
// middleware may change e.Args before the handlers see them.
type EventMiddleware func(s *Socket, e *Event) error

// listener is one registered handler. Its pointer identifies it for
// removal: Go funcs are not comparable.
type listener struct {
	h     EventHandler
	once  bool
	fired atomic.Bool // once: it ran, or is running
}

type errorListener struct{ h func(*Socket, error) }

// without returns list minus x, as a new slice (nil when empty).
func without[T comparable](list []T, x T) []T {
	for i, e := range list {
		if e == x {
			if len(list) == 1 {
				return nil
			}
			out := make([]T, 0, len(list)-1)
			return append(append(out, list[:i]...), list[i+1:]...)
		}
	}
	return list
}

// appended returns list plus x at its end (or its start with prepend),
// as a new slice.
func appended[T any](list []T, x T, prepend bool) []T {
	out := make([]T, 0, len(list)+1)
	if prepend {
		return append(append(out, x), list...)
	}
	return append(append(out, list...), x)
}

func mustHandler(isNil bool) {
	if isNil {
		panic("socketio: nil handler")
	}
}

// On adds a handler of event (Node: socket.on). Several handlers of one
// event run in the order added, each with the same *Event. It returns a
// function that removes this handler (Node: socket.off(event, listener));
// calling it again does nothing. It panics if h is nil.
func (s *Socket) On(event string, h EventHandler) (off func()) {
	return s.addListener(event, h, false)
}

// Once adds a handler that runs for the next event of that name only,
// then is removed (Node: socket.once). The returned function removes it
// before it ran.
func (s *Socket) Once(event string, h EventHandler) (off func()) {
	return s.addListener(event, h, true)
}

func (s *Socket) addListener(event string, h EventHandler, once bool) func() {
	mustHandler(h == nil)
	l := &listener{h: h, once: once}
	s.mu.Lock()
	s.setListenersLocked(event, appended(s.listenersLocked(event), l, false))
	s.mu.Unlock()
	return func() { s.removeListener(event, l) }
}

func (s *Socket) removeListener(event string, l *listener) {
	s.mu.Lock()
	s.setListenersLocked(event, without(s.listenersLocked(event), l))
	s.mu.Unlock()
}

// Off removes every handler of event (Node:
// socket.removeAllListeners(event)). To remove one handler (Node:
// socket.off(event, listener)), call the function On or Once returned.
func (s *Socket) Off(event string) {
	s.mu.Lock()
	s.setListenersLocked(event, nil)
	s.mu.Unlock()
}

// ListenerCount returns the number of handlers of event (Node:
// socket.listenerCount).
func (s *Socket) ListenerCount(event string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.listenersLocked(event))
}

// OnAny adds a handler run for every event the client sends, before the
// middleware (Use) and the event's own handlers, whether or not the event
// has handlers or is then refused by a middleware: Node's socket.onAny.
// It returns a function that removes this handler.
func (s *Socket) OnAny(h EventHandler) (off func()) { return s.addAny(anyInOf, h, false, false) }

// PrependAny is OnAny adding h before the other OnAny handlers.
func (s *Socket) PrependAny(h EventHandler) (off func()) { return s.addAny(anyInOf, h, true, false) }

// OffAny removes every OnAny handler. To remove one, call the function
// OnAny returned.
func (s *Socket) OffAny() {
	s.mu.Lock()
	if s.x != nil {
		s.x.anyIn = nil
	}
	s.mu.Unlock()
}

// OnAnyOutgoing adds a handler run for every event sent to this client,
// by the socket's Emit methods and by broadcasts that include it (as in
// Node 4.8, where the adapter calls them for each recipient), but not for
// acknowledgements. The handler gets the event the client is sent; e.Ack
// does nothing. It runs on the goroutine that emits, before the packet is
// queued, so it must not block, and it may run concurrently with the
// socket's event handlers and with itself when several goroutines emit.
// It returns a function that removes this handler.
func (s *Socket) OnAnyOutgoing(h EventHandler) (off func()) {
	return s.addAny(anyOutOf, h, false, true)
}

// PrependAnyOutgoing is OnAnyOutgoing adding h before the others.
func (s *Socket) PrependAnyOutgoing(h EventHandler) (off func()) {
	return s.addAny(anyOutOf, h, true, true)
}

// OffAnyOutgoing removes every OnAnyOutgoing handler.
func (s *Socket) OffAnyOutgoing() {
	s.mu.Lock()
	if s.x != nil {
		n := len(s.x.anyOut)
		s.x.anyOut = nil
		s.countOutgoingLocked(-n)
	}
	s.mu.Unlock()
}

// countOutgoingLocked keeps the number of outgoing handlers of the socket
// and of its namespace, which broadcasts read without locks to skip the
// work when nobody listens. s.mu is held.
func (s *Socket) countOutgoingLocked(d int) {
	if d != 0 {
		s.outgoing.Add(int32(d))
		s.nsp.outgoing.Add(int64(d))
	}
}

func anyInOf(x *socketExtras) *[]*listener  { return &x.anyIn }
func anyOutOf(x *socketExtras) *[]*listener { return &x.anyOut }

func (s *Socket) addAny(listOf func(*socketExtras) *[]*listener, h EventHandler, prepend, outgoing bool) func() {
	mustHandler(h == nil)
	l := &listener{h: h}
	s.mu.Lock()
	if outgoing && s.closed {
		s.mu.Unlock()
		return func() {}
	}
	list := listOf(s.extrasLocked())
	*list = appended(*list, l, prepend)
	if outgoing {
		s.countOutgoingLocked(1)
	}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		n := len(*list)
		*list = without(*list, l)
		if outgoing {
			s.countOutgoingLocked(len(*list) - n)
		}
		s.mu.Unlock()
	}
}

// Use adds an event middleware (Node: socket.use); see EventMiddleware.
func (s *Socket) Use(m EventMiddleware) {
	mustHandler(m == nil)
	s.mu.Lock()
	x := s.extrasLocked()
	x.middleware = appended(x.middleware, m, false)
	s.mu.Unlock()
}

// OnError adds a handler of the errors of the socket: the refusals of its
// event middleware (Node: socket.on("error")) and the errors of typed
// handlers (Handle). It returns a function that removes it. Without
// handlers, errors are logged at debug level.
func (s *Socket) OnError(h func(s *Socket, err error)) (off func()) {
	mustHandler(h == nil)
	l := &errorListener{h: h}
	s.mu.Lock()
	x := s.extrasLocked()
	x.onError = appended(x.onError, l, false)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		x.onError = without(x.onError, l)
		s.mu.Unlock()
	}
}

// emitError gives err to the socket's error handlers.
func (s *Socket) emitError(err error) {
	var ls []*errorListener
	s.mu.Lock()
	if s.x != nil {
		ls = s.x.onError
	}
	s.mu.Unlock()
	if len(ls) == 0 {
		s.c.srv.log.Debug("socketio: socket error without OnError handler", "id", s.id, "nsp", s.nsp.name, "err", err)
		return
	}
	for _, l := range ls {
		l.h(s, err)
	}
}

// dispatch runs the handlers of an event received from the client, as
// Node's onevent: OnAny handlers, then middleware, then the event's own
// handlers. It runs on the dispatch queue.
func (s *Socket) dispatch(e *Event) {
	s.mu.Lock()
	var anyIn []*listener
	var mws []EventMiddleware
	if s.x != nil {
		anyIn, mws = s.x.anyIn, s.x.middleware
	}
	ls, closed := s.listenersLocked(e.Name), s.closed
	s.mu.Unlock()
	if closed {
		return
	}
	for _, o := range s.nsp.srv.observers() {
		if o.EventReceived != nil {
			o.EventReceived(s, e)
		}
	}
	for _, l := range anyIn {
		l.h(s, e)
	}
	for _, m := range mws {
		if err := m(s, e); err != nil {
			s.emitError(err)
			return
		}
	}
	if len(ls) == 0 {
		return
	}
	if len(anyIn)+len(mws) > 0 && !s.Connected() {
		return // disconnected by a handler or middleware, as Node checks
	}
	for _, l := range ls {
		if l.once {
			if !l.fired.CompareAndSwap(false, true) {
				continue
			}
			s.removeListener(e.Name, l)
		}
		l.h(s, e)
	}
}

// hasOutgoing reports whether the socket has outgoing handlers, without
// locking.
func (s *Socket) hasOutgoing() bool { return s.outgoing.Load() > 0 }

// notifyOutgoing runs the outgoing handlers for the EVENT packet p, if
// any. Broadcasts decode p once for every recipient: pass the same
// *Args (nil at first).
func (s *Socket) notifyOutgoing(p *Packet, args *outgoingArgs) {
	var ls []*listener
	s.mu.Lock()
	if s.x != nil {
		ls = s.x.anyOut
	}
	s.mu.Unlock()
	if len(ls) == 0 {
		return
	}
	if !args.done {
		args.done = true
		args.name, args.args, args.err = argsOf(p, true)
	}
	if args.err != nil {
		return
	}
	for _, l := range ls {
		l.h(s, &Event{Name: args.name, Args: args.args, sock: s})
	}
}

// outgoingArgs is an outgoing packet decoded once for every recipient.
type outgoingArgs struct {
	done bool
	name string
	args Args
	err  error
}

// eventEntry is the handlers of one event name.
type eventEntry struct {
	name string
	ls   []*listener
}

// fewEvents is the most event names a socket keeps in its slice of
// entries (a short linear search, and far less memory than a map); past
// that they move to a map in s.x.
const fewEvents = 16

// listenersLocked returns the handlers of event. s.mu is held.
func (s *Socket) listenersLocked(event string) []*listener {
	if s.x != nil && s.x.handlers != nil {
		return s.x.handlers[event]
	}
	for i := range s.handlers {
		if s.handlers[i].name == event {
			return s.handlers[i].ls
		}
	}
	return nil
}

// setListenersLocked sets the handlers of event; an empty ls removes the
// event. s.mu is held.
func (s *Socket) setListenersLocked(event string, ls []*listener) {
	if s.x != nil && s.x.handlers != nil {
		if len(ls) == 0 {
			delete(s.x.handlers, event)
		} else {
			s.x.handlers[event] = ls
		}
		return
	}
	for i := range s.handlers {
		if s.handlers[i].name != event {
			continue
		}
		if len(ls) > 0 {
			s.handlers[i].ls = ls
			return
		}
		last := len(s.handlers) - 1
		s.handlers[i] = s.handlers[last]
		s.handlers[last] = eventEntry{}
		s.handlers = s.handlers[:last]
		return
	}
	if len(ls) == 0 {
		return
	}
	if len(s.handlers) < fewEvents {
		// Grown one entry at a time: the few names a socket has (set up
		// once, at connection) take no spare room.
		h := make([]eventEntry, len(s.handlers)+1)
		copy(h, s.handlers)
		h[len(s.handlers)] = eventEntry{event, ls}
		s.handlers = h
		return
	}
	m := make(map[string][]*listener, 2*fewEvents)
	for _, e := range s.handlers {
		m[e.name] = e.ls
	}
	m[event] = ls
	s.extrasLocked().handlers = m
	s.handlers = nil
}

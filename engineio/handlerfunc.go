package engineio

import "context"

// inboxSize is how many messages a HandlerFunc session buffers before the
// transport waits for Read.
const inboxSize = 32

// HandlerFunc serves each session with a function running on its own
// goroutine, reading messages with Session.Read, as an http.HandlerFunc
// serves a request. The session is closed when the function returns.
//
// It costs a goroutine per session; servers that must hold many idle
// sessions implement Handler instead.
type HandlerFunc func(s *Session)

var _ Handler = HandlerFunc(nil)

// OnOpen starts f on its own goroutine.
func (f HandlerFunc) OnOpen(s *Session) {
	s.inbox = make(chan Message, inboxSize)
	go func() {
		defer s.Close("handler returned")
		f(s)
	}()
}

// OnMessage queues m for Read, waiting while the inbox is full.
func (f HandlerFunc) OnMessage(s *Session, m Message) {
	select {
	case s.inbox <- m: // the usual case, without the session's lock that Context takes
		return
	default:
	}
	select {
	case s.inbox <- m:
	case <-s.Context().Done():
	}
}

// OnClose does nothing: Read reports the end of the session.
func (f HandlerFunc) OnClose(*Session, error) {}

// Read returns the next message of a session served by a HandlerFunc, in
// the order received. Messages received before the session closed are
// returned first; then Read returns the session's *CloseError. It returns
// ctx's error if ctx ends first. Read may only be called from one goroutine
// at a time, and only on sessions served by a HandlerFunc.
func (s *Session) Read(ctx context.Context) (Message, error) {
	if s.inbox == nil {
		return Message{}, &CloseError{Reason: ReasonForcedClose, Err: errNoInbox}
	}
	select {
	case m := <-s.inbox:
		return m, nil
	default:
	}
	select {
	case m := <-s.inbox:
		return m, nil
	case <-s.Context().Done():
		select {
		case m := <-s.inbox:
			return m, nil
		default:
			return Message{}, context.Cause(s.Context())
		}
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

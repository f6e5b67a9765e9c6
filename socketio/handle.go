package socketio

import (
	"errors"
	"strconv"
)

// Handle adds a typed handler of event to s, a Go extra over Node's
// socket.on: the event's first argument is decoded into a T (as
// Args.Decode: JSON as json.Unmarshal, binary attachments into []byte
// fields), h is called with it, and its result R is the acknowledgement
// when the client asked for one. With R = struct{} the acknowledgement has
// no argument. A missing argument leaves T's zero value; an event with
// several arguments needs a plain On handler.
//
// An argument that does not decode into T, or an error returned by h,
// goes to the socket's OnError handlers as a *HandlerError, and a client
// that asked for an acknowledgement gets one argument: {"error": message},
// or, when the error has an AckValue() any method (found with errors.As
// through the chain), that method's value. Handlers of one event run in
// the order added, whether typed or not.
//
// It returns a function that removes the handler, as On.
func Handle[T, R any](s *Socket, event string, h func(s *Socket, in T) (R, error)) (off func()) {
	if h == nil {
		panic("socketio: nil handler")
	}
	return s.On(event, func(s *Socket, e *Event) {
		var in T
		if err := e.Args.Decode(&in); err != nil {
			s.handlerError(e, err)
			return
		}
		out, err := h(s, in)
		if err != nil {
			s.handlerError(e, err)
			return
		}
		if _, none := any(out).(struct{}); none {
			e.Ack()
			return
		}
		e.Ack(out)
	})
}

// HandlerError is the error of a typed handler (Handle) given to OnError
// handlers: Err is the decoding error of the event's argument or the
// error the handler returned.
type HandlerError struct {
	Event string
	Err   error
}

func (e *HandlerError) Error() string {
	return "socketio: event " + strconv.Quote(e.Event) + ": " + e.Err.Error()
}

func (e *HandlerError) Unwrap() error { return e.Err }

// ackValuer is an error that chooses the acknowledgement sent for it.
type ackValuer interface {
	error
	AckValue() any
}

func (s *Socket) handlerError(e *Event, err error) {
	s.emitError(&HandlerError{Event: e.Name, Err: err})
	if e.WantsAck() {
		var v any = map[string]any{"error": err.Error()}
		if av, ok := errors.AsType[ackValuer](err); ok {
			v = av.AckValue()
		}
		e.Ack(v)
	}
}

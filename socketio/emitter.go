package socketio

import (
	"context"
	"time"
)

// emitFlags are the options of one emit to a socket.
type emitFlags struct {
	volatile   bool
	noCompress bool
	timeout    time.Duration
}

// SocketEmitter emits to one socket with per-emit options, as Node's
// socket.compress(false).emit(...) or socket.timeout(ms).emitWithAck(...)
// without changing the socket: Compress, Timeout and Volatile return
// changed copies. It is an immutable value, safe to keep and share.
type SocketEmitter struct {
	s *Socket
	f emitFlags
}

// Compress returns an emitter whose events are compressed (the default,
// when the transport compresses: websocket permessage-deflate, HTTP
// compression of polling) or, with false, never compressed (Node:
// socket.compress(false)).
func (s *Socket) Compress(compress bool) SocketEmitter {
	return SocketEmitter{s: s}.Compress(compress)
}

// Timeout returns an emitter whose EmitWithAck waits at most d (Node:
// socket.timeout(ms)).
func (s *Socket) Timeout(d time.Duration) SocketEmitter { return SocketEmitter{s: s}.Timeout(d) }

// Volatile returns an emitter whose events are dropped if the client
// cannot take them at once (Node: socket.volatile).
func (s *Socket) Volatile() SocketEmitter { return SocketEmitter{s: s}.Volatile() }

// Compress sets whether the events may be compressed; see Socket.Compress.
func (e SocketEmitter) Compress(compress bool) SocketEmitter {
	e.f.noCompress = !compress
	return e
}

// Timeout bounds the wait of EmitWithAck.
func (e SocketEmitter) Timeout(d time.Duration) SocketEmitter {
	e.f.timeout = d
	return e
}

// Volatile lets Emit drop the event if the client cannot take it at once.
func (e SocketEmitter) Volatile() SocketEmitter {
	e.f.volatile = true
	return e
}

// Emit sends an event to the socket, as Socket.Emit.
func (e SocketEmitter) Emit(event string, args ...any) error { return e.s.emit(event, args, e.f) }

// EmitWithAck sends an event and waits for the acknowledgement, as
// Socket.EmitWithAck, until ctx ends or the emitter's Timeout. Volatile
// does not apply: an event waited for is always queued.
func (e SocketEmitter) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	return e.s.emitWithAck(ctx, event, args, e.f)
}

package socketio

import (
	"context"
	"time"
)

// The main namespace's operators on the Server, as Node's io.in, io.except
// and the like are io.of("/")'s.

// In is To.
func (s *Server) In(rooms ...Room) BroadcastOperator { return s.Of("/").In(rooms...) }

// Except returns an operator broadcasting to every socket of the main
// namespace but those in rooms.
func (s *Server) Except(rooms ...Room) BroadcastOperator { return s.Of("/").Except(rooms...) }

// Volatile returns an operator of the main namespace whose events may be
// dropped for clients not ready to receive them.
func (s *Server) Volatile() BroadcastOperator { return s.Of("/").Volatile() }

// Local returns an operator limited to this server's sockets of the main
// namespace.
func (s *Server) Local() BroadcastOperator { return s.Of("/").Local() }

// Timeout returns an operator of the main namespace whose EmitWithAck
// waits at most d.
func (s *Server) Timeout(d time.Duration) BroadcastOperator { return s.Of("/").Timeout(d) }

// Compress returns an operator of the main namespace whose events may be
// compressed (the default) or, with false, never are.
func (s *Server) Compress(compress bool) BroadcastOperator { return s.Of("/").Compress(compress) }

// EmitWithAck sends an event to every socket of the main namespace and
// gathers their acks.
func (s *Server) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	return s.Of("/").EmitWithAck(ctx, event, args...)
}

// FetchSockets returns every socket of the main namespace, on every server.
func (s *Server) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	return s.Of("/").FetchSockets(ctx)
}

// SocketsJoin makes every socket of the main namespace join rooms.
func (s *Server) SocketsJoin(ctx context.Context, rooms ...Room) error {
	return s.Of("/").SocketsJoin(ctx, rooms...)
}

// SocketsLeave makes every socket of the main namespace leave rooms.
func (s *Server) SocketsLeave(ctx context.Context, rooms ...Room) error {
	return s.Of("/").SocketsLeave(ctx, rooms...)
}

// DisconnectSockets disconnects every socket of the main namespace; with
// close, their whole connections.
func (s *Server) DisconnectSockets(ctx context.Context, close bool) error {
	return s.Of("/").DisconnectSockets(ctx, close)
}

// ServerSideEmit sends an event to the other servers of the cluster, on
// the main namespace.
func (s *Server) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	return s.Of("/").ServerSideEmit(ctx, event, args...)
}

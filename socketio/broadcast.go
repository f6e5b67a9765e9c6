package socketio

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// BroadcastOperator selects sockets of a namespace to emit to or act on.
// It is an immutable value: To, Except, Volatile, Local and Timeout return
// changed copies, so operators can be kept and shared between goroutines.
type BroadcastOperator struct {
	nsp     *Namespace
	opts    BroadcastOptions
	timeout time.Duration
}

// To adds rooms to the selection: sockets in any of them.
func (b BroadcastOperator) To(rooms ...Room) BroadcastOperator {
	b.opts.Rooms = append(slices.Clip(b.opts.Rooms), rooms...)
	return b
}

// In is To.
func (b BroadcastOperator) In(rooms ...Room) BroadcastOperator { return b.To(rooms...) }

// Except removes the sockets in any of rooms from the selection.
func (b BroadcastOperator) Except(rooms ...Room) BroadcastOperator {
	b.opts.Except = append(slices.Clip(b.opts.Except), rooms...)
	return b
}

// Volatile lets events be dropped for clients not ready to take them.
func (b BroadcastOperator) Volatile() BroadcastOperator {
	b.opts.Volatile = true
	return b
}

// Compress sets whether the events may be compressed (the default) or,
// with false, never are (Node: compress(false)); see Socket.Compress.
func (b BroadcastOperator) Compress(compress bool) BroadcastOperator {
	b.opts.NoCompress = !compress
	return b
}

// Local limits the selection to this server's sockets.
func (b BroadcastOperator) Local() BroadcastOperator {
	b.opts.Local = true
	return b
}

// Timeout bounds the wait of EmitWithAck.
func (b BroadcastOperator) Timeout(d time.Duration) BroadcastOperator {
	b.timeout = d
	return b
}

// Emit sends an event to the selected sockets. It never blocks on a client.
func (b BroadcastOperator) Emit(event string, args ...any) error {
	data, atts, err := encodeEvent(event, args)
	if err != nil {
		return err
	}
	p := &Packet{Type: PacketEvent, Namespace: b.nsp.name, Data: data, Attachments: atts}
	return b.nsp.adapter.Broadcast(context.Background(), p, b.opts, nil)
}

// EmitWithAck sends an event to the selected sockets and waits for each to
// acknowledge it, until ctx ends or the operator's Timeout. It returns the
// acknowledgements received; the error is ErrAckTimeout when some are
// missing. When the adapter could not reach every server (a failed
// publish), EmitWithAck still waits for the sockets it did reach and
// returns their acknowledgements with the adapter's error.
func (b BroadcastOperator) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	data, atts, err := encodeEvent(event, args)
	if err != nil {
		return nil, err
	}
	if b.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.timeout)
		defer cancel()
	}
	var (
		mu       sync.Mutex
		expected int
		got      []Args
		done     = make(chan struct{})
		counted  bool
	)
	check := func() {
		if counted && len(got) >= expected {
			select {
			case <-done:
			default:
				close(done)
			}
		}
	}
	acks := &BroadcastAcks{
		ClientCount: func(n int) {
			mu.Lock()
			expected += n
			mu.Unlock()
		},
		Ack: func(a Args) {
			mu.Lock()
			got = append(got, a)
			check()
			mu.Unlock()
		},
	}
	p := &Packet{Type: PacketEvent, Namespace: b.nsp.name, ID: b.nsp.nextAckID(), HasID: true, Data: data, Attachments: atts}
	berr := b.nsp.adapter.Broadcast(ctx, p, b.opts, acks)
	mu.Lock()
	counted = true
	check()
	mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	out := append([]Args(nil), got...)
	if len(out) < expected {
		return out, errors.Join(berr, ErrAckTimeout)
	}
	return out, berr
}

// SocketsJoin makes the selected sockets join rooms.
func (b BroadcastOperator) SocketsJoin(ctx context.Context, rooms ...Room) error {
	return b.nsp.adapter.Apply(ctx, b.opts, RoomOp{Join: rooms})
}

// SocketsLeave makes the selected sockets leave rooms.
func (b BroadcastOperator) SocketsLeave(ctx context.Context, rooms ...Room) error {
	return b.nsp.adapter.Apply(ctx, b.opts, RoomOp{Leave: rooms})
}

// DisconnectSockets disconnects the selected sockets; with close, their
// whole connections.
func (b BroadcastOperator) DisconnectSockets(ctx context.Context, close bool) error {
	return b.nsp.adapter.Apply(ctx, b.opts, RoomOp{Disconnect: true, Close: close})
}

// FetchSockets describes the selected sockets, on every server. When some
// server did not answer (the adapter's error, such as a timeout), the
// sockets described by the others are returned with the error.
func (b BroadcastOperator) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	infos, err := b.nsp.adapter.FetchSockets(ctx, b.opts)
	out := make([]*RemoteSocket, len(infos))
	for i, info := range infos {
		out[i] = &RemoteSocket{SocketInfo: info, nsp: b.nsp}
	}
	return out, err
}

// RemoteSocket is a socket returned by FetchSockets, on this server or
// another; its methods reach it through the adapter.
type RemoteSocket struct {
	SocketInfo
	nsp *Namespace
}

func (r *RemoteSocket) self() BroadcastOperator { return r.nsp.To(Room(r.ID)) }

// Emit sends an event to the socket.
func (r *RemoteSocket) Emit(event string, args ...any) error { return r.self().Emit(event, args...) }

// EmitWithAck sends an event to the socket, on whichever server of the
// cluster it is connected, and waits for its acknowledgement until ctx
// ends (Options.AckTimeout bounds contexts without deadline): Node's
// remoteSocket.timeout(ms).emitWithAck, which broadcasts to the socket's
// own room. It returns ErrAckTimeout when the acknowledgement did not come
// in time, and ErrDisconnected when no server has the socket any more.
func (r *RemoteSocket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	ctx, cancel := r.nsp.srv.ackContext(ctx)
	defer cancel()
	acks, err := r.self().EmitWithAck(ctx, event, args...)
	switch {
	case len(acks) > 0:
		return acks[0], nil
	case err != nil:
		return Args{}, err
	}
	return Args{}, ErrDisconnected
}

// Join makes the socket join rooms.
func (r *RemoteSocket) Join(ctx context.Context, rooms ...Room) error {
	return r.self().SocketsJoin(ctx, rooms...)
}

// Leave makes the socket leave rooms.
func (r *RemoteSocket) Leave(ctx context.Context, rooms ...Room) error {
	return r.self().SocketsLeave(ctx, rooms...)
}

// Disconnect disconnects the socket; with close, its whole connection.
func (r *RemoteSocket) Disconnect(ctx context.Context, close bool) error {
	return r.self().DisconnectSockets(ctx, close)
}

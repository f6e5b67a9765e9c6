package redisadapter

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/notepack"
	"github.com/pierhq/pier/socketio"
)

// Emitter sends events and room operations to the clients of a cluster
// from a process that is not a Socket.IO server, as
// @socket.io/redis-emitter 5.1.0 does, with the same messages: both Go and
// Node servers act on them. It only publishes; it subscribes to nothing
// and is not counted as a server.
//
// An Emitter is an immutable value: Of, To, In, Except and Volatile return
// changed copies, so emitters can be kept and shared between goroutines.
type Emitter struct {
	rdb      redis.UniversalClient
	key      string
	nsp      string
	rooms    []socketio.Room
	except   []socketio.Room
	volatile bool
}

// EmitterOptions configures NewEmitter; nil means the defaults.
type EmitterOptions struct {
	// Key is the channel prefix of the cluster. Default "socket.io".
	Key string
}

// NewEmitter returns an emitter for the main namespace "/".
func NewEmitter(rdb redis.UniversalClient, opts *EmitterOptions) Emitter {
	e := Emitter{rdb: rdb, key: "socket.io", nsp: "/"}
	if opts != nil && opts.Key != "" {
		e.key = opts.Key
	}
	return e
}

// Of returns the emitter of another namespace (a leading "/" is added when
// missing).
func (e Emitter) Of(nsp string) Emitter {
	if !strings.HasPrefix(nsp, "/") {
		nsp = "/" + nsp
	}
	e.nsp = nsp
	e.rooms, e.except, e.volatile = nil, nil, false
	return e
}

// To adds rooms to the selection: sockets in any of them.
func (e Emitter) To(rooms ...socketio.Room) Emitter {
	e.rooms = append(slices.Clip(e.rooms), rooms...)
	return e
}

// In is To.
func (e Emitter) In(rooms ...socketio.Room) Emitter { return e.To(rooms...) }

// Except removes the sockets in any of rooms from the selection.
func (e Emitter) Except(rooms ...socketio.Room) Emitter {
	e.except = append(slices.Clip(e.except), rooms...)
	return e
}

// Volatile lets the event be dropped for clients not ready to take it.
func (e Emitter) Volatile() Emitter {
	e.volatile = true
	return e
}

// ErrReservedEvent is returned when emitting an event name Socket.IO keeps
// for itself.
var ErrReservedEvent = errors.New("redisadapter: reserved event name")

var reservedEvents = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true, "disconnecting": true,
	"newListener": true, "removeListener": true,
}

func (e Emitter) opts() socketio.BroadcastOptions {
	return socketio.BroadcastOptions{Rooms: e.rooms, Except: e.except}
}

// Emit sends an event to the selected clients of every server. Arguments
// are encoded as by notepack: []byte as binary, other values by their
// JSON form.
func (e Emitter) Emit(ctx context.Context, event string, args ...any) error {
	if reservedEvents[event] {
		return ErrReservedEvent
	}
	b := broadcastMessage{
		UID:    "emitter",
		Packet: wirePacket{Type: int(socketio.PacketEvent), Data: append([]any{event}, args...), Nsp: e.nsp},
		Opts:   optsFor(e.opts(), &wireFlags{Volatile: e.volatile}),
	}
	msg, err := notepack.Encode(b.emitterValue())
	if err != nil {
		return err
	}
	channel := e.key + "#" + e.nsp + "#"
	if len(e.rooms) == 1 {
		channel += string(e.rooms[0]) + "#"
	}
	return e.rdb.Publish(ctx, channel, msg).Err()
}

func (e Emitter) request(ctx context.Context, m message) error {
	b, err := encode(m, false)
	if err != nil {
		return err
	}
	return e.rdb.Publish(ctx, e.key+"-request#"+e.nsp+"#", b).Err()
}

// SocketsJoin makes the selected sockets of every server join rooms.
func (e Emitter) SocketsJoin(ctx context.Context, rooms ...socketio.Room) error {
	return e.request(ctx, roomRequest{Type: reqRemoteJoin, Opts: &wireOpts{Rooms: e.rooms, Except: e.except}, Rooms: rooms})
}

// SocketsLeave makes the selected sockets of every server leave rooms.
func (e Emitter) SocketsLeave(ctx context.Context, rooms ...socketio.Room) error {
	return e.request(ctx, roomRequest{Type: reqRemoteLeave, Opts: &wireOpts{Rooms: e.rooms, Except: e.except}, Rooms: rooms})
}

// DisconnectSockets disconnects the selected sockets of every server; with
// close, their whole connections.
func (e Emitter) DisconnectSockets(ctx context.Context, close bool) error {
	return e.request(ctx, roomRequest{Type: reqRemoteDisconnect, Opts: &wireOpts{Rooms: e.rooms, Except: e.except}, Close: close})
}

// ServerSideEmit sends an event to the namespace's server-side handlers on
// every server (without acknowledgement: an emitter cannot receive one).
// Binary arguments travel as Node's JSON form of a Buffer.
func (e Emitter) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	if reservedEvents[event] {
		return ErrReservedEvent
	}
	return e.request(ctx, serverSideEmitRequest{head: head{UID: "emitter"}, Data: append([]any{event}, args...)})
}

package sailsbridge

import (
	"context"
	"errors"
	"slices"

	"github.com/pierhq/pier/socketio"
)

// DefaultEvent is the event name of broadcasts and blasts without one
// (sails.sockets.DEFAULT_EVENT_NAME).
const DefaultEvent = "message"

// Sockets is the sails.sockets API over a namespace. Operations by socket
// id reach sockets on other servers through the namespace's adapter (the
// Redis adapter in a cluster); Get is local.
//
// Concurrency: all methods may be called concurrently.
type Sockets struct {
	ns  *socketio.Namespace
	bus RoomBus
}

// NewSockets returns the sails.sockets API of ns (Sails uses "/").
func NewSockets(ns *socketio.Namespace) *Sockets { return &Sockets{ns: ns} }

// RoomBus carries room operations to servers the adapter does not reach:
// Node Sails servers listen for them on the Sails admin bus
// (redisadapter.SailsBus implements it). Each call asks the other servers
// to apply the operation to their own members of sourceRoom.
type RoomBus interface {
	PublishJoin(ctx context.Context, sourceRoom string, destRooms []string) error
	PublishLeave(ctx context.Context, sourceRoom string, destRooms []string) error
	PublishLeaveAll(ctx context.Context, sourceRoom string) error
}

// WithBus returns a copy of k that also publishes its room operations
// (Join, Leave, AddRoomMembersToRooms, RemoveRoomMembersFromRooms,
// LeaveAll) on bus, as Sails servers do on their admin bus.
func (k *Sockets) WithBus(bus RoomBus) *Sockets { return &Sockets{ns: k.ns, bus: bus} }

// Namespace returns the namespace.
func (k *Sockets) Namespace() *socketio.Namespace { return k.ns }

// Get returns the socket with the given id connected to this server, or
// nil (sails.sockets.get, which throws instead).
func (k *Sockets) Get(id string) *socketio.Socket { return k.ns.Socket(id) }

// Join makes the socket id join room (sails.sockets.join): at once when
// the socket is on this server, through the adapter otherwise. An unknown
// id is not an error.
func (k *Sockets) Join(ctx context.Context, id, room string) error {
	if s := k.ns.Socket(id); s != nil {
		s.Join(socketio.Room(room))
		return nil
	}
	if k.bus != nil {
		if err := k.bus.PublishJoin(ctx, id, []string{room}); err != nil {
			return err
		}
	}
	return k.ns.To(socketio.Room(id)).SocketsJoin(ctx, socketio.Room(room))
}

// Leave makes the socket id leave room (sails.sockets.leave).
func (k *Sockets) Leave(ctx context.Context, id, room string) error {
	if s := k.ns.Socket(id); s != nil {
		s.Leave(socketio.Room(room))
		return nil
	}
	if k.bus != nil {
		if err := k.bus.PublishLeave(ctx, id, []string{room}); err != nil {
			return err
		}
	}
	return k.ns.To(socketio.Room(id)).SocketsLeave(ctx, socketio.Room(room))
}

// Broadcast sends event with data to the sockets in any of rooms, except
// the socket omit ("" to omit none), each once (sails.sockets.broadcast).
// An empty event is DefaultEvent; nil data arrives as null. Through a
// cluster adapter it reaches the sockets of every server; a ctx already
// done sends nothing.
func (k *Sockets) Broadcast(ctx context.Context, rooms []string, event string, data any, omit string) error {
	if len(rooms) == 0 {
		return errors.New("sailsbridge: Broadcast needs a room")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	op := k.ns.To(toRooms(rooms)...)
	if omit != "" {
		op = op.Except(socketio.Room(omit))
	}
	return op.Emit(eventName(event), data)
}

// Blast sends event with data to every socket of the namespace but omit
// ("" to omit none) (sails.sockets.blast), on every server; a ctx already
// done sends nothing.
func (k *Sockets) Blast(ctx context.Context, event string, data any, omit string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if omit != "" {
		return k.ns.Except(socketio.Room(omit)).Emit(eventName(event), data)
	}
	return k.ns.Emit(eventName(event), data)
}

// AddRoomMembersToRooms makes every member of src, on every server, join
// dests (sails.sockets.addRoomMembersToRooms). src may be a socket id.
func (k *Sockets) AddRoomMembersToRooms(ctx context.Context, src string, dests ...string) error {
	if len(dests) == 0 {
		return nil
	}
	if k.bus != nil {
		if err := k.bus.PublishJoin(ctx, src, dests); err != nil {
			return err
		}
	}
	return k.ns.In(socketio.Room(src)).SocketsJoin(ctx, toRooms(dests)...)
}

// RemoveRoomMembersFromRooms makes every member of src, on every server,
// leave dests (sails.sockets.removeRoomMembersFromRooms).
func (k *Sockets) RemoveRoomMembersFromRooms(ctx context.Context, src string, dests ...string) error {
	if len(dests) == 0 {
		return nil
	}
	if k.bus != nil {
		if err := k.bus.PublishLeave(ctx, src, dests); err != nil {
			return err
		}
	}
	return k.ns.In(socketio.Room(src)).SocketsLeave(ctx, toRooms(dests)...)
}

// LeaveAll makes every member of src, on every server, leave all its
// rooms, src included, except its own id room (sails.sockets.leaveAll).
func (k *Sockets) LeaveAll(ctx context.Context, src string) error {
	if k.bus != nil {
		if err := k.bus.PublishLeaveAll(ctx, src); err != nil {
			return err
		}
	}
	members, err := k.ns.In(socketio.Room(src)).FetchSockets(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range members {
		rooms := slices.DeleteFunc(slices.Clone(m.Rooms), func(r socketio.Room) bool { return r == socketio.Room(m.ID) })
		if len(rooms) == 0 {
			continue
		}
		if s := k.ns.Socket(m.ID); s != nil {
			s.Leave(rooms...)
			continue
		}
		errs = append(errs, m.Leave(ctx, rooms...))
	}
	return errors.Join(errs...)
}

// Rooms returns the rooms the socket id is in, its own id room included,
// on whichever server it is (nil when unknown).
func (k *Sockets) Rooms(ctx context.Context, id string) ([]string, error) {
	if s := k.ns.Socket(id); s != nil {
		return fromRooms(s.Rooms()), nil
	}
	found, err := k.ns.In(socketio.Room(id)).FetchSockets(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range found {
		if f.ID == id {
			return fromRooms(f.Rooms), nil
		}
	}
	return nil, nil
}

func eventName(e string) string {
	if e == "" {
		return DefaultEvent
	}
	return e
}

func toRooms(rooms []string) []socketio.Room {
	out := make([]socketio.Room, len(rooms))
	for i, r := range rooms {
		out[i] = socketio.Room(r)
	}
	return out
}

func fromRooms(rooms []socketio.Room) []string {
	out := make([]string, len(rooms))
	for i, r := range rooms {
		out[i] = string(r)
	}
	slices.Sort(out)
	return out
}

package admin

import (
	"context"
	"encoding/json"

	"github.com/pierhq/pier/socketio"
)

// registerCommands installs the handlers of the dashboard's commands on an
// admin socket. Each names a namespace and, optionally, a room (a socket
// ID is its own room) selecting the sockets; without one, every socket of
// the namespace. They act on the whole cluster, are never acknowledged,
// and malformed ones are dropped.
func (a *Admin) registerCommands(s *socketio.Socket) {
	s.On("join", func(_ *socketio.Socket, e *socketio.Event) {
		a.roomCommand(e, func(ctx context.Context, op socketio.BroadcastOperator, room socketio.Room) error {
			return op.SocketsJoin(ctx, room)
		})
	})
	s.On("leave", func(_ *socketio.Socket, e *socketio.Event) {
		a.roomCommand(e, func(ctx context.Context, op socketio.BroadcastOperator, room socketio.Room) error {
			return op.SocketsLeave(ctx, room)
		})
	})
	s.On("_disconnect", func(_ *socketio.Socket, e *socketio.Event) {
		op, ok := a.target(e, 2)
		var close bool
		if !ok || e.Args.Len() < 2 || json.Unmarshal(e.Args.Raw(1), &close) != nil {
			return
		}
		a.run("_disconnect", func(ctx context.Context) error { return op.DisconnectSockets(ctx, close) })
	})
	s.On("emit", func(_ *socketio.Socket, e *socketio.Event) {
		op, ok := a.target(e, 1)
		if !ok || e.Args.Len() < 3 {
			return
		}
		ev, ok := jsonString(e.Args.Raw(2))
		if !ok {
			return
		}
		args := make([]any, 0, e.Args.Len()-3)
		for i := 3; i < e.Args.Len(); i++ {
			args = append(args, e.Args.Raw(i))
		}
		a.run("emit", func(context.Context) error { return op.Emit(ev, args...) })
	})
}

// roomCommand runs join or leave: (nsp, room, filter?).
func (a *Admin) roomCommand(e *socketio.Event, f func(context.Context, socketio.BroadcastOperator, socketio.Room) error) {
	op, ok := a.target(e, 2)
	if !ok || e.Args.Len() < 2 {
		return
	}
	room, ok := jsonString(e.Args.Raw(1))
	if !ok || room == "" {
		return
	}
	a.run(e.Name, func(ctx context.Context) error { return f(ctx, op, socketio.Room(room)) })
}

// target returns the operator selecting the sockets of the namespace named
// by the first argument, in the room of argument filterAt when it is a
// non-empty string. Unknown namespaces are not created.
func (a *Admin) target(e *socketio.Event, filterAt int) (socketio.BroadcastOperator, bool) {
	if e.Args.Len() < 1 {
		return socketio.BroadcastOperator{}, false
	}
	name, ok := jsonString(e.Args.Raw(0))
	if !ok {
		return socketio.BroadcastOperator{}, false
	}
	n := a.io.LookupNamespace(name)
	if n == nil {
		return socketio.BroadcastOperator{}, false
	}
	if e.Args.Len() > filterAt {
		if room, ok := jsonString(e.Args.Raw(filterAt)); ok && room != "" {
			return n.To(socketio.Room(room)), true
		}
	}
	return n.Except(), true
}

// run executes a command off the admin socket's dispatch, bounded in time.
func (a *Admin) run(name string, f func(ctx context.Context) error) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		defer cancel()
		if err := f(ctx); err != nil {
			a.log.Warn("admin: command failed", "command", name, "err", err)
		}
	}()
}

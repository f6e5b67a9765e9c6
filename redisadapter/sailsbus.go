package redisadapter

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/socketio"
)

// DefaultSailsBusChannel is the channel of the Sails admin bus when the
// Sails app configures no adapter key.
const DefaultSailsBusChannel = "socket.io#sails#"

// SailsBusOptions configures a SailsBus. Nil means the defaults.
type SailsBusOptions struct {
	// Key is the Sails app's sails.config.sockets adapter key, if it sets
	// one. Sails then uses the key itself as the channel (not
	// key+"#sails#": an operator-precedence slip in sails-hook-sockets that
	// every Sails node shares). Default: DefaultSailsBusChannel.
	Key string
	// Logger receives dropped messages (malformed, or an event it cannot
	// apply) as warnings, at most one per reason every 10 seconds.
	// Default slog.Default().
	Logger *slog.Logger
}

// SailsBus joins a Pier node to the Sails admin bus, over which Sails
// servers (sails-hook-sockets with socket.io-redis 6 or
// @sailshq/socket.io-redis) tell each other to move the members of a room
// into or out of other rooms: JSON {"uid","event","payload"} messages with
// the events join and leave ({sourceRoom, destRooms}) and leaveAll
// ({sourceRoom}). A SailsBus applies the messages of other servers to the
// local sockets of its namespace and publishes its own, so that
// sails.sockets.join(id, room) and friends reach sockets on Node Sails
// servers, which the adapter's requests cannot reach (their socket.io-redis
// 6 knows only the older request forms). Plug it into
// sailsbridge.Sockets.WithBus.
//
// Concurrency: safe for concurrent use. It uses its own Redis connection
// for subscribing, as Sails uses separate admin connections.
type SailsBus struct {
	rdb     redis.UniversalClient
	ns      *socketio.Namespace
	channel string
	uid     string
	drops   *dropLog
	sub     *redis.PubSub
	done    chan struct{}
	once    sync.Once
}

type busMessage struct {
	UID     string          `json:"uid,omitempty"`
	Event   string          `json:"event"`
	Payload json.RawMessage `json:"payload"`
}

type busPayload struct {
	SourceRoom string   `json:"sourceRoom"`
	DestRooms  []string `json:"destRooms,omitempty"`
}

// NewSailsBus subscribes to the admin bus and starts applying its
// messages to the local sockets of ns. It returns once the subscription
// is confirmed.
func NewSailsBus(ctx context.Context, rdb redis.UniversalClient, ns *socketio.Namespace, opts *SailsBusOptions) (*SailsBus, error) {
	var o SailsBusOptions
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	b := &SailsBus{rdb: rdb, ns: ns, channel: DefaultSailsBusChannel, uid: sailsUID(), drops: newDropLog(o.Logger), done: make(chan struct{})}
	if o.Key != "" {
		b.channel = o.Key
	}
	b.sub = rdb.Subscribe(ctx, b.channel)
	if _, err := b.sub.Receive(ctx); err != nil {
		b.sub.Close()
		return nil, err
	}
	go b.run(b.sub.Channel())
	return b, nil
}

// sailsUID is a 6-character id like the one sails-hook-sockets gives each
// server.
func sailsUID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b [6]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

// UID returns the id this node puts on its messages.
func (b *SailsBus) UID() string { return b.uid }

func (b *SailsBus) run(ch <-chan *redis.Message) {
	defer close(b.done)
	for m := range ch {
		var msg busMessage
		var p busPayload
		if json.Unmarshal([]byte(m.Payload), &msg) != nil || json.Unmarshal(msg.Payload, &p) != nil || p.SourceRoom == "" {
			b.drops.warn("redisadapter: malformed Sails admin message dropped", m.Channel, "malformed Sails admin message", "bytes", len(m.Payload))
			continue
		}
		if msg.UID == b.uid {
			continue // our own: applied before publishing
		}
		if err := b.apply(context.Background(), msg.Event, p); err != nil {
			b.drops.warn("redisadapter: Sails admin message not applied", m.Channel, "Sails admin message not applied", "event", msg.Event, "err", err)
		}
	}
}

// apply carries out a bus event on this server's sockets only.
func (b *SailsBus) apply(ctx context.Context, event string, p busPayload) error {
	src := b.ns.In(socketio.Room(p.SourceRoom)).Local()
	dests := make([]socketio.Room, len(p.DestRooms))
	for i, r := range p.DestRooms {
		dests[i] = socketio.Room(r)
	}
	switch event {
	case "join":
		return src.SocketsJoin(ctx, dests...)
	case "leave":
		return src.SocketsLeave(ctx, dests...)
	case "leaveAll":
		members, err := src.FetchSockets(ctx)
		if err != nil {
			return err
		}
		for _, m := range members {
			if s := b.ns.Socket(m.ID); s != nil {
				rooms := slices.DeleteFunc(slices.Clone(m.Rooms), func(r socketio.Room) bool { return r == socketio.Room(m.ID) })
				s.Leave(rooms...)
			}
		}
		return nil
	}
	return errors.New("unknown event " + event)
}

func (b *SailsBus) publish(ctx context.Context, event string, p busPayload) error {
	payload, err := json.Marshal(p)
	if err != nil {
		return err
	}
	msg, err := json.Marshal(busMessage{UID: b.uid, Event: event, Payload: payload})
	if err != nil {
		return err
	}
	return b.rdb.Publish(ctx, b.channel, msg).Err()
}

// PublishJoin tells the other servers to make the members of sourceRoom
// join destRooms (what sails.sockets.join and addRoomMembersToRooms send).
func (b *SailsBus) PublishJoin(ctx context.Context, sourceRoom string, destRooms []string) error {
	return b.publish(ctx, "join", busPayload{SourceRoom: sourceRoom, DestRooms: nonNil(destRooms)})
}

// PublishLeave tells the other servers to make the members of sourceRoom
// leave destRooms.
func (b *SailsBus) PublishLeave(ctx context.Context, sourceRoom string, destRooms []string) error {
	return b.publish(ctx, "leave", busPayload{SourceRoom: sourceRoom, DestRooms: nonNil(destRooms)})
}

// PublishLeaveAll tells the other servers to make the members of
// sourceRoom leave all their rooms but their own.
func (b *SailsBus) PublishLeaveAll(ctx context.Context, sourceRoom string) error {
	return b.publish(ctx, "leaveAll", busPayload{SourceRoom: sourceRoom})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Close unsubscribes and waits for the message loop to end.
func (b *SailsBus) Close() error {
	var err error
	b.once.Do(func() {
		err = b.sub.Close()
		<-b.done
	})
	return err
}

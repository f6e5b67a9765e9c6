package main

import (
	"context"
	"net/http"
	"os"

	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/session"
	"github.com/pierhq/pier/socketio"
)

// newDefaultApp is what `pier` serves with its embedded defaults: a
// Socket.IO server on /socket.io/ with the in-memory adapter, and a small
// relay application:
//
//   - "join" (room) joins a room and acknowledges with true;
//   - "leave" (room) leaves it;
//   - "message" (args...) goes to every other client, or, when the first
//     argument is {"room": name}, to the others in that room;
//   - "echo" (args...) is acknowledged with its arguments.
func newDefaultApp(opts *socketio.Options) (*socketio.Server, error) {
	io, err := socketio.NewServer(opts)
	if err != nil {
		return nil, err
	}
	io.OnConnection(func(s *socketio.Socket) {
		s.On("join", func(s *socketio.Socket, e *socketio.Event) {
			var room string
			if e.Decode(&room) == nil && room != "" {
				s.Join(socketio.Room(room))
				e.Ack(true)
			}
		})
		s.On("leave", func(s *socketio.Socket, e *socketio.Event) {
			var room string
			if e.Decode(&room) == nil {
				s.Leave(socketio.Room(room))
			}
		})
		s.On("message", func(s *socketio.Socket, e *socketio.Event) {
			var to struct{ Room string }
			op := s.Broadcast()
			if e.Len() > 0 && e.Decode(&to) == nil && to.Room != "" {
				op = s.To(socketio.Room(to.Room))
			}
			op.Emit("message", e.Values()...)
		})
		s.On("echo", func(s *socketio.Socket, e *socketio.Event) {
			e.Ack(e.Values()...)
		})
	})
	return io, nil
}

func runServe(args []string) error {
	fs, addr, level := flags("pier", ":1337")
	redisURL := fs.String("redis", os.Getenv("REDIS_URL"), "Redis URL (redis://host:port/db) for the adapter and the sessions; default $REDIS_URL, or in memory")
	var rc redisConfig
	fs.BoolVar(&rc.Cluster, "redis-cluster", os.Getenv("REDIS_CLUSTER") != "", "the Redis URL names Redis Cluster nodes (more nodes with ?addr=host:port); default: set if $REDIS_CLUSTER is")
	fs.BoolVar(&rc.Sharded, "redis-sharded", false, "use the sharded protocol of Node's createShardedAdapter (Redis 7 SPUBLISH/SSUBSCRIBE) instead of the classic one")
	upstreamURL := fs.String("upstream", "", "send sails.io.js virtual requests (and other HTTP requests) to this backend URL, http(s)://host:port")
	sailsJS := fs.String("sails-js", "testdata/js/node_modules/sails.io.js/dist/sails.io.js", "the sails.io.js browser bundle the demo page loads")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(*level)
	if err != nil {
		return err
	}
	rc.URL = *redisURL
	be, err := newBackend(context.Background(), rc, log)
	if err != nil {
		return err
	}
	defer be.close()
	io, err := newDefaultApp(&socketio.Options{Logger: log, Adapter: be.adapter})
	if err != nil {
		return err
	}
	sessions, err := session.New(be.sessions, &session.Options{Secrets: sessionSecrets(log), Logger: log})
	if err != nil {
		return err
	}
	var bus sailsbridge.RoomBus
	if be.rdb != nil {
		// Sails servers sharing the Redis hear our room operations too.
		sb, err := redisadapter.NewSailsBus(context.Background(), be.rdb, io.Of("/"), &redisadapter.SailsBusOptions{Logger: log})
		if err != nil {
			return err
		}
		defer sb.Close()
		bus = sb
	}
	var h http.Handler
	if *upstreamURL != "" {
		h, err = newUpstreamApp(io, upstreamConfigFromEnv(*upstreamURL), sailsbridge.Options{}, nil, log)
	} else {
		h, err = newDemo(io, sessions, bus, *sailsJS, log)
	}
	if err != nil {
		return err
	}
	return serve(*addr, h, log, io)
}

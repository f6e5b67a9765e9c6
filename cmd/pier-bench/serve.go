package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/httpserve"
	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/redisadapter/streams"
	"github.com/pierhq/pier/socketio"
)

// exitModeUnavailable is the exit status of serve-pier for a mode this
// build does not serve yet; the runner then reports the Pier side of the
// scenario as skipped.
const exitModeUnavailable = 3

// pierMode builds the handler of one server mode. The runner asks for the
// mode of each scenario ("eio", "sio"); the Node server (server.js) serves
// the same modes with the same behaviour.
type pierMode func(log *slog.Logger, o *serveOptions) (http.Handler, shutdowner, error)

// serveOptions are the settings of serve-pier that a mode may use.
type serveOptions struct {
	// RedisURL, when set, plugs redisadapter into the Socket.IO server of
	// the "sio" mode: broadcasts then reach the clients of every
	// serve-pier sharing that Redis (the -scale cluster case).
	RedisURL string
	// Adapter is the Redis adapter used with RedisURL: "pubsub"
	// (redisadapter, the default) or "streams" (redisadapter/streams).
	Adapter string
}

type shutdowner = httpserve.Shutdowner

// pierModes lists the modes serve-pier serves: "eio" (Engine.IO echo) and
// "sio", the Socket.IO fixture of testdata/bench/server.js (events "echo"
// with ack, "join" with ack, "broadcast" to a room), pingInterval 25s.
var pierModes = map[string]pierMode{
	"eio": serveEIO,
	"sio": serveSIO,
}

func serveSIO(log *slog.Logger, o *serveOptions) (http.Handler, shutdowner, error) {
	opts := &socketio.Options{
		Engine: &engineio.Options{PingInterval: 25 * time.Second},
		Logger: log,
	}
	if o.RedisURL != "" {
		ro, err := redis.ParseURL(o.RedisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("-redis: %w", err)
		}
		rdb := redis.NewClient(ro)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = rdb.Ping(ctx).Err()
		cancel()
		if err != nil {
			rdb.Close()
			return nil, nil, fmt.Errorf("redis %s: %w", ro.Addr, err)
		}
		switch o.Adapter {
		case "", "pubsub":
			opts.Adapter = redisadapter.New(rdb, &redisadapter.Options{Logger: log})
		case "streams":
			opts.Adapter = streams.New(rdb, &streams.Options{Logger: log})
		default:
			rdb.Close()
			return nil, nil, fmt.Errorf("-adapter: unknown adapter %q (pubsub or streams)", o.Adapter)
		}
	}
	io, err := socketio.NewServer(opts)
	if err != nil {
		return nil, nil, err
	}
	io.OnConnection(func(s *socketio.Socket) {
		s.On("echo", func(s *socketio.Socket, e *socketio.Event) {
			if e.WantsAck() {
				e.Ack(e.Values()...)
			} else {
				s.Emit("echo", e.Values()...)
			}
		})
		s.On("join", func(s *socketio.Socket, e *socketio.Event) {
			var room string
			e.Decode(&room)
			s.Join(socketio.Room(room))
			e.Ack()
		})
		s.On("broadcast", func(s *socketio.Socket, e *socketio.Event) {
			var room string
			var data json.RawMessage
			e.Decode(&room, &data)
			io.To(socketio.Room(room)).Emit("broadcast", data)
		})
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	return mux, io, nil
}

// echo is the Engine.IO handler of the "eio" mode: every message goes back
// as it came.
type echo struct{}

func (echo) OnOpen(*engineio.Session)                          {}
func (echo) OnClose(*engineio.Session, error)                  {}
func (echo) OnMessage(s *engineio.Session, m engineio.Message) { s.Send(m) }

func serveEIO(log *slog.Logger, _ *serveOptions) (http.Handler, shutdowner, error) {
	srv, err := engineio.NewServer(echo{}, &engineio.Options{
		Path:         "/engine.io/",
		PingInterval: 25 * time.Second,
		Logger:       log,
	})
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", srv)
	return mux, srv, nil
}

// runServePier serves Pier for the runner: it prints one JSON line
// {"event":"listening",...} on stdout once it accepts connections and
// serves until SIGTERM or SIGINT.
func runServePier(args []string) error {
	fs := flag.NewFlagSet("pier-bench serve-pier", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	mode := fs.String("mode", "eio", "server mode: eio (Engine.IO echo on /engine.io/) or sio (Socket.IO fixture on /socket.io/)")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this address (a separate listener)")
	logLevel := fs.String("log-level", "warn", "log level")
	var so serveOptions
	fs.StringVar(&so.Adapter, "adapter", "pubsub", "sio mode with -redis: the Redis adapter, pubsub (redisadapter) or streams (redisadapter/streams)")
	fs.StringVar(&so.RedisURL, "redis", "", "sio mode: share broadcasts and rooms with the other servers on this Redis (redis://host:port) through redisadapter")
	if err := fs.Parse(args); err != nil {
		return err
	}
	nofile, err := raiseNofile()
	if err != nil {
		return err
	}
	build, ok := pierModes[*mode]
	if !ok {
		fmt.Fprintf(os.Stderr, "pier-bench serve-pier: mode %q is not available in this build\n", *mode)
		os.Exit(exitModeUnavailable)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	h, part, err := build(log, &so)
	if err != nil {
		return err
	}
	if *pprofAddr != "" {
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/", pprof.Index)
		pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pm.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		pm.HandleFunc("/debug/pprof/trace", pprof.Trace)
		pl, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			return err
		}
		go http.Serve(pl, pm)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"event": "listening", "addr": ln.Addr().String(), "mode": *mode, "pid": os.Getpid(),
		"gomaxprocs": runtime.GOMAXPROCS(0), "nofile": nofile,
		"versions": map[string]string{"go": runtime.Version()},
	})
	return httpserve.Run(ln, h, log, 2*time.Second, part)
}

// Command zishang520 is the third server of Pier's benchmark
// (cmd/pier-bench): the Go port of Node's socket.io server,
// github.com/zishang520/socket.io (servers/engine/v3 and servers/socket/v3),
// serving the same scenario contract as ../server.js and `pier-bench
// serve-pier`. It is a module of its own so that Pier's go.mod never
// depends on it; `make bench` builds it with `go build` in this directory.
//
//	zishang520 -port 0 -mode eio   Engine.IO on /engine.io/: echo every message
//	zishang520 -port 0 -mode sio   Socket.IO on /socket.io/: the fixture below
//
// Both accept Engine.IO v3 clients (allowEIO3) and use pingInterval 25 s and
// pingTimeout 20 s, as the other two servers do. It prints one JSON line
// {"event":"listening",...} on stdout once it accepts connections, and
// exits on SIGTERM or SIGINT.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/zishang520/socket.io/servers/engine/v3"
	econfig "github.com/zishang520/socket.io/servers/engine/v3/config"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

const (
	pingInterval = 25 * time.Second
	pingTimeout  = 20 * time.Second
)

func main() {
	host := flag.String("host", "127.0.0.1", "listen host")
	port := flag.Int("port", 0, "listen port (0: any free port, printed in the listening line)")
	mode := flag.String("mode", "eio", "eio (Engine.IO echo) or sio (Socket.IO fixture)")
	flag.Parse()

	var h http.Handler
	switch *mode {
	case "eio":
		h = serveEIO()
	case "sio":
		h = serveSIO()
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %q\n", *mode)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, fmt.Sprint(*port)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"event": "listening", "addr": ln.Addr().String(), "mode": *mode, "pid": os.Getpid(),
		"gomaxprocs": runtime.GOMAXPROCS(0),
		"versions":   versions(),
	})
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		os.Exit(0)
	}()
	if err := http.Serve(ln, h); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// serveEIO is the "eio" mode: an Engine.IO server echoing every message as
// it came (text stays text, binary stays binary).
func serveEIO() http.Handler {
	opts := econfig.DefaultServerOptions()
	opts.SetPingInterval(pingInterval)
	opts.SetPingTimeout(pingTimeout)
	opts.SetAllowEIO3(true)
	srv := engine.NewServer(opts)
	srv.On("connection", func(args ...any) {
		s := args[0].(engine.Socket)
		s.On("message", func(args ...any) {
			if len(args) > 0 {
				if data, ok := args[0].(types.BufferInterface); ok {
					s.Send(data, nil, nil)
				}
			}
		})
	})
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", srv)
	return mux
}

// serveSIO is the "sio" mode, the fixture of ../server.js:
//
//	"echo" (data, ack)      acks with data (or emits "echo" back without an ack)
//	"join" (room, ack)      joins room, then acks with no arguments
//	"broadcast" (room, x)   emits "broadcast" x to every socket in room
func serveSIO() http.Handler {
	opts := socket.DefaultServerOptions()
	opts.SetServeClient(false)
	opts.SetPingInterval(pingInterval)
	opts.SetPingTimeout(pingTimeout)
	opts.SetAllowEIO3(true)
	io := socket.NewServer(nil, opts)
	io.On("connection", func(args ...any) {
		s := args[0].(*socket.Socket)
		s.On("echo", func(args ...any) {
			if ack, ok := lastAck(args); ok {
				ack(args[:len(args)-1], nil)
			} else {
				s.Emit("echo", args...)
			}
		})
		s.On("join", func(args ...any) {
			if room, ok := firstString(args); ok {
				s.Join(socket.Room(room))
			}
			if ack, ok := lastAck(args); ok {
				ack(nil, nil)
			}
		})
		s.On("broadcast", func(args ...any) {
			if room, ok := firstString(args); ok && len(args) > 1 {
				io.To(socket.Room(room)).Emit("broadcast", args[1])
			}
		})
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io.ServeHandler(opts))
	return mux
}

func lastAck(args []any) (socket.Ack, bool) {
	if len(args) == 0 {
		return nil, false
	}
	ack, ok := args[len(args)-1].(socket.Ack)
	return ack, ok
}

func firstString(args []any) (string, bool) {
	if len(args) == 0 {
		return "", false
	}
	s, ok := args[0].(string)
	return s, ok
}

// versions reports Go's and the zishang520 modules' versions as built.
func versions() map[string]string {
	v := map[string]string{"go": runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			switch {
			case strings.HasSuffix(d.Path, "/servers/socket/v3"):
				v["socket.io"] = d.Version
			case strings.HasSuffix(d.Path, "/servers/engine/v3"):
				v["engine.io"] = d.Version
			}
		}
	}
	return v
}

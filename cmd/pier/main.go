// Command pier serves Socket.IO, Engine.IO and sails.io.js clients.
//
//	pier [-addr host:port]              serve Pier with its embedded defaults (default :1337)
//	pier conformance [-addr host:port]  serve the fixture of the official protocol test suites (default :3000)
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/pierhq/pier/internal/httpserve"
)

func main() {
	args := os.Args[1:]
	cmd := "serve"
	if len(args) > 0 && args[0] == "conformance" {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "conformance":
		err = runConformance(args)
	default:
		err = runServe(args)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pier:", err)
		os.Exit(1)
	}
}

// shutdowner is what a served component must do on exit.
type shutdowner = httpserve.Shutdowner

// serve runs h on addr until SIGINT or SIGTERM, then shuts down each
// component and the HTTP server.
func serve(addr string, h http.Handler, log *slog.Logger, parts ...shutdowner) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Info("pier: listening", "addr", ln.Addr().String())
	return httpserve.Run(ln, h, log, 10*time.Second, parts...)
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, err
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func flags(name, defAddr string) (*flag.FlagSet, *string, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	addr := fs.String("addr", defAddr, "listen address host:port")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	return fs, addr, level
}

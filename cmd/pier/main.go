// Command pier serves Socket.IO, Engine.IO and sails.io.js clients.
//
//	pier [-addr host:port]              serve Pier with its embedded defaults (default :1337)
//	pier conformance [-addr host:port]  serve the fixture of the official protocol test suites (default :3000)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
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
type shutdowner interface {
	Shutdown(ctx context.Context) error
}

// serve runs h on addr until SIGINT or SIGTERM, then shuts down the HTTP
// server and each component within grace.
func serve(addr string, h http.Handler, log *slog.Logger, parts ...shutdowner) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info("pier: listening", "addr", ln.Addr().String())
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	log.Info("pier: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, p := range parts {
		if err := p.Shutdown(sctx); err != nil {
			log.Warn("pier: shutdown", "err", err)
		}
	}
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
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

// Package httpserve runs Pier's HTTP servers with the settings they share:
// header timeouts and limits, logs through slog, and a graceful shutdown
// on SIGINT or SIGTERM.
package httpserve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Shutdowner is a component shut down with the server (an engine or
// Socket.IO server, so that clients get a close before the listener goes).
type Shutdowner interface {
	Shutdown(ctx context.Context) error
}

// Run serves h on ln until SIGINT or SIGTERM (or until serving fails),
// then shuts down each part and the HTTP server within grace.
func Run(ln net.Listener, h http.Handler, log *slog.Logger, grace time.Duration, parts ...Shutdowner) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16<<10 - 4096, // Node's 16 KiB (Go allows 4096 bytes above it)
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	for _, p := range parts {
		if err := p.Shutdown(sctx); err != nil {
			log.Warn("shutdown", "err", err)
		}
	}
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

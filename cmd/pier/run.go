package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pierhq/pier/internal/httpserve"
)

// maxHeaderBytes is Node's default limit of an HTTP request's header
// section (16 KiB, request line included): a larger one gets 431. Go's
// server allows 4096 bytes above its MaxHeaderBytes, taken off here.
const maxHeaderBytes = 16<<10 - 4096

// readyTimeout bounds /readyz's Redis PING.
const readyTimeout = 2 * time.Second

// closeGrace is the least time the Socket.IO and HTTP servers get to close
// after the drain, even past its window.
const closeGrace = time.Second

// newHTTPServer is the http.Server of Pier's listeners.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// certLoader holds the TLS certificate, read again on SIGHUP.
type certLoader struct {
	cert, key string
	cur       atomic.Pointer[tls.Certificate]
}

func (c *certLoader) load() error {
	pair, err := tls.LoadX509KeyPair(c.cert, c.key)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	c.cur.Store(&pair)
	return nil
}

func (c *certLoader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cur.Load(), nil }

// run serves the app until SIGINT or SIGTERM, then drains and returns nil
// (exit 0). A second signal exits at once with status 1. SIGHUP reloads
// the TLS certificate.
func (a *app) run(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return err
	}
	httpLog := component(a.log, "http")
	srv := newHTTPServer(a.handler, httpLog)
	var certs *certLoader
	if a.cfg.TLS.Cert != "" {
		certs = &certLoader{cert: a.cfg.TLS.Cert, key: a.cfg.TLS.Key}
		if err := certs.load(); err != nil {
			ln.Close()
			return err
		}
		srv.TLSConfig = &tls.Config{GetCertificate: certs.get, MinVersion: tls.VersionTLS12}
	}
	if a.cfg.Pprof != "" {
		if err := servePprof(a.cfg.Pprof, httpLog); err != nil {
			ln.Close()
			return err
		}
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	done := make(chan error, 1)
	go func() {
		if certs != nil {
			done <- srv.ServeTLS(ln, "", "")
		} else {
			done <- srv.Serve(ln)
		}
	}()
	scheme := "http"
	if certs != nil {
		scheme = "https"
	}
	a.log.Info("pier: listening", "addr", ln.Addr().String(), "scheme", scheme, "path", a.cfg.Path)
	for {
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				if certs == nil {
					continue
				}
				if err := certs.load(); err != nil {
					httpLog.Error("pier: TLS certificate not reloaded", "err", err)
				} else {
					httpLog.Info("pier: TLS certificate reloaded")
				}
				continue
			}
			a.log.Info("pier: signal received, draining (a second signal exits at once)", "signal", sig.String())
		}
		break
	}
	go func() {
		for sig := range sigs {
			if sig != syscall.SIGHUP {
				a.log.Warn("pier: second signal, exiting at once")
				os.Exit(1)
			}
		}
	}()
	return a.shutdown(srv)
}

// shutdown drains the clients within the window, then stops the
// Socket.IO server (what the drain did not close, such as sessions that
// never joined a namespace, is closed then) and the HTTP server, which
// get what remains of the window, at least closeGrace.
func (a *app) shutdown(srv *http.Server) error {
	end := time.Now().Add(a.cfg.Drain.D())
	dctx, cancel := context.WithDeadline(context.Background(), end)
	a.drain.run(dctx)
	cancel()
	sctx, cancel := context.WithDeadline(context.Background(), later(end, time.Now().Add(closeGrace)))
	defer cancel()
	if err := a.io.Shutdown(sctx); err != nil {
		a.log.Warn("pier: shutdown", "err", err)
	}
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	a.log.Info("pier: stopped")
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// servePprof serves net/http/pprof on its own address, never on the
// public one.
func servePprof(addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("pier: pprof listening", "addr", ln.Addr().String())
	go http.Serve(ln, mux)
	return nil
}

// shutdowner is what a served component must do on exit.
type shutdowner = httpserve.Shutdowner

// serve runs h on addr until SIGINT or SIGTERM, then shuts down each
// component and the HTTP server (`pier conformance`).
func serve(addr string, h http.Handler, log *slog.Logger, parts ...shutdowner) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Info("pier: listening", "addr", ln.Addr().String())
	return httpserve.Run(ln, h, log, 10*time.Second, parts...)
}

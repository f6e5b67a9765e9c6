package upstream_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/wiretest"
	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/socketio"
	"github.com/pierhq/pier/upstream"
)

// The benchmarks compare a GET /whoami to a Go backend made three ways:
//
//   - Direct: an HTTP request to the backend (keep-alive).
//   - Handler: through the upstream Handler alone (what it adds on top of
//     the Sails bridge).
//   - Pier: a sails.io.js virtual request over a Socket.IO websocket to a
//     Pier server whose bridge sends it to the backend, acknowledged with
//     the JWR: the whole path a client's request takes.
//
// "serial" makes one request at a time (ns/op is the latency); "parallel"
// keeps benchParallelism×GOMAXPROCS requests in flight (req/s is the
// throughput). The difference between Pier's and Direct's ns/op is what
// Pier adds to a request.
const benchParallelism = 8

func BenchmarkDirect(b *testing.B) {
	be := startGoBackendB(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	one := func() error {
		resp, err := client.Get(be + "/whoami")
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil
	}
	b.Run("serial", func(b *testing.B) { serial(b, one) })
	b.Run("parallel", func(b *testing.B) { parallel(b, func() (func() error, func()) { return one, func() {} }) })
}

func BenchmarkHandler(b *testing.B) {
	be := startGoBackendB(b)
	h, err := upstream.New(&upstream.Options{URL: be, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer h.CloseIdleConnections()
	one := func() error {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/whoami", nil))
		if w.Code != 200 {
			return fmt.Errorf("status %d", w.Code)
		}
		return nil
	}
	b.Run("serial", func(b *testing.B) { serial(b, one) })
	b.Run("parallel", func(b *testing.B) { parallel(b, func() (func() error, func()) { return one, func() {} }) })
}

func BenchmarkPier(b *testing.B) {
	be := startGoBackendB(b)
	pierURL := startBenchPier(b, be)
	// dial opens a Socket.IO connection and returns a function making one
	// virtual request on it.
	dial := func() (func() error, func()) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := wiretest.Dial(ctx, pierURL, "/socket.io/", 4)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.ConnectSocketIO("/", "", 10*time.Second); err != nil {
			b.Fatal(err)
		}
		id := 0
		return func() error {
			id++
			ack := fmt.Sprintf("43%d", id)
			if err := c.Send(fmt.Sprintf(`42%d["get",{"method":"get","url":"/whoami","headers":{}}]`, id)); err != nil {
				return err
			}
			for {
				p, err := c.Read(10 * time.Second)
				if err != nil {
					return err
				}
				if strings.HasPrefix(p, ack+"[") {
					if !strings.Contains(p, `"statusCode":200`) {
						return fmt.Errorf("answer %s", p)
					}
					return nil
				}
			}
		}, func() { c.Close() }
	}
	b.Run("serial", func(b *testing.B) {
		one, done := dial()
		defer done()
		serial(b, one)
	})
	b.Run("parallel", func(b *testing.B) { parallel(b, dial) })
}

func serial(b *testing.B, one func() error) {
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if err := one(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// parallel runs benchParallelism×GOMAXPROCS workers, each with its own
// connection from open (made before the timer starts).
func parallel(b *testing.B, open func() (func() error, func())) {
	n := benchParallelism * runtime.GOMAXPROCS(0)
	workers := make(chan func() error, n)
	for range n {
		one, done := open()
		defer done()
		workers <- one
	}
	b.SetParallelism(benchParallelism)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var failed atomic.Bool
	b.RunParallel(func(pb *testing.PB) {
		one := <-workers
		for pb.Next() {
			if err := one(); err != nil {
				if !failed.Swap(true) {
					b.Error(err)
				}
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

func startGoBackendB(b *testing.B) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"cookie": r.Header.Get("Cookie")})
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// startBenchPier starts Pier in front of backend, as `pier -upstream`
// does (without hooks), and returns its URL. Handshakes are given the SDK
// version sails.io.js 1.2.1 sends.
func startBenchPier(b *testing.B, backend string) string {
	up, err := upstream.New(&upstream.Options{URL: backend, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	eng := sailsbridge.EngineOptions()
	eng.Logger = quietLogger()
	srv, err := socketio.NewServer(&socketio.Options{Engine: eng, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	bridge, err := sailsbridge.New(up, &sailsbridge.Options{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	bridge.Attach(srv.Of("/"))
	guard := bridge.Guard(srv)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.RawQuery += "&__sails_io_sdk_version=1.2.1"
		guard.ServeHTTP(w, r)
	}))
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
		up.CloseIdleConnections()
	})
	return hs.URL
}

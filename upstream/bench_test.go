package upstream_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pierhq/pier/upstream"
)

// BenchmarkBackendDirect and BenchmarkThroughHandler compare a request to
// the Go backend made directly with one made through the Handler (what a
// virtual request costs on top of the bridge): the difference of their
// ns/op is the Handler's added latency.
func BenchmarkBackendDirect(b *testing.B) {
	be := startGoBackendB(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(be + "/whoami")
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

func BenchmarkThroughHandler(b *testing.B) {
	be := startGoBackendB(b)
	h, err := upstream.New(&upstream.Options{URL: be, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer h.CloseIdleConnections()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/whoami", nil))
			if w.Code != 200 {
				b.Errorf("status %d", w.Code)
				return
			}
		}
	})
}

func startGoBackendB(b *testing.B) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"cookie": r.Header.Get("Cookie")})
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

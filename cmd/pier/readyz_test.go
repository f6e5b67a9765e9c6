package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/redistest"
)

// TestReadyzFollowsRedis: /readyz is 503 while the configured Redis does
// not answer and 200 again once it does; /healthz stays 200; Redis
// commands are timed in the metrics.
func TestReadyzFollowsRedis(t *testing.T) {
	rs := redistest.Start(t)
	cfg := defaultConfig()
	cfg.Redis.URL = rs.URL()
	a, err := newApp(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	status := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		a.handler.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	waitFor := func(path string, want int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, body := status(path)
			if code == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d %s, want %d", path, code, body, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("/readyz", 200)
	rs.Stop()
	waitFor("/readyz", 503)
	if code, _ := status("/healthz"); code != 200 {
		t.Errorf("/healthz with Redis down: %d", code)
	}
	rs.Restart(t)
	waitFor("/readyz", 200)
	_, metrics := status("/metrics")
	if !strings.Contains(metrics, `pier_redis_request_seconds_count{kind="other"}`) || !strings.Contains(metrics, `pier_redis_errors_total{kind="other"}`) {
		t.Errorf("/metrics lacks the Redis series:\n%s", grepLines(metrics, "pier_redis"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestOnlyAllowOrigins: handshakes come only from the listed origins,
// compared exactly, and never without an Origin; the others get what Sails
// answers (400, Engine.IO code 3), from the Sails bridge's guard.
func TestOnlyAllowOrigins(t *testing.T) {
	cfg := defaultConfig()
	cfg.OnlyAllowOrigins = []string{"https://app.example"}
	a, err := newApp(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	defer a.io.Shutdown(closedContext())
	for _, tc := range []struct {
		origin string
		status int
	}{{"https://app.example", 200}, {"https://APP.example", 400}, {"https://app.example/", 400}, {"https://evil.example", 400}, {"", 400}} {
		req := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling", nil)
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		rec := httptest.NewRecorder()
		a.handler.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("Origin %q: %d, want %d", tc.origin, rec.Code, tc.status)
		}
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := `pier_handshakes_refused_total{reason="bad_request"} 4`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("metrics lack %s:\n%s", want, grepLines(rec.Body.String(), "refused"))
	}
}

// closedContext is a context already done: shut down at once.
func closedContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestRefusalReason(t *testing.T) {
	for _, tc := range []struct {
		status int
		head   string
		want   string
	}{
		{400, `{"code":0,"message":"Transport unknown"}`, "unknown_transport"},
		{400, `{"code":5,"message":"Unsupported protocol version"}`, "unsupported_protocol_version"},
		{403, `{"code":4,"message":"server shutting down"}`, "draining"},
		{403, `{"code":4,"message":"Origin not allowed"}`, "forbidden"},
		{400, "server shutting down", "draining"},
		{400, "Bad request", "bad_request"},
		{400, "Origin not allowed", "forbidden"},
		{503, "", "http_503"},
	} {
		if got := refusalReason(tc.status, []byte(tc.head)); got != tc.want {
			t.Errorf("refusalReason(%d, %s) = %s, want %s", tc.status, tc.head, got, tc.want)
		}
	}
}

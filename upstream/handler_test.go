package upstream_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pierhq/pier/upstream"
)

func TestNewChecksOptions(t *testing.T) {
	t.Parallel()
	if _, err := upstream.New(nil); err == nil {
		t.Error("nil Options accepted")
	}
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"", false},
		{"ftp://app:21", false},
		{"http://", false},
		{"app:8080", false},
		{"http://user:pw@app:8080", false},
		{"http://app:8080/?q=1", false},
		{"http://app:8080", true},
		{"https://app/prefix/", true},
	} {
		_, err := upstream.New(&upstream.Options{URL: tc.url})
		if (err == nil) != tc.ok {
			t.Errorf("New(%q): err %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}

// The URL's path is a prefix; the query is passed untouched; the
// Options' headers replace the client's.
func TestTargetAndHeaders(t *testing.T) {
	t.Parallel()
	var got *http.Request
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(r.Context())
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "1")
		w.Header().Set("X-Kept", "2")
		w.Write([]byte("ok"))
	}))
	defer be.Close()
	h, err := upstream.New(&upstream.Options{URL: be.URL + "/api/", Headers: http.Header{"X-Secret": {"s3"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.CloseIdleConnections()
	r := httptest.NewRequest("GET", "/a%2Fb/c?x=1&y=%20", nil)
	r.Header.Set("X-Secret", "from-client")
	r.Header.Set("X-Socket-Id", "forged")
	r.Header.Set("X-Forwarded-For", "10.0.0.1")
	r.RemoteAddr = "192.0.2.7:1234"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if got == nil {
		t.Fatal("backend not called")
	}
	if got.URL.RawPath != "/api/a%2Fb/c" && got.URL.EscapedPath() != "/api/a%2Fb/c" {
		t.Errorf("path %q (raw %q)", got.URL.Path, got.URL.RawPath)
	}
	if got.URL.RawQuery != "x=1&y=%20" {
		t.Errorf("query %q", got.URL.RawQuery)
	}
	for k, want := range map[string]string{
		"X-Secret": "s3", "X-Socket-Id": "", "X-Forwarded-For": "10.0.0.1, 192.0.2.7",
		"X-Forwarded-Proto": "http", "X-Forwarded-Host": "example.com",
	} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("backend got %s %q, want %q", k, v, want)
		}
	}
	if w.Code != 200 || w.Body.String() != "ok" || w.Header().Get("X-Hop") != "" || w.Header().Get("X-Kept") != "2" {
		t.Errorf("answer %d %q %v", w.Code, w.Body.String(), w.Header())
	}
}

// Requests reuse the connections to the backend.
func TestConnectionReuse(t *testing.T) {
	t.Parallel()
	be := startGoBackend(t)
	h, err := upstream.New(&upstream.Options{URL: be.url})
	if err != nil {
		t.Fatal(err)
	}
	defer h.CloseIdleConnections()
	const n = 50
	for i := range n {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/whoami", nil))
		if w.Code != 200 {
			t.Fatalf("request %d: %d %s", i, w.Code, w.Body)
		}
	}
	if c := be.conns.Load(); c > 2 {
		t.Errorf("%d requests opened %d connections to the backend, want 1 (2 at most)", n, c)
	}
}

// A backend streaming far more than MaxBodyBytes is not read past the
// bound: the memory allocated while serving stays near the bound.
func TestMaxBodyBytesMemory(t *testing.T) {
	const offered = 256 << 20
	var written atomic.Int64
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		block := make([]byte, 64<<10)
		for written.Load() < offered {
			n, err := w.Write(block)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer be.Close()
	h, err := upstream.New(&upstream.Options{URL: be.URL, MaxBodyBytes: 1 << 20, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer h.CloseIdleConnections()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/huge", nil))
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("backend offered %d MiB, wrote %d MiB before the connection closed; allocated while serving: %.1f MiB",
		offered>>20, written.Load()>>20, float64(alloc)/(1<<20))
	if w.Code != http.StatusBadGateway {
		t.Errorf("status %d, want 502", w.Code)
	}
	if alloc > 16<<20 {
		t.Errorf("allocated %d bytes for a 1 MiB bound", alloc)
	}
	if written.Load() >= offered {
		t.Errorf("the backend could write all %d bytes: the answer was read past the bound", offered)
	}
}

// Fallback: Go routes first, their 404 goes to the backend with the
// request body intact and without the Go 404's headers.
func TestFallbackPlainHTTP(t *testing.T) {
	t.Parallel()
	var backendBody string
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		backendBody = string(b)
		w.Header().Set("X-From", "backend")
		w.WriteHeader(201)
		w.Write([]byte("backend"))
	}))
	defer be.Close()
	up, err := upstream.New(&upstream.Options{URL: be.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer up.CloseIdleConnections()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /go", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-From", "go")
		w.Write(b)
	})
	mux.HandleFunc("POST /maybe", func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // reads, then declines
		w.Header().Set("X-Leak", "1")
		http.NotFound(w, r)
	})
	h := upstream.Fallback(mux, up)
	for _, tc := range []struct {
		path, from, body string
		code             int
	}{
		{"/go", "go", `{"n":1}`, 200},
		{"/maybe", "backend", "backend", 201},
		{"/nowhere", "backend", "backend", 201},
	} {
		backendBody = ""
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", tc.path, strings.NewReader(`{"n":1}`)))
		if w.Code != tc.code || w.Header().Get("X-From") != tc.from || w.Body.String() != tc.body || w.Header().Get("X-Leak") != "" {
			t.Errorf("%s: %d %v %q", tc.path, w.Code, w.Header(), w.Body.String())
		}
		if tc.from == "backend" && backendBody != `{"n":1}` {
			t.Errorf("%s: backend got body %q", tc.path, backendBody)
		}
	}
	big := strings.Repeat("x", upstream.MaxFallbackBody+1)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/nowhere", strings.NewReader(big)))
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("body over MaxFallbackBody: %d", w.Code)
	}
}

// Fallback over sockets, driven by sails.io.js.
func TestFallbackSails(t *testing.T) {
	t.Parallel()
	be := startGoBackend(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /go/hello", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"hello": "from Go"})
	})
	mux.HandleFunc("POST /go/echo", func(w http.ResponseWriter, r *http.Request) {
		var v any
		json.NewDecoder(r.Body).Decode(&v)
		writeJSON(w, 200, v)
	})
	p := startPier(t, upstream.Options{URL: be.url}, func(up http.Handler) http.Handler { return upstream.Fallback(mux, up) })
	_, res := runClient(t, p.url, "mixed")
	for _, c := range []struct{ name, body string }{
		{"go", `{"hello":"from Go"}`},
		{"go-post", `{"n":1}`},
	} {
		if r := res[c.name]; r.JWR.StatusCode != 200 || string(r.Body) != c.body || r.JWR.Headers["x-request-id"] != "" {
			t.Errorf("%s: %d %s %v", c.name, r.JWR.StatusCode, r.Body, r.JWR.Headers)
		}
	}
	if r := res["backend"]; r.JWR.StatusCode != 200 || r.JWR.Headers["x-request-id"] == "" || r.JWR.Headers["x-content-type-options"] != "" {
		t.Errorf("backend: %d %s %v", r.JWR.StatusCode, r.Body, r.JWR.Headers)
	}
	var login struct{ User string }
	res["backend-post"].decode(t, "backend-post", &login)
	if r := res["backend-post"]; r.JWR.StatusCode != 201 || login.User != "bob" {
		t.Errorf("backend-post: %d %s", r.JWR.StatusCode, r.Body)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

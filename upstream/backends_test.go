package upstream_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
)

// startNodeBackend runs testdata/js/upstream-backend.js, a plain Node
// `http` server, and returns its URL. It is killed when the test ends.
func startNodeBackend(t *testing.T) string {
	t.Helper()
	jstest.Install(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", filepath.Join(jstest.Dir(t), "upstream-backend.js"))
	cmd.WaitDelay = 2 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if stderr.Len() > 0 {
			t.Logf("upstream-backend.js stderr: %s", stderr.String())
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		var v struct{ Port int }
		if !ok || json.Unmarshal([]byte(line), &v) != nil || v.Port == 0 {
			t.Fatalf("upstream-backend.js did not say its port: %q %s", line, stderr.String())
		}
		return fmt.Sprintf("http://127.0.0.1:%d", v.Port)
	case <-time.After(30 * time.Second):
		t.Fatal("upstream-backend.js did not start in 30s")
	}
	return ""
}

// goBackend is the Go twin of upstream-backend.js (same routes and
// answers, X-Backend: go), counting the connections it accepts.
type goBackend struct {
	url   string
	conns atomic.Int64
}

func startGoBackend(t *testing.T) *goBackend {
	t.Helper()
	b := &goBackend{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ User string }
		json.NewDecoder(r.Body).Decode(&in)
		w.Header().Add("Set-Cookie", "sid="+in.User+"-token; Path=/; HttpOnly")
		w.Header().Add("Set-Cookie", "theme=dark; Path=/")
		w.Header().Set("X-Backend", "go")
		writeJSON(w, 201, map[string]any{"user": in.User, "seen": seen(r)})
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "sid=; Path=/; Max-Age=0")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		var cookie any
		if c := r.Header.Get("Cookie"); c != "" {
			cookie = c
		}
		writeJSON(w, 200, map[string]any{"cookie": cookie, "seen": seen(r)})
	})
	mux.HandleFunc("PUT /echo/put", func(w http.ResponseWriter, r *http.Request) {
		var body any
		json.NewDecoder(r.Body).Decode(&body)
		writeJSON(w, 200, map[string]any{"body": body, "seen": seen(r)})
	})
	mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/elsewhere")
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("GET /text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<p>hi</p>"))
	})
	mux.HandleFunc("GET /bad-json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"a":1,`))
	})
	mux.HandleFunc("GET /huge", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		block := []byte(strings.Repeat(" ", 64<<10))
		for range 1024 { // 64 MiB, chunked
			if _, err := w.Write(block); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices the client leave only then
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	})
	mux.HandleFunc("GET /reset", func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0) // RST, not FIN
			}
			c.Close()
		}
	})
	mux.HandleFunc("GET /huge-announced", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(64<<20))
		w.Write([]byte(`{"a":`))
		http.NewResponseController(w).Flush()
		<-r.Context().Done() // and never more
	})
	mux.HandleFunc("GET /slow-body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"a":`))
		http.NewResponseController(w).Flush()
		<-r.Context().Done() // and never more
	})
	mux.HandleFunc("GET /cut", func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\":")
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // RST, not FIN
		}
		c.Close()
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, map[string]string{"error": "no route for " + r.Method + " " + r.URL.Path})
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

func seen(r *http.Request) map[string]any {
	h := func(k string) any {
		if v := r.Header.Get(k); v != "" {
			return v
		}
		return nil
	}
	return map[string]any{
		"method": r.Method, "url": r.URL.RequestURI(), "xff": h("X-Forwarded-For"), "xfproto": h("X-Forwarded-Proto"),
		"xfhost": h("X-Forwarded-Host"), "socketId": h("X-Socket-Id"), "requestId": h("X-Request-Id"),
		"cookie": h("Cookie"), "contentType": h("Content-Type"), "client": h("X-Client"),
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/internal/wiretest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// pierBinary builds the pier command once per test run.
func pierBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pier-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pier")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running pier binary.
type proc struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port
	done chan error
	logs *logTail
}

type logTail struct {
	mu    sync.Mutex
	lines []string
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

var listenRE = regexp.MustCompile(`pier: listening.* addr=(\S+)`)

// startPier runs the binary from an empty folder (so that nothing is found
// relative to the working directory) and waits for its listening log.
func startPier(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(pierBinary(t), args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan error, 1), logs: &logTail{}}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.logs.mu.Lock()
			p.logs.lines = append(p.logs.lines, sc.Text())
			p.logs.mu.Unlock()
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("pier logs:\n%s", p.logs)
		}
	})
	select {
	case a := <-addr:
		p.base = "http://" + a
	case err := <-p.done:
		t.Fatalf("pier exited: %v\n%s", err, p.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("pier did not listen\n%s", p.logs)
	}
	return p
}

// wait returns the exit error once the process has ended, within limit.
func (p *proc) wait(t *testing.T, limit time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		return err
	case <-time.After(limit):
		t.Fatalf("pier still running after %v\n%s", limit, p.logs)
		return nil
	}
}

func do(t *testing.T, method, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

// TestBinaryOperatorBar is the bar an operator checks first, on the built
// binary: configuration from a file and the environment, CORS, health,
// metrics, the client bundle, and a drain on SIGTERM that exits 0.
func TestBinaryOperatorBar(t *testing.T) {
	jstest.Install(t) // the socket.io-client bundle the binary serves
	cfg := filepath.Join(t.TempDir(), "pier.yaml")
	os.WriteFile(cfg, []byte(`# the operator's file
addr: 127.0.0.1:0
pingInterval: 20000
drain: 3s
cors:
  origin: [http://good.example, http://also.example]
  credentials: true
`), 0o600)
	p := startPier(t, []string{"PIER_PING_TIMEOUT=12345"}, "-config", cfg)

	good := map[string]string{"Origin": "http://good.example"}
	evil := map[string]string{"Origin": "http://evil.example"}
	res, body := do(t, "GET", p.base+"/socket.io/?EIO=4&transport=polling", good)
	if res.StatusCode != 200 || !strings.Contains(body, `"pingInterval":20000`) || !strings.Contains(body, `"pingTimeout":12345`) {
		t.Fatalf("handshake %d %s", res.StatusCode, body)
	}
	if res.Header.Get("Access-Control-Allow-Origin") != "http://good.example" || res.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("handshake from an allowed origin: CORS headers %v", res.Header)
	}
	res, _ = do(t, "GET", p.base+"/socket.io/?EIO=4&transport=polling", evil)
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("handshake from another origin: %d, Access-Control-Allow-Origin %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
	pre := map[string]string{"Origin": "http://good.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
	res, _ = do(t, "OPTIONS", p.base+"/socket.io/?EIO=4&transport=polling", pre)
	if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "http://good.example" ||
		res.Header.Get("Access-Control-Allow-Credentials") != "true" || res.Header.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Errorf("preflight from an allowed origin: %d %v", res.StatusCode, res.Header)
	}
	pre["Origin"] = "http://evil.example"
	res, _ = do(t, "OPTIONS", p.base+"/socket.io/?EIO=4&transport=polling", pre)
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin got Access-Control-Allow-Origin %q", res.Header.Get("Access-Control-Allow-Origin"))
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		if res, body := do(t, "GET", p.base+path, nil); res.StatusCode != 200 {
			t.Errorf("%s: %d %s", path, res.StatusCode, body)
		}
	}
	for _, name := range []string{"socket.io.js", "socket.io.min.js", "socket.io.esm.min.js", "socket.io.min.js.map"} {
		res, body := do(t, "GET", p.base+"/socket.io/"+name, nil)
		if res.StatusCode != 200 || len(body) < 1000 || res.Header.Get("ETag") == "" {
			t.Errorf("%s: %d, %d bytes, ETag %q", name, res.StatusCode, len(body), res.Header.Get("ETag"))
		}
	}

	// A websocket client, to be closed by the drain.
	ws, err := wiretest.Dial(context.Background(), p.base, "/socket.io/", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.Send("40"); err != nil {
		t.Fatal(err)
	}
	if m, err := ws.Read(10 * time.Second); err != nil || !strings.HasPrefix(m, "40") {
		t.Fatalf("connect: %q %v", m, err)
	}
	// The socket is counted once its connection handlers ran, just after
	// the client got its CONNECT reply: poll.
	series := []string{
		`pier_connections{protocol="4",transport="websocket"} 1`, `pier_sockets{namespace="/"} 1`,
		`pier_polling_bytes_total{direction="out"}`, "pier_engine_sessions ", "go_goroutines",
		`pier_packets_total{direction="in",type="connect"} 1`, `pier_packets_total{direction="out",type="connect"} 1`,
		"pier_broadcasts_total 0", "pier_acks_pending 0",
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, body = do(t, "GET", p.base+"/metrics", nil)
		var missing []string
		for _, s := range series {
			if !strings.Contains(body, s) {
				missing = append(missing, s)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q:\n%s", missing, grepLines(body, "pier_"))
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Headers past 16 KiB get 431, as from Node; 12 KiB pass.
	for _, tc := range []struct{ size, status int }{{12 << 10, 200}, {15 << 10, 200}, {16 << 10, 431}, {17 << 10, 431}, {64 << 10, 431}} {
		if got := rawStatus(t, p.base, strings.Repeat("a", tc.size)); got != tc.status {
			t.Errorf("a %d-byte header: status %d, want %d", tc.size, got, tc.status)
		}
	}

	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if _, err := ws.Read(10 * time.Second); err != wiretest.ErrClosed {
		t.Errorf("drain: websocket read %v, want a close", err)
	}
	if err := p.wait(t, 20*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second+2*closeGrace {
		t.Errorf("exit %v after SIGTERM, past the 3s drain window", took)
	}
	t.Logf("SIGTERM to exit 0: %v", time.Since(start).Round(time.Millisecond))
}

// TestBinaryUsage: -h exits 0 and lists what there is; stray arguments and
// bad configurations fail with status 2 naming the problem.
func TestBinaryUsage(t *testing.T) {
	bin := pierBinary(t)
	out, err := exec.Command(bin, "-h").CombinedOutput()
	if err != nil {
		t.Fatalf("pier -h: %v", err)
	}
	for _, want := range []string{"pier config check FILE", "conformance", "-pingTimeout  (PIER_PING_TIMEOUT)", "-cors.origin  (PIER_CORS_ORIGIN)", "-admin.auth.passwordHash"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("pier -h lacks %q", want)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("addr: :0\npingTimout: 5\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"stray"}, `unexpected argument "stray"`},
		{[]string{"-config", bad}, "bad.yaml:2: unknown key pingTimout"},
		{[]string{"config", "check", bad}, "bad.yaml:2: unknown key pingTimout"},
		{[]string{"conformance", "x"}, `unexpected argument "x"`},
	} {
		cmd := exec.Command(bin, tc.args...)
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
			t.Errorf("pier %v: %v %q, want exit 2 and %q", tc.args, err, out, tc.want)
		}
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "NODE_ENV=production")
	if out, _ := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "production needs") {
		t.Errorf("production without origins or secret: %d %s", cmd.ProcessState.ExitCode(), out)
	}
}

// rawStatus sends GET /healthz with one X-Big header on a new connection
// and returns the status.
func rawStatus(t *testing.T, base, big string) int {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	go fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\nConnection: close\r\n\r\n", big)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestBinarySecondSignal: a second signal during a drain exits at once,
// with status 1.
func TestBinarySecondSignal(t *testing.T) {
	p := startPier(t, nil, "-addr", "127.0.0.1:0", "-drain", "60s")
	// A polling session that never polls keeps the shutdown waiting for
	// the whole window.
	if res, _ := do(t, "GET", p.base+"/socket.io/?EIO=4&transport=polling", nil); res.StatusCode != 200 {
		t.Fatalf("handshake: %d", res.StatusCode)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(p.logs.String(), "pier: drained"); {
		if time.Now().After(deadline) {
			t.Fatal("no drain logged")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if res, _ := do(t, "GET", p.base+"/readyz", nil); res.StatusCode != 503 {
		t.Errorf("/readyz while draining: %d", res.StatusCode)
	}
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGINT)
	err := p.wait(t, 20*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit after the second signal: %v, want status 1", err)
	}
	t.Logf("second signal to exit: %v", time.Since(start).Round(time.Millisecond))
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
)

// startProcess runs a command until the test ends and returns the first
// line of the given stream that matches re (its first submatch).
func startProcess(t *testing.T, env []string, re *regexp.Regexp, fromStderr bool, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	var pipe io.ReadCloser
	var err error
	if fromStderr {
		pipe, err = cmd.StderrPipe()
	} else {
		pipe, err = cmd.StdoutPipe()
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var output strings.Builder
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			mu.Lock()
			output.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		mu.Lock()
		defer mu.Unlock()
		t.Logf("%s output:\n%s", filepath.Base(name), output.String())
	})
	select {
	case v := <-found:
		return v
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: no line matching %s within 60s", name, re)
	}
	return ""
}

// The must-show of the upstream mode with the built binary:
// `pier -addr A -upstream http://127.0.0.1:P` in front of a plain Node
// http backend, driven by the real sails.io.js.
func TestPierUpstreamBinary(t *testing.T) {
	jstest.Install(t)
	bin := filepath.Join(t.TempDir(), "pier")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	port := startProcess(t, nil, regexp.MustCompile(`"port":(\d+)`), false, "node", filepath.Join(jstest.Dir(t), "upstream-backend.js"))
	addr := startProcess(t, []string{"PIER_UPSTREAM_API_KEYS=test-key-0123456789abcdef", "PIER_UPSTREAM_CONNECT_URL=http://127.0.0.1:" + port + "/connect"}, regexp.MustCompile(`pier: listening"? addr=(\S+)`), true, bin,
		"-addr", "127.0.0.1:0", "-upstream", "http://127.0.0.1:"+port)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	events, err := jstest.Run(ctx, t, "upstream-client.js", "--url", "http://"+addr, "--scenario", "mustshow")
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]map[string]any{}
	for _, e := range jstest.Filter(events, "res") {
		res[e.String("name")] = e
	}
	status := func(name string) float64 {
		jwr, _ := res[name]["jwr"].(map[string]any)
		s, _ := jwr["statusCode"].(float64)
		return s
	}
	dump := func(name string) string { b, _ := json.Marshal(res[name]); return string(b) }

	login := dump("login")
	if status("login") != 201 || strings.Contains(strings.ToLower(login), "set-cookie") ||
		!strings.Contains(login, `"x-backend":"node"`) || !strings.Contains(login, `"user":"alice"`) ||
		!strings.Contains(login, `"method":"POST"`) || !strings.Contains(login, `"url":"/login?x=1"`) ||
		!strings.Contains(login, `"xff":"127.0.0.1"`) {
		t.Errorf("login: %s", login)
	}
	if who := dump("whoami"); status("whoami") != 200 || !strings.Contains(who, `"cookie":"sid=alice-token; theme=dark"`) {
		t.Errorf("whoami: %s", who)
	}
	if status("notfound") != 404 {
		t.Errorf("notfound: %s", dump("notfound"))
	}
	if status("redirect") != 302 {
		t.Errorf("redirect: %s", dump("redirect"))
	}

	// The connect hook refuses a sails.io.js handshake as Sails'
	// beforeConnect does: 400 text/html with the message on the upgrade.
	req, _ := http.NewRequest("GET", "http://"+addr+"/socket.io/?__sails_io_sdk_version=1.2.1&EIO=3&transport=websocket", nil)
	for k, v := range map[string]string{"Cookie": "deny=1", "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="} {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "text/html" || string(b) != "denied" {
		t.Errorf("refused handshake: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}

	// The sockets API is mounted with its keys.
	for _, c := range []struct {
		key  string
		code int
	}{{"", 401}, {"test-key-0123456789abcdef", 200}} {
		req, _ := http.NewRequest("POST", "http://"+addr+"/pier/api/sockets", strings.NewReader(`{}`))
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("sockets API with key %q: %d %s", c.key, resp.StatusCode, b)
		}
	}
}

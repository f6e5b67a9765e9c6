package redisadapter_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
)

// nodeProc is testdata/redis/cluster.js (Node servers with the official
// Redis adapter, socket.io-client clients and the emitter) or
// testdata/redis-legacy/server.js (Sails-style servers with
// @sailshq/socket.io-redis 6.1.2), driven over stdin/stdout (see the
// scripts' headers).
type nodeProc struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan nodeReply
	events  []map[string]any
	changed chan struct{}
	exited  chan struct{}
	stderr  bytes.Buffer
}

type nodeReply struct {
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

func startNodeProc(t *testing.T) *nodeProc {
	t.Helper()
	return startNodeScript(t, "redis", "cluster.js")
}

// startNodeScript runs script of the Node project testdata/<project>, which
// speaks cluster.js's stdin/stdout protocol.
func startNodeScript(t *testing.T, project, script string) *nodeProc {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "testdata", project))
	if err != nil {
		t.Fatal(err)
	}
	jstest.InstallDir(t, dir)
	p := &nodeProc{t: t, waiting: map[int]chan nodeReply{}, changed: make(chan struct{}), exited: make(chan struct{})}
	p.cmd = exec.Command("node", script)
	p.cmd.Dir = dir
	p.cmd.WaitDelay = 5 * time.Second
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go p.read(stdout)
	t.Cleanup(p.stop)
	p.waitEvent("node ready", func(e map[string]any) bool { return e["event"] == "ready" })
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *nodeProc) read(r io.Reader) {
	defer close(p.exited)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var m map[string]any
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		p.mu.Lock()
		if id, ok := m["id"].(float64); ok {
			var r nodeReply
			json.Unmarshal(line, &r)
			if ch := p.waiting[int(id)]; ch != nil {
				ch <- r
				delete(p.waiting, int(id))
			}
		} else {
			p.events = append(p.events, m)
			close(p.changed)
			p.changed = make(chan struct{})
		}
		p.mu.Unlock()
	}
}

func (p *nodeProc) stop() {
	p.send(map[string]any{"cmd": "exit"}, 5*time.Second)
	p.stdin.Close()
	p.cmd.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.events {
		if e["event"] == "uncaught" || e["event"] == "unhandled" {
			p.t.Errorf("node: %v: %v", e["event"], e["error"])
		}
	}
	if p.t.Failed() && p.stderr.Len() > 0 {
		p.t.Logf("node stderr:\n%s", p.stderr.String())
	}
}

// send runs a command and returns its result (errors are returned, not
// fatal, for stop).
func (p *nodeProc) send(cmd map[string]any, timeout time.Duration) (json.RawMessage, error) {
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	ch := make(chan nodeReply, 1)
	p.waiting[id] = ch
	p.mu.Unlock()
	cmd["id"] = id
	b, _ := json.Marshal(cmd)
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		if r.Error != "" {
			return nil, fmt.Errorf("node: %s", r.Error)
		}
		return r.Result, nil
	case <-p.exited:
		return nil, fmt.Errorf("node exited")
	case <-time.After(timeout):
		return nil, fmt.Errorf("node: no answer to %s in %v", b, timeout)
	}
}

func (p *nodeProc) do(cmd map[string]any) json.RawMessage {
	p.t.Helper()
	r, err := p.send(cmd, 15*time.Second)
	if err != nil {
		p.t.Fatal(err)
	}
	return r
}

// eval runs JavaScript (the body of an async function of io, clients,
// emitter, Buffer, sleep) and decodes its result into dst.
func (p *nodeProc) eval(dst any, code string, args ...any) {
	p.t.Helper()
	r := p.do(map[string]any{"cmd": "eval", "code": fmt.Sprintf(code, args...)})
	if dst != nil {
		if err := json.Unmarshal(r, dst); err != nil {
			p.t.Fatalf("eval %s: result %s: %v", code, r, err)
		}
	}
}

// waitEvent waits for an event accepted by match and returns it.
func (p *nodeProc) waitEvent(what string, match func(map[string]any) bool) map[string]any {
	p.t.Helper()
	deadline := time.After(10 * time.Second)
	seen := 0
	for {
		p.mu.Lock()
		evs, ch := p.events[seen:], p.changed
		seen = len(p.events)
		p.mu.Unlock()
		for _, e := range evs {
			if match(e) {
				return e
			}
		}
		select {
		case <-ch:
		case <-p.exited:
			p.t.Fatalf("node exited while waiting for %s", what)
		case <-deadline:
			p.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// recv waits for client to receive event ev and returns its args as JSON.
func (p *nodeProc) recv(clientName, ev string) string {
	p.t.Helper()
	e := p.waitEvent(clientName+" receiving "+ev, func(e map[string]any) bool {
		return e["event"] == "recv" && e["client"] == clientName && e["ev"] == ev
	})
	b, _ := json.Marshal(e["args"])
	return string(b)
}

// received lists the events client got so far, in order.
func (p *nodeProc) received(clientName string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, e := range p.events {
		if e["event"] == "recv" && e["client"] == clientName {
			out = append(out, e["ev"].(string))
		}
	}
	return out
}

// server starts a Node server with the classic adapter (specific:
// publishOnSpecificResponseChannel) or, when shardedMode is a
// subscriptionMode, createShardedAdapter.
func (p *nodeProc) server(name, redisURL, key string, specific bool, shardedMode string) (port int, uid string) {
	var r struct {
		Port int
		UID  string
	}
	json.Unmarshal(p.do(map[string]any{"cmd": "server", "name": name, "redis": redisURL, "key": key, "specific": specific,
		"sharded": shardedMode != "", "subscriptionMode": shardedMode}), &r)
	return r.Port, r.UID
}

func (p *nodeProc) client(name, url, nsp, auth string) string {
	var r struct{ Sid string }
	json.Unmarshal(p.do(map[string]any{"cmd": "client", "name": name, "url": url, "nsp": nsp, "auth": json.RawMessage(auth)}), &r)
	if r.Sid == "" {
		p.t.Fatalf("client %s: no sid", name)
	}
	return r.Sid
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return strings.ReplaceAll(string(b), "%", "%%")
}

package streams_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/internal/wiretest"
	"github.com/pierhq/pier/redisadapter/streams"
	"github.com/pierhq/pier/socketio"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// streamFor gives each test its own stream (and session prefix) on the
// shared redis-server.
func streamFor(t *testing.T) string {
	return "t-" + strings.NewReplacer("/", "-", " ", "_").Replace(t.Name()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// goNode is a Pier server with the streams adapter. Clients pass
// {"rooms":[...],"data":...} as auth to join rooms and set their data.
type goNode struct {
	srv  *socketio.Server
	http *httptest.Server
	rdb  redis.UniversalClient
	url  string
}

func newGoNode(t *testing.T, addr string, o streams.Options, csr bool) *goNode {
	t.Helper()
	return newGoNodeOn(t, redis.NewClient(&redis.Options{Addr: addr}), o, csr)
}

// newGoNodeOn is newGoNode with its own Redis client (closed with it).
func newGoNodeOn(t *testing.T, rdb redis.UniversalClient, o streams.Options, csr bool) *goNode {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet // t.Log would panic: servers log during their cleanup
	}
	so := &socketio.Options{Adapter: streams.New(rdb, &o), Logger: quiet}
	if csr {
		so.ConnectionStateRecovery = &socketio.RecoveryOptions{MaxDisconnectionDuration: time.Minute}
	}
	srv, err := socketio.NewServer(so)
	if err != nil {
		t.Fatal(err)
	}
	for _, nsp := range []*socketio.Namespace{srv.Of("/"), srv.Of("/chat")} {
		// Rooms are joined in a middleware, before the CONNECT reply, so a
		// broadcast sent once dial returns finds them. Recovered sockets
		// skip it.
		nsp.Use(func(s *socketio.Socket) error {
			var auth struct {
				Rooms []string        `json:"rooms"`
				Data  json.RawMessage `json:"data"`
			}
			s.Handshake().DecodeAuth(&auth)
			for _, r := range auth.Rooms {
				s.Join(socketio.Room(r))
			}
			if auth.Data != nil {
				s.SetData(auth.Data)
			}
			return nil
		})
	}
	n := &goNode{srv: srv, rdb: rdb}
	n.http = httptest.NewServer(srv)
	n.url = n.http.URL
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		n.http.Close()
		rdb.Close()
	})
	return n
}

// client is a raw Socket.IO v5 client over websocket.
type client struct {
	t   *testing.T
	c   *wiretest.Conn
	sid string
}

func dial(t *testing.T, url, nsp, auth string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wiretest.Dial(ctx, url, "/socket.io/", 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sid, err := c.ConnectSocketIO(nsp, auth, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, c: c, sid: sid}
}

func (c *client) read() string {
	c.t.Helper()
	p, err := c.c.Read(10 * time.Second)
	if err != nil {
		c.t.Fatalf("client %s: read: %v", c.sid, err)
	}
	return p
}

func (c *client) expect(want string) {
	c.t.Helper()
	if got := c.read(); got != want {
		c.t.Fatalf("client %s: got %q, want %q", c.sid, got, want)
	}
}

// eventually polls cond until it holds or 10s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// nodeProc is a script of testdata/redis-streams printing JSON lines.
type nodeProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	mu     sync.Mutex
	lines  []map[string]any
	stderr bytes.Buffer
	nextID int
}

func startNode(t *testing.T, script string, args ...string) *nodeProc {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "redis-streams"))
	if err != nil {
		t.Fatal(err)
	}
	jstest.InstallDir(t, dir)
	p := &nodeProc{t: t}
	p.cmd = exec.Command("node", append([]string{script}, args...)...)
	p.cmd.Dir = dir
	p.cmd.WaitDelay = 5 * time.Second
	p.cmd.Stderr = &lockedWriter{p: p}
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
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				p.mu.Lock()
				p.lines = append(p.lines, m)
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		p.stdin.Close()
		p.cmd.Process.Kill()
		p.cmd.Wait()
		if t.Failed() {
			p.mu.Lock()
			t.Logf("%s stderr:\n%s", script, p.stderr.String())
			p.mu.Unlock()
		}
	})
	return p
}

type lockedWriter struct{ p *nodeProc }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.stderr.Write(b)
}

// wait returns the first line accepted by match, after skip accepted ones.
func (p *nodeProc) wait(what string, match func(map[string]any) bool) map[string]any {
	p.t.Helper()
	var got map[string]any
	eventually(p.t, what, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, l := range p.lines {
			if match(l) {
				got = l
				return true
			}
		}
		return false
	})
	return got
}

// all returns the lines accepted by match.
func (p *nodeProc) all(match func(map[string]any) bool) []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []map[string]any
	for _, l := range p.lines {
		if match(l) {
			out = append(out, l)
		}
	}
	return out
}

func (p *nodeProc) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatal(err)
	}
}

// call sends a command to server.js and waits for its result.
func (p *nodeProc) call(cmd map[string]any) any {
	p.t.Helper()
	p.mu.Lock()
	p.nextID++
	id := float64(p.nextID)
	p.mu.Unlock()
	cmd["id"] = id
	b, _ := json.Marshal(cmd)
	p.send(string(b))
	r := p.wait(fmt.Sprintf("answer to %s", b), func(m map[string]any) bool { return m["id"] == id })
	if e, ok := r["error"]; ok {
		p.t.Fatalf("node: %v", e)
	}
	return r["result"]
}

// startNodeServer runs server.js on redisAddr (host:port, or a comma list
// of a Redis Cluster's masters); it returns the process and its URL.
func startNodeServer(t *testing.T, redisAddr, stream string, csr bool) (*nodeProc, string) {
	t.Helper()
	var urls []string
	for _, a := range strings.Split(redisAddr, ",") {
		urls = append(urls, "redis://"+a)
	}
	args := []string{"--redis", strings.Join(urls, ","), "--stream", stream, "--sessions", stream + ":session:"}
	if csr {
		args = append(args, "--csr", "1")
	}
	p := startNode(t, "server.js", args...)
	r := p.wait("node server ready", func(m map[string]any) bool { return m["event"] == "ready" })
	return p, fmt.Sprintf("http://127.0.0.1:%d", int(r["port"].(float64)))
}

// proxy forwards TCP connections to a target that can be switched, and
// cuts every open connection on demand: a client behind it loses its
// transport and reconnects to whichever server is the target then.
type proxy struct {
	ln     net.Listener
	mu     sync.Mutex
	target string
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			target := p.target
			p.mu.Unlock()
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut("") })
	return p
}

func (p *proxy) url() string { return "http://" + p.ln.Addr().String() }

// cut closes every open connection; the next ones go to target (unless "").
func (p *proxy) cut(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	if target != "" {
		p.target = target
	}
}

func hostOf(url string) string { return strings.TrimPrefix(url, "http://") }

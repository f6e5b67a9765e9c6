// Package redistest starts real redis-server processes for tests: one per
// test binary by default (Shared), private ones for tests that stop and
// restart Redis (Start), or a Redis Cluster of three masters
// (StartCluster). Tests fail, never skip, when redis-server (or, for the
// cluster, redis-cli) is missing: `make test` installs them (Debian
// package redis-server).
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running redis-server on 127.0.0.1.
type Server struct {
	Port  int
	dir   string
	cmd   *exec.Cmd
	args  []string
	extra []string // arguments beyond the defaults (cluster mode)
}

// Addr returns host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL returns redis://host:port.
func (s *Server) URL() string { return "redis://" + s.Addr() }

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
)

// Shared returns a redis-server shared by every test of the binary; it
// runs until the test process exits (on Linux the kernel signals it then)
// and leaves no folder behind.
// Give each test its own key prefix or channel names.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pier-redis-")
		if err != nil {
			sharedErr = err
			return
		}
		shared, sharedErr = start(dir, 0, nil)
		// Nothing outlives the test process to remove the folder later,
		// so it goes now: the server saves nothing (--save ""), and the
		// warnings it would log after the start are lost.
		if sharedErr == nil {
			os.RemoveAll(dir)
		}
	})
	if sharedErr != nil {
		t.Fatalf("redistest: %v", sharedErr)
	}
	return shared
}

// Start starts a private redis-server stopped at the end of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start(t.TempDir(), 0, nil)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Stop stops the server (SIGINT, then waits; a frozen server is thawed
// first).
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	thaw(s.cmd.Process)
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

// Kill kills the server at once (SIGKILL): it closes no connection
// cleanly and saves nothing. Restart starts it again.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Freeze stops the server's process (SIGSTOP, Linux only): connections
// stay open and nothing is answered, as with a hung Redis, until Thaw.
func (s *Server) Freeze(t testing.TB) {
	t.Helper()
	if s.cmd == nil || s.cmd.Process == nil {
		t.Fatal("redistest: Freeze: server not running")
	}
	if err := freeze(s.cmd.Process); err != nil {
		t.Fatalf("redistest: Freeze: %v", err)
	}
}

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw(t testing.TB) {
	t.Helper()
	if s.cmd == nil || s.cmd.Process == nil {
		t.Fatal("redistest: Thaw: server not running")
	}
	if err := thaw(s.cmd.Process); err != nil {
		t.Fatalf("redistest: Thaw: %v", err)
	}
}

// Restart starts the server again on the same port (after Stop or Kill).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	n, err := start(s.dir, s.Port, s.extra)
	if err != nil {
		t.Fatalf("redistest: restart: %v", err)
	}
	s.cmd = n.cmd
}

func start(dir string, port int, extra []string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found (Debian: apt-get install redis-server; `make test` does it): %w", err)
	}
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--protected-mode", "no", "--loglevel", "warning", "--logfile", filepath.Join(dir, "redis.log")}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{Port: port, dir: dir, cmd: cmd, args: args, extra: extra}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if Ping(s.Addr()) == nil {
			return s, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
	return nil, fmt.Errorf("redis-server on port %d did not answer PING: %s", port, log)
}

// Ping sends PING to the Redis server at addr and checks the answer (one
// second at most); pier-bench uses it too.
func Ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Cluster is a Redis Cluster of three masters (no replicas) on 127.0.0.1.
type Cluster struct {
	Masters []*Server
}

// Addrs returns the host:port of every master, for
// redis.ClusterOptions.Addrs.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Masters))
	for i, s := range c.Masters {
		out[i] = s.Addr()
	}
	return out
}

// StartCluster starts three redis-server processes in cluster mode, each
// with its own port, bus port and directory, joins them with
// `redis-cli --cluster create` (the 16384 slots split in three) and waits
// until every node reports cluster_state:ok. The processes are stopped at
// the end of the test (and, on Linux, signalled if the test process dies).
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redistest: redis-cli not found (Debian: apt-get install redis-server): %v", err)
	}
	c := &Cluster{}
	for range 3 {
		bus, err := freePort()
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s, err := start(t.TempDir(), 0, []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(bus), "--cluster-node-timeout", "5000"})
		if err != nil {
			t.Fatalf("redistest: cluster node: %v", err)
		}
		t.Cleanup(s.Stop)
		c.Masters = append(c.Masters, s)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range c.Masters {
		for {
			out, err := exec.Command(cli, "-p", strconv.Itoa(s.Port), "cluster", "info").Output()
			if err == nil && strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: node %s not ok: %s %v", s.Addr(), out, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

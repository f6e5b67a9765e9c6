// Package redistest starts real redis-server processes for tests: one per
// test binary by default (Shared), or private ones for tests that stop and
// restart Redis (Start). Tests fail, never skip, when redis-server is
// missing: `make test` installs it (Debian package redis-server).
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
	Port int
	dir  string
	cmd  *exec.Cmd
	args []string
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
// runs until the test process exits (on Linux the kernel signals it then).
// Give each test its own key prefix or channel names.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pier-redis-")
		if err != nil {
			sharedErr = err
			return
		}
		shared, sharedErr = start(dir, 0)
	})
	if sharedErr != nil {
		t.Fatalf("redistest: %v", sharedErr)
	}
	return shared
}

// Start starts a private redis-server stopped at the end of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start(t.TempDir(), 0)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Stop stops the server (SIGTERM, then waits).
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
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

// Restart starts the server again on the same port (after Stop).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	n, err := start(s.dir, s.Port)
	if err != nil {
		t.Fatalf("redistest: restart: %v", err)
	}
	s.cmd = n.cmd
}

func start(dir string, port int) (*Server, error) {
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
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{Port: port, dir: dir, cmd: cmd, args: args}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ping(s.Addr()) == nil {
			return s, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
	return nil, fmt.Errorf("redis-server on port %d did not answer PING: %s", port, log)
}

func ping(addr string) error {
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

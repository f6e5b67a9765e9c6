package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/redistest"
)

// redisProc is the redis-server that the -scale cluster case starts for
// its Pier processes to share: on 127.0.0.1, a free port, no persistence
// (it writes no file: nothing is left behind even when the runner is
// killed), its log kept in memory.
type redisProc struct {
	Addr string
	Pid  int
	cmd  *exec.Cmd
	log  *tailBuffer
	done chan struct{}
}

// startRedis starts bin (a redis-server executable, looked up on PATH),
// pinned to cfg.serverCPU like the servers, and waits until it answers
// PING.
func startRedis(cfg *config, bin string) (*redisProc, error) {
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("the -scale cluster case needs redis-server (Debian: apt-get install redis-server; or -redis-server PATH): %w", err)
	}
	addr := freeAddr()
	_, port, _ := net.SplitHostPort(addr)
	argv := []string{path, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", os.TempDir(), "--protected-mode", "no", "--loglevel", "warning", "--logfile", ""}
	if cfg.pin {
		argv = append([]string{"taskset", "-c", cfg.serverCPU}, argv...)
	}
	r := &redisProc{Addr: addr, log: &tailBuffer{max: 8 << 10}, done: make(chan struct{})}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = r.log, r.log
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r.cmd, r.Pid = cmd, cmd.Process.Pid
	go func() { cmd.Wait(); close(r.done) }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-r.done:
			return nil, fmt.Errorf("redis-server exited: %v: %s", cmd.ProcessState, r.log.String())
		default:
		}
		if redistest.Ping(addr) == nil {
			return r, nil
		}
	}
	r.stop()
	return nil, fmt.Errorf("redis-server on %s did not answer PING within 10s", addr)
}

// URL is the redis:// URL of the server.
func (r *redisProc) URL() string { return "redis://" + r.Addr }

// stop ends redis-server (SIGTERM, SIGKILL after 3 s).
func (r *redisProc) stop() {
	r.cmd.Process.Signal(os.Interrupt)
	select {
	case <-r.done:
	case <-time.After(3 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
}

// portRange is the number of loopback ephemeral ports, which bounds the
// connections to one destination (address and port).
func portRange() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	lo, _ := strconv.Atoi(f[0])
	hi, _ := strconv.Atoi(f[1])
	return hi - lo + 1
}

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procSample is what /proc says about a process at one instant.
type procSample struct {
	At       time.Time
	CPUTicks uint64 // utime + stime, in clock ticks
	RSSKB    uint64 // VmRSS
	Threads  int
}

// clkTck is the clock tick rate of /proc/PID/stat (getconf CLK_TCK).
var clkTck = func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
			return float64(n)
		}
	}
	return 100
}()

// cpuSecondsSince is the CPU time the process used between a and s.
func (s procSample) cpuSecondsSince(a procSample) float64 {
	return float64(s.CPUTicks-a.CPUTicks) / clkTck
}

func sampleProc(pid int) (procSample, error) {
	ps := procSample{At: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ps, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return ps, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 18 {
		return ps, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	// f[0] is field 3 (state): utime is field 14, stime 15, num_threads 20.
	utime, _ := strconv.ParseUint(f[11], 10, 64)
	stime, _ := strconv.ParseUint(f[12], 10, 64)
	ps.CPUTicks = utime + stime
	ps.Threads, _ = strconv.Atoi(f[17])
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ps, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			ps.RSSKB, _ = strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return ps, nil
}

// procNofile reads the soft limit of open files of a process.
func procNofile(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	return 0
}

var errModeUnavailable = errors.New("mode not available")

// serverProc is a server under test, started by the runner.
type serverProc struct {
	Name      string // "pier", "node", "zishang520" or "floor"
	Mode      string
	Addr      string // host:port it listens on
	PprofAddr string // pier with -pprof only
	Pid       int
	Info      map[string]any // its "listening" line
	cmd       *exec.Cmd
	stderr    *tailBuffer
	exited    chan struct{}
}

// startServer starts server name ("pier", "node", "zishang520" or "floor") in mode, pinned to
// cfg.serverCPU, and waits until it listens. extra are more arguments of
// serve-pier (Pier only).
func startServer(cfg *config, name, mode string, extra ...string) (*serverProc, error) {
	var argv []string
	var dir string
	s := &serverProc{Name: name, Mode: mode, stderr: &tailBuffer{max: 8 << 10}, exited: make(chan struct{})}
	switch name {
	case "pier":
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		argv = append([]string{exe, "serve-pier", "-addr", "127.0.0.1:0", "-mode", mode}, extra...)
		if cfg.pprof {
			s.PprofAddr = freeAddr()
			argv = append(argv, "-pprof", s.PprofAddr)
		}
	case "floor":
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		argv = []string{exe, "serve-floor", "-addr", "127.0.0.1:0", "-mode", mode}
	case "node":
		argv = []string{cfg.node, "server.js", "--port", "0", "--mode", mode}
		dir = cfg.nodeDir
	case "zishang520":
		exe, err := filepath.Abs(cfg.zsBin)
		if err != nil {
			return nil, err
		}
		argv = []string{exe, "-port", "0", "-mode", mode}
	default:
		return nil, fmt.Errorf("unknown server %q", name)
	}
	if cfg.pin {
		argv = append([]string{"taskset", "-c", cfg.serverCPU}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stderr = s.stderr
	cmd.Env = append(os.Environ(), "PIER_BENCH_PINNED=")
	cmd.SysProcAttr = childAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s.cmd = cmd
	s.Pid = cmd.Process.Pid // taskset execs the server: same pid
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func() { cmd.Wait(); close(s.exited) }()
	select {
	case line := <-lines:
		if err := json.Unmarshal([]byte(line), &s.Info); err != nil || s.Info["event"] != "listening" {
			s.stop()
			return nil, fmt.Errorf("%s: unexpected first line %q", name, line)
		}
		s.Addr, _ = s.Info["addr"].(string)
	case <-s.exited:
		if cmd.ProcessState.ExitCode() == exitModeUnavailable {
			return nil, errModeUnavailable
		}
		return nil, fmt.Errorf("%s exited: %v: %s", name, cmd.ProcessState, s.stderr.String())
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("%s did not start within 30s: %s", name, s.stderr.String())
	}
	// taskset has exec'd by now: the server wrote its line.
	return s, nil
}

// sample reads the server's CPU and RSS.
func (s *serverProc) sample() procSample {
	ps, err := sampleProc(s.Pid)
	if err != nil {
		fatalf("%s: %v", s.Name, err)
	}
	return ps
}

// alive reports whether the server still runs.
func (s *serverProc) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// stop ends the server: SIGTERM, then SIGKILL after 3 s.
func (s *serverProc) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(3 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// ensureNodeModules installs the pinned packages of the Node reference
// server with npm ci when they are missing or differ from package.json.
func ensureNodeModules(dir string) error {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return err
	}
	ok := true
	for name, version := range pkg.Dependencies {
		var got struct{ Version string }
		b, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json"))
		if err != nil || json.Unmarshal(b, &got) != nil || got.Version != version {
			ok = false
			break
		}
	}
	if ok {
		return nil
	}
	logf("installing the Node reference server's packages (npm ci in %s)", dir)
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	return cmd.Run()
}

// ensureZishang520 builds the zishang520 server (the Go module in dir,
// which has its own go.mod so that Pier's does not depend on it) into bin
// when bin is missing. `make bench` builds it every time; this is for
// pier-bench run by hand. go build fetches the module's dependencies from
// the Go module proxy the first time.
func ensureZishang520(dir, bin string) error {
	if _, err := os.Stat(bin); err == nil {
		return nil
	}
	out, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	logf("building the zishang520 server (go build in %s)", dir)
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	return cmd.Run()
}

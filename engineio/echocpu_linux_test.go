package engineio_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pierhq/pier/engineio"
)

// Environment of TestEchoCPU: PIER_ECHOCPU_N round trips per round (the
// test is skipped without it); PIER_ECHOCPU_DIAL is set for the child.
const (
	echoCPUEnvN    = "PIER_ECHOCPU_N"
	echoCPUEnvDial = "PIER_ECHOCPU_DIAL"
)

// echoEngine echoes every message.
type echoEngine struct{ nopHandler }

func (echoEngine) OnMessage(s *engineio.Session, m engineio.Message) { s.Send(m) }

// TestEchoCPU measures the server's CPU time per websocket echo round trip
// of one client (in a child process, so that only the server is in this
// process's CPU time), alternating rounds with raw system calls on and off.
// It reports figures and asserts nothing: run it by hand with
// PIER_ECHOCPU_N=20000 on a quiet machine (PIER_ECHOCPU_CLIENT_CPU=1 puts the
// client on core 1: run the test under taskset -c 0 then).
func TestEchoCPU(t *testing.T) {
	if addr := os.Getenv(echoCPUEnvDial); addr != "" {
		echoCPUClient(t, addr)
		return
	}
	n, _ := strconv.Atoi(os.Getenv(echoCPUEnvN))
	if n <= 0 {
		t.Skip("set " + echoCPUEnvN)
	}
	defer engineio.SetRawSyscalls(true)
	srv, err := engineio.NewServer(echoEngine{}, &engineio.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEchoCPU$", "-test.count=1")
	if cpu := os.Getenv("PIER_ECHOCPU_CLIENT_CPU"); cpu != "" {
		// The client on a core of its own (run the test under
		// taskset -c of another), as pier-bench does.
		cmd = exec.Command("taskset", append([]string{"-c", cpu}, cmd.Args...)...)
	}
	cmd.Env = append(os.Environ(), echoCPUEnvDial+"="+hs.Listener.Addr().String())
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	out := bufio.NewReader(stdout)
	round := func() (cpu, wall time.Duration) {
		var r0, r1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
		start := time.Now()
		fmt.Fprintf(stdin, "%d\n", n)
		if l, err := out.ReadString('\n'); !strings.HasPrefix(l, "done") {
			t.Fatalf("client: %q %v", l, err)
		}
		wall = time.Since(start)
		syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		used := func(r *syscall.Rusage) time.Duration {
			return time.Duration(r.Utime.Nano() + r.Stime.Nano())
		}
		return used(&r1) - used(&r0), wall
	}
	round() // warm-up
	sum := map[bool][]float64{}
	for i := range 6 {
		raw := i%2 == 0
		engineio.SetRawSyscalls(raw)
		cpu, wall := round()
		us := float64(cpu.Microseconds()) / float64(n)
		sum[raw] = append(sum[raw], us)
		t.Logf("raw syscalls %v: server CPU %.1f µs per round trip, %.1f µs wall", raw, us, float64(wall.Microseconds())/float64(n))
	}
	t.Logf("server CPU µs per round trip: raw %v, plain %v", sum[true], sum[false])
}

// echoCPUClient is the child: one websocket; for each line n on stdin it
// makes n echo round trips and prints "done".
func echoCPUClient(t *testing.T, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\n"+
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(c)
	for { // the 101 response
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if l == "\r\n" {
			break
		}
	}
	readFrame := func() []byte {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, h[1]&0x7f) // short frames only
		if _, err := io.ReadFull(br, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	readFrame() // open packet
	msg := []byte{0x81, 0x86, 0, 0, 0, 0, '4', 'h', 'e', 'l', 'l', 'o'}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, _ := strconv.Atoi(in.Text())
		for range n {
			c.Write(msg)
			for string(readFrame()) != "4hello" { // a ping, answered
				c.Write([]byte{0x81, 0x81, 0, 0, 0, 0, '3'})
			}
		}
		fmt.Println("done")
	}
}

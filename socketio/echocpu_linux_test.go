package socketio

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment of TestEchoAckCPU: PIER_SIO_ECHOCPU_N round trips per round
// (the test is skipped without it); PIER_SIO_ECHOCPU_DIAL is set for the
// child.
const (
	sioEchoEnvN    = "PIER_SIO_ECHOCPU_N"
	sioEchoEnvDial = "PIER_SIO_ECHOCPU_DIAL"
)

// TestEchoAckCPU measures the server's CPU time per Socket.IO emit-with-ack
// round trip of one client (in a child process, so that only the server is
// in this process's CPU time), alternating rounds with the reuse of
// drainer goroutines on and off. It reports figures and asserts nothing:
// run it by hand with PIER_SIO_ECHOCPU_N=20000 on a quiet machine
// (PIER_ECHOCPU_CLIENT_CPU=1 puts the client on core 1: run the test
// under taskset -c 0 then).
func TestEchoAckCPU(t *testing.T) {
	if addr := os.Getenv(sioEchoEnvDial); addr != "" {
		sioEchoClient(t, addr)
		return
	}
	n, _ := strconv.Atoi(os.Getenv(sioEchoEnvN))
	if n <= 0 {
		t.Skip("set " + sioEchoEnvN)
	}
	defer reuseDrainers.Store(true)
	srv, err := NewServer(&Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv.Of("/").OnConnection(func(s *Socket) {
		s.On("echo", func(s *Socket, e *Event) { e.Ack(e.Values()...) })
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEchoAckCPU$", "-test.count=1")
	if cpu := os.Getenv("PIER_ECHOCPU_CLIENT_CPU"); cpu != "" {
		// The client on a core of its own (run the test under
		// taskset -c of another), as pier-bench does.
		cmd = exec.Command("taskset", append([]string{"-c", cpu}, cmd.Args...)...)
	}
	cmd.Env = append(os.Environ(), sioEchoEnvDial+"="+hs.Listener.Addr().String())
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
		reuse := i%2 == 0
		reuseDrainers.Store(reuse)
		cpu, wall := round()
		us := float64(cpu.Microseconds()) / float64(n)
		sum[reuse] = append(sum[reuse], us)
		t.Logf("drainer reuse %v: server CPU %.1f µs per round trip, %.1f µs wall", reuse, us, float64(wall.Microseconds())/float64(n))
	}
	t.Logf("server CPU µs per round trip: reuse %v, no reuse %v", sum[true], sum[false])
}

// sioEchoClient is the child: one Socket.IO client in the main namespace;
// for each line n on stdin it makes n emit-with-ack round trips and prints
// "done".
func sioEchoClient(t *testing.T, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\n"+
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
	readFrame := func() string {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, h[1]&0x7f) // short frames only
		if _, err := io.ReadFull(br, b); err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	frame := func(s string) []byte { return append([]byte{0x81, 0x80 | byte(len(s)), 0, 0, 0, 0}, s...) }
	readFrame() // open packet
	c.Write(frame("40"))
	for !strings.HasPrefix(readFrame(), "40") {
	}
	msg := frame(`421["echo","hello"]`)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, _ := strconv.Atoi(in.Text())
		for range n {
			c.Write(msg)
			for f := readFrame(); f != `431["hello"]`; f = readFrame() {
				if f == "2" {
					c.Write(frame("3"))
				}
			}
		}
		fmt.Println("done")
	}
}

package socketio

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/childprobe"
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
	child := childprobe.Start(t, "TestEchoAckCPU", os.Getenv("PIER_ECHOCPU_CLIENT_CPU"), sioEchoEnvDial+"="+hs.Listener.Addr().String())
	childprobe.Compare(t, child, n, "drainer reuse", reuseDrainers.Store)
}

// sioEchoClient is the child: one Socket.IO client in the main namespace;
// for each line n on stdin it makes n emit-with-ack round trips and prints
// "done".
func sioEchoClient(t *testing.T, addr string) {
	c, err := childprobe.DialWS(addr, "/socket.io/?EIO=4&transport=websocket")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	read := func() string {
		f, err := c.Read()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	c.Write(childprobe.Frame("40"))
	for !strings.HasPrefix(read(), "40") {
	}
	msg, pong := childprobe.Frame(`421["echo","hello"]`), childprobe.Frame("3")
	childprobe.Lines(func(line string) {
		n, _ := strconv.Atoi(line)
		for range n {
			c.Write(msg)
			for f := read(); f != `431["hello"]`; f = read() {
				if f == "2" {
					c.Write(pong)
				}
			}
		}
	})
}

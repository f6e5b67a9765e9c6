package engineio_test

import (
	"net/http/httptest"
	"os"
	"strconv"
	"testing"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/childprobe"
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
	child := childprobe.Start(t, "TestEchoCPU", os.Getenv("PIER_ECHOCPU_CLIENT_CPU"), echoCPUEnvDial+"="+hs.Listener.Addr().String())
	childprobe.Compare(t, child, n, "raw syscalls", engineio.SetRawSyscalls)
}

// echoCPUClient is the child: one websocket; for each line n on stdin it
// makes n echo round trips and prints "done".
func echoCPUClient(t *testing.T, addr string) {
	c, err := childprobe.DialWS(addr, "/engine.io/?EIO=4&transport=websocket")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg, pong := childprobe.Frame("4hello"), childprobe.Frame("3")
	childprobe.Lines(func(line string) {
		n, _ := strconv.Atoi(line)
		for range n {
			c.Write(msg)
			for {
				f, err := c.Read()
				if err != nil {
					t.Fatal(err)
				}
				if f == "4hello" {
					break
				}
				c.Write(pong) // a ping, answered
			}
		}
	})
}

package jstest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/syncbuf"
)

// stopGrace is how long Serve's server has to exit after its stdin closes
// before it is killed.
const stopGrace = 10 * time.Second

// Serve installs dir's packages (InstallDir) and runs `node args...` in
// dir: a server that prints the JSON line {"event":"listening","port":N}
// on stdout once it listens, and exits when its stdin closes. It returns
// "http://127.0.0.1:N", or fails t when the server exits first or does not
// listen within wait. When the test ends, the server's stdin is closed
// (it is killed after 10 s) and, if the test failed, its stderr logged.
func Serve(t testing.TB, dir string, wait time.Duration, args ...string) string {
	t.Helper()
	InstallDir(t, dir)
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", args...)
	cmd.Dir = abs
	cmd.WaitDelay = waitDelay
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	port := make(chan int, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var e struct {
				Event string
				Port  int
			}
			if json.Unmarshal(sc.Bytes(), &e) == nil && e.Event == "listening" {
				select {
				case port <- e.Port:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
		cmd.Wait()
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(stopGrace):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("node %v stderr:\n%s", args, stderr)
		}
	})
	select {
	case p := <-port:
		return fmt.Sprintf("http://127.0.0.1:%d", p)
	case <-exited:
		t.Fatalf("node %v exited before listening: %s", args, stderr)
	case <-time.After(wait):
		t.Fatalf("node %v did not listen within %v: %s", args, wait, stderr)
	}
	return ""
}

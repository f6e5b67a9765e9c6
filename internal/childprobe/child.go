package childprobe

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Child is a running child test process.
type Child struct {
	in  io.WriteCloser
	out *bufio.Reader
}

// Start runs test name of the running test binary again as a child, with
// env (KEY=VALUE) added to this process's environment; with cpu not
// empty, under `taskset -c cpu` (a core of its own). When the test ends,
// the child's stdin is closed, which ends it, and Start waits for it.
func Start(t testing.TB, name, cpu string, env ...string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1")
	if cpu != "" {
		cmd = exec.Command("taskset", append([]string{"-c", cpu}, cmd.Args...)...)
	}
	cmd.Env = append(os.Environ(), env...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		cmd.Wait()
	})
	return &Child{in: in, out: bufio.NewReader(out)}
}

// Say sends the child one line.
func (c *Child) Say(line string) { fmt.Fprintln(c.in, line) }

// Expect reads the child's next line and fails t unless it starts with
// prefix.
func (c *Child) Expect(t testing.TB, prefix string) {
	t.Helper()
	if l, err := c.out.ReadString('\n'); !strings.HasPrefix(l, prefix) {
		t.Fatalf("child: %q %v, want %q", l, err, prefix)
	}
}

// Ready is the child's side of a hold: it says "ready" and returns when
// the parent closes its stdin.
func Ready() {
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
}

// Lines is the child's side of a conversation: for each line from the
// parent it calls f, then says "done"; it returns when stdin closes.
func Lines(f func(line string)) {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f(in.Text())
		fmt.Println("done")
	}
}

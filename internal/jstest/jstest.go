package jstest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	lockName    = "package-lock.json"
	markerName  = ".pier-installed"    // in node_modules
	hiddenLock  = ".package-lock.json" // written by npm into node_modules
	installLock = ".install.lock"      // flock target, next to package.json
	stderrTail  = 4096                 // bytes of stderr kept in errors
	waitDelay   = 5 * time.Second      // grace for pipes after the process ends
	npmTimeout  = 10 * time.Minute     // bound on one npm ci
)

// Event is one JSON object printed by a script on its own line of stdout.
type Event map[string]any

// Name returns the event's "event" field, or "" if it has none.
func (e Event) Name() string { return e.String("event") }

// String returns the field key if it is a string, else "".
func (e Event) String(key string) string {
	s, _ := e[key].(string)
	return s
}

// Bool returns the field key if it is a boolean, else false.
func (e Event) Bool(key string) bool {
	b, _ := e[key].(bool)
	return b
}

// Number returns the field key if it is a number, else 0.
func (e Event) Number(key string) float64 {
	n, _ := e[key].(float64)
	return n
}

// Has reports whether the event has the field key.
func (e Event) Has(key string) bool {
	_, ok := e[key]
	return ok
}

// Filter returns the events named name, in order.
func Filter(events []Event, name string) []Event {
	var out []Event
	for _, e := range events {
		if e.Name() == name {
			out = append(out, e)
		}
	}
	return out
}

// Count returns how many events are named name.
func Count(events []Event, name string) int { return len(Filter(events, name)) }

// First returns the first event named name and whether there was one.
func First(events []Event, name string) (Event, bool) {
	for _, e := range events {
		if e.Name() == name {
			return e, true
		}
	}
	return nil, false
}

var (
	dirOnce sync.Once
	dirPath string
	dirErr  error
)

// Dir returns the absolute path of the module's testdata/js directory, found
// by walking up from the working directory to the directory holding go.mod.
func Dir(t testing.TB) string {
	t.Helper()
	dirOnce.Do(func() {
		wd, err := os.Getwd()
		if err != nil {
			dirErr = err
			return
		}
		for d := wd; ; {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dirPath = filepath.Join(d, "testdata", "js")
				return
			}
			parent := filepath.Dir(d)
			if parent == d {
				dirErr = fmt.Errorf("no go.mod in %s or any parent", wd)
				return
			}
			d = parent
		}
	})
	if dirErr != nil {
		t.Fatalf("jstest: finding testdata/js: %v", dirErr)
	}
	return dirPath
}

var (
	installMu sync.Mutex
)

// Install makes sure testdata/js/node_modules matches package-lock.json,
// running `npm ci` at most once per go test run, and fails the test if node
// (or, when an install is needed, npm) is missing or the install fails.
func Install(t testing.TB) {
	t.Helper()
	InstallDir(t, Dir(t))
}

// markerContent is the first line of the install marker: the hash of
// package-lock.json.
func markerContent(dir string) (string, error) {
	h, err := fileHash(filepath.Join(dir, lockName))
	if err != nil {
		return "", err
	}
	return lockName + " " + h, nil
}

// installed reports whether node_modules was installed by Install from the
// current package-lock.json and npm's own record of it is unchanged since.
func installed(dir, want string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", markerName))
	if err != nil {
		return false
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != want {
		return false
	}
	hidden, err := fileHash(filepath.Join(dir, "node_modules", hiddenLock))
	if err != nil {
		return false
	}
	return lines[1] == "node_modules/"+hiddenLock+" "+hidden
}

func fileHash(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Run installs the JavaScript dependencies if needed (see [Install]), runs
// `node script args...` in [Dir] and returns the JSON events it printed on
// stdout. Lines that are not JSON objects are logged and skipped. The script's
// stderr is logged with t.Log. The error is non-nil when node could not run or
// exited non-zero (or ctx ended first); it then carries the script's "done"
// error, if any, and the tail of stderr. The events seen so far are returned
// in every case.
func Run(ctx context.Context, t testing.TB, script string, args ...string) (events []Event, err error) {
	t.Helper()
	Install(t)
	dir := Dir(t)
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.WaitDelay = waitDelay
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	runErr := cmd.Run()

	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 0, 64*1024), 64*1024*1024)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(line, &e); err != nil || e == nil {
			t.Logf("jstest: %s: non-JSON stdout line: %s", script, truncate(string(line), 500))
			continue
		}
		events = append(events, e)
	}
	if err := sc.Err(); err != nil && runErr == nil {
		runErr = fmt.Errorf("reading stdout: %w", err)
	}
	if stderr.Len() > 0 {
		t.Logf("jstest: %s stderr:\n%s", script, strings.TrimRight(stderr.String(), "\n"))
	}
	if runErr == nil {
		return events, nil
	}

	msg := fmt.Sprintf("node %s %s: %v", script, strings.Join(args, " "), runErr)
	if ctx.Err() != nil {
		msg += fmt.Sprintf(" (context: %v)", ctx.Err())
	}
	if done, ok := First(events, "done"); ok && done.String("error") != "" {
		msg += "; script error: " + done.String("error")
	}
	if tail := stderr.Bytes(); len(tail) > 0 {
		if len(tail) > stderrTail {
			tail = tail[len(tail)-stderrTail:]
		}
		msg += "; stderr tail:\n" + strings.TrimRight(string(tail), "\n")
	}
	return events, errors.New(msg)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

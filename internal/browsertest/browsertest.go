// Package browsertest runs the Node scripts of testdata/admin in Go tests:
// socket.io-client scripts that speak to Pier as the admin dashboard does,
// and playwright-core scripts that drive Debian's chromium against a Pier
// server and save screenshots.
//
// The npm packages are pinned in testdata/admin/package.json and its
// package-lock.json and installed by [Install] (through jstest's locked
// `npm ci`); playwright-core never downloads a browser here: scripts launch
// [Chromium] (default /usr/bin/chromium, `make deps` installs it, or set
// PIER_CHROMIUM) with a fresh profile. Tests fail rather than skip when node
// or chromium is missing, so that CI cannot silently stop running them.
package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/jstest"
)

// Event is one JSON line printed by a script.
type Event = jstest.Event

// moduleRoot walks up from the working directory to the folder of go.mod.
func moduleRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			t.Fatalf("browsertest: no go.mod above %s", wd)
		}
		d = parent
	}
}

// Dir returns the absolute path of testdata/admin.
func Dir(t testing.TB) string { return filepath.Join(moduleRoot(t), "testdata", "admin") }

// Install installs testdata/admin's npm packages if needed.
func Install(t testing.TB) { t.Helper(); jstest.InstallDir(t, Dir(t)) }

// UIDir returns the folder of the admin dashboard's files, installing the
// npm packages first.
func UIDir(t testing.TB) string {
	t.Helper()
	Install(t)
	return filepath.Join(Dir(t), "node_modules", "@socket.io", "admin-ui", "ui", "dist")
}

// Chromium returns the browser binary, failing the test if it is missing.
func Chromium(t testing.TB) string {
	t.Helper()
	p := os.Getenv("PIER_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("browsertest: no chromium at %s (`make deps` installs Debian's chromium; PIER_CHROMIUM names another): %v", p, err)
	}
	return p
}

// ArtifactDir returns a folder for screenshots that outlives the test:
// $PIER_ARTIFACTS/name, or test-artifacts/name at the module root
// (git-ignored). It is emptied first and its path is logged.
func ArtifactDir(t testing.TB, name string) string {
	t.Helper()
	base := os.Getenv("PIER_ARTIFACTS")
	if base == "" {
		base = filepath.Join(moduleRoot(t), "test-artifacts")
	}
	dir := filepath.Join(base, name)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("browsertest: artifacts in %s", dir)
	return dir
}

// Run runs `node script args...` in testdata/admin and returns the JSON
// lines it printed. The error is non-nil when the script failed; it then
// carries the script's "done" error and the tail of its stderr.
func Run(ctx context.Context, t testing.TB, script string, args ...string) ([]Event, error) {
	t.Helper()
	Install(t)
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = Dir(t)
	cmd.Env = append(os.Environ(), "PIER_CHROMIUM="+chromiumPath())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var events []Event
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		var e Event
		if len(line) == 0 || json.Unmarshal(line, &e) != nil || e == nil {
			if len(line) > 0 {
				t.Logf("%s: %s", script, line)
			}
			continue
		}
		events = append(events, e)
	}
	if runErr == nil {
		return events, nil
	}
	msg := fmt.Sprintf("node %s: %v", script, runErr)
	if d, ok := jstest.First(events, "done"); ok && d.String("error") != "" {
		msg += "; script error: " + d.String("error")
	}
	tail := stderr.String()
	if len(tail) > 4096 {
		tail = tail[len(tail)-4096:]
	}
	if tail != "" {
		msg += "; stderr:\n" + strings.TrimSpace(tail)
	}
	return events, errors.New(msg)
}

func chromiumPath() string {
	if p := os.Getenv("PIER_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

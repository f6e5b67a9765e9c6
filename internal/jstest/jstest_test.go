package jstest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
)

func TestDir(t *testing.T) {
	dir := jstest.Dir(t)
	if !filepath.IsAbs(dir) {
		t.Errorf("Dir() = %q, not absolute", dir)
	}
	for _, f := range []string{"package.json", "package-lock.json", "eio-client.js"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestRunFailure checks that a script's non-zero exit becomes an error that
// carries its "done" error, and that its events are still returned.
func TestRunFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events, err := jstest.Run(ctx, t, "eio-client.js", "--url", "http://127.0.0.1:1", "--eio", "5", "--scenario", "echo")
	if err == nil {
		t.Fatal("Run succeeded, want an error for --eio 5")
	}
	if !strings.Contains(err.Error(), "--eio must be 3 or 4") {
		t.Errorf("error %q does not carry the script's error", err)
	}
	done, ok := jstest.First(events, "done")
	if !ok || done.Bool("ok") || done.Name() != "done" {
		t.Errorf("events = %v, want a failed done event", events)
	}
	jstest.Install(t) // again: a no-op
}

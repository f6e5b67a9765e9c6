package jstest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

var installedDirs = map[string]bool{} // guarded by installMu

// InstallDir is Install for another Node project of the module (a folder
// holding package.json and package-lock.json, such as testdata/session):
// it runs `npm ci` in dir when its node_modules is missing or stale, under
// the same flock and marker scheme, at most once per test binary.
func InstallDir(t testing.TB, dir string) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("jstest: node is not on PATH (%v); the JavaScript interop tests need Node.js 20+ and npm installed", err)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("jstest: %v", err)
	}
	installMu.Lock()
	defer installMu.Unlock()
	if installedDirs[dir] {
		return
	}
	want, err := markerContent(dir)
	if err != nil {
		t.Fatalf("jstest: %v", err)
	}
	if installed(dir, want) {
		installedDirs[dir] = true
		return
	}
	unlock, err := lockFile(filepath.Join(dir, installLock))
	if err != nil {
		t.Fatalf("jstest: locking %s: %v", filepath.Join(dir, installLock), err)
	}
	defer unlock()
	if installed(dir, want) {
		installedDirs[dir] = true
		return
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("jstest: npm is not on PATH (%v); it is needed to install %s/node_modules", err, dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), npmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	cmd.WaitDelay = waitDelay
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("jstest: npm ci in %s: %v\n%s", dir, err, out)
	}
	t.Logf("jstest: npm ci in %s took %v", dir, time.Since(start).Round(time.Millisecond))
	if want, err = markerContent(dir); err != nil {
		t.Fatalf("jstest: %v", err)
	}
	hidden, err := fileHash(filepath.Join(dir, "node_modules", hiddenLock))
	if err != nil {
		t.Fatalf("jstest: after npm ci: %v", err)
	}
	marker := filepath.Join(dir, "node_modules", markerName)
	tmp := marker + ".tmp"
	if err := os.WriteFile(tmp, []byte(want+"\nnode_modules/"+hiddenLock+" "+hidden+"\n"), 0o644); err != nil {
		t.Fatalf("jstest: writing install marker: %v", err)
	}
	if err := os.Rename(tmp, marker); err != nil {
		t.Fatalf("jstest: writing install marker: %v", err)
	}
	installedDirs[dir] = true
}

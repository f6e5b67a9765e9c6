package lockcheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every mutex of the repository has a row in LOCKS.md, named
// `pkg.Type.field` in backticks, and every name there is a mutex that
// exists.
func TestLocksMDComplete(t *testing.T) {
	root := filepath.Join("..", "..")
	md, err := os.ReadFile(filepath.Join(root, "LOCKS.md"))
	if err != nil {
		t.Fatal(err)
	}
	found, err := Mutexes(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) < 10 {
		t.Fatalf("only %d mutexes found: %v", len(found), found)
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z][a-z0-9-]*(?:\\.[A-Za-z_][A-Za-z0-9_]*){2,})`").FindAllStringSubmatch(string(md), -1) {
		listed[m[1]] = true
	}
	exists := map[string]bool{}
	for _, name := range found {
		exists[name] = true
		if !listed[name] {
			t.Errorf("%s has no row in LOCKS.md", name)
		}
	}
	for name := range listed {
		if !exists[name] && looksLikeMutex(name) {
			t.Errorf("LOCKS.md names %s, which is not a mutex field of the repository", name)
		}
	}
}

// looksLikeMutex tells the mutex names of LOCKS.md from other dotted
// names it may quote: they end in a field named like a lock.
func looksLikeMutex(name string) bool {
	last := name[strings.LastIndexByte(name, '.')+1:]
	return strings.HasSuffix(strings.ToLower(last), "mu") || last == "Mutex" || last == "RWMutex" ||
		last == "dispatch" || last == "wmu"
}

// The finder sees named, embedded, pointer and anonymous-struct mutexes,
// skips tests, and names package main by its directory.
func TestMutexesFinder(t *testing.T) {
	dir := t.TempDir()
	write := func(path, src string) {
		p := filepath.Join(dir, path)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a/a.go", `package a
import s "sync"
type T struct {
	mu, other s.Mutex
	s.RWMutex
	p *s.Mutex
	n int
	in struct{ mu s.RWMutex }
}
var global struct{ lk s.Mutex }
func f() { type local struct{ mu s.Mutex }; _ = local{} }
`)
	write("a/a_test.go", "package a\nimport \"sync\"\ntype X struct{ mu sync.Mutex }\n")
	write("cmd/tool/main.go", "package main\nimport \"sync\"\ntype S struct{ mu sync.Mutex }\nfunc main() {}\n")
	write("testdata/x.go", "package x\nimport \"sync\"\ntype S struct{ mu sync.Mutex }\n")
	write("b/b.go", "package b\ntype Mutex struct{}\ntype T struct{ mu Mutex }\n")
	got, err := Mutexes(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "a.T.RWMutex a.T.in.mu a.T.mu a.T.other a.T.p a.global.lk a.local.mu tool.S.mu"
	if strings.Join(got, " ") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}

package readme

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// imports are the packages a README snippet may use without importing
// them, by the name it calls them.
var imports = map[string]string{
	"admin":        "github.com/pierhq/pier/admin",
	"context":      "context",
	"engineio":     "github.com/pierhq/pier/engineio",
	"errors":       "errors",
	"http":         "net/http",
	"kit":          "github.com/pierhq/pier/sailsbridge/kit",
	"log":          "log",
	"os":           "os",
	"redis":        "github.com/redis/go-redis/v9",
	"redisadapter": "github.com/pierhq/pier/redisadapter",
	"redisstore":   "github.com/pierhq/pier/session/redisstore",
	"sailsbridge":  "github.com/pierhq/pier/sailsbridge",
	"session":      "github.com/pierhq/pier/session",
	"slog":         "log/slog",
	"socketio":     "github.com/pierhq/pier/socketio",
	"streams":      "github.com/pierhq/pier/redisadapter/streams",
	"time":         "time",
}

var (
	goBlock   = regexp.MustCompile("(?s)```go\n(.*?)```")
	qualified = regexp.MustCompile(`\b([a-z][a-z0-9]*)\.[A-Z]`)
)

// complete makes a Go file of a snippet.
func complete(snippet string) string {
	if strings.HasPrefix(snippet, "package ") {
		return snippet
	}
	var paths []string
	for _, m := range qualified.FindAllStringSubmatch(snippet, -1) {
		if p, ok := imports[m[1]]; ok && !slices.Contains(paths, p) {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	var b strings.Builder
	b.WriteString("package main\n\nimport (\n")
	for _, p := range paths {
		b.WriteString("\t\"" + p + "\"\n")
	}
	b.WriteString(")\n\nfunc main() {}\n\n")
	b.WriteString(snippet)
	return b.String()
}

func TestREADMEGoSnippets(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlock.FindAllStringSubmatch(string(readme), -1)
	if len(blocks) == 0 {
		t.Fatal("no ```go block in the README")
	}
	// Inside the module, so that its packages resolve; a folder starting
	// with "_" is left out of ./... patterns.
	dir, err := os.MkdirTemp(".", "_snippets")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var pkgs []string
	for i, b := range blocks {
		pkg := filepath.Join(dir, "s"+string(rune('a'+i)))
		if err := os.Mkdir(pkg, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pkg, "main.go"), []byte(complete(b[1])), 0o644); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, "./"+filepath.ToSlash(pkg))
	}
	cmd := exec.Command("go", append([]string{"vet"}, pkgs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go vet of the README's %d Go snippets: %v\n%s", len(blocks), err, out)
	}
}

// The completion imports what a snippet names, once, and leaves a whole
// file alone.
func TestComplete(t *testing.T) {
	got := complete("func f() (*socketio.Server, error) { http.NewServeMux(); return socketio.NewServer(nil) }\n")
	for _, want := range []string{"package main", "\t\"net/http\"\n", "\t\"github.com/pierhq/pier/socketio\"\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("complete(...) lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "pier/socketio") != 1 {
		t.Errorf("socketio imported more than once:\n%s", got)
	}
	if whole := "package x\n"; complete(whole) != whole {
		t.Error("a whole file was changed")
	}
}

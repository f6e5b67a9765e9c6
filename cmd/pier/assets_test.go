package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/session"
	"github.com/pierhq/pier/socketio"
)

// TestSailsJSFromAnyDirectory serves the demo's sails.io.js with the
// server started from a folder outside the repository, given the
// repository-relative default path (what `pier` is given by default).
func TestSailsJSFromAnyDirectory(t *testing.T) {
	jstest.Install(t)
	t.Chdir(t.TempDir())
	p, err := findAsset(sailsJSAsset, sailsJSAsset)
	if err != nil || !filepath.IsAbs(p) {
		t.Fatalf("findAsset = %q, %v", p, err)
	}
	if _, err := findAsset("/nonexistent/sails.io.js", sailsJSAsset); err == nil {
		t.Error("an absolute path that does not exist must be an error")
	}
	io, err := socketio.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	store := session.NewMemoryStore(nil)
	t.Cleanup(func() { store.Close() })
	m, err := session.New(store, &session.Options{Secrets: []string{"s"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{"", sailsJSAsset} {
		h, err := newDemo(io, m, nil, arg, nil, sailsbridge.Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/js/sails.io.js", nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "io.sails") {
			t.Errorf("sails-js %q: GET /js/sails.io.js = %d, %.80q", arg, rec.Code, rec.Body.String())
		}
	}
}

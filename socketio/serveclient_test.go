package socketio_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"

	"github.com/pierhq/pier/socketio"
)

func TestServeClient(t *testing.T) {
	fsys := fstest.MapFS{
		"socket.io.js":         {Data: []byte("/* bundle */")},
		"socket.io.min.js.map": {Data: []byte(`{"version":3}`)},
		"secret.txt":           {Data: []byte("no")},
	}
	io_, err := socketio.NewServer(&socketio.Options{ClientFS: fsys})
	if err != nil {
		t.Fatal(err)
	}
	defer io_.Shutdown(t.Context())
	hs := httptest.NewServer(io_)
	defer hs.Close()
	get := func(path, inm string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", hs.URL+path, nil)
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(b)
	}
	res, body := get("/socket.io/socket.io.js", "")
	etag := res.Header.Get("ETag")
	if res.StatusCode != 200 || body != "/* bundle */" || etag == "" ||
		res.Header.Get("Content-Type") != "application/javascript; charset=utf-8" || res.Header.Get("Cache-Control") != "public, max-age=0" {
		t.Fatalf("socket.io.js: %d %q %v", res.StatusCode, body, res.Header)
	}
	for _, inm := range []string{etag, "W/" + etag} {
		if res, _ := get("/socket.io/socket.io.js", inm); res.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match %s: %d, want 304", inm, res.StatusCode)
		}
	}
	if res, _ := get("/socket.io/socket.io.js", `"other"`); res.StatusCode != 200 {
		t.Errorf("stale ETag: %d", res.StatusCode)
	}
	if res, _ := get("/socket.io/socket.io.min.js.map", ""); res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("map: %d %v", res.StatusCode, res.Header)
	}
	if res, _ := get("/socket.io/socket.io.min.js", ""); res.StatusCode != 404 {
		t.Errorf("missing bundle: %d, want 404", res.StatusCode)
	}
	if res, body := get("/socket.io/secret.txt", ""); res.StatusCode == 200 && body == "no" {
		t.Error("served a file that is not a client bundle")
	}
	// Engine.IO requests still reach the engine.
	if res, _ := get("/socket.io/?EIO=4&transport=polling", ""); res.StatusCode != 200 {
		t.Errorf("handshake: %d", res.StatusCode)
	}
}

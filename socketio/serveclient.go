package socketio

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
	"sync"
)

// clientFiles are the socket.io-client bundles served at the server's
// path, as Node's serveClient does.
var clientFiles = map[string]bool{
	"socket.io.js": true, "socket.io.js.map": true,
	"socket.io.min.js": true, "socket.io.min.js.map": true,
	"socket.io.esm.min.js": true, "socket.io.esm.min.js.map": true,
	"socket.io.msgpack.min.js": true, "socket.io.msgpack.min.js.map": true,
}

// clientServer serves the files of Options.ClientFS.
type clientServer struct {
	fsys fs.FS
	path string

	mu    sync.Mutex        // guards etags; held only to read or store a map entry
	etags map[string]string // file name -> ETag, computed on first use
}

// serve answers r when it asks for a client bundle, reporting whether it
// did. ETag is a hash of the file; If-None-Match gets 304.
func (c *clientServer) serve(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	name, ok := strings.CutPrefix(r.URL.Path, c.path)
	if !ok || !clientFiles[name] {
		return false
	}
	data, err := fs.ReadFile(c.fsys, name)
	if err != nil {
		http.Error(w, "socket.io-client bundle not installed", http.StatusNotFound)
		return true
	}
	etag := c.etag(name, data)
	if inm := r.Header.Get("If-None-Match"); inm == etag || inm == "W/"+etag {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=0")
	if strings.HasSuffix(name, ".map") {
		h.Set("Content-Type", "application/json; charset=utf-8")
	} else {
		h.Set("Content-Type", "application/javascript; charset=utf-8")
	}
	h.Set("ETag", etag)
	if r.Method == http.MethodHead {
		return true
	}
	w.Write(data)
	return true
}

func (c *clientServer) etag(name string, data []byte) string {
	c.mu.Lock()
	e, ok := c.etags[name]
	c.mu.Unlock()
	if ok {
		return e
	}
	sum := sha256.Sum256(data)
	e = `"` + hex.EncodeToString(sum[:12]) + `"`
	c.mu.Lock()
	c.etags[name] = e
	c.mu.Unlock()
	return e
}

package admin

import (
	"io/fs"
	"net/http"
	"strings"
)

// UIHandler serves the dashboard's static files (the ui/dist folder of the
// @socket.io/admin-ui npm package) from fsys. Mount it under a prefix with
// http.StripPrefix; a request for the bare prefix (without its trailing
// slash) is redirected to it, as the dashboard's assets are relative. The
// page connects back to this server's admin namespace over the same
// origin, so it needs no CORS settings.
func UIHandler(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" {
			// The prefix itself, stripped to nothing: go to prefix + "/".
			// A relative redirect: "/x/ui" -> "ui/" -> "/x/ui/".
			p, _, _ := strings.Cut(r.RequestURI, "?")
			// (Set by hand: http.Redirect would resolve it against the
			// stripped path.)
			w.Header().Set("Location", p[strings.LastIndex(p, "/")+1:]+"/")
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		if strings.HasSuffix(r.URL.Path, ".map") {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

// CheckUI reports whether fsys holds the dashboard (its index.html).
func CheckUI(fsys fs.FS) error {
	_, err := fs.Stat(fsys, "index.html")
	return err
}

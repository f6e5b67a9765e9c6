package kit

import (
	"net/http"
	"strings"
)

// Wrap gives any router Sails' path semantics: the path is matched in
// lower case with one trailing slash dropped (so http.ServeMux patterns
// are written in lower case; path values then arrive in lower case too:
// use Router where their case matters), paths that Sails would not match
// ("//x", "/./x", "/x/../y") get 404 instead of a path-cleaning redirect,
// and the router's own 404 and 405 answers are replaced by Sails' 404 "Not
// Found" (a wrong method is a 404 in Sails). sails.io.js does not follow
// redirects, so a virtual request would otherwise get a 301.
func Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		segs, ok := splitPath(r.URL.EscapedPath())
		if !ok {
			NotFound(w, r)
			return
		}
		for _, s := range segs {
			if s == "" || s == "." || s == ".." {
				NotFound(w, r)
				return
			}
		}
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		r2.URL = &u
		u.Path = strings.ToLower(u.Path)
		if len(u.Path) > 1 {
			u.Path = strings.TrimSuffix(u.Path, "/")
		}
		if u.RawPath != "" {
			u.RawPath = strings.ToLower(u.RawPath)
			if len(u.RawPath) > 1 {
				u.RawPath = strings.TrimSuffix(u.RawPath, "/")
			}
		}
		h.ServeHTTP(&notFoundWriter{ResponseWriter: w, r: r2}, r2)
	})
}

// notFoundWriter replaces a wrapped router's 404/405 answer with Sails'.
type notFoundWriter struct {
	http.ResponseWriter
	r        *http.Request
	replaced bool
	wrote    bool
}

func (w *notFoundWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if code == http.StatusNotFound || code == http.StatusMethodNotAllowed {
		// Only the router's own text answers are replaced: a handler's
		// JSON 404 is kept.
		if ct := w.Header().Get("Content-Type"); ct == "" || strings.HasPrefix(ct, "text/plain") {
			w.replaced = true
			h := w.ResponseWriter.Header()
			h.Del("Allow")
			h.Del("Content-Type")
			h.Del("X-Content-Type-Options")
			NotFound(w.ResponseWriter, w.r)
			return
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *notFoundWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *notFoundWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

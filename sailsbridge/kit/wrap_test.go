package kit_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pierhq/pier/sailsbridge/kit"
)

// Wrap gives http.ServeMux Sails' path semantics: case and one trailing
// slash ignored, Sails' 404 instead of path-cleaning redirects and of the
// mux's 404 and 405, a handler's own 404 kept.
func TestWrapServeMux(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /json-obj", func(w http.ResponseWriter, r *http.Request) {
		kit.JSON(w, r, http.StatusOK, map[string]int{"a": 1})
	})
	mux.HandleFunc("GET /item/{id}", func(w http.ResponseWriter, r *http.Request) {
		kit.JSON(w, r, http.StatusNotFound, map[string]string{"missing": r.PathValue("id")})
	})
	h := kit.Wrap(mux)
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/json-obj", 200, `{"a":1}`},
		{"GET", "/JSON-OBJ/", 200, `{"a":1}`},
		{"HEAD", "/json-obj", 200, `{"a":1}`}, // net/http drops it; the recorder keeps it
		{"GET", "/json-obj//", 404, "Not Found"},
		{"GET", "//json-obj", 404, "Not Found"},
		{"GET", "/./json-obj", 404, "Not Found"},
		{"GET", "/x/../json-obj", 404, "Not Found"},
		{"POST", "/json-obj", 404, "Not Found"},
		{"GET", "/nowhere", 404, "Not Found"},
		{"GET", "/item/AB", 404, `{"missing":"ab"}`},
	} {
		r := httptest.NewRequest(tc.method, "http://x/", nil)
		r.URL.Path, r.RequestURI = tc.path, tc.path
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.status || w.Body.String() != tc.body {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, w.Code, w.Body.String(), tc.status, tc.body)
		}
		if tc.status == 404 && tc.body == "Not Found" && (w.Header().Get("Allow") != "" || w.Header().Get("Location") != "") {
			t.Errorf("%s %s: headers %v", tc.method, tc.path, w.Header())
		}
	}
}

package kit_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/pierhq/pier/sailsbridge/kit"
)

// A config/routes.js entry and req.allParams(): path over body over
// query, the path matched case-insensitively with a trailing slash.
func ExampleRouter() {
	rt := kit.NewRouter()
	rt.HandleFunc("POST /message/:id", func(w http.ResponseWriter, r *http.Request) {
		p, _ := kit.AllParams(r)
		kit.Ok(w, r, p)
	})
	for _, path := range []string{"/Message/7/?id=1&q=x", "/message//7"} {
		r := httptest.NewRequest("POST", path, strings.NewReader(`{"id":2,"text":"hi"}`))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, r)
		b, _ := io.ReadAll(w.Result().Body)
		fmt.Println(w.Code, string(b))
	}
	// Output:
	// 200 {"id":"7","q":"x","text":"hi"}
	// 404 Not Found
}

// A policy chain: the first policy that answers ends the request.
func ExampleCheck() {
	needsToken := kit.Check(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("X-Token") == "ok" {
			return true
		}
		kit.JSON(w, r, http.StatusUnauthorized, map[string]string{"error": "token required"})
		return false
	})
	rt := kit.NewRouter()
	rt.HandleFunc("GET /secret", func(w http.ResponseWriter, r *http.Request) { kit.Ok(w, r, "s3cret") }, needsToken)
	rt.HandleFunc("GET /never", func(w http.ResponseWriter, r *http.Request) { kit.Ok(w, r, nil) }, kit.Deny)
	for _, tc := range []struct{ path, token string }{{"/secret", ""}, {"/secret", "ok"}, {"/never", "ok"}} {
		r := httptest.NewRequest("GET", tc.path, nil)
		r.Header.Set("X-Token", tc.token)
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String())
	}
	// Output:
	// 401 {"error":"token required"}
	// 200 "s3cret"
	// 403 Forbidden
}

// Wrap gives http.ServeMux Sails' path semantics.
func ExampleWrap() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /json-obj", func(w http.ResponseWriter, r *http.Request) { kit.Ok(w, r, map[string]int{"a": 1}) })
	h := kit.Wrap(mux)
	for _, path := range []string{"/JSON-OBJ/", "/a/../json-obj"} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.Path = path
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String())
	}
	// Output:
	// 200 {"a":1}
	// 404 Not Found
}

// Blueprints over a MemStore, over HTTP: create answers 200 with the
// record, and find filters by any parameter.
func ExampleBlueprints() {
	schema := kit.Schema{{Identity: "message"}}
	rt := kit.NewRouter()
	kit.NewBlueprints(schema, kit.NewMemStore(schema, nil), nil, nil).Mount(rt)
	do := func(method, path, body string) {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, r)
		b := w.Body.String()
		for _, ts := range []string{"createdAt", "updatedAt"} { // hide the clock
			for i := strings.Index(b, `"`+ts+`":`); i >= 0; i = -1 {
				j := i + len(ts) + 3
				k := j + strings.IndexAny(b[j:], ",}")
				b = b[:j] + "0" + b[k:]
			}
		}
		fmt.Println(w.Code, b)
	}
	do("POST", "/message", `{"text":"hello"}`)
	do("POST", "/message", `{"text":"bye"}`)
	do("GET", "/message?text=bye", "")
	do("GET", "/message/3", "")
	// Output:
	// 200 {"createdAt":0,"id":1,"text":"hello","updatedAt":0}
	// 200 {"createdAt":0,"id":2,"text":"bye","updatedAt":0}
	// 200 [{"createdAt":0,"id":2,"text":"bye","updatedAt":0}]
	// 404 Not Found
}

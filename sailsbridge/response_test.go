package sailsbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestResponseCapture(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		status  int
		headers string
		body    any
	}{
		{
			name:    "json object, no content type",
			handler: func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"a":1, "b":[1,2], "c":null}`+"\n") },
			status:  200, headers: `{}`, body: json.RawMessage(`{"a":1,"b":[1,2],"c":null}`),
		},
		{
			name: "json with content type",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				json.NewEncoder(w).Encode(map[string]any{"x": 1})
			},
			status: 200, headers: `{"content-type":"application/json; charset=utf-8"}`, body: json.RawMessage(`{"x":1}`),
		},
		{
			name: "json string is not double-encoded",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`"str"`))
			},
			status: 200, headers: `{"content-type":"application/json"}`, body: json.RawMessage(`"str"`),
		},
		{
			name:    "json scalar without content type is text",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`42`)) },
			status:  200, headers: `{}`, body: "42",
		},
		{
			name: "invalid json declared as json",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/vnd.api+json")
				w.Write([]byte(`{nope`))
			},
			status: 200, headers: `{"content-type":"application/vnd.api+json"}`, body: "{nope",
		},
		{
			name: "text with headers",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Custom-Header", "abc")
				w.Header().Set("X-Via-SetHeader", "def")
				w.Header()["x-lower"] = []string{"l"}
				w.Header().Add("X-Multi", "1")
				w.Header().Add("X-Multi", "2")
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("Content-Length", "5")
				w.WriteHeader(201)
				w.Header().Set("X-After", "ignored")
				w.Write([]byte("hello"))
			},
			status:  201,
			headers: `{"content-type":"text/plain","x-custom-header":"abc","x-lower":"l","x-multi":"1, 2","x-via-setheader":"def"}`,
			body:    "hello",
		},
		{
			name: "set-cookie stripped in any case",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Add("Set-Cookie", "a=1; Path=/")
				w.Header()["set-cookie"] = []string{"b=2"}
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{}`))
			},
			status: 200, headers: `{"content-type":"application/json"}`, body: json.RawMessage(`{}`),
		},
		{
			name: "redirect not followed",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/somewhere?x=1 y", http.StatusFound)
			},
			status:  302,
			headers: `{"content-type":"text/html; charset=utf-8","location":"/somewhere?x=1 y"}`,
			body:    "<a href=\"/somewhere?x=1 y\">Found</a>.\n\n",
		},
		{
			name: "binary",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/octet-stream")
				w.Write([]byte("abc"))
			},
			status: 200, headers: `{"content-type":"application/octet-stream"}`, body: []byte("abc"),
		},
		{
			name:    "invalid utf-8 without content type is binary",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte{0xff, 0x00, 0x01}) },
			status:  200, headers: `{}`, body: []byte{0xff, 0x00, 0x01},
		},
		{
			name: "javascript is text",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/javascript; charset=utf-8")
				w.Write([]byte("_sailsIoJSConnect();"))
			},
			status: 200, headers: `{"content-type":"application/javascript; charset=utf-8"}`, body: "_sailsIoJSConnect();",
		},
		{
			name:    "nothing written",
			handler: func(w http.ResponseWriter, r *http.Request) {},
			status:  200, headers: `{}`, body: nil,
		},
		{
			name: "status only",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-A", "b")
				w.WriteHeader(http.StatusTeapot)
			},
			status: 418, headers: `{"x-a":"b"}`, body: nil,
		},
		{
			name: "no body for 204",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNoContent)
				if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrBodyNotAllowed) {
					panic(err)
				}
			},
			status: 204, headers: `{}`, body: nil,
		},
		{
			name: "1xx ignored, flush no-op",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusEarlyHints)
				w.(http.Flusher).Flush()
				if err := http.NewResponseController(w).Flush(); err != nil {
					panic(err)
				}
				if _, ok := w.(http.Hijacker); ok {
					panic("hijacker")
				}
				w.WriteHeader(202)
				w.WriteHeader(500) // superfluous
				fmt.Fprint(w, "ok")
			},
			status: 202, headers: `{}`, body: "ok",
		},
		{
			name: "http.Error",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "Not Found", http.StatusNotFound)
			},
			status:  404,
			headers: `{"content-type":"text/plain; charset=utf-8","x-content-type-options":"nosniff"}`,
			body:    "Not Found\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newResponseWriter(context.Background(), 1<<20)
			r, _ := http.NewRequest("GET", "/x", nil)
			tc.handler(w, r)
			c := w.finish()
			rep := c.reply()
			if rep.status != tc.status {
				t.Errorf("status = %d, want %d", rep.status, tc.status)
			}
			if got := string(jwrHeaders(rep.header)); got != tc.headers {
				t.Errorf("headers = %s\nwant      %s", got, tc.headers)
			}
			if !reflect.DeepEqual(rep.body, tc.body) {
				t.Errorf("body = %#v, want %#v", rep.body, tc.body)
			}
			if _, err := w.Write([]byte("late")); !errors.Is(err, http.ErrHandlerTimeout) {
				t.Errorf("write after finish: %v", err)
			}
		})
	}
}

func TestResponseTooLarge(t *testing.T) {
	t.Parallel()
	w := newResponseWriter(context.Background(), 4)
	if _, err := w.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("de")); !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if c := w.finish(); !c.tooLarge || string(c.body) != "abc" {
		t.Fatalf("captured %+v", c)
	}
}

func TestInvalidWriteHeaderPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	newResponseWriter(context.Background(), 10).WriteHeader(42)
}

func TestJWRKeys(t *testing.T) {
	t.Parallel()
	r := &reply{status: 404, body: "Not Found"}
	for _, tc := range []struct {
		headers, status bool
		keys            []string
	}{
		{true, true, []string{"body", "headers", "statusCode"}},
		{true, false, []string{"body", "headers"}},
		{false, true, []string{"body", "statusCode"}},
		{false, false, []string{"body"}},
	} {
		m := r.jwr(tc.headers, tc.status)
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		if len(keys) != len(tc.keys) {
			t.Errorf("jwr(%v,%v) keys %v, want %v", tc.headers, tc.status, keys, tc.keys)
		}
		for _, k := range tc.keys {
			if _, ok := m[k]; !ok {
				t.Errorf("jwr(%v,%v) lacks %q", tc.headers, tc.status, k)
			}
		}
	}
	if _, ok := (&reply{status: 200}).jwr(true, true)["body"]; ok {
		t.Error("empty body has a body key")
	}
}

func TestCookieJar(t *testing.T) {
	t.Parallel()
	var j cookieJar
	j.reset("sails.sid=s%3Aabc.def;  other=1")
	if got := j.header(); got != "sails.sid=s%3Aabc.def;  other=1" {
		t.Errorf("verbatim until updated: %q", got)
	}
	j.update(http.Header{"X": {"y"}})
	if got := j.header(); got != "sails.sid=s%3Aabc.def;  other=1" {
		t.Errorf("no Set-Cookie changed it: %q", got)
	}
	j.update(http.Header{"Set-Cookie": {
		"sails.sid=s%3Anew.sig; Path=/; HttpOnly",
		"fresh=2; Max-Age=60",
		"other=; Max-Age=0",
		"gone=1; Expires=" + time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat),
	}})
	if got, want := j.header(), "sails.sid=s%3Anew.sig; fresh=2"; got != want {
		t.Errorf("after update %q, want %q", got, want)
	}
	var empty cookieJar
	empty.reset("")
	empty.update(http.Header{"Set-Cookie": {"sid=1; Path=/; HttpOnly"}})
	if got := empty.header(); got != "sid=1" {
		t.Errorf("adopted %q", got)
	}
	if !strings.Contains(empty.header(), "sid=1") {
		t.Error("lost")
	}
}

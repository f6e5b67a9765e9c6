package sailsbridge

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

func TestParsePayload(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		payload string // "" means no argument
		url     string
		details string
	}{
		{"ok", `{"method":"get","headers":{},"data":{},"url":"/json-obj"}`, "/json-obj", ""},
		{"no argument", "", "", "No url provided in request: undefined"},
		{"no url", `{"method":"get"}`, "", "No url provided in request: { method: 'get' }"},
		{"empty url", `{"method":"get","url":""}`, "", "No url provided in request: { method: 'get', url: '' }"},
		{"null url", `{"url":null}`, "", "No url provided in request: { url: null }"},
		{"zero url", `{"url":0}`, "", "No url provided in request: { url: 0 }"},
		{"false url", `{"url":false}`, "", "No url provided in request: { url: false }"},
		{"number url", `{"url":42}`, "", "Invalid url provided: 42"},
		{"object url", `{"url":{"a":1}}`, "", "Invalid url provided: { a: 1 }"},
		{"array url", `{"url":["/x"]}`, "", "Invalid url provided: [ '/x' ]"},
		{"true url", `{"url":true}`, "", "Invalid url provided: true"},
		{"nested", `{"method":"get","headers":{"a":"b"},"data":[1],"x-y":"it's"}`, "", `No url provided in request: { method: 'get', headers: [Object], data: [Array], 'x-y': "it's" }`},
		{"empty nested", `{"headers":{},"data":[]}`, "", "No url provided in request: { headers: {}, data: [] }"},
		{"string payload", `"abc"`, "", "No url provided in request: abc"},
		{"null payload", `null`, "", "No url provided in request: null"},
		{"array payload", `[1,"a",{"b":2}]`, "", "No url provided in request: [ 1, 'a', [Object] ]"},
		{"number payload", `12.5`, "", "No url provided in request: 12.5"},
		{"duplicate url keeps last", `{"url":"/a","url":"/b"}`, "/b", ""},
		{"escaped url", `{"url":"/a\u0020b"}`, "/a b", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var p json.RawMessage
			if tc.payload != "" {
				p = json.RawMessage(tc.payload)
			}
			msg, details := parsePayload(p)
			if details != tc.details {
				t.Errorf("details = %q, want %q", details, tc.details)
			}
			if tc.details == "" && msg.url != tc.url {
				t.Errorf("url = %q, want %q", msg.url, tc.url)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in       string
		path     string
		rawQuery string
		status   int // 0: parsed
	}{
		{"/json-obj", "/json-obj", "", 0},
		{"/echo?a=1&b=x%20y&c[]=1&c[]=2", "/echo", "a=1&b=x%20y&c[]=1&c[]=2", 0},
		{"/somewhere?x=1 y", "/somewhere", "x=1 y", 0},
		{"/a#frag", "/a", "", 0},
		{"//double/slash", "//double/slash", "", 0},
		{"http://example.com/y?z=1", "/y", "z=1", 0},
		{"https://example.com", "/", "", 0},
		{"json-obj", "", "", 404},
		{"", "", "", 404},
		{"*", "", "", 404},
		{"mailto:x@y", "", "", 404},
		{"/bad%zzescape", "", "", 400},
		{"/ctl\x01", "", "", 400},
	} {
		u, r := parseURL(tc.in)
		if tc.status != 0 {
			if r == nil || r.status != tc.status {
				t.Errorf("parseURL(%q) = %v, %+v; want status %d", tc.in, u, r, tc.status)
			}
			continue
		}
		if r != nil {
			t.Errorf("parseURL(%q): unexpected reply %+v", tc.in, r)
			continue
		}
		if u.Path != tc.path || u.RawQuery != tc.rawQuery || u.Host != "" || u.Scheme != "" {
			t.Errorf("parseURL(%q) = path %q query %q host %q; want %q %q", tc.in, u.Path, u.RawQuery, u.Host, tc.path, tc.rawQuery)
		}
	}
}

func TestMergeBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		params, data string
		want         string
	}{
		{"", "", `{}`},
		{"", `{"a":1}`, `{"a":1}`},
		{`{"a":1}`, "", `{"a":1}`},
		{`{"a":1,"b":2}`, `{"b":3,"c":4}`, `{"a":1,"b":3,"c":4}`},
		{`{"a":1}`, `{}`, `{"a":1}`},
		{`{"a":1}`, `[1,2]`, `[1,2]`},
		{"", `"abc"`, `"abc"`},
		{"", `42`, `42`},
		{`[1]`, "", `{}`},
		{`[1]`, `{"x":1}`, `{"x":1}`},
		{`{"k\"q":1}`, `{"z":[1,{"y":2}]}`, `{"k\"q":1,"z":[1,{"y":2}]}`},
	} {
		got := string(mergeBody(json.RawMessage(tc.params), json.RawMessage(tc.data)))
		if got != tc.want {
			t.Errorf("mergeBody(%s, %s) = %s, want %s", tc.params, tc.data, got, tc.want)
		}
	}
}

func TestHeaderValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`"Bar"`, []string{"Bar"}},
		{`1.5`, []string{"1.5"}},
		{`true`, []string{"true"}},
		{`null`, nil},
		{`{"a":1}`, nil},
		{`["a",2,null,["x"]]`, []string{"a", "2"}},
	} {
		if got := headerValues(json.RawMessage(tc.in)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("headerValues(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// handshake returns a handshake request as the engine keeps it.
func handshake(t *testing.T, target string, h http.Header) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.RemoteAddr = "10.0.0.7:5555"
	r.Host = "app.example.com"
	for k, vs := range h {
		r.Header[k] = vs
	}
	return r
}

func TestBuildRequest(t *testing.T) {
	t.Parallel()
	hsHeader := http.Header{
		"Cookie":          {"sails.sid=abc"},
		"Origin":          {"http://allowed.com"},
		"X-Forwarded-For": {"1.2.3.4, 5.6.7.8"},
		"User-Agent":      {"node-XMLHttpRequest"},
		"Accept-Language": {"fr"},
		"Authorization":   {"Bearer handshake"},
	}
	for _, tc := range []struct {
		name     string
		method   string
		payload  string
		env      func(hs *http.Request) requestEnv
		check    func(t *testing.T, r *http.Request)
		wantBody string
	}{
		{
			name:    "echo",
			method:  "GET",
			payload: `{"method":"get","url":"/echo?a=1&b=x%20y&c[]=1&c[]=2","data":{"d":1},"headers":{"X-Foo":"Bar","x-foo":"baz","n":1}}`,
			check: func(t *testing.T, r *http.Request) {
				if r.Method != "GET" || r.URL.Path != "/echo" || r.RequestURI != "/echo?a=1&b=x%20y&c[]=1&c[]=2" {
					t.Errorf("method %q path %q uri %q", r.Method, r.URL.Path, r.RequestURI)
				}
				q := r.URL.Query()
				if q.Get("b") != "x y" || !reflect.DeepEqual(q["c[]"], []string{"1", "2"}) {
					t.Errorf("query %v", q)
				}
				if got := r.Header.Values("X-Foo"); !reflect.DeepEqual(got, []string{"Bar", "baz"}) {
					t.Errorf("X-Foo = %q", got)
				}
				if r.Header.Get("N") != "1" {
					t.Errorf("N = %q", r.Header.Get("N"))
				}
				if r.Header.Get("Cookie") != "sails.sid=abc" || r.Header.Get("Origin") != "http://allowed.com" {
					t.Errorf("cookie %q origin %q", r.Header.Get("Cookie"), r.Header.Get("Origin"))
				}
				if r.Header.Get("Content-Type") != "application/json" || r.ContentLength != int64(len(`{"d":1}`)) {
					t.Errorf("content-type %q length %d", r.Header.Get("Content-Type"), r.ContentLength)
				}
				if r.Host != "app.example.com" || r.RemoteAddr != "10.0.0.7:5555" {
					t.Errorf("host %q remote %q", r.Host, r.RemoteAddr)
				}
				if r.Header.Get("Authorization") != "" {
					t.Errorf("Authorization copied from the handshake")
				}
				if r.Header.Get("User-Agent") != "node-XMLHttpRequest" || r.Header.Get("Accept-Language") != "fr" {
					t.Errorf("defaults from handshake: %v", r.Header)
				}
			},
			wantBody: `{"d":1}`,
		},
		{
			name:    "handshake headers win",
			method:  "POST",
			payload: `{"url":"/x","headers":{"cookie":"evil=1","Origin":"http://x","host":"evil.com","X-Forwarded-For":"9.9.9.9","content-type":"text/plain","Content-Length":"99","User-Agent":"mine","Transfer-Encoding":"chunked"}}`,
			check: func(t *testing.T, r *http.Request) {
				want := http.Header{
					"Cookie":          {"sails.sid=abc"},
					"Origin":          {"http://allowed.com"},
					"X-Forwarded-For": {"1.2.3.4, 5.6.7.8"},
					"User-Agent":      {"mine"},
					"Accept-Language": {"fr"},
					"Content-Type":    {"application/json"},
				}
				if !reflect.DeepEqual(r.Header, want) {
					t.Errorf("headers = %v\nwant %v", r.Header, want)
				}
				if r.Host != "app.example.com" {
					t.Errorf("host = %q", r.Host)
				}
			},
			wantBody: `{}`,
		},
		{
			name:    "no handshake cookie or origin",
			method:  "DELETE",
			payload: `{"url":"/x","params":{"a":1},"data":{"b":2}}`,
			env: func(hs *http.Request) requestEnv {
				return requestEnv{handshake: handshake(t, "/socket.io/", nil), host: "configured.host"}
			},
			check: func(t *testing.T, r *http.Request) {
				if _, ok := r.Header["Cookie"]; ok {
					t.Errorf("Cookie set: %v", r.Header)
				}
				if _, ok := r.Header["Origin"]; ok {
					t.Errorf("Origin set: %v", r.Header)
				}
				if r.Host != "configured.host" {
					t.Errorf("host %q", r.Host)
				}
			},
			wantBody: `{"a":1,"b":2}`,
		},
		{
			name:    "nosession handshake",
			method:  "PUT",
			payload: `{"url":"/x","headers":{"nosession":"no"}}`,
			env: func(hs *http.Request) requestEnv {
				return requestEnv{handshake: hs, cookie: "c=1", noSessionHeader: true}
			},
			check: func(t *testing.T, r *http.Request) {
				if r.Header.Get("Nosession") != "true" || !NoSession(r) {
					t.Errorf("nosession = %q", r.Header.Values("Nosession"))
				}
				if r.Header.Get("Cookie") != "c=1" {
					t.Errorf("cookie = %q", r.Header.Get("Cookie"))
				}
			},
			wantBody: `{}`,
		},
		{
			name:    "per-request nosession",
			method:  "GET",
			payload: `{"url":"/x","headers":{"nosession":"1"}}`,
			check: func(t *testing.T, r *http.Request) {
				if r.Header.Get("Nosession") != "1" || !NoSession(r) {
					t.Errorf("nosession = %q", r.Header.Values("Nosession"))
				}
			},
			wantBody: `{}`,
		},
		{
			name:    "invalid headers dropped",
			method:  "PATCH",
			payload: `{"url":"/x","headers":{"bad name":"x","X-Ok":"a\r\nInjected: 1","X-Fine":"ok\tvalue"}}`,
			check: func(t *testing.T, r *http.Request) {
				want := http.Header{"X-Fine": {"ok\tvalue"}}
				for k := range r.Header {
					switch k {
					case "Cookie", "Origin", "X-Forwarded-For", "User-Agent", "Accept-Language", "Content-Type":
						continue
					}
					if !reflect.DeepEqual(r.Header[k], want[k]) {
						t.Errorf("header %q = %q", k, r.Header[k])
					}
				}
				if r.Header.Get("X-Fine") == "" {
					t.Errorf("X-Fine dropped")
				}
			},
			wantBody: `{}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hs := handshake(t, "/socket.io/?__sails_io_sdk_version=1.2.1&EIO=3&transport=websocket", hsHeader)
			hs.TLS = &tls.ConnectionState{}
			before := hs.Header.Clone()
			env := requestEnv{handshake: hs, host: hs.Host, cookie: hs.Header.Get("Cookie")}
			if tc.env != nil {
				env = tc.env(hs)
			}
			msg, details := parsePayload(json.RawMessage(tc.payload))
			if details != "" {
				t.Fatal(details)
			}
			u, rep := parseURL(msg.url)
			if rep != nil {
				t.Fatalf("parseURL: %+v", rep)
			}
			ctx := context.WithValue(context.Background(), ctxKey{}, "marker")
			r := buildRequest(ctx, tc.method, u, &msg, env)
			if r.Context().Value(ctxKey{}) != "marker" {
				t.Errorf("context not kept")
			}
			tc.check(t, r)
			body, _ := io.ReadAll(r.Body)
			if string(body) != tc.wantBody {
				t.Errorf("body = %s, want %s", body, tc.wantBody)
			}
			if !reflect.DeepEqual(hs.Header, before) {
				t.Errorf("handshake headers modified: %v", hs.Header)
			}
			r.Header.Set("X-Mutate", "1")
			if hs.Header.Get("X-Mutate") != "" {
				t.Errorf("request shares the handshake's header map")
			}
		})
	}
}

func TestSDKVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v  string
		ok bool
	}{
		{"1.2.1", true}, {"0.11.0", true}, {"0.11.0-rc1", true}, {"v1.0.0", true}, {"2.0.0+build.1", true},
		{"0.10.5", false}, {"0.9.0", false}, {"abc", false}, {"1.2", false}, {"01.2.3", false}, {"", false},
		{"99999999999999999999.0.0", false},
	} {
		if _, ok := checkSDKVersion(tc.v); ok != tc.ok {
			t.Errorf("checkSDKVersion(%q) = %v, want %v", tc.v, ok, tc.ok)
		}
	}
	hs := handshake(t, "/socket.io/?__sails_io_sdk_version=0.10.5", http.Header{"__sails_io_sdk_version": {"1.2.1"}})
	if v := sdkVersion(hs); v != "1.2.1" {
		t.Errorf("header first: %q", v)
	}
	if v := sdkVersion(handshake(t, "/socket.io/?__sails_io_sdk_version=0.10.5", nil)); v != "0.10.5" {
		t.Errorf("query: %q", v)
	}
	if v := sdkVersion(handshake(t, "/socket.io/?EIO=3", nil)); v != "0.9.0" {
		t.Errorf("default: %q", v)
	}
}

func TestCheckOrigin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"http://allowed.com", true},
		{"https://allowed.com:8443", true},
		{"http://127.0.0.1:1337", true},
		{"file://", true},
		{"file://anything/goes", true},
		{"", false},
		{"allowed.com", false},
		{"ws://allowed.com", false},
		{"http://allowed.com/", false},
		{"http://allowed.com/path", false},
		{"http://allowed.com?q=1", false},
		{"http://allowed.com#f", false},
		{"https://allowed.com:443", false},
		{"http://allowed.com:80", false},
		{"http://Allowed.com", false},
		{"http://user@allowed.com", false},
	} {
		err := CheckOrigin(tc.origin)
		if (err == nil) != tc.ok {
			t.Errorf("CheckOrigin(%q) = %v, want ok=%v", tc.origin, err, tc.ok)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	h := http.NotFoundHandler()
	if _, err := New(h, &Options{OnlyAllowOrigins: []string{"http://a.com/"}}); err == nil {
		t.Error("invalid origin accepted")
	}
	if _, err := New(h, &Options{Production: true}); err == nil {
		t.Error("production without origins nor beforeConnect accepted")
	}
	if _, err := New(h, &Options{Production: true, OnlyAllowOrigins: []string{}}); err != nil {
		t.Errorf("production with an (empty) origin list: %v", err)
	}
	if _, err := New(h, &Options{Production: true, BeforeConnect: func(*http.Request) error { return nil }}); err != nil {
		t.Errorf("production with beforeConnect: %v", err)
	}
	if _, err := New(nil, nil); err == nil {
		t.Error("nil handler accepted")
	}
	b, err := New(h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.opts.MaxInFlightBytes != DefaultMaxInFlightBytes || b.opts.MaxHeaderBytes != DefaultMaxHeaderBytes || b.opts.Timeout != DefaultTimeout || b.opts.MaxResponseBytes != DefaultMaxResponseBytes {
		t.Errorf("defaults: %+v", b.opts)
	}
}

func FuzzVirtualRequest(f *testing.F) {
	for _, s := range []string{
		`{"method":"get","headers":{"x-req":"r"},"data":{"a":1},"url":"/json-obj"}`,
		`{"url":"/echo?a=1&b=x%20y","params":{"d":1},"data":{"e":[1,2]},"headers":{"X-Foo":"Bar","cookie":"x=y"}}`,
		`{"method":"get"}`, `"abc"`, `null`, `[1,2]`, `{"url":{"a":[1,{"b":2}]}}`, `{"url":"http://x/y#z"}`,
		`{"url":"/x","data":"abc","headers":{"a":[1,"b",null]}}`,
	} {
		f.Add([]byte(s))
	}
	hs := httptest.NewRequest(http.MethodGet, "/socket.io/?EIO=3&transport=websocket", nil)
	f.Fuzz(func(t *testing.T, payload []byte) {
		if !json.Valid(payload) {
			return
		}
		msg, details := parsePayload(payload)
		if details != "" {
			return
		}
		u, rep := parseURL(msg.url)
		if rep != nil {
			return
		}
		r := buildRequest(context.Background(), "POST", u, &msg, requestEnv{handshake: hs, cookie: "a=b"})
		body, _ := io.ReadAll(r.Body)
		if !json.Valid(body) {
			t.Fatalf("invalid body %q from %q", body, payload)
		}
		for k, vs := range r.Header {
			if !validHeaderName(k) {
				t.Fatalf("invalid header name %q", k)
			}
			for _, v := range vs {
				if !validHeaderValue(v) {
					t.Fatalf("invalid header value %q", v)
				}
			}
		}
		if r.Header.Get("Cookie") != "a=b" {
			t.Fatalf("cookie %q", r.Header.Get("Cookie"))
		}
	})
}

package engineio

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// TestHandshakeKept: what a session keeps of its handshake request
// rebuilds the fields users read (headers with repeated and long values,
// cookies, query, host, remote address, TLS state).
func TestHandshakeKept(t *testing.T) {
	long := strings.Repeat("v", 70000) // a length over two varint bytes
	tests := []struct {
		name   string
		target string
		header http.Header
		tls    bool
		uri    string // RequestURI set apart from the URL (middleware rewrote it)
	}{
		{name: "plain", target: "/engine.io/?EIO=4&transport=websocket"},
		{name: "headers", target: "/engine.io/?EIO=4&transport=polling&token=a%20b&x=1&x=2",
			header: http.Header{"Cookie": {"sails.sid=s%3Aabc; other=1"}, "X-Multi": {"a", "", "c"},
				"Origin": {"https://example.com"}, "X-Long": {long}, "X-Utf8": {"é\x00ü"}}},
		{name: "tls", target: "/socket.io/?EIO=3&transport=polling&b64=1", tls: true},
		{name: "rewritten", target: "/engine.io/?EIO=4&transport=polling", uri: "/prefix/engine.io/?EIO=4&transport=polling"},
		{name: "escaped path", target: "/a%2Fb/engine.io/?EIO=4&transport=polling"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://example.org:8080"+tt.target, nil)
			r.RemoteAddr = "192.0.2.7:41234"
			for k, vs := range tt.header {
				r.Header[k] = vs
			}
			if tt.tls {
				r.TLS = &tls.ConnectionState{ServerName: "example.org"}
			}
			if tt.uri != "" {
				r.RequestURI = tt.uri
			}
			hs := keepHandshake(r)
			got := hs.request()
			if got.Method != r.Method || got.Proto != r.Proto || got.ProtoMajor != 1 || got.ProtoMinor != 1 ||
				got.Host != r.Host || got.RemoteAddr != r.RemoteAddr || got.RequestURI != r.RequestURI || got.TLS != r.TLS {
				t.Errorf("got %s %s %s host %q remote %q uri %q tls %v; want %s %s host %q remote %q uri %q",
					got.Method, got.Proto, got.URL, got.Host, got.RemoteAddr, got.RequestURI, got.TLS,
					r.Method, r.Proto, r.Host, r.RemoteAddr, r.RequestURI)
			}
			if got.URL.String() != r.URL.String() || !reflect.DeepEqual(got.URL.Query(), r.URL.Query()) {
				t.Errorf("URL %q, want %q", got.URL, r.URL)
			}
			if !reflect.DeepEqual(got.Header, r.Header) {
				t.Errorf("header %v, want %v", got.Header, r.Header)
			}
			if !reflect.DeepEqual(got.Cookies(), r.Cookies()) {
				t.Errorf("cookies %v, want %v", got.Cookies(), r.Cookies())
			}
			if b, _ := io.ReadAll(got.Body); len(b) != 0 {
				t.Errorf("body %q", b)
			}
			// Each call is a copy of its own.
			got.Header.Set("X-Changed", "1")
			if hs.request().Header.Get("X-Changed") != "" {
				t.Error("a change to one copy shows in the next")
			}
		})
	}
}

// TestTransportNotSlicedFromQuery: the transport a request names is kept
// as the package's constant, not as a slice of the query string (a session
// keeps it for its life, and a slice would keep the request line with it).
func TestTransportNotSlicedFromQuery(t *testing.T) {
	srv, err := NewServer(HandlerFunc(func(*Session) {}), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []string{Polling, WebSocket} {
		r := httptest.NewRequest(http.MethodGet, "/engine.io/?EIO=4&transport="+tr, nil)
		if tr == WebSocket {
			r.Header.Set("Upgrade", "websocket")
			r.Header.Set("Connection", "Upgrade")
		}
		req, rerr := srv.parse(r)
		if rerr != nil {
			t.Fatalf("%s: %v", tr, rerr)
		}
		if req.transport != tr || unsafe.StringData(req.transport) != unsafe.StringData(tr) {
			t.Errorf("%s: transport %q is not the constant", tr, req.transport)
		}
	}
}

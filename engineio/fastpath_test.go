package engineio

import (
	"bufio"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The request hot path reads queries, media types and URLs without
// allocating; these tests hold each shortcut to the library function it
// stands in for.

var querySeeds = []string{
	"EIO=4&transport=polling",
	"EIO=4&transport=polling&sid=abc-_DEF123",
	"EIO=4&transport=polling&t=Pabc&b64=1",
	"EIO=3&transport=polling&j=0",
	"EIO=3&transport=polling&j",
	"EIO=4&EIO=3&transport=polling",
	"transport=polling&transport=websocket",
	"sid=a&sid=b",
	"b64&b64=",
	"EIO=4&&transport=polling&",
	"=4&EIO",
	"EIO=4=5&transport=polling",
	"EIO=%34&transport=polling",
	"EIO=4&transport=poll%ing",
	"EIO=4&transport=polling;sid=x",
	"sid=a+b&EIO=4",
	"transport=p%C3%B6lling",
	"",
	"&&&",
	strings.Repeat("x=1&", 70) + "EIO=4",
}

// parseQueryFields reads raw with url.ParseQuery: the reference of
// scanQuery.
func parseQueryFields(raw string) (queryFields, bool) {
	var q queryFields
	v, err := url.ParseQuery(raw)
	if err != nil {
		return q, false
	}
	for i, k := range queryKeys {
		if len(v[k]) > 0 {
			q.value[i], q.count[i] = v[k][0], len(v[k])
		}
	}
	return q, true
}

func checkQuery(t *testing.T, raw string) {
	t.Helper()
	got, gotOK := scanQuery(raw)
	want, wantOK := parseQueryFields(raw)
	if got != want || gotOK != wantOK {
		t.Fatalf("scanQuery(%q) = %+v, %v; url.ParseQuery reads %+v, %v", raw, got, gotOK, want, wantOK)
	}
}

func TestScanQuery(t *testing.T) {
	for _, raw := range querySeeds {
		checkQuery(t, raw)
	}
	if q, _ := scanQuery("EIO=4&transport=polling&sid=x&sid=y"); q.count[qSID] != 2 || q.value[qSID] != "x" {
		t.Fatalf("a repeated sid: %+v", q)
	}
}

func FuzzScanQuery(f *testing.F) {
	for _, s := range querySeeds {
		f.Add(s)
	}
	f.Fuzz(checkQuery)
}

var mediaTypeSeeds = []string{
	"", "text/plain;charset=UTF-8", "text/plain; charset=UTF-8", "application/octet-stream",
	"Application/Octet-Stream", " application/octet-stream ", "application/octet-stream;",
	"application/octet-stream; charset=binary", "application/octet-stream; a=1; a=2",
	"application/octet-stream; =x", "application/octet-stream;;", "application/octet-streams",
	"application/octet-ſtream", "application/octet-stream\u00a0", "\u00a0application/octet-stream",
	"application/octet-stream; a*=x", "application /octet-stream",
}

func checkMediaType(t *testing.T, v string) {
	t.Helper()
	mt, _, _ := mime.ParseMediaType(v)
	if got, want := isOctetStream(v), mt == "application/octet-stream"; got != want {
		t.Fatalf("isOctetStream(%q) = %v, mime.ParseMediaType reads %q", v, got, mt)
	}
}

func TestIsOctetStream(t *testing.T) {
	for _, v := range mediaTypeSeeds {
		checkMediaType(t, v)
	}
}

func FuzzIsOctetStream(f *testing.F) {
	for _, v := range mediaTypeSeeds {
		f.Add(v)
	}
	f.Fuzz(checkMediaType)
}

var jsonStringSeeds = []string{"", "abc-_DEF", `a"b`, `a\b`, "<script>", "a&b", "tab\there", "é", "\u2028", "\xff", "\x7f"}

func checkJSONString(t *testing.T, s string) {
	t.Helper()
	want, _ := json.Marshal(s)
	if got := appendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
		t.Fatalf("appendJSONString(%q) = %s, encoding/json writes %s", s, got[1:], want)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range jsonStringSeeds {
		checkJSONString(t, s)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStringSeeds {
		f.Add(s)
	}
	f.Fuzz(checkJSONString)
}

// TestURLIsRequestURI holds urlIsRequestURI to r.URL.String() on requests
// as net/http's server reads them, and after a middleware rewrote the URL.
func TestURLIsRequestURI(t *testing.T) {
	for _, tt := range []struct {
		target  string
		rewrite func(*url.URL)
	}{
		{target: "/engine.io/?EIO=4&transport=polling"},
		{target: "/engine.io/"},
		{target: "/engine.io/?"},
		{target: "/engine.io/?EIO=4&transport=polling&sid=a%2Bb"},
		{target: "/a%2Fb/?EIO=4"},
		{target: "/caf%C3%A9/?x=1"},
		{target: "/a%20b/?x"},
		{target: "//host/path?x=1"},
		{target: "http://example.com/engine.io/?EIO=4"},
		{target: "*"},
		{target: "/engine.io/?EIO=4", rewrite: func(u *url.URL) { u.Path = "/io/" }},
		{target: "/engine.io/?EIO=4", rewrite: func(u *url.URL) { u.RawQuery = "EIO=3" }},
		{target: "/engine.io/?EIO=4", rewrite: func(u *url.URL) { u.Fragment = "f" }},
		{target: "/engine.io/", rewrite: func(u *url.URL) { u.ForceQuery = true }},
	} {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + tt.target + " HTTP/1.1\r\nHost: h\r\n\r\n")))
		if err != nil {
			t.Logf("%s: %v", tt.target, err)
			continue
		}
		if tt.rewrite != nil {
			tt.rewrite(r.URL)
		}
		same := r.URL.String() == r.RequestURI
		if got := urlIsRequestURI(r); got && !same {
			t.Errorf("%s: urlIsRequestURI true, but the URL is %q", tt.target, r.URL.String())
		} else if !got && same && tt.rewrite == nil && strings.HasPrefix(tt.target, "/") && !strings.HasPrefix(tt.target, "//") {
			t.Errorf("%s: urlIsRequestURI false for a plain request", tt.target)
		}
		hs := keepHandshake(r)
		back := hs.request()
		if back.URL.String() != r.URL.String() || back.RequestURI != r.RequestURI {
			t.Errorf("%s: kept URL %q, RequestURI %q; want %q, %q", tt.target, back.URL, back.RequestURI, r.URL, r.RequestURI)
		}
	}
}

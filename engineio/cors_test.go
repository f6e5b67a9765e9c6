package engineio_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/engineio"
)

type nopHandler struct{}

func (nopHandler) OnOpen(*engineio.Session)                      {}
func (nopHandler) OnClose(*engineio.Session, error)              {}
func (nopHandler) OnMessage(*engineio.Session, engineio.Message) {}

func TestCORS(t *testing.T) {
	list := &engineio.CORSOptions{Origin: []string{"http://good.example"}, Credentials: true, MaxAge: 600, ExposedHeaders: []string{"X-A"}}
	tests := []struct {
		name    string
		cors    *engineio.CORSOptions
		method  string
		origin  string
		reqHdrs string
		status  int
		want    map[string]string // header -> value ("" must be absent)
	}{
		{"off by default", nil, "GET", "http://good.example", "", 200, map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": "", "Vary": ""}},
		{"allowed handshake", list, "GET", "http://good.example", "", 200, map[string]string{
			"Access-Control-Allow-Origin": "http://good.example", "Access-Control-Allow-Credentials": "true",
			"Vary": "Origin", "Access-Control-Expose-Headers": "X-A", "Access-Control-Allow-Methods": ""}},
		{"other origin handshake", list, "GET", "http://evil.example", "", 200, map[string]string{
			"Access-Control-Allow-Origin": "", "Vary": "Origin"}},
		{"origin compared exactly", list, "GET", "HTTP://GOOD.EXAMPLE", "", 200, map[string]string{
			"Access-Control-Allow-Origin": ""}},
		{"preflight reflects asked headers", list, "OPTIONS", "http://good.example", "content-type,x-b", 204, map[string]string{
			"Access-Control-Allow-Origin": "http://good.example", "Access-Control-Allow-Methods": "GET,HEAD,PUT,PATCH,POST,DELETE",
			"Access-Control-Allow-Headers": "content-type,x-b", "Access-Control-Max-Age": "600",
			"Access-Control-Allow-Credentials": "true", "Vary": "Origin, Access-Control-Request-Headers"}},
		{"preflight from another origin", list, "OPTIONS", "http://evil.example", "", 204, map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": "GET,HEAD,PUT,PATCH,POST,DELETE"}},
		{"preflight with fixed headers and methods", &engineio.CORSOptions{Origin: []string{"*"}, Methods: []string{"GET", "POST"}, AllowedHeaders: []string{"X-C"}},
			"OPTIONS", "http://any.example", "x-d", 204, map[string]string{
				"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET,POST", "Access-Control-Allow-Headers": "X-C",
				"Vary": "", "Access-Control-Max-Age": ""}},
		{"function", &engineio.CORSOptions{AllowOriginFunc: func(o string) bool { return strings.HasSuffix(o, ".good.example") }},
			"GET", "http://a.good.example", "", 200, map[string]string{"Access-Control-Allow-Origin": "http://a.good.example"}},
		{"function refuses", &engineio.CORSOptions{AllowOriginFunc: func(o string) bool { return false }},
			"GET", "http://a.good.example", "", 200, map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"}},
		{"engine errors carry the headers", list, "GET", "http://good.example", "", 400, map[string]string{
			"Access-Control-Allow-Origin": "http://good.example"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := engineio.NewServer(nopHandler{}, &engineio.Options{CORS: tc.cors})
			if err != nil {
				t.Fatal(err)
			}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			defer func() {
				// The handshakes' sessions never poll: close them at once.
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
				defer cancel()
				srv.Shutdown(ctx)
			}()
			q := "?EIO=4&transport=polling"
			if tc.status == 400 {
				q = "?EIO=9&transport=polling"
			}
			req, _ := http.NewRequest(tc.method, hs.URL+"/engine.io/"+q, nil)
			req.Header.Set("Origin", tc.origin)
			if tc.reqHdrs != "" {
				req.Header.Set("Access-Control-Request-Headers", tc.reqHdrs)
			}
			if tc.method == "OPTIONS" {
				req.Header.Set("Access-Control-Request-Method", "POST")
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			for k, want := range tc.want {
				if got := strings.Join(res.Header.Values(k), ", "); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
		})
	}
}

package upstream_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/socketio"
	"github.com/pierhq/pier/upstream"
)

// Through Handshake, an accepted sails.io.js handshake calls the connect
// hook once (on the HTTP request, not again when the socket connects) and
// the socket gets the answer's data and rooms; a ticket header a client
// sends is not passed to the hook; a 4xx without a message refuses with
// the status text, a 5xx with "upstream connect hook failed".
func TestHandshakeHook(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	seen := make(chan map[string]any, 8)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var in map[string]any
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &in)
		seen <- in
		hd, _ := in["headers"].(map[string]any)
		cookie, _ := hd["cookie"].(string)
		switch {
		case strings.Contains(cookie, "deny=401"):
			w.WriteHeader(401)
		case strings.Contains(cookie, "deny=500"):
			w.WriteHeader(500)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"data":{"user":"u1"},"rooms":["team"]}`))
		}
	}))
	defer be.Close()
	eng := sailsbridge.EngineOptions()
	eng.Transports = []string{engineio.WebSocket, engineio.Polling}
	srv, err := socketio.NewServer(&socketio.Options{Engine: eng, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := upstream.NewHooks(&upstream.HookOptions{ConnectURL: be.URL + "/connect", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	hooks.Attach(srv.Of("/"))
	type conn struct {
		data  any
		rooms []socketio.Room
	}
	connected := make(chan conn, 1)
	srv.Of("/").OnConnection(func(s *socketio.Socket) { connected <- conn{s.Data(), s.Rooms()} })
	hs := httptest.NewServer(hooks.Handshake(srv))
	defer hs.Close()
	defer srv.Shutdown(t.Context())

	events := runSailsClient(t, hs.URL, "refused", "--cookie", "ok=1")
	if _, ok := jstest.First(events, "connect"); !ok {
		t.Fatalf("not admitted: %v", events)
	}
	select {
	case c := <-connected:
		if b, _ := json.Marshal(c.data); string(b) != `{"user":"u1"}` {
			t.Errorf("data %s", b)
		}
		if !slices.Contains(c.rooms, "team") {
			t.Errorf("rooms %v", c.rooms)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no connection")
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the hook was called %d times for one handshake", n)
	}
	in := <-seen
	if in["namespace"] != "/" || in["address"] != "127.0.0.1" {
		t.Errorf("hook body %v", in)
	}
	if q, _ := in["query"].(map[string]any); q["EIO"] != "3" || q["__sails_io_sdk_version"] != "1.2.1" {
		t.Errorf("hook query %v", in["query"])
	}

	req, _ := http.NewRequest("GET", hs.URL+"/socket.io/?EIO=3&transport=polling", nil)
	req.Header.Set("Pier-Upstream-Connect-Ticket", "forged")
	req.Header.Set("Cookie", "deny=401")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || string(b) != `{"code":4,"message":"Unauthorized"}` {
		t.Errorf("401 hook: %d %s", resp.StatusCode, b)
	}
	in = <-seen
	if hd, _ := in["headers"].(map[string]any); hd["pier-upstream-connect-ticket"] != nil {
		t.Errorf("the client's ticket header reached the hook: %v", hd)
	}

	req, _ = http.NewRequest("GET", hs.URL+"/socket.io/?EIO=3&transport=polling", nil)
	req.Header.Set("Cookie", "deny=500")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || string(b) != `{"code":4,"message":"upstream connect hook failed"}` {
		t.Errorf("500 hook: %d %s", resp.StatusCode, b)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d hook calls for three handshakes", n)
	}
}

package upstream_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/wiretest"
	"github.com/pierhq/pier/socketio"
	"github.com/pierhq/pier/upstream"
)

const (
	key1 = "key-one-0123456789abcdef"
	key2 = "key-two-0123456789abcdef"
)

type apiServer struct {
	url string // the Socket.IO server's root
	api string // the API's base URL
}

func startAPI(t *testing.T) *apiServer {
	t.Helper()
	srv, err := socketio.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	api, err := upstream.NewAPI(srv, &upstream.APIOptions{Keys: []string{key1, key2}, MaxBodyBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	root := http.NewServeMux()
	root.Handle("/socket.io/", srv)
	root.Handle("/pier/", http.StripPrefix("/pier", api))
	hs := httptest.NewServer(root)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	})
	return &apiServer{url: hs.URL, api: hs.URL + "/pier"}
}

// client is a raw Socket.IO v5 client on "/".
type client struct {
	t  *testing.T
	c  *wiretest.Conn
	id string
}

func dialClient(t *testing.T, base string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wiretest.Dial(ctx, base, "/socket.io/", 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Send("40"); err != nil {
		t.Fatal(err)
	}
	p, err := c.Read(10 * time.Second)
	if err != nil || !strings.HasPrefix(p, "40") {
		t.Fatalf("connect: %q %v", p, err)
	}
	var v struct{ Sid string }
	json.Unmarshal([]byte(p[2:]), &v)
	return &client{t: t, c: c, id: v.Sid}
}

func (c *client) next() string {
	c.t.Helper()
	p, err := c.c.Read(10 * time.Second)
	if err != nil {
		c.t.Fatalf("client %s: %v", c.id, err)
	}
	return p
}

// call POSTs body to the API with key and returns the status and answer.
func call(t *testing.T, a *apiServer, path, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", a.api+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, strings.TrimSpace(b.String())
}

func mustCall(t *testing.T, a *apiServer, path, body, want string) {
	t.Helper()
	code, got := call(t, a, path, key2, body)
	if code != 200 || got != want {
		t.Fatalf("%s %s: %d %s, want 200 %s", path, body, code, got, want)
	}
}

func TestAPIActsOnSockets(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	A, B := dialClient(t, a.url), dialClient(t, a.url)
	ok := `{"ok":true}`

	mustCall(t, a, "/join", `{"sockets":["`+A.id+`"],"join":["r1"]}`, ok)
	mustCall(t, a, "/emit", `{"rooms":["r1"],"event":"hi","data":{"n":1}}`, ok)
	if p := A.next(); p != `42["hi",{"n":1}]` {
		t.Errorf("A got %s", p)
	}
	mustCall(t, a, "/emit", `{"event":"x","except":["r1"]}`, ok)
	mustCall(t, a, "/emit", `{"event":"all","args":[1,"two"]}`, ok)
	if p := B.next(); p != `42["x"]` {
		t.Errorf("B got %s, want x (and not hi)", p)
	}
	if p := B.next(); p != `42["all",1,"two"]` {
		t.Errorf("B got %s", p)
	}
	if p := A.next(); p != `42["all",1,"two"]` {
		t.Errorf("A got %s, want all (x excepted r1)", p)
	}
	mustCall(t, a, "/sockets", `{"rooms":["r1"]}`, `{"sockets":[{"id":"`+A.id+`","rooms":["`+A.id+`","r1"]}]}`)
	mustCall(t, a, "/join", `{"rooms":["r1"],"join":["r2"]}`, ok) // addRoomMembersToRooms
	mustCall(t, a, "/sockets", `{"rooms":["r2"]}`, `{"sockets":[{"id":"`+A.id+`","rooms":["`+A.id+`","r1","r2"]}]}`)
	mustCall(t, a, "/leave", `{"rooms":["r2"],"leave":["r1"]}`, ok) // removeRoomMembersFromRooms
	mustCall(t, a, "/sockets", `{"sockets":["`+A.id+`"]}`, `{"sockets":[{"id":"`+A.id+`","rooms":["`+A.id+`","r2"]}]}`)
	mustCall(t, a, "/leave-all", `{"sockets":["`+A.id+`"]}`, ok)
	mustCall(t, a, "/sockets", `{"rooms":["r2"]}`, `{"sockets":[]}`)
	mustCall(t, a, "/disconnect", `{"sockets":["`+B.id+`"]}`, ok)
	if p := B.next(); p != "41" {
		t.Errorf("B got %s, want a disconnect", p)
	}
	// Both keys work (rotation); code checked above with key2. The
	// disconnection runs on B's dispatch queue after /disconnect answers,
	// so B leaves the list within a moment, not at once.
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, got := call(t, a, "/sockets", key1, `{}`)
		if code == 200 && strings.Contains(got, A.id) && !strings.Contains(got, B.id) {
			break
		}
		if code != 200 || !strings.Contains(got, A.id) || time.Now().After(deadline) {
			t.Fatalf("with key1: %d %s", code, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAPIRefusesBadCalls(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	for _, tc := range []struct {
		name, path, key, body string
		code                  int
		want                  string
	}{
		{"no key", "/emit", "", `{"event":"e"}`, 401, `{"error":"missing or wrong bearer key"}`},
		{"wrong key", "/emit", "key-three-0123456789abcdef", `{"event":"e"}`, 401, `{"error":"missing or wrong bearer key"}`},
		{"no event", "/emit", key1, `{}`, 400, `{"error":"required","field":"event"}`},
		{"event type", "/emit", key1, `{"event":1}`, 400, `{"error":"must be a string, not number","field":"event"}`},
		{"rooms type", "/emit", key1, `{"event":"e","rooms":"r1"}`, 400, `{"error":"must be an array, not string","field":"rooms"}`},
		{"unknown field", "/emit", key1, `{"event":"e","room":"r1"}`, 400, `{"error":"unknown field","field":"room"}`},
		{"data and args", "/emit", key1, `{"event":"e","data":1,"args":[1]}`, 400, `{"error":"give data or args, not both","field":"args"}`},
		{"namespace", "/emit", key1, `{"event":"e","namespace":"/admin"}`, 400, `{"error":"not a namespace of this API: /admin","field":"namespace"}`},
		{"join nothing", "/join", key1, `{"sockets":["a"]}`, 400, `{"error":"required: the rooms to join","field":"join"}`},
		{"join whom", "/join", key1, `{"join":["r"]}`, 400, `{"error":"sockets or rooms is required","field":"sockets"}`},
		{"disconnect all", "/disconnect", key1, `{}`, 400, `{"error":"sockets or rooms is required","field":"sockets"}`},
		{"not JSON", "/emit", key1, `{"event":`, 400, `{"error":"invalid JSON: unexpected EOF"}`},
		{"not an object", "/emit", key1, `[1]`, 400, `{"error":"the body must be a JSON object"}`},
		{"too large", "/emit", key1, `{"event":"e","data":"` + strings.Repeat("x", 5000) + `"}`, 413, `{"error":"body over 4096 bytes"}`},
		{"no such call", "/blast", key1, `{}`, 404, `{"error":"no such call: POST /blast"}`},
	} {
		code, got := call(t, a, tc.path, tc.key, tc.body)
		if code != tc.code || got != tc.want {
			t.Errorf("%s: %d %s, want %d %s", tc.name, code, got, tc.code, tc.want)
		}
	}
	for _, keys := range [][]string{nil, {"short"}} {
		if _, err := upstream.NewAPI(&socketio.Server{}, &upstream.APIOptions{Keys: keys}); err == nil {
			t.Errorf("keys %q accepted", keys)
		}
	}
}

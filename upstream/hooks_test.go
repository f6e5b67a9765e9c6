package upstream_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/wiretest"
	"github.com/pierhq/pier/socketio"
	"github.com/pierhq/pier/upstream"
)

// The connect hook admits or refuses sockets and gives them data and
// rooms; events go to the backend, whose array answer is the ack; the
// disconnect is reported.
func TestHooks(t *testing.T) {
	t.Parallel()
	calls := make(chan map[string]any, 16)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &in)
		if r.Header.Get("X-Secret") != "s" {
			w.WriteHeader(500)
			return
		}
		calls <- in
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/connect":
			auth, _ := in["auth"].(map[string]any)
			if auth["token"] != "good" {
				w.WriteHeader(401)
				w.Write([]byte(`{"message":"bad token","data":{"code":7}}`))
				return
			}
			w.Write([]byte(`{"data":{"user":"u1"},"rooms":["team"]}`))
		case "/events":
			w.Write([]byte(`["ok",2]`))
		}
	}))
	defer be.Close()
	srv, err := socketio.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := upstream.NewHooks(&upstream.HookOptions{
		ConnectURL: be.URL + "/connect", EventsURL: be.URL + "/events", Events: []string{"chat"},
		Headers: http.Header{"X-Secret": {"s"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	hooks.Attach(srv.Of("/"))
	hs := httptest.NewServer(srv)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	}()

	dial := func(auth string) (*wiretest.Conn, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := wiretest.Dial(ctx, hs.URL, "/socket.io/", 4)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Send("40" + auth); err != nil {
			t.Fatal(err)
		}
		p, err := c.Read(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return c, p
	}
	next := func() map[string]any {
		select {
		case c := <-calls:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("no call to the backend")
		}
		return nil
	}

	bad, p := dial(`{"token":"bad"}`)
	bad.Close()
	if p != `44{"message":"bad token","data":{"code":7}}` {
		t.Errorf("refused connect: %s", p)
	}
	next()

	c, p := dial(`{"token":"good"}`)
	defer c.Close()
	if !strings.HasPrefix(p, `40{"sid":"`) {
		t.Fatalf("connect: %s", p)
	}
	var sid struct{ Sid string }
	json.Unmarshal([]byte(p[2:]), &sid)
	in := next()
	if h, _ := in["headers"].(map[string]any); in["namespace"] != "/" || h == nil || h["host"] == nil {
		t.Errorf("connect hook got %v", in)
	}
	socks, err := srv.Of("/").In("team").FetchSockets(context.Background())
	if err != nil || len(socks) != 1 || socks[0].ID != sid.Sid {
		t.Errorf("room team: %v %v", socks, err)
	}

	c.Send(`421["chat","hi",{"n":1}]`)
	if p, err := c.Read(10 * time.Second); err != nil || p != `431["ok",2]` {
		t.Errorf("ack: %q %v", p, err)
	}
	in = next()
	b, _ := json.Marshal(in)
	for _, want := range []string{`"event":"chat"`, `"args":["hi",{"n":1}]`, `"data":{"user":"u1"}`, `"socketId":"` + sid.Sid + `"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("event hook got %s, want %s", b, want)
		}
	}
	c.Send("41")
	in = next()
	if in["event"] != "disconnect" || in["socketId"] != sid.Sid || in["reason"] != socketio.ReasonClientDisconnect {
		t.Errorf("disconnect hook got %v", in)
	}
	if _, err := upstream.NewHooks(&upstream.HookOptions{Events: []string{"x"}}); err == nil {
		t.Error("Events without EventsURL accepted")
	}
}

// A connect hook that fails (unreachable, 5xx, an answer over the bound)
// refuses the connection with a clear connect_error, never hangs it.
func TestConnectHookFailures(t *testing.T) {
	t.Parallel()
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/500":
			w.WriteHeader(500)
		case "/huge":
			w.Write([]byte(`{"data":"` + strings.Repeat("x", 4096) + `"}`))
		}
	}))
	defer be.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	for _, u := range []string{be.URL + "/500", be.URL + "/huge", down.URL + "/connect"} {
		srv, err := socketio.NewServer(nil)
		if err != nil {
			t.Fatal(err)
		}
		hooks, err := upstream.NewHooks(&upstream.HookOptions{ConnectURL: u, MaxBodyBytes: 1024, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		hooks.Attach(srv.Of("/"))
		hs := httptest.NewServer(srv)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := wiretest.Dial(ctx, hs.URL, "/socket.io/", 4)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		c.Send("40")
		if p, err := c.Read(10 * time.Second); err != nil || p != `44{"message":"upstream connect hook failed"}` {
			t.Errorf("%s: %q %v", u, p, err)
		}
		c.Close()
		sctx, scancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		srv.Shutdown(sctx)
		scancel()
		hs.Close()
	}
}

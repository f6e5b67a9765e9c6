package sailsbridge_test

import (
	"time"

	"context"
	"github.com/pierhq/pier/internal/jstest"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/session"
	"github.com/pierhq/pier/socketio"
)

// sessionApp serves one session.Manager to plain HTTP and to sails.io.js
// virtual requests: /login puts a user in the session, /session/visit
// counts visits in it.
type sessionApp struct {
	testApp
	m         *session.Manager
	io        *socketio.Server
	mu        sync.Mutex
	afterUser string
	afterN    float64
	after     chan struct{}
}

func newSessionApp(t *testing.T) *sessionApp {
	store := session.NewMemoryStore(nil)
	t.Cleanup(func() { store.Close() })
	m, err := session.New(store, &session.Options{Secrets: []string{"keyboard cat"}})
	if err != nil {
		t.Fatal(err)
	}
	a := &sessionApp{m: m, after: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Set("user", "alice")
		s.Set("passport", map[string]any{"user": 42})
		w.Write([]byte("ok"))
	})
	mux.HandleFunc("/session/visit", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		var n float64
		s.Get("visits", &n)
		n++
		s.Set("visits", n)
		var user string
		s.Get("user", &user)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"visits":` + strconv.Itoa(int(n)) + `,"user":"` + user + `"}`))
	})
	handler := sailsbridge.SessionMiddleware(m, mux)
	bridge, err := sailsbridge.New(handler, &sailsbridge.Options{
		Sessions: sailsbridge.Sessions(m),
		AfterDisconnect: func(ctx context.Context, s *socketio.Socket, reason string) {
			sess := session.FromContext(ctx)
			a.mu.Lock()
			if sess != nil {
				sess.Get("user", &a.afterUser)
				sess.Get("visits", &a.afterN)
			}
			a.mu.Unlock()
			a.after <- struct{}{}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	io, err := socketio.NewServer(&socketio.Options{Engine: sailsbridge.EngineOptions()})
	if err != nil {
		t.Fatal(err)
	}
	a.io = io
	bridge.Attach(io.Of("/"))
	root := http.NewServeMux()
	root.Handle("/socket.io/", bridge.Guard(io))
	root.Handle("/", handler)
	ts := httptest.NewServer(root)
	t.Cleanup(ts.Close)
	a.url = ts.URL
	return a
}

func TestSessionsSharedWithHTTP(t *testing.T) {
	t.Parallel()
	a := newSessionApp(t)
	// Log in over HTTP; the socket presents the cookie HTTP issued.
	res, err := http.Get(a.url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var cookie string
	for _, c := range res.Cookies() {
		if c.Name == session.DefaultCookieName {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		t.Fatal("no session cookie from /login")
	}
	rs := results(t, runNode(t, &a.testApp, "session", "--cookie", cookie))
	for name, want := range map[string]float64{"v1": 1, "v2": 2} {
		body, _ := rs[name].Body.(map[string]any)
		if body["user"] != "alice" || body["visits"] != want {
			t.Errorf("%s = %v, want user alice and %v visits", name, rs[name].Body, want)
		}
	}
	<-a.after
	a.mu.Lock()
	if a.afterUser != "alice" || a.afterN != 2 {
		t.Errorf("afterDisconnect saw user %q, %v visits; want alice, 2", a.afterUser, a.afterN)
	}
	a.mu.Unlock()
	// What the socket wrote is there for HTTP.
	req, _ := http.NewRequest("GET", a.url+"/session/visit", nil)
	req.Header.Set("Cookie", cookie)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	buf := new(strings.Builder)
	if _, err := io.Copy(buf, res.Body); err != nil || !strings.Contains(buf.String(), `"visits":3`) {
		t.Errorf("HTTP after the socket: %q, want 3 visits", buf.String())
	}
}

func TestSessionsCookieless(t *testing.T) {
	t.Parallel()
	a := newSessionApp(t)
	// No cookie: the server makes a session when the socket connects, and
	// every virtual request of the socket uses it.
	rs := results(t, runNode(t, &a.testApp, "session"))
	for name, want := range map[string]float64{"v1": 1, "v2": 2} {
		body, _ := rs[name].Body.(map[string]any)
		if body["visits"] != want {
			t.Errorf("%s = %v, want %v visits", name, rs[name].Body, want)
		}
	}
	<-a.after
}

func login(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == session.DefaultCookieName {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatal("no session cookie from /login")
	return ""
}

// TestUserSockets: a socket whose session has a passport user is in the
// user's room, UserSockets finds it and DisconnectUser kicks it.
func TestUserSockets(t *testing.T) {
	t.Parallel()
	a := newSessionApp(t)
	cookie := login(t, a.url)
	type result struct {
		events []jstest.Event
		err    error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		events, err := jstest.Run(ctx, t, "sails-client.js", "--url", a.url, "--scenario", "kicked", "--cookie", cookie)
		done <- result{events, err}
	}()
	ctx := context.Background()
	ns := a.io.Of("/")
	deadline := time.Now().Add(10 * time.Second)
	for {
		socks, err := sailsbridge.UserSockets(ctx, ns, "42")
		if err != nil {
			t.Fatal(err)
		}
		if len(socks) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("UserSockets = %d sockets, want 1", len(socks))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if socks, _ := sailsbridge.UserSockets(ctx, ns, "43"); len(socks) != 0 {
		t.Fatalf("another user has %d sockets", len(socks))
	}
	if err := sailsbridge.DisconnectUser(ctx, ns, "42"); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil || len(jstest.Filter(r.events, "kicked")) != 1 {
		t.Fatalf("the client was not disconnected: %v %v", r.events, r.err)
	}
	<-a.after
}

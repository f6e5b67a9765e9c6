package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pierhq/pier/internal/browsertest"
	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/session"
	"github.com/pierhq/pier/socketio"
)

// startDemo serves what `pier` serves by default (the relay app and the
// demo page) plus the admin dashboard at /admin-ui/ with the login
// admin/changeit, on a random port.
func startDemo(t *testing.T, sopts session.Options) (string, *socketio.Server) {
	t.Helper()
	jstest.Install(t) // sails.io.js for the demo page
	uiDir := browsertest.UIDir(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	sio, err := newDefaultApp(&socketio.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	sopts.Secrets = []string{"browser-test-secret"}
	sopts.Logger = log
	store := session.NewMemoryStore(nil)
	sessions, err := session.New(store, &sopts)
	if err != nil {
		t.Fatal(err)
	}
	demo, err := newDemo(sio, sessions, nil, "", log, sailsbridge.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("changeit"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", demo)
	ad, err := mountAdmin(mux, sio, adminConfig{ServerID: "pier-browser-test", UIDir: uiDir, AdminConfig: AdminConfig{
		Enabled: true, Path: "/admin", UIPath: "/admin-ui", Auth: AdminAuthConfig{Username: "admin", PasswordHash: string(hash)}}}, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		ad.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sio.Shutdown(ctx)
		store.Close()
	})
	return srv.URL, sio
}

func runBrowser(t *testing.T, url, scenario, artifacts string, extra ...string) []jstest.Event {
	t.Helper()
	browsertest.Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ev, err := browsertest.Run(ctx, t, "browser.js", append([]string{"--scenario", scenario, "--url", url,
		"--out", browsertest.ArtifactDir(t, artifacts)}, extra...)...)
	for _, e := range ev {
		switch e.Name() {
		case "page":
			t.Logf("page %s (%s):\n%s", e.String("name"), e.String("screenshot"), e.String("text"))
		case "browser", "console", "reload", "logged_in", "demo_socket", "ui_join":
			t.Logf("%v", e)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestBrowserAdminUI logs in to the real @socket.io/admin-ui dashboard,
// served by Pier, in headless Chromium, with the demo page open in another
// tab, and reads Pier's sockets, rooms and servers off its pages.
func TestBrowserAdminUI(t *testing.T) {
	url, sio := startDemo(t, session.Options{})
	joined := make(chan string, 8)
	sio.Observe(&socketio.Observer{RoomsJoined: func(n *socketio.Namespace, id string, rooms []socketio.Room) {
		if slices.Contains(rooms, "from-ui") {
			joined <- id
		}
	}})
	ev := runBrowser(t, url, "admin-ui", "admin-ui", "--ui", "/admin-ui/", "--username", "admin", "--password", "changeit")
	socks, _ := jstest.First(ev, "sockets")
	demo, _ := jstest.First(ev, "demo_socket")
	if id := demo.String("id"); id == "" || !strings.Contains(socks.String("text"), id) {
		t.Errorf("sockets page does not list the demo page's socket %q:\n%s", id, socks.String("text"))
	}
	rooms, _ := jstest.First(ev, "rooms")
	if !strings.Contains(rooms.String("text"), "chat") {
		t.Errorf("rooms page has no chat room:\n%s", rooms.String("text"))
	}
	servers, _ := jstest.First(ev, "servers")
	if !strings.Contains(servers.String("text"), "pier-browser-test") {
		t.Errorf("servers page does not list pier-browser-test:\n%s", servers.String("text"))
	}
	select {
	case id := <-joined:
		if id != demo.String("id") {
			t.Errorf("the dashboard's join reached socket %s, want the demo's %s", id, demo.String("id"))
		}
	default:
		t.Errorf("the dashboard's \"Join a room\" did not reach the server")
	}
	if r, _ := jstest.First(ev, "reload"); !r.Bool("relogged") {
		t.Errorf("after a reload the dashboard did not log in again with its session: %v", r)
	}
}

// TestBrowserDemo has two users chat on the demo page, then one reloads:
// its session, and so its visit counter, must survive, with Sails' session
// defaults and with express-session's.
func TestBrowserDemo(t *testing.T) {
	for _, c := range []struct {
		name string
		opts session.Options
	}{
		{"default", session.Options{}},
		{"resave-saveUninitialized", session.Options{Resave: true, SaveUninitialized: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			url, _ := startDemo(t, c.opts)
			ev := runBrowser(t, url, "demo", "demo-"+c.name)
			r, ok := jstest.First(ev, "reload")
			if !ok || r.Number("after") != r.Number("before")+1 {
				t.Errorf("reload: %v", r)
			}
		})
	}
}

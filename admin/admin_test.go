package admin_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/internal/browsertest"
	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/socketio"
)

// newServer returns a Pier server instrumented with opts (credentials
// admin/changeit unless opts says otherwise) and a small application on
// "/": each socket joins "lobby", "hello" is answered with "news" to the
// sender and "rooms" is acknowledged with the socket's rooms.
func newServer(t *testing.T, opts admin.Options) string {
	t.Helper()
	return newServerWith(t, nil, opts)
}

func newServerWith(t *testing.T, sopts *socketio.Options, opts admin.Options) string {
	t.Helper()
	io, err := socketio.NewServer(sopts)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Auth == nil && !opts.NoAuth {
		hash, err := bcrypt.GenerateFromPassword([]byte("changeit"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		opts.Auth = &admin.BasicAuth{Username: "admin", PasswordHash: string(hash)}
	}
	if opts.ServerID == "" {
		opts.ServerID = "pier-test"
	}
	ad, err := admin.Instrument(io, &opts)
	if err != nil {
		t.Fatal(err)
	}
	io.OnConnection(func(s *socketio.Socket) {
		s.Join("lobby")
		s.On("hello", func(s *socketio.Socket, e *socketio.Event) { s.Emit("news", "welcome") })
		s.On("rooms", func(s *socketio.Socket, e *socketio.Event) {
			var names []string
			for _, r := range s.Rooms() {
				names = append(names, string(r))
			}
			e.Ack(names)
		})
	})
	srv := httptest.NewServer(io)
	t.Cleanup(func() {
		srv.Close()
		ad.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		io.Shutdown(ctx)
	})
	return srv.URL
}

func run(t *testing.T, url, scenario string, extra ...string) []jstest.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ev, err := browsertest.Run(ctx, t, "admin-client.js", append([]string{"--url", url, "--scenario", scenario}, extra...)...)
	if err != nil {
		for _, e := range ev {
			if e.String("name") != "server_stats" {
				t.Logf("%v", e)
			}
		}
		t.Fatal(err)
	}
	return ev
}

// adminEvents returns the admin events named name, in order.
func adminEvents(events []jstest.Event, name string) []jstest.Event {
	var out []jstest.Event
	for _, e := range jstest.Filter(events, "admin") {
		if e.String("name") == name {
			out = append(out, e)
		}
	}
	return out
}

func args(e jstest.Event) []any { a, _ := e["args"].([]any); return a }

func TestBadCredentials(t *testing.T) {
	url := newServer(t, admin.Options{})
	for _, creds := range [][]string{
		{"--username", "admin", "--password", "wrong"},
		{"--username", "root", "--password", "changeit"},
		{},
	} {
		ev := run(t, url, "badauth", creds...)
		ce, ok := jstest.First(ev, "connect_error")
		if !ok || ce.String("message") != "invalid credentials" {
			t.Errorf("%v: want connect_error \"invalid credentials\", got %v", creds, ev)
		}
	}
}

func TestCommandsAndEvents(t *testing.T) {
	for _, tr := range []string{"polling,websocket", "websocket"} {
		t.Run(tr, func(t *testing.T) {
			url := newServer(t, admin.Options{})
			ev := run(t, url, "commands", "--username", "admin", "--password", "changeit", "--transports", tr)
			checkGreeting(t, ev, []string{"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"})
			app, _ := jstest.First(ev, "app_connect")
			id := app.String("id")

			// The new socket: own room, then the snapshot, then later joins.
			var order []string
			for _, e := range jstest.Filter(ev, "admin") {
				a := args(e)
				switch e.String("name") {
				case "room_joined", "room_left":
					if a[2] == id {
						order = append(order, e.String("name")+":"+a[1].(string))
					}
				case "socket_connected":
					if s := a[0].(map[string]any); s["id"] == id {
						order = append(order, "socket_connected")
						checkSerialized(t, s)
					}
				case "socket_disconnected":
					if a[1] == id {
						order = append(order, "socket_disconnected:"+a[2].(string))
					}
				}
			}
			want := []string{"room_joined:" + id, "socket_connected", "room_joined:lobby", "room_joined:from-ui",
				"socket_disconnected:server namespace disconnect", "room_left:" + id, "room_left:from-ui", "room_left:lobby"}
			if !slices.Equal(order, want) {
				t.Errorf("events of the app socket:\n got %q\nwant %q", order, want)
			}
			var received, sent []any
			for _, e := range adminEvents(ev, "event_received") {
				if a := args(e); a[1] == id && received == nil {
					received = a[2].([]any)
				}
			}
			for _, e := range adminEvents(ev, "event_sent") {
				if args(e)[1] == id {
					sent = append(sent, args(e)[2].([]any)[0])
				}
			}
			if len(received) != 3 || received[0] != "hello" || received[1] != "a" {
				t.Errorf("event_received args = %v, want [hello a {b:1}]", received)
			}
			if !slices.Contains(sent, any("news")) {
				t.Errorf("event_sent names = %v, want news among them", sent)
			}
			news := jstest.Filter(ev, "app_news")
			if len(news) != 2 || args(news[1])[0] != "from-admin" || args(news[1])[1] != float64(42) {
				t.Errorf("app news = %v, want welcome then the admin's emit (from-admin, 42)", news)
			}
			d, _ := jstest.First(ev, "app_disconnect")
			if d.String("reason") != "io server disconnect" {
				t.Errorf("app disconnect reason = %q", d.String("reason"))
			}
			checkStats(t, ev)
			if tr == "polling,websocket" {
				var up []any
				for _, e := range adminEvents(ev, "socket_updated") {
					up = append(up, args(e)[0])
				}
				want := map[string]any{"id": id, "nsp": "/", "transport": "websocket"}
				if !slices.ContainsFunc(up, func(u any) bool { return reflect.DeepEqual(u, want) }) {
					t.Errorf("socket_updated events %v, want %v", up, want)
				}
			}
		})
	}
}

func TestReadOnlyProduction(t *testing.T) {
	url := newServer(t, admin.Options{ReadOnly: true, Production: true})
	ev := run(t, url, "readonly", "--username", "admin", "--password", "changeit")
	checkGreeting(t, ev, []string{"AGGREGATED_EVENTS"})
	for _, e := range jstest.Filter(ev, "admin") {
		switch e.String("name") {
		case "session", "config", "server_stats":
		default:
			t.Errorf("production mode sent %s", e.String("name"))
		}
	}
	for _, r := range jstest.Filter(ev, "app_rooms") {
		if slices.Contains(r["rooms"].([]any), any("from-ui")) {
			t.Errorf("read-only server joined a room: %v", r)
		}
	}
	if n := len(jstest.Filter(ev, "app_news")); n != 1 {
		t.Errorf("app got %d news, want only the server's welcome (emit refused)", n)
	}
}

// checkGreeting checks what a dashboard gets on login.
func checkGreeting(t *testing.T, ev []jstest.Event, features []string) {
	t.Helper()
	s := adminEvents(ev, "session")
	if len(s) != 1 || len(args(s[0])[0].(string)) != 16 {
		t.Errorf("session events %v, want one with a 16-hex-digit id", s)
	}
	c := adminEvents(ev, "config")
	if len(c) != 1 {
		t.Fatalf("config events: %v", c)
	}
	var got []string
	for _, f := range args(c[0])[0].(map[string]any)["supportedFeatures"].([]any) {
		got = append(got, f.(string))
	}
	if !slices.Equal(got, features) {
		t.Errorf("features %v, want %v", got, features)
	}
	if slices.Contains(features, "ALL_EVENTS") {
		all := adminEvents(ev, "all_sockets")
		if len(all) != 1 {
			t.Fatalf("all_sockets events: %d", len(all))
		}
		list := args(all[0])[0].([]any)
		if len(list) == 0 {
			t.Errorf("all_sockets is empty; want at least the admin socket")
		}
	}
}

func checkSerialized(t *testing.T, s map[string]any) {
	t.Helper()
	if s["nsp"] != "/" || len(s["clientId"].(string)) != 12 || s["transport"] == "" {
		t.Errorf("serialized socket %v", s)
	}
	if r := s["rooms"].([]any); len(r) != 1 || r[0] != s["id"] {
		t.Errorf("snapshot rooms %v, want only the own room", r)
	}
	hs := s["handshake"].(map[string]any)
	if hs["address"] == "" || hs["issued"].(float64) < 1e12 || hs["query"].(map[string]any)["EIO"] != "4" {
		t.Errorf("handshake %v", hs)
	}
}

func checkStats(t *testing.T, ev []jstest.Event) {
	t.Helper()
	st := adminEvents(ev, "server_stats")
	if len(st) == 0 {
		t.Fatal("no server_stats")
	}
	s := args(st[0])[0].(map[string]any)
	if s["serverId"] != "pier-test" || s["clientsCount"].(float64) < 1 || s["uptime"].(float64) <= 0 {
		t.Errorf("server_stats %v", s)
	}
	var names []string
	for _, n := range s["namespaces"].([]any) {
		names = append(names, n.(map[string]any)["name"].(string))
	}
	if !slices.Contains(names, "/") || !slices.Contains(names, "/admin") {
		t.Errorf("namespaces %v", names)
	}
	types := map[string]float64{}
	for _, e := range st {
		for _, b := range args(e)[0].(map[string]any)["aggregatedEvents"].([]any) {
			m := b.(map[string]any)
			types[m["type"].(string)] += m["count"].(float64)
		}
	}
	for _, k := range []string{"rawConnection", "packetsIn", "bytesIn", "packetsOut", "bytesOut"} {
		if types[k] == 0 {
			t.Errorf("aggregatedEvents: no %s (%v)", k, types)
		}
	}
}

// TestCluster runs two Pier servers, A and B, over Redis with the admin
// namespace on both: a dashboard on A sees B's statistics and B's socket,
// and its command reaches that socket.
func TestCluster(t *testing.T) {
	rs := redistest.Shared(t)
	key := fmt.Sprintf("admin-test-%d", time.Now().UnixNano())
	var urls []string
	for _, id := range []string{"A", "B"} {
		rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
		t.Cleanup(func() { rdb.Close() })
		urls = append(urls, newServerWith(t, &socketio.Options{Adapter: redisadapter.New(rdb, &redisadapter.Options{Key: key})},
			admin.Options{ServerID: id, StatsInterval: 300 * time.Millisecond}))
	}
	ev := run(t, urls[0], "cluster", "--app-url", urls[1], "--username", "admin", "--password", "changeit")
	r, _ := jstest.First(ev, "remote_socket")
	t.Logf("remote socket listed by A: %v", r["socket"])
	s, _ := r["socket"].(map[string]any)
	if s == nil || s["nsp"] != "/" || !slices.Contains(s["rooms"].([]any), any("from-ui")) {
		t.Errorf("remote socket in all_sockets: %v", r)
	}
}

package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pierhq/pier/socketio"
)

func TestInstrumentOptions(t *testing.T) {
	io, err := socketio.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opts *Options
		err  string
	}{
		{"nil options", nil, "Auth is required"},
		{"no auth", &Options{}, "Auth is required"},
		{"bad hash", &Options{Auth: &BasicAuth{Username: "a", PasswordHash: "changeit"}}, "bcrypt hash"},
		{"open", &Options{NoAuth: true, Namespace: "/open"}, ""},
		{"hash", &Options{Auth: &BasicAuth{Username: "a", PasswordHash: "$2b$04$2lHfIVlPHkT8dz/ru6PtZ.3d4.l/fAFbkRwZ3c08kxeMM5Kq9KhAK"}, Namespace: "/hashed"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := Instrument(io, c.opts)
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				a.Close()
				a.Close() // idempotent
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err = %v, want one mentioning %q", err, c.err)
			}
		})
	}
}

func TestStatsDrain(t *testing.T) {
	st := newStats()
	st.add("bytesIn", "", 10)
	st.add("bytesIn", "", 5)
	st.add("rawDisconnection", "ping timeout", 1)
	st.add("packetsIn", "", 2)
	got := st.drain()
	if len(got) != 3 {
		t.Fatalf("drain = %+v, want 3 buckets", got)
	}
	byType := map[string]aggregatedEvent{}
	for _, e := range got {
		byType[e.Type] = e
		if e.Timestamp%1000 != 0 || time.Since(time.UnixMilli(e.Timestamp)) > time.Minute {
			t.Errorf("timestamp %d is not a recent whole second", e.Timestamp)
		}
	}
	if byType["bytesIn"].Count != 15 || byType["rawDisconnection"].SubType != "ping timeout" {
		t.Errorf("buckets %+v", got)
	}
	b, _ := json.Marshal(byType["bytesIn"])
	if strings.Contains(string(b), "subType") {
		t.Errorf("%s: subType must be omitted when empty", b)
	}
	if again := st.drain(); len(again) != 0 {
		t.Errorf("second drain = %+v, want nothing", again)
	}
}

func TestUIHandler(t *testing.T) {
	fsys := fstest.MapFS{"index.html": {Data: []byte("<title>ui</title>")}, "js/app.js": {Data: []byte("x")}}
	if err := CheckUI(fsys); err != nil {
		t.Fatal(err)
	}
	if err := CheckUI(fstest.MapFS{}); err == nil {
		t.Error("CheckUI of an empty folder: want an error")
	}
	mux := http.NewServeMux()
	h := http.StripPrefix("/ui", UIHandler(fsys))
	mux.Handle("/ui", h)
	mux.Handle("/ui/", h)
	deep := http.StripPrefix("/x/ui", UIHandler(fsys))
	mux.Handle("/x/ui", deep)
	for _, c := range []struct {
		path, want string
		code       int
	}{
		{"/ui", "ui/", http.StatusMovedPermanently},
		{"/x/ui?a=b", "ui/", http.StatusMovedPermanently},
		{"/ui/", "<title>ui</title>", http.StatusOK},
		{"/ui/js/app.js", "x", http.StatusOK},
		{"/ui/nope", "", http.StatusNotFound},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", c.path, nil))
		if rec.Code != c.code {
			t.Errorf("%s: %d, want %d", c.path, rec.Code, c.code)
		}
		if c.code == http.StatusMovedPermanently && rec.Header().Get("Location") != c.want {
			t.Errorf("%s: Location %q, want %q", c.path, rec.Header().Get("Location"), c.want)
		}
		if c.code == http.StatusOK && rec.Body.String() != c.want {
			t.Errorf("%s: body %q", c.path, rec.Body.String())
		}
	}
}

func TestSerializeHelpers(t *testing.T) {
	if got := publicData(map[string]any{"_admin": 1, "user": "x"}); !reflect.DeepEqual(got, map[string]any{"user": "x"}) {
		t.Errorf("publicData = %v", got)
	}
	if got := publicData(json.RawMessage(`{"_admin":{},"n":1}`)); !reflect.DeepEqual(got, map[string]any{"n": float64(1)}) {
		t.Errorf("publicData(raw) = %v", got)
	}
	if b, _ := json.Marshal(publicData(nil)); string(b) != "{}" {
		t.Errorf("publicData(nil) = %s", b)
	}
	if b, _ := json.Marshal(publicData(func() {})); string(b) != "{}" {
		t.Errorf("publicData(func) = %s, want {}", b)
	}
	if got := roomNames("me", []socketio.Room{"z", "me", "a"}); !reflect.DeepEqual(got, []string{"me", "a", "z"}) {
		t.Errorf("roomNames = %v", got)
	}
	hs := &socketio.Handshake{
		Header:  http.Header{"X-Forwarded-For": {"10.0.0.1, 10.0.0.2"}, "User-Agent": {"ua"}},
		Query:   url.Values{"EIO": {"4"}},
		Address: "127.0.0.1",
		Time:    time.Date(2026, 12, 2, 20, 57, 35, 305e6, time.UTC),
		URL:     "/socket.io/?EIO=4",
	}
	s := serializeHandshake(hs)
	if s.Address != "10.0.0.1, 10.0.0.2" || s.Headers["user-agent"] != "ua" || s.Query["EIO"] != "4" ||
		s.Issued != 1796245055305 || s.Time != "Wed Dec 02 2026 20:57:35 GMT+0000 (UTC)" {
		t.Errorf("handshake %+v", s)
	}
	if got := timestamp(hs.Time); got != "2026-12-02T20:57:35.305Z" {
		t.Errorf("timestamp = %s", got)
	}
}

func TestMemoryStoreBound(t *testing.T) {
	ctx := t.Context()
	m := NewMemoryStore()
	for i := range MaxMemorySessions + 5 {
		if err := m.SaveSession(ctx, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		id   string
		want bool
	}{{"0", false}, {"4", false}, {"5", true}, {fmt.Sprint(MaxMemorySessions + 4), true}, {"nope", false}} {
		if ok, _ := m.SessionExists(ctx, c.id); ok != c.want {
			t.Errorf("SessionExists(%s) = %v, want %v", c.id, ok, c.want)
		}
	}
	if len(m.ids) != MaxMemorySessions || len(m.order) != MaxMemorySessions {
		t.Errorf("kept %d ids, %d in order; want %d", len(m.ids), len(m.order), MaxMemorySessions)
	}
}

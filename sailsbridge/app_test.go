package sailsbridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/socketio"
)

// testApp is the Go stand-in for the reference Sails app the
// scenarios were recorded from: plain net/http handlers behind a bridge.
type testApp struct {
	t      testing.TB
	mux    *http.ServeMux
	bridge *sailsbridge.Bridge
	socks  *sailsbridge.Sockets
	srv    *socketio.Server
	url    string

	count atomic.Int64

	mu    sync.Mutex
	seen  []echoed // what /echo saw
	users map[int]map[string]any

	neverStarted  chan string // socket id, when /never starts
	neverReturned chan error  // the context's error, when /never returns
	disconnected  chan disconnectRecord
}

type disconnectRecord struct {
	id            string
	reason        string
	neverReturned bool // /never had returned when AfterDisconnect ran
}

// echoed is what the /echo handler saw and answers.
type echoed struct {
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	RawQuery   string              `json:"rawQuery"`
	Query      map[string][]string `json:"query"`
	Body       json.RawMessage     `json:"body"`
	BodyText   string              `json:"bodyText"` // the body's bytes (key order kept)
	Headers    map[string][]string `json:"headers"`
	IsSocket   bool                `json:"isSocket"`
	SocketID   string              `json:"socketId"`
	Host       string              `json:"host"`
	RemoteAddr string              `json:"remoteAddr"`
	NoSession  bool                `json:"noSession"`
}

// newTestApp serves the app and a Socket.IO server with Sails' engine
// settings through a bridge configured by opts (OnlyAllowOrigins and
// BeforeConnect are checked by Guard unless noGuard).
func newTestApp(t testing.TB, opts *sailsbridge.Options, eng *engineio.Options, noGuard bool) *testApp {
	t.Helper()
	return newWrappedTestApp(t, opts, eng, noGuard, nil)
}

// newWrappedTestApp is newTestApp serving the app, over HTTP and sockets,
// through wrap(mux) when wrap is not nil.
func newWrappedTestApp(t testing.TB, opts *sailsbridge.Options, eng *engineio.Options, noGuard bool, wrap func(http.Handler) http.Handler) *testApp {
	t.Helper()
	a := &testApp{
		t:             t,
		mux:           http.NewServeMux(),
		users:         make(map[int]map[string]any),
		neverStarted:  make(chan string, 4),
		neverReturned: make(chan error, 4),
		disconnected:  make(chan disconnectRecord, 16),
	}
	logger := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if eng == nil {
		eng = sailsbridge.EngineOptions()
	}
	eng.Logger = logger
	srv, err := socketio.NewServer(&socketio.Options{Engine: eng, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	a.srv = srv
	var o sailsbridge.Options
	if opts != nil {
		o = *opts
	}
	o.Logger = logger
	var neverDone atomic.Bool
	userAfter := o.AfterDisconnect
	o.AfterDisconnect = func(ctx context.Context, s *socketio.Socket, reason string) {
		a.disconnected <- disconnectRecord{id: s.ID(), reason: reason, neverReturned: neverDone.Load()}
		if userAfter != nil {
			userAfter(ctx, s, reason)
		}
	}
	var app http.Handler = a.mux
	if wrap != nil {
		app = wrap(a.mux)
	}
	b, err := sailsbridge.New(app, &o)
	if err != nil {
		t.Fatal(err)
	}
	a.bridge = b
	b.Attach(srv.Of("/"))
	a.socks = sailsbridge.NewSockets(srv.Of("/"))
	a.routes(&neverDone)

	root := http.NewServeMux()
	if noGuard {
		root.Handle("/socket.io/", srv)
	} else {
		root.Handle("/socket.io/", b.Guard(srv))
	}
	root.Handle("/", app)
	hs := httptest.NewServer(root)
	a.url = hs.URL
	t.Cleanup(func() {
		// Short: a polling session a test abandoned waits for a poll
		// that never comes.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	})
	return a
}

type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// decode reads a virtual request's JSON body.
func decode(r *http.Request, v any) error { return json.NewDecoder(r.Body).Decode(v) }

func (a *testApp) routes(neverDone *atomic.Bool) {
	m := a.mux
	m.HandleFunc("GET /json-obj", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"a":1,"b":[1,2],"c":null}`) // no Content-Type, as Sails' res.json
	})
	echo := func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e := echoed{
			Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Query: r.URL.Query(),
			Body: json.RawMessage(body), BodyText: string(body), Headers: r.Header, IsSocket: sailsbridge.IsSocket(r),
			SocketID: sailsbridge.GetID(r), Host: r.Host, RemoteAddr: r.RemoteAddr, NoSession: sailsbridge.NoSession(r),
		}
		if len(body) == 0 {
			e.Body = nil
		}
		a.mu.Lock()
		a.seen = append(a.seen, e)
		a.mu.Unlock()
		writeJSON(w, http.StatusOK, e)
	}
	m.HandleFunc("/echo", echo)
	m.HandleFunc("/echo/", echo)
	m.HandleFunc("GET /headers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Custom-Header", "abc")
		w.Header().Set("X-Via-SetHeader", "def")
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "hello")
	})
	m.HandleFunc("GET /status-418-json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusTeapot, map[string]bool{"tea": true})
	})
	m.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) { panic("thrown") })
	m.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/somewhere?x=1 y", http.StatusFound)
	})
	m.HandleFunc("GET /send-buffer", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write([]byte("abc"))
	})
	m.HandleFunc("GET /json-string", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `"str"`)
	})
	m.HandleFunc("GET /empty", func(w http.ResponseWriter, r *http.Request) {})
	m.HandleFunc("GET /set-cookie-header", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "cap", Value: "1", Path: "/", HttpOnly: true})
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{}`)
	})
	m.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int64{"count": a.count.Add(1)})
	})
	m.HandleFunc("GET /delayed", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
		}
		writeJSON(w, http.StatusOK, map[string]int{"delayed": ms})
	})
	// /never waits for its context to end.
	m.HandleFunc("GET /never", func(w http.ResponseWriter, r *http.Request) {
		a.neverStarted <- sailsbridge.GetID(r)
		<-r.Context().Done()
		_, werr := io.WriteString(w, "too late")
		neverDone.Store(true)
		a.neverReturned <- fmt.Errorf("ctx: %w; write: %v", r.Context().Err(), werr)
	})
	m.Handle("GET /__getcookie", a.bridge.GetCookieHandler())
	m.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"id": sailsbridge.GetID(r)})
	})
	a.roomRoutes()
	a.userRoutes()
	// Sails' 404 for everything else.
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "Not Found")
	})
}

// roomRoutes expose the sails.sockets API to the clients.
func (a *testApp) roomRoutes() {
	type input = struct {
		ID       string          `json:"id"`
		Room     string          `json:"room"`
		Rooms    []string        `json:"rooms"`
		Event    string          `json:"event"`
		Data     json.RawMessage `json:"data"`
		OmitSelf bool            `json:"omitSelf"`
		Src      string          `json:"src"`
		Dests    []string        `json:"dests"`
	}
	handle := func(pattern string, f func(r *http.Request, in *input) (any, error)) {
		a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			var in input
			if err := decode(r, &in); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if in.ID == "" {
				in.ID = sailsbridge.GetID(r)
			}
			out, err := f(r, &in)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			writeJSON(w, http.StatusOK, out)
		})
	}
	omitOf := func(r *http.Request, in *input) string {
		if in.OmitSelf {
			return sailsbridge.GetID(r)
		}
		return ""
	}
	handle("POST /rooms/join", func(r *http.Request, in *input) (any, error) {
		return map[string]bool{"ok": true}, a.socks.Join(r.Context(), in.ID, in.Room)
	})
	handle("POST /rooms/leave", func(r *http.Request, in *input) (any, error) {
		return map[string]bool{"ok": true}, a.socks.Leave(r.Context(), in.ID, in.Room)
	})
	handle("POST /rooms/broadcast", func(r *http.Request, in *input) (any, error) {
		return map[string]bool{"ok": true}, a.socks.Broadcast(r.Context(), in.Rooms, in.Event, in.Data, omitOf(r, in))
	})
	handle("POST /rooms/blast", func(r *http.Request, in *input) (any, error) {
		return map[string]bool{"ok": true}, a.socks.Blast(r.Context(), in.Event, in.Data, omitOf(r, in))
	})
	handle("POST /rooms/add", func(r *http.Request, in *input) (any, error) {
		return map[string]bool{"ok": true}, a.socks.AddRoomMembersToRooms(r.Context(), in.Src, in.Dests...)
	})
	handle("POST /rooms/remove", func(r *http.Request, in *input) (any, error) {
		return map[string]bool{"ok": true}, a.socks.RemoveRoomMembersFromRooms(r.Context(), in.Src, in.Dests...)
	})
	handle("POST /rooms/leave-all", func(r *http.Request, in *input) (any, error) {
		return map[string]bool{"ok": true}, a.socks.LeaveAll(r.Context(), in.Src)
	})
	a.mux.HandleFunc("GET /rooms/mine", func(w http.ResponseWriter, r *http.Request) {
		rooms, err := a.socks.Rooms(r.Context(), sailsbridge.GetID(r))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": sailsbridge.GetID(r), "rooms": rooms})
	})
}

// userRoutes are blueprint-like routes of a "user" model publishing
// through Sockets.Model.
func (a *testApp) userRoutes() {
	users := a.socks.Model("user")
	nextID := 0
	a.mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		id := sailsbridge.GetID(r)
		a.mu.Lock()
		list := make([]map[string]any, 0, len(a.users))
		ids := make([]any, 0, len(a.users))
		for uid, u := range a.users {
			list = append(list, u)
			ids = append(ids, uid)
		}
		a.mu.Unlock()
		if id != "" {
			users.Watch(r.Context(), id)
			users.Subscribe(r.Context(), id, ids...)
		}
		writeJSON(w, http.StatusOK, list)
	})
	a.mux.HandleFunc("POST /user", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		decode(r, &in)
		a.mu.Lock()
		nextID++
		id := nextID
		in["id"] = id
		a.users[id] = in
		a.mu.Unlock()
		if err := users.PublishCreate(r.Context(), id, in, sailsbridge.GetID(r)); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		writeJSON(w, http.StatusOK, in)
	})
	userID := func(w http.ResponseWriter, r *http.Request) (int, bool) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "Not Found")
			return 0, false
		}
		return id, true
	}
	a.mux.HandleFunc("PATCH /user/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := userID(w, r)
		if !ok {
			return
		}
		var changes map[string]any
		decode(r, &changes)
		a.mu.Lock()
		prev, found := a.users[id]
		var cur map[string]any
		if found {
			cur = map[string]any{}
			for k, v := range prev {
				cur[k] = v
			}
			for k, v := range changes {
				cur[k] = v
			}
			a.users[id] = cur
		}
		a.mu.Unlock()
		if !found {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "Not Found")
			return
		}
		changes["id"] = id
		users.PublishUpdate(r.Context(), id, changes, prev, sailsbridge.GetID(r))
		writeJSON(w, http.StatusOK, cur)
	})
	a.mux.HandleFunc("DELETE /user/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := userID(w, r)
		if !ok {
			return
		}
		a.mu.Lock()
		prev := a.users[id]
		delete(a.users, id)
		a.mu.Unlock()
		users.PublishDestroy(r.Context(), id, prev, sailsbridge.GetID(r))
		writeJSON(w, http.StatusOK, prev)
	})
	a.mux.HandleFunc("PUT /user/{id}/pets/{pet}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := userID(w, r)
		if !ok {
			return
		}
		pet, _ := strconv.Atoi(r.PathValue("pet"))
		users.PublishAdd(r.Context(), id, "pets", pet, sailsbridge.GetID(r))
		writeJSON(w, http.StatusOK, map[string]int{"id": id})
	})
	a.mux.HandleFunc("DELETE /user/{id}/pets/{pet}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := userID(w, r)
		if !ok {
			return
		}
		pet, _ := strconv.Atoi(r.PathValue("pet"))
		users.PublishRemove(r.Context(), id, "pets", pet, sailsbridge.GetID(r))
		writeJSON(w, http.StatusOK, map[string]int{"id": id})
	})
}

// lastEcho returns what /echo saw last.
func (a *testApp) lastEcho() echoed {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.seen) == 0 {
		a.t.Fatal("/echo never called")
	}
	return a.seen[len(a.seen)-1]
}

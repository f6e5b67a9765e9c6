package main

import (
	_ "embed"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/session"
	"github.com/pierhq/pier/socketio"
)

//go:embed web/index.html
var indexHTML []byte

// newDemo returns the demo application of `pier`: a few Go HTTP handlers
// that serve both plain HTTP and the sails.io.js virtual requests of
// sockets (through the Sails bridge attached to io's "/" namespace), with
// one session for both, and the page at "/" that uses them. bus, when not
// nil, carries room operations to Node Sails servers; sailsJS is the path
// of the sails.io.js browser bundle (a relative path that does not exist
// from the working directory is looked for up from it, from the executable
// and from the source tree; "" means where `make run` installs it).
//
// The page and /__getcookie are served behind the session middleware and
// give a browser without a session one at once (a value is set, so that
// its cookie is sent whatever the store's saveUninitialized policy): the
// socket that the page opens next then carries the cookie, and its
// virtual requests share the session with plain HTTP across reloads.
//
// bopts are the bridge's options from the configuration (Sessions and
// Logger are set here); wrap, when not nil, wraps the handler of virtual
// requests (metrics, drain).
func newDemo(io *socketio.Server, m *session.Manager, bus sailsbridge.RoomBus, sailsJS string, log *slog.Logger, bopts sailsbridge.Options, wrap func(http.Handler) http.Handler) (http.Handler, error) {
	socks := sailsbridge.NewSockets(io.Of("/"))
	if bus != nil {
		socks = socks.WithBus(bus)
	}
	api := http.NewServeMux()
	api.HandleFunc("GET /api/hello", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		var visits int
		s.Get("visits", &visits)
		visits++
		s.Set("visits", visits)
		via := "http"
		if sailsbridge.IsSocket(r) {
			via = "socket " + sailsbridge.GetID(r)
		}
		writeJSON(w, http.StatusOK, map[string]any{"hello": "from Go", "via": via, "visits": visits})
	})
	api.HandleFunc("POST /api/chat/join", func(w http.ResponseWriter, r *http.Request) {
		id := sailsbridge.GetID(r)
		if id == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "sockets only"})
			return
		}
		if err := socks.Join(r.Context(), id, "chat"); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"joined": "chat"})
	})
	api.HandleFunc("POST /api/chat", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Text string }
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil || strings.TrimSpace(in.Text) == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want {\"text\": \"...\"}"})
			return
		}
		from := "http"
		if id := sailsbridge.GetID(r); id != "" {
			from = id[:min(6, len(id))]
		}
		socks.Broadcast(r.Context(), []string{"chat"}, "message", map[string]string{"from": from, "text": in.Text}, "")
		writeJSON(w, http.StatusCreated, map[string]bool{"sent": true})
	})
	var getCookie http.Handler // the bridge's, set below
	handler := sailsbridge.SessionMiddleware(m, demoRoutes(api, socks, func() http.Handler { return getCookie }, log))
	bopts.Sessions, bopts.Logger = sailsbridge.Sessions(m), log
	virtual := handler
	if wrap != nil {
		virtual = wrap(handler)
	}
	bridge, err := sailsbridge.New(virtual, &bopts)
	if err != nil {
		return nil, err
	}
	getCookie = bridge.GetCookieHandler()
	bridge.Attach(io.Of("/"))

	if sailsJS == "" {
		sailsJS = sailsJSAsset
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", bridge.Guard(io))
	mux.Handle("/__getcookie", sailsbridge.SessionMiddleware(m, startSession(bridge.GetCookieHandler())))
	mux.Handle("/api/", handler)
	mux.Handle("/", handler) // the blueprint model message, routed as Sails does
	mux.HandleFunc("GET /js/sails.io.js", func(w http.ResponseWriter, r *http.Request) {
		p, err := findAsset(sailsJS, sailsJSAsset)
		if err != nil {
			http.Error(w, "sails.io.js is not installed: "+err.Error(), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFile(w, r, p)
	})
	mux.Handle("GET /{$}", sailsbridge.SessionMiddleware(m, startSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(indexHTML)
	}))))
	return mux, nil
}

// startSession gives a request without a session one that will be saved:
// it records when the session started.
func startSession(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := session.FromContext(r.Context()); s != nil && s.IsNew() {
			s.Set("startedAt", time.Now().UTC().Format(time.RFC3339))
		}
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

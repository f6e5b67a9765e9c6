package main

import (
	_ "embed"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"strings"

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
// of the sails.io.js browser bundle.
func newDemo(io *socketio.Server, m *session.Manager, bus sailsbridge.RoomBus, sailsJS string, log *slog.Logger) (http.Handler, error) {
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
	bridge, err := sailsbridge.New(handler, &sailsbridge.Options{Sessions: sailsbridge.Sessions(m), Logger: log})
	if err != nil {
		return nil, err
	}
	getCookie = bridge.GetCookieHandler()
	bridge.Attach(io.Of("/"))

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", bridge.Guard(io))
	mux.Handle("/__getcookie", bridge.GetCookieHandler())
	mux.Handle("/api/", handler)
	mux.Handle("/", handler) // the blueprint model message, routed as Sails does
	mux.HandleFunc("GET /js/sails.io.js", func(w http.ResponseWriter, r *http.Request) {
		if _, err := os.Stat(sailsJS); err != nil {
			http.Error(w, "sails.io.js not installed at "+sailsJS+" (make run installs it)", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFile(w, r, sailsJS)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(indexHTML)
	})
	return mux, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

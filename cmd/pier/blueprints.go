package main

import (
	"log/slog"
	"net/http"

	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/sailsbridge/kit"
)

// demoSchema is the demo's one blueprint model, message (a Sails model
// with no associations: text, a string, and any other attributes).
var demoSchema = kit.Schema{{Identity: "message", Attributes: map[string]string{"text": kit.TypeString}}}

// demoRoutes returns the handler the demo's bridge and HTTP share, routed
// as Sails routes (sailsbridge/kit): the Go API (api, under /api/), GET
// /__getcookie (getCookie, called per request: the bridge that serves it
// is built from this handler), and the REST blueprints of model message
// over an in-memory store, with their realtime events: GET /message
// answers the messages and watches for new ones, POST /message {text}
// creates one and tells the watchers ("message" {verb: "created", data,
// id}).
func demoRoutes(api http.Handler, socks *sailsbridge.Sockets, getCookie func() http.Handler, log *slog.Logger) http.Handler {
	rt := kit.NewRouter()
	rt.Handle("/api/*", kit.Wrap(api))
	rt.HandleFunc("GET /__getcookie", func(w http.ResponseWriter, r *http.Request) { getCookie().ServeHTTP(w, r) })
	store := kit.NewMemStore(demoSchema, nil)
	kit.NewBlueprints(demoSchema, store, socks, &kit.BlueprintOptions{Logger: log}).Mount(rt)
	return rt
}

// Package goport is the Go port of the Sails app of testdata/sails-app
// (app.js, api/models/User.js, Pet.js and Tag.js) with sailsbridge/kit:
// the same models, REST blueprints with their realtime events, and the
// custom route GET /rooms. sailsbridge/kit's tests run the same
// sails.io.js scenario against both and compare the answers.
package goport

import (
	"net/http"
	"slices"

	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/sailsbridge/kit"
	"github.com/pierhq/pier/socketio"
)

// Schema is api/models: User {name, pets: collection pet via owner,
// tags: collection tag via users}, Pet {name, owner: model user} and Tag
// {name, users: collection user via tags}.
var Schema = kit.Schema{
	{Identity: "user", Attributes: name, Associations: []kit.Association{
		{Name: "pets", Collection: "pet", Via: "owner"},
		{Name: "tags", Collection: "tag", Via: "users"},
	}},
	{Identity: "pet", Attributes: name, Associations: []kit.Association{{Name: "owner", Model: "user"}}},
	{Identity: "tag", Attributes: name, Associations: []kit.Association{{Name: "users", Collection: "user", Via: "tags"}}},
}

var name = map[string]string{"name": kit.TypeString}

// New returns the app's HTTP handler, serving sails.io.js through io's
// "/" namespace (io must use sailsbridge.EngineOptions()).
func New(io *socketio.Server, opts *sailsbridge.Options) (http.Handler, error) {
	ns := io.Of("/")
	socks := sailsbridge.NewSockets(ns)

	rt := kit.NewRouter()
	// config/routes.js
	rt.HandleFunc("GET /rooms", func(w http.ResponseWriter, r *http.Request) {
		s := sailsbridge.FromContext(r.Context())
		if s == nil {
			kit.BadRequest(w, r, nil)
			return
		}
		rooms := []string{}
		for _, room := range s.Rooms() {
			if string(room) != s.ID() {
				rooms = append(rooms, string(room))
			}
		}
		slices.Sort(rooms)
		kit.JSON(w, r, http.StatusOK, rooms)
	})
	// config/blueprints.js: rest true, shortcuts false, actions false.
	kit.NewBlueprints(Schema, kit.NewMemStore(Schema, nil), socks, nil).Mount(rt)

	bridge, err := sailsbridge.New(rt, opts)
	if err != nil {
		return nil, err
	}
	bridge.Attach(ns)
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", bridge.Guard(io))
	mux.Handle("/__getcookie", bridge.GetCookieHandler())
	mux.Handle("/", rt)
	return mux, nil
}

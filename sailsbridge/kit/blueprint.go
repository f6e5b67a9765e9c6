package kit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/pierhq/pier/sailsbridge"
)

// BlueprintOptions configures Blueprints; nil or zero fields mean Sails'
// defaults.
type BlueprintOptions struct {
	// NoAutoWatch turns off Sails' blueprints.autoWatch (on by
	// default): find then joins no class room, and deep subscriptions
	// join no associated class room.
	NoAutoWatch bool
	// Policies are the policies of blueprint actions, keyed as in
	// config/policies.js: "user/create", "user/*" or "*"; the most
	// specific key applies. A policy that answers stops the action: no
	// publication, no subscription.
	Policies map[string][]Policy
	// Mirror is Sails' blueprints.mirror: the requesting socket also
	// receives the messages of its own destroy and remove requests (as
	// in Sails, the other actions ignore it). Default false.
	Mirror bool
	// Logger gets the errors of publications (the answer to the client
	// is not changed by them). Default slog.Default().
	Logger *slog.Logger
}

// Blueprints serves Sails' REST blueprint actions (find, findOne, create,
// update, destroy, populate, add, remove, replace) of a Schema over a
// Store, with Sails' realtime side effects through sailsbridge.Sockets:
// the requesting socket subscribes (autoSubscribe, autoWatch and the deep
// subscription to associated records), and every change is published to
// the other sockets with the events Sails sends, reverse-association
// messages included (see the package doc for the routes and messages).
//
// Concurrency: handlers may run concurrently; Mount before serving.
type Blueprints struct {
	schema Schema
	store  Store
	ps     pubsub
	opts   BlueprintOptions
	log    *slog.Logger
}

// NewBlueprints returns the blueprints of schema over store, publishing
// through socks (nil: no realtime, as with Sails' pubsub hook off).
func NewBlueprints(schema Schema, store Store, socks *sailsbridge.Sockets, opts *BlueprintOptions) *Blueprints {
	b := &Blueprints{schema: schema, store: store, ps: pubsub{socks}}
	if opts != nil {
		b.opts = *opts
	}
	b.log = b.opts.Logger
	if b.log == nil {
		b.log = slog.Default()
	}
	return b
}

// Mount adds the blueprint shadow routes of every model to rt, after (in
// precedence) all its custom routes, as Sails binds them:
//
//	GET    /<model>                            find
//	GET    /<model>/:id                        findOne
//	POST   /<model>                            create
//	PATCH  /<model>/:id, PUT /<model>/:id      update
//	DELETE /<model>/:id?                       destroy
//	PUT    /<model>/:parentid/<coll>/:childid  add
//	DELETE /<model>/:parentid/<coll>/:childid  remove
//	PUT    /<model>/:parentid/<coll>           replace (body: array of ids)
//	GET    /<model>/:parentid/<assoc>          populate
func (b *Blueprints) Mount(rt *Router) {
	for i := range b.schema {
		m := &b.schema[i]
		id := m.Identity
		route := func(address, action string) {
			rt.HandleRoute(address, b.action(id, action, true), Route{tier: 1})
		}
		route("GET /"+id, "find")
		route("GET /"+id+"/:id", "findOne")
		route("POST /"+id, "create")
		route("PATCH /"+id+"/:id", "update")
		route("PUT /"+id+"/:id", "update")
		route("DELETE /"+id+"/:id?", "destroy")
		for _, a := range m.Associations {
			if a.Collection != "" {
				route("PUT /"+id+"/:parentid/"+a.Name+"/:childid", "add")
				route("DELETE /"+id+"/:parentid/"+a.Name+"/:childid", "remove")
				route("PUT /"+id+"/:parentid/"+a.Name, "replace")
			}
			route("GET /"+id+"/:parentid/"+a.Name, "populate")
		}
	}
}

// Action returns the handler of one blueprint action of model identity,
// with the action's policies, to mount on a custom route (Sails'
// 'GET /users-alias': 'user/find'). As in Sails, such a route gets none
// of the blueprint route options: find, findOne and populate subscribe
// the socket to the records' rooms only, with no class room and no deep
// subscription. For add, remove, replace and populate the route must have
// :parentid, :childid (add, remove) and end in the association's name.
// It panics on an unknown model or action.
func (b *Blueprints) Action(identity, action string) http.Handler {
	return b.action(identity, action, false)
}

// shadowKey marks the requests of blueprint shadow routes.
type shadowKey struct{}

// shadow tells whether r came through a blueprint shadow route (not a
// custom route to a blueprint action).
func shadow(r *http.Request) bool { return r.Context().Value(shadowKey{}) != nil }

func (b *Blueprints) action(identity, action string, isShadow bool) http.Handler {
	m := b.schema.model(identity)
	if m == nil {
		panic(fmt.Sprintf("kit: unknown model %q", identity))
	}
	var h func(w http.ResponseWriter, r *http.Request, m *Model)
	switch action {
	case "find":
		h = b.find
	case "findOne":
		h = b.findOne
	case "create":
		h = b.create
	case "update":
		h = b.update
	case "destroy":
		h = b.destroy
	case "add":
		h = b.add
	case "remove":
		h = b.remove
	case "replace":
		h = b.replace
	case "populate":
		h = b.populateAction
	default:
		panic(fmt.Sprintf("kit: unknown blueprint action %q", action))
	}
	var handler http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isShadow {
			r = r.WithContext(context.WithValue(r.Context(), shadowKey{}, true))
		}
		h(w, r, m)
	})
	pol := b.policies(identity, action)
	for i := len(pol) - 1; i >= 0; i-- {
		handler = pol[i](handler)
	}
	return handler
}

func (b *Blueprints) policies(identity, action string) []Policy {
	for _, k := range []string{identity + "/" + action, identity + "/*", "*"} {
		if p, ok := b.opts.Policies[k]; ok {
			return p
		}
	}
	return nil
}

// paramsError answers 400 with Sails' blueprint error shape.
func paramsError(w http.ResponseWriter, r *http.Request, code string, details string) {
	JSON(w, r, http.StatusBadRequest, map[string]any{
		"code":    code,
		"details": details,
		"message": "The server could not fulfill this request (`" + r.Method + " " + r.URL.Path + "`) due to a problem with the parameters that were sent.  See the `details` for more info.",
	})
}

func (b *Blueprints) fail(w http.ResponseWriter, r *http.Request, err error) {
	b.log.Error("kit: blueprint", "method", r.Method, "path", r.URL.Path, "err", err)
	ServerError(w, r, err)
}

// storeError answers a write's error: 400 code for a ValidationError,
// else 500.
func (b *Blueprints) storeError(w http.ResponseWriter, r *http.Request, code string, err error) {
	var ve *ValidationError
	if errors.As(err, &ve) {
		paramsError(w, r, code, ve.Msg)
		return
	}
	b.fail(w, r, err)
}

// logPub logs a publication's error.
func (b *Blueprints) logPub(err error) {
	if err != nil {
		b.log.Warn("kit: blueprint publication", "err", err)
	}
}

// omit returns the socket a publication of r leaves out: the requesting
// socket, unless mirrored is true and Mirror is on.
func (b *Blueprints) omit(r *http.Request, mirrored bool) string {
	if mirrored && b.opts.Mirror {
		return ""
	}
	return sailsbridge.GetID(r)
}

func (b *Blueprints) autoWatch() bool { return !b.opts.NoAutoWatch }

// pathID returns the normalized path parameter name, answering 400 when
// it is not an id.
func pathID(w http.ResponseWriter, r *http.Request, name string) (any, bool) {
	raw := PathParam(r, name)
	id, ok := NormalizeID(raw)
	if !ok || id == nil {
		paramsError(w, r, "E_INVALID_CRITERIA", "Invalid primary key value "+strconv.Quote(raw)+": expected a number")
		return nil, false
	}
	return id, true
}

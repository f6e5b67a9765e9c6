// Package kit carries what a Sails 1.5 app gives its controllers and Go
// lacks, so that a Sails app ports to Go (with sailsbridge serving its
// sails.io.js front end) in a fraction of the code, and its clients see
// what Sails sends:
//
//   - Router: Sails' routing, for HTTP and virtual requests alike, with
//     Next for next(). Wrap gives any other router the same path
//     semantics.
//   - AllParams, Param, PathParam and Body: req.allParams() and
//     req.param() with Sails' sources and precedence.
//   - JSON, Text, Ok, BadRequest, Forbidden, NotFound, ServerError: the
//     response helpers with Sails' bodies and status codes.
//   - Policy, Allow, Deny, Check: policies as middleware chains per route
//     and per blueprint action; CSRF and CSRFTokenHandler: Sails' CSRF
//     protection.
//   - Blueprints over a Store (MemStore in memory): the REST blueprint
//     actions with Sails' subscriptions and realtime events.
//
// It lives beside sailsbridge rather than in it because it is an
// application layer on the transport (it uses only sailsbridge's public
// API: IsSocket, GetID, FromContext, Sockets and Model), and so that its
// names (NotFound, JSON, Router…) do not crowd the bridge's package.
//
// A port of a Sails app (config/routes.js, config/policies.js, models):
//
//	rt := kit.NewRouter()
//	rt.Use(kit.CSRF)                                  // security.csrf: true
//	rt.Handle("GET /csrfToken", kit.CSRFTokenHandler())
//	rt.HandleFunc("POST /login", login)
//	rt.HandleFunc("GET /me", me, isLoggedIn)          // a route's policies
//	kit.NewBlueprints(schema, kit.NewMemStore(schema, nil), sailsbridge.NewSockets(io.Of("/")),
//		&kit.BlueprintOptions{Policies: map[string][]kit.Policy{"user/create": {isLoggedIn}}}).Mount(rt)
//	handler := sailsbridge.SessionMiddleware(sessions, rt)
//	bridge, _ := sailsbridge.New(handler, &sailsbridge.Options{Sessions: sailsbridge.Sessions(sessions)})
//
// Serve handler for HTTP too (every path but /socket.io/, preferably not
// behind http.ServeMux, which redirects paths such as "/a//b" before the
// router sees them).
//
// # Routing
//
// Route addresses are config/routes.js keys: "GET /user/:id", a verb and
// a path; without a verb the route binds GET, PUT, POST, DELETE and PATCH
// (not OPTIONS). GET routes serve HEAD (over a socket the JWR keeps the
// body, as in Sails). Segments are static words, ":name" parameters
// (":name?" optional, last only) and "*" (the rest of the path, parameter
// "0"). Matching, as in Sails:
//
//   - case-insensitive on the static words; parameters keep their case;
//     one trailing slash is ignored; the query never takes part;
//   - no path cleaning and no redirects: "/a//b", "/./a", "/x/../a" and
//     "/a%2Db" (static words match before decoding) are 404;
//     sails.io.js does not follow redirects;
//   - parameters are decoded after matching ("%2F" does not split, "+"
//     stays "+"); an empty segment never matches a parameter;
//   - a GET route ending in a parameter skips paths whose last segment
//     has a dot ("/user/1.json" is 404), unless Route.SkipAssets is
//     false;
//   - precedence from the address, not the declaration order: per
//     segment static < parameter < wildcard, fewer segments first, a verb
//     before none; blueprint routes after all custom routes;
//   - no match: OPTIONS gets 200 with Allow (Sails answers it on every
//     path), anything else 404 "Not Found" — a wrong method included.
//
// Path parameters are read with PathParam or r.PathValue. A handler that
// calls Next passes the request on to the next matching route (Sails'
// next()), a blueprint route included.
//
// # Parameters
//
// AllParams merges, as Sails' req.allParams(): the query (strings),
// overwritten key by key by the body, then by the defined path
// parameters: path > body > query. Over a socket the body is the
// request's data for every method (sails.io.js sends io.socket.get's
// params there); over HTTP a GET or HEAD body is ignored, JSON keeps its
// types, a urlencoded form gives strings. Param(name) is req.param():
// path, else body (even "", 0, false or null), else query. Bodies are read
// once, up to MaxBodyBytes. Numbers arrive as int64 when integral, else
// float64.
//
// # Responses
//
// Over a socket the JWR carries the value (JSON is never double-encoded:
// Ok(w, r, "fine") gives the client the string fine) and, for objects,
// arrays and the text answers, "headers":{} as Sails' does; over HTTP
// JSON is application/json and the text answers text/plain. ServerError
// answers Sails' production body ("Internal Server Error") and never
// sends the error. Sails 1.x has no res.created: blueprint create answers
// 200.
//
// # Policies and CSRF
//
// A Policy wraps the handler; the first that answers ends the request (a
// refusal over a socket is the JWR of what it sent). Route policies run
// in order after the hooks given to Router.Use; Deny is Sails' false,
// Allow its true. Blueprint actions take theirs from
// BlueprintOptions.Policies keyed as config/policies.js ("user/create",
// "user/*", "*"); a refused blueprint action publishes nothing and
// subscribes nothing.
//
// CSRF is a Router.Use hook. The token's secret lives in the session
// under "csrfSecret" (Sails' key, so that Node and Go servers sharing
// sessions accept each other's tokens); tokens are csrf's
// salt-SHA1 form. A socket passes only when its handshake carried the
// cookie of the session whose token it sends.
//
// # Blueprints
//
// Blueprints.Mount binds, per model, the routes of Sails' REST
// blueprints (find, findOne, create, update, destroy, and per
// association populate, plus add, remove and replace for collections)
// over the app's Store. Answers are Sails': 200 for every success,
// create included; the populated record (a model attribute as the
// referenced record without its collections, or null when unset or
// dangling; a collection as its members, at most 30); 404 "Not Found" for
// a missing record; 400 {"code", "details", "message"} for bad values or
// criteria. find takes Sails' criteria: every parameter but limit (30 by
// default), skip, sort ("id DESC", JSON), select, omit and populate is
// an equality (a list means "any of"), or a where parameter.
//
// A socket request subscribes the socket as Sails does: find joins the
// instance room of each record and the model's class room (autoWatch),
// findOne the record's room; both, and populate, then deep-subscribe
// (the associated models' class rooms, the populated records' rooms);
// create and update join the record's room, add the parent's and the
// child's, replace the parent's and the new children's; destroy leaves
// it. HTTP requests subscribe nothing. A custom route to a blueprint
// action (Blueprints.Action) subscribes to the records only, without
// class rooms or deep subscription, as in Sails.
//
// Each change is published to the model's rooms, except to the
// requesting socket (by socket id: the actor's other sockets hear it; an
// HTTP request omits nobody), in Sails' order, reverse-association
// messages included:
//
//	created     {"verb":"created","data":<record>,"id":<id>}     to the class room, whose members then join the record's room
//	updated     {"verb":"updated","data":<values written, id, updatedAt>,"id":<id>,"previous":<record before>}
//	destroyed   {"verb":"destroyed","id":<id>,"previous":<record>} then the class room's members leave the record's room
//	addedTo     {"id":<parent>,"verb":"addedTo","attribute":"pets","addedId":<child>}
//	removedFrom {"id":<parent>,"verb":"removedFrom","attribute":"pets","removedId":<child>}
//
// Setting a model attribute (on create or update) publishes addedTo on
// the new owner and removedFrom on the previous one; adding, removing or
// replacing children, and creating or destroying a parent, publishes to
// each child "updated" {"owner": id|null} (no previous) for a one-to-many
// association, addedTo/removedFrom on the child's own collection for a
// many-to-many one; a one-to-many child taken
// from another parent publishes removedFrom on that parent (also when it
// is re-added to the same one, as Sails does). Updating a collection
// attribute through update publishes only "updated", without the
// collection, as Sails does.
//
// Compared with Sails, on purpose or not yet: payload keys are in Go's
// order (sorted) rather than Sails'; one-to-one associations get no
// reverse messages; attribute types are coerced (Model.Attributes) but
// not validated further (no required, defaultsTo, isEmail…), and
// undeclared attributes are kept (schema: false); no blueprint
// shortcuts, actions, prefix or pluralize options, and no per-route
// mirror (the global BlueprintOptions.Mirror is there); find's select,
// omit and populate are ignored; a URL that does not decode is refused
// by net/http or the bridge before routing (400 with their text).
package kit

// Package upstream puts Pier in front of an existing HTTP backend (Sails,
// Express, Rails, Django...): the virtual requests of sails.io.js clients
// (io.socket.get, post, put, patch, delete) are sent to the backend as real
// HTTP requests and its answers come back as the JWRs sails.io.js expects,
// so the realtime tier moves to Pier without rewriting a route.
//
// Handler is an http.Handler for the Sails bridge:
//
//	up, _ := upstream.New(&upstream.Options{URL: "http://app:8080"})
//	bridge, _ := sailsbridge.New(up, nil)
//	bridge.Attach(srv.Of("/"))
//
// The bridge turns each virtual request into an *http.Request (see
// sailsbridge) and captures what the Handler writes; together they do this:
//
// # The request to the backend
//
//   - Method, path and query as the client sent them; the path goes after
//     the URL's own path, if it has one.
//   - Body: the JSON body Sails would make req.body (Content-Type
//     application/json), for every method.
//   - Headers: the client's (io.sails.headers and the request's), minus
//     the hop-by-hop ones and Accept-Encoding (the Handler asks for gzip
//     itself and decodes it). Cookie is the socket's cookie jar: the
//     handshake's cookies (the session cookie included), updated by every
//     Set-Cookie the backend sent to this socket.
//   - X-Forwarded-For: the handshake's chain, then the client's address.
//     X-Forwarded-Host and X-Forwarded-Proto: the handshake's when a proxy
//     in front set them, else the handshake's Host and http or https.
//   - X-Socket-Id (Options.SocketIDHeader): the socket's id, for the
//     backend to address the socket later; a client cannot forge it.
//   - X-Request-Id (Options.RequestIDHeader): a random id, also in the
//     JWR's headers and in every log line of the request.
//   - Options.Headers, replacing the client's headers of the same names.
//
// # The answer
//
// The backend's status, headers and body become the JWR {body, headers,
// statusCode}, shaped by the bridge as sails-hook-sockets does (lower-case
// header names; a JSON body as its value, text as a string, other types as
// binary). Set-Cookie never reaches the client: the socket's cookie jar
// keeps it, so the next request of the socket carries the cookie (a cookie
// expired or with Max-Age 0 is removed). Redirects are returned (3xx with
// Location), not followed.
//
// When the exchange fails, the client gets a JWR whose body is
// {"status", "error", "message", "requestId"}, and the failure is logged
// at Warn with the request id (rid):
//
//   - 504 Gateway Timeout: no complete answer within Options.Timeout.
//   - 502 Bad Gateway: the backend is unreachable, closed or reset the
//     connection, sent a body over Options.MaxBodyBytes (never read past
//     it), or sent an application/json (or +json) body that is not JSON.
//
// Requests share one http.Client whose Transport keeps up to
// MaxIdleConnsPerHost idle connections to the backend, so that requests
// reuse connections rather than opening one each.
//
// # Go routes and the backend together
//
// Fallback(goRoutes, up) serves each request with the Go handler first
// and sends it to the backend when Go answers 404, so a team ports one
// route at a time. An http.ServeMux with the Handler as its "/" route is
// the explicit alternative: a route table where anything not listed goes
// upstream.
//
// # The backend acts on sockets, and hears of them
//
// NewAPI serves the HTTP API (bearer keys) through which the backend
// emits, broadcasts, joins and leaves rooms, disconnects and lists
// sockets, as sails.sockets and io.to(...) do in Node; NewHooks POSTs the
// handshakes (the connect hook admits or refuses), chosen client events
// and disconnects to the backend; Hooks.Handshake puts the connect hook
// on the handshake requests of sails.io.js clients, so that they are
// refused as a Sails app's beforeConnect refuses them. See their
// documentation.
package upstream

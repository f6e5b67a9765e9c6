// Package sailsbridge lets unchanged sails.io.js front ends (1.2.1, which
// bundles socket.io-client 2.0.3: Socket.IO protocol v4 over Engine.IO 3)
// talk to a Go server: their virtual requests (io.socket.get, post, put,
// patch, delete, request) are served by any http.Handler and answered with
// the JWR sails.io.js expects, and the sails.sockets API and resourceful
// pub/sub are available in Go. It follows Sails 1.5.18 with
// sails-hook-sockets 3.0.2, as recorded from their traffic.
//
// The entry points:
//
//   - New builds a Bridge from an http.Handler and *Options (nil means
//     Sails' defaults).
//   - Bridge.Attach registers the virtual request events on a
//     socketio.Namespace (Sails uses "/").
//   - Bridge.Guard wraps the Socket.IO server's handler to check
//     onlyAllowOrigins and beforeConnect with Sails' answers on the wire;
//     Bridge.GetCookieHandler serves /__getcookie; EngineOptions gives
//     Sails' Engine.IO settings.
//   - FromContext, IsSocket, GetID and NoSession tell a handler about the
//     socket behind a virtual request.
//   - NewSockets gives the sails.sockets API; Sockets.Model the
//     resourceful pub/sub helpers (created, updated, destroyed, addedTo,
//     removedFrom).
//   - SessionProvider is the hook a session system implements to share
//     sessions between HTTP and sockets; Sessions and SessionMiddleware
//     plug in the session package with Sails' rules (connect-time
//     sessions stored lazily, see Sessions); Recover answers a panic in
//     a plain HTTP request with a 500.
//
// A typical server:
//
//	srv, _ := socketio.NewServer(&socketio.Options{Engine: sailsbridge.EngineOptions()})
//	bridge, _ := sailsbridge.New(mux, &sailsbridge.Options{OnlyAllowOrigins: []string{"https://app.example.com"}})
//	bridge.Attach(srv.Of("/"))
//	mux.Handle("GET /__getcookie", bridge.GetCookieHandler())
//	root := http.NewServeMux()
//	root.Handle("/socket.io/", bridge.Guard(srv))
//	root.Handle("/", mux)
//
// # Virtual requests
//
// An event get, post, put, delete, patch, options or head with the payload
// {method, url, headers, data|params} becomes an *http.Request:
//
//   - Method: the event name in upper case. URL: the url sent, an absolute
//     path with its query, untouched (the handler parses the query as for
//     HTTP); an absolute URL keeps only its path and query.
//   - Body: JSON, for every method, as Sails makes it req.body: data when
//     it is an array, else the members of params then data (data wins);
//     Content-Type application/json. Binary values in data arrive as
//     base64 strings.
//   - Headers: the client's, except Cookie, Origin, Host, the framing and
//     hop-by-hop headers and the forwarding headers (X-Forwarded-*,
//     Forwarded, X-Real-Ip): Cookie is the socket's (see below), Origin and
//     the forwarding headers are the handshake's and cannot be set per
//     request, User-Agent and Accept-Language default to the handshake's.
//     A handshake nosession header adds "Nosession: true" to every request.
//   - Host: Options.Host, else the handshake's. RemoteAddr and TLS: the
//     handshake's.
//   - Context: the socket's (cancelled when it disconnects), bounded by
//     Options.Timeout, carrying the socket (FromContext).
//
// The handshake request is never modified; each request has its own
// header map.
//
// The response is captured (headers snapshotted at WriteHeader, body
// buffered up to Options.MaxResponseBytes, Flush does nothing, no Hijack)
// and acknowledged as {body, headers, statusCode}:
//
//   - body: by Content-Type: JSON types as the JSON value, text types
//     (text/*, JavaScript, XML, form) as a string, anything else as a
//     binary attachment (sails.io.js gives a Buffer/ArrayBuffer). Without
//     Content-Type, a JSON object or array goes as JSON (what Sails'
//     res.json sends, without a header), other UTF-8 as a string, else
//     binary. No body key when the body is empty (Sails' res.send()).
//   - headers: lower-case names, sorted, several values joined with ", ";
//     Set-Cookie (any case), Content-Length, Transfer-Encoding,
//     Connection and Trailer are left out. Omitted with
//     Options.OmitHeaders.
//   - statusCode: the status (200 when none was written; 1xx are
//     ignored). Omitted with Options.OmitStatusCode. Redirects are not
//     followed: the client gets the 3xx with its Location.
//
// A request without an ack id is served, and nothing is sent back. Each
// request runs on its own goroutine, and a socket's requests run
// concurrently, as with Sails: a slow one never holds back the next. The
// memory they hold is bounded per socket in bytes
// (Options.MaxInFlightBytes, 16 MiB by default: each request counts its
// payload plus RequestOverhead); a request over the bound gets a 429 "Too
// Many Requests" JWR at once. Acks go out as responses complete, so out
// of order, as with Sails.
//
// The url and headers of a request are bounded as Node's HTTP server
// bounds a request's (Options.MaxHeaderBytes, 16 KiB by default, counting
// the url and every header name and value the client sent): past it the
// request gets a 414 "URI Too Long" JWR when the url alone is too long, a
// 431 "Request Header Fields Too Large" one otherwise, without reaching
// the handler; the socket goes on. Sails has no such bound.
//
// # Cookies of a socket
//
// Each socket has a cookie jar: its handshake's Cookie header (with the
// cookie SessionProvider.Connect returns merged in: a handshake's
// "lang=fr" stays beside the session cookie made at connect), updated by the Set-Cookie headers of
// its virtual responses (name and value only; attributes are ignored, a
// cookie expired or with Max-Age <= 0 is removed). Every request of the
// socket carries it; a client can never set Cookie per request. This
// generalises what Sails does for cookieless handshakes (it adopts the
// first Set-Cookie) and lets Go session middleware, or the session
// package, work over sockets.
//
// # Connections
//
// OnlyAllowOrigins and BeforeConnect are checked by Guard with Sails'
// answers (see Guard); without Guard, Attach's middleware checks them when
// the socket connects and refuses with a CONNECT_ERROR. The SDK version
// (__sails_io_sdk_version, handshake header then query, default 0.9.0) is
// checked on every request, as Sails does: below 0.11.0 the request gets
// a parse error. A nosession header or query parameter on the handshake
// keeps SessionProvider out for that socket; NoSession(r) tells session
// middleware to skip a request. After a disconnect, the requests still
// running see their context cancelled and are not answered;
// AfterDisconnect runs once they have all returned.
//
// # Parse errors
//
// A payload that is not an object, has no url or a non-string url, or
// comes from an unsupported SDK, is answered with Sails' error
// {"code":"SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ","name":"Error (SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ):","status":400,"message":"Failed to parse incoming socket.io request.","details":…}
// through the ack, or as the event "sails:parseError" when there is no ack.
// details reproduce Sails' texts; payloads in them are formatted like
// Node's util.inspect with depth 0, on one line.
//
// # Decisions on Sails' quirks
//
// Each quirk of Sails found while recording it was decided on purpose;
// "compatible" means Pier behaves as Sails, "fixed" that it does not.
//
//  1. Non-semver SDK version (Sails crashes): fixed. The request
//     gets the usual "not compatible … (abc)" parse error; the server goes
//     on.
//  2. sendResponseHeaders false (Sails crashes on the first response):
//     fixed. Options.OmitHeaders leaves "headers" out of the JWR,
//     which sails.io.js turns into {}. OmitStatusCode (sendStatusCode
//     false) is compatible: no statusCode, so the client sees 200.
//  3. Three-argument broadcast(room, data, socketToOmit) not omitting:
//     fixed by construction: Sockets.Broadcast takes the event and
//     the socket to omit as separate arguments, and always omits it.
//  4. Multi-room broadcast delivered once per room: fixed. A socket
//     in several of the rooms gets the event once, as with Socket.IO's
//     to(r1, r2) and sails-hook-sockets 2.x; Model.Publish likewise.
//  5. Capital Set-Cookie leaking into the JWR: fixed. Set-Cookie in
//     any case never reaches the client.
//  6. Duplicated header keys (X-Foo and x-foo): fixed.
//     Request headers have one canonical key each (Go's lookups ignore
//     case); JWR headers appear once, in lower case (what Sails'
//     setHeader and Node's getHeaders produce).
//  7. res.json(string) double-encoding: fixed. A JSON body is sent
//     as the value it encodes: a handler writing "str" as
//     application/json gives the client the string str.
//  8. Throw-away sessions: the bridge's part is fixed: the socket's
//     cookie jar takes every Set-Cookie of its responses, so after a
//     session is regenerated (passport login/logout) later requests use the
//     new session instead of a fresh one each time. What happens with an
//     invalid or unknown cookie is the SessionProvider's decision.
//  9. Connect-created sessions ignoring cookie.maxAge: left to the
//     SessionProvider (the session package), which creates them.
//  10. Flat querystring on sockets vs qs on HTTP: fixed (made
//     consistent). The bridge passes the query untouched; the handler
//     parses it the same way for HTTP and sockets (net/url is flat, like
//     Sails' socket parsing).
//  11. Admin bus channel "<key>" without "#sails#": compatible, in
//     redisadapter.SailsBus (exactly "<key>" when a key is set, as Sails
//     does). Join, Leave and the room-member operations go through the
//     namespace's adapter (socketio's SocketsJoin/SocketsLeave with a room
//     selection), which reaches other Pier nodes; Sockets.WithBus also
//     publishes them on the admin bus, where Node Sails nodes apply them.
//
// Other differences from Sails, all deliberate:
//
//   - Bounds: Options.MaxHeaderBytes (414/431) and
//     Options.MaxInFlightBytes (429) on virtual requests; Sails has none.
//   - A cookieless socket's connect-time session is stored when its
//     first virtual request runs (or when AfterDisconnect changes it),
//     not at connect: idle sockets leave nothing in the store. The
//     cookie and session ID its requests see are the same.
//   - A handshake with cookies but no valid session cookie gets a
//     connect-time session too (Sails gives it none, so each of its
//     requests makes a throw-away session), its other cookies kept.
//   - Timeout: Sails has none; here a request gets a 504 "Gateway Timeout"
//     JWR after Options.Timeout (60s by default; negative disables).
//   - A panicking handler gets a 500 "Internal Server Error" JWR (Sails'
//     production answer): never a stack trace.
//   - A url that is not an absolute path or URL gets a 404 "Not Found"
//     without reaching the handler (Sails finds no route for it); an
//     unparsable one a 400 "Bad Request" (as net/http answers).
//   - A scalar data ("abc") is sent as is, not spread into {"0":"a",…}.
//   - OnlyAllowOrigins and BeforeConnect both apply when both are set
//     (Sails drops onlyAllowOrigins); origins in upper case are refused at
//     New since they can never match.
//   - The client's per-request Host and forwarding headers are ignored
//     (Sails takes Host from the payload).
package sailsbridge

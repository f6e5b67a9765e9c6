// Package session shares sessions with Node: express-session, Sails and
// connect-redis read the sessions Pier writes, and Pier reads theirs, so
// users stay logged in when a Node backend is replaced by Go one server at
// a time.
//
// The entry points:
//
//   - New builds a Manager from a Store and *Options (nil means
//     express-session's defaults; Secrets or a Codec is required).
//   - Manager.Middleware wraps an http.Handler: the request's session is
//     loaded from its cookie, FromContext gives it to the handler, and it is
//     saved when the response starts, with express-session's rules
//     (Options.Resave, SaveUninitialized, Rolling).
//   - Manager.FromRequest loads or creates the session of a socket's
//     handshake request; Session.Save stores it, Manager.Cookie gives the
//     cookie that names it.
//   - Session holds the data: Get, Set, Delete, Raw and Keys for values,
//     PassportUser for passport's logged-in user, Regenerate and Destroy.
//   - Store is where sessions live: MemoryStore here, and the Redis store,
//     byte-compatible with connect-redis, in package session/redisstore.
//   - Codec encodes the session ID into the cookie: ExpressCodec, the
//     default, is express-session's signed format (several secrets for
//     rotation); a *securecookie.SecureCookie also fits, for Go-only
//     deployments.
//
// What is stored is what express-session stores: the JSON object of the
// session's values with its "cookie" object ({"originalMaxAge", "expires",
// "httpOnly", "path", ...}), under the session ID, with a TTL that the
// cookie's expiry gives, or the store's default (one day) for a
// browser-session cookie.
//
// Differences from express-session, all on the strict side: the cookie is
// parsed as the npm cookie module parses it (first of duplicate names wins,
// even when malformed), but a value that is not valid percent-encoded UTF-8
// is rejected rather than used raw; stored data that is not a session
// object gives a new session instead of a 500; a cookie change made with
// Session.SetMaxAge counts as a modification; and changes made after the
// response has started are still saved.
//
// References: express-session 1.19.0 (index.js, session/*.js),
// cookie-signature 1.0.7, connect-redis 9.0.0 and @sailshq/connect-redis
// 6.1.3, as Sails 1.5 uses them.
package session

package kit

import "net/http"

// Policy is one step of a route's policy chain (Sails' policies): it
// either answers the request itself (a refusal is an ordinary response,
// which over a socket becomes the JWR) or calls next. Policies run in
// order after the hooks (CSRF); the first that answers ends the request.
type Policy func(next http.Handler) http.Handler

// Allow is Sails' policy true: it lets every request through.
func Allow(next http.Handler) http.Handler { return next }

// Deny is Sails' policy false: every request gets 403 "Forbidden".
func Deny(next http.Handler) http.Handler {
	return http.HandlerFunc(Forbidden)
}

// Check makes a Policy of a function that answers the request and returns
// false to stop, or returns true to continue without answering, the shape
// of most Sails policies (`if (req.session.userId) return next(); return
// res.forbidden();`).
func Check(f func(w http.ResponseWriter, r *http.Request) bool) Policy {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if f(w, r) {
				next.ServeHTTP(w, r)
			}
		})
	}
}

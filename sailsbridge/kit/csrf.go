package kit

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/session"
)

// CSRFSecretKey is the session key of the CSRF secret, the one Sails
// (csurf) uses, so that Node and Go servers sharing sessions accept each
// other's tokens.
const CSRFSecretKey = "csrfSecret"

// CSRF is Sails' CSRF protection (security.csrf: true) as a hook for
// Router.Use. Every request that passes it gets a per-session secret
// (created on the first one, any method). POST, PUT, PATCH and DELETE
// must then carry a token of that secret in the body's or the query's
// _csrf, or in a csrf-token, xsrf-token, x-csrf-token or x-xsrf-token
// header; otherwise they get 403 "Forbidden" — over HTTP and sockets
// alike, on every path, matched or not. GET, HEAD and OPTIONS are exempt,
// and so are routes with Route.CSRF false. A request without a session
// (see session.Manager and sailsbridge.SessionMiddleware) can only pass
// the exempt methods. The token's value stays in the params, as in Sails.
//
// The router must run inside the session middleware, so that
// session.FromContext finds the session.
func CSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		exempt := false
		if o, ok := matchedRoute(r); ok && o.CSRF != nil && !*o.CSRF {
			exempt = true
		}
		s := session.FromContext(r.Context())
		var secret string
		if s != nil {
			s.Get(CSRFSecretKey, &secret)
			if secret == "" {
				secret = newCSRFSecret()
				if err := s.Set(CSRFSecretKey, secret); err != nil {
					ServerError(w, r, err)
					return
				}
			}
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			exempt = true
		}
		if !exempt && (secret == "" || !VerifyCSRFToken(secret, csrfToken(r))) {
			Forbidden(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CSRFTokenHandler serves Sails' security/grant-csrf-token action, mounted
// at "GET /csrfToken" (Sails declares no such route by default): over
// HTTP, 200 {"_csrf": token} for the request's session ({"_csrf": ""}
// without a session); over a socket, 400 with Sails' message, since a
// token must be fetched by HTTP. Any number of tokens are valid at once.
func CSRFTokenHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sailsbridge.IsSocket(r) {
			Text(w, r, http.StatusBadRequest, "Error: Cannot access CSRF token via socket request.  Instead, send an HTTP request (i.e. XHR) to this endpoint.")
			return
		}
		token := ""
		if s := session.FromContext(r.Context()); s != nil {
			var secret string
			s.Get(CSRFSecretKey, &secret)
			if secret == "" {
				secret = newCSRFSecret()
				if err := s.Set(CSRFSecretKey, secret); err != nil {
					ServerError(w, r, err)
					return
				}
			}
			token = NewCSRFToken(secret)
		}
		JSON(w, r, http.StatusOK, map[string]string{"_csrf": token})
	})
}

func csrfToken(r *http.Request) string {
	if b, err := Body(r); err == nil {
		if m, ok := b.(map[string]any); ok {
			if t, ok := m["_csrf"].(string); ok {
				return t
			}
		}
	}
	if t := r.URL.Query().Get("_csrf"); t != "" {
		return t
	}
	for _, h := range []string{"Csrf-Token", "Xsrf-Token", "X-Csrf-Token", "X-Xsrf-Token"} {
		if t := r.Header.Get(h); t != "" {
			return t
		}
	}
	return ""
}

func newCSRFSecret() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b) // 24 characters
}

const saltChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewCSRFToken returns a new token of secret, in the csrf package's form
// that Sails uses: an 8-character salt, "-", and the unpadded url-safe
// base64 of SHA-1(salt + "-" + secret).
func NewCSRFToken(secret string) string {
	b := make([]byte, 8)
	rand.Read(b)
	for i := range b {
		b[i] = saltChars[int(b[i])%len(saltChars)]
	}
	return csrfTokenOf(string(b), secret)
}

func csrfTokenOf(salt, secret string) string {
	sum := sha1.Sum([]byte(salt + "-" + secret))
	return salt + "-" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// VerifyCSRFToken tells whether token was made from secret.
func VerifyCSRFToken(secret, token string) bool {
	salt, _, ok := strings.Cut(token, "-")
	if !ok || secret == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(csrfTokenOf(salt, secret)), []byte(token)) == 1
}

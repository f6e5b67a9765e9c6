package kit

import (
	"encoding/json"
	"net/http"

	"github.com/pierhq/pier/sailsbridge"
)

// JSON answers status with v encoded as JSON, as Sails' res.json does, so
// that sails.io.js and HTTP clients get the value v (a string arrives as
// that string, never double-encoded). Over HTTP the Content-Type is
// application/json. Over a socket an object or array goes without
// Content-Type (the JWR carries "headers":{} as in Sails); scalars carry
// application/json so that the bridge keeps their type.
func JSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		ServerError(w, r, err)
		return
	}
	if !sailsbridge.IsSocket(r) || (len(b) > 0 && b[0] != '{' && b[0] != '[') {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(status)
	w.Write(b)
}

// Text answers status with the plain text s: over HTTP as text/plain,
// over a socket as the JWR body s with "headers":{}, as Sails' default
// responses do.
func Text(w http.ResponseWriter, r *http.Request, status int, s string) {
	if !sailsbridge.IsSocket(r) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
	}
	w.WriteHeader(status)
	w.Write([]byte(s))
}

// Ok is res.ok(data): 200 with data as JSON, or the text "OK" when data is
// nil.
func Ok(w http.ResponseWriter, r *http.Request, data any) {
	withDefault(w, r, http.StatusOK, data, "OK")
}

// BadRequest is res.badRequest(data): 400 with data as JSON, or the text
// "Bad Request" when data is nil. An error is sent as its message.
func BadRequest(w http.ResponseWriter, r *http.Request, data any) {
	if err, ok := data.(error); ok {
		data = err.Error()
	}
	withDefault(w, r, http.StatusBadRequest, data, "Bad Request")
}

// Forbidden is res.forbidden(): 403 "Forbidden" (Sails ignores any data).
func Forbidden(w http.ResponseWriter, r *http.Request) {
	Text(w, r, http.StatusForbidden, "Forbidden")
}

// NotFound is res.notFound(): 404 "Not Found" (Sails ignores any data),
// also what Router answers for a request no route matches.
func NotFound(w http.ResponseWriter, r *http.Request) {
	Text(w, r, http.StatusNotFound, "Not Found")
}

// ServerError is res.serverError(err) as Sails answers in production: 500
// "Internal Server Error". The error itself is never sent to the client
// (Sails' development mode sends the stack); log it where it happens.
func ServerError(w http.ResponseWriter, r *http.Request, err error) {
	Text(w, r, http.StatusInternalServerError, "Internal Server Error")
}

func withDefault(w http.ResponseWriter, r *http.Request, status int, data any, text string) {
	if data == nil {
		Text(w, r, status, text)
		return
	}
	JSON(w, r, status, data)
}

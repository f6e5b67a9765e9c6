package engineio

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// CORSOptions makes the server answer cross-origin requests the way
// Node's cors option (the cors npm package) does: every polling request
// from an allowed origin gets Access-Control-Allow-Origin with that origin
// and Vary: Origin; an OPTIONS preflight is answered 204 with the allowed
// methods and headers. A request from another origin is still served, but
// without Access-Control-Allow-Origin, so that the browser withholds the
// answer from the page. Websocket upgrades carry no CORS headers (browsers
// do not ask for them).
type CORSOptions struct {
	// Origin lists the allowed origins, compared exactly with the request's
	// Origin header. The single entry "*" allows any origin and is sent as
	// "*" (which browsers refuse together with credentials: use
	// AllowOriginFunc returning true to reflect any origin instead).
	Origin []string

	// AllowOriginFunc, when set, decides for the origins that Origin does
	// not list; an allowed origin is reflected.
	AllowOriginFunc func(origin string) bool

	// Methods are sent in Access-Control-Allow-Methods on preflights.
	// Default GET, HEAD, PUT, PATCH, POST, DELETE.
	Methods []string

	// AllowedHeaders are sent in Access-Control-Allow-Headers on
	// preflights. Default: the headers the preflight asks for
	// (Access-Control-Request-Headers), reflected.
	AllowedHeaders []string

	// ExposedHeaders are sent in Access-Control-Expose-Headers.
	ExposedHeaders []string

	// Credentials sends Access-Control-Allow-Credentials: true, letting
	// the page send cookies.
	Credentials bool

	// MaxAge, when positive, is sent in Access-Control-Max-Age (seconds a
	// browser may cache a preflight).
	MaxAge int
}

// DefaultCORSMethods is the default of CORSOptions.Methods.
var DefaultCORSMethods = []string{"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"}

// allowOrigin returns the Access-Control-Allow-Origin value for origin, or
// "" when it is not allowed.
func (c *CORSOptions) allowOrigin(origin string) string {
	if len(c.Origin) == 1 && c.Origin[0] == "*" {
		return "*"
	}
	if origin == "" {
		return ""
	}
	if slices.Contains(c.Origin, origin) || (c.AllowOriginFunc != nil && c.AllowOriginFunc(origin)) {
		return origin
	}
	return ""
}

// serveCORS adds the CORS headers to w and answers preflights, reporting
// whether the request has been answered.
func (c *CORSOptions) serveCORS(w http.ResponseWriter, r *http.Request) bool {
	if isWebSocketUpgrade(r) {
		return false
	}
	h := w.Header()
	allowed := c.allowOrigin(r.Header.Get("Origin"))
	if allowed != "" {
		h.Set("Access-Control-Allow-Origin", allowed)
	}
	if allowed != "*" {
		h.Add("Vary", "Origin")
	}
	if c.Credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if len(c.ExposedHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposedHeaders, ","))
	}
	if r.Method != http.MethodOptions {
		return false
	}
	methods := c.Methods
	if methods == nil {
		methods = DefaultCORSMethods
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(methods, ","))
	if c.AllowedHeaders != nil {
		if len(c.AllowedHeaders) > 0 {
			h.Set("Access-Control-Allow-Headers", strings.Join(c.AllowedHeaders, ","))
		}
	} else if asked := r.Header.Get("Access-Control-Request-Headers"); asked != "" {
		h.Set("Access-Control-Allow-Headers", asked)
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	if c.MaxAge > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(c.MaxAge))
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return true
}

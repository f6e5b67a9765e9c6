package engineio

import (
	"net/http"
	"strconv"
	"sync/atomic"
)

// Header values shared by every response, so that setting them allocates
// nothing. Each has capacity 1: an append by a header hook copies it.
var (
	hdrTextPlain   = []string{"text/plain; charset=UTF-8"}
	hdrOctetStream = []string{"application/octet-stream"}
	hdrTextHTML    = []string{"text/html"}
	hdrNoStore     = []string{"no-store"}
	hdrLength2     = []string{"2"}
)

// setHeader sets header key of h (in canonical form) to the single value
// of vals, as h.Set does. vals is shared with other responses, which is
// safe because net/http copies a handler's header before it writes or
// changes it; when a header hook will see h (and so might change a value
// in place), it gets a copy of its own.
func (s *Server) setHeader(h http.Header, key string, vals []string) {
	if s.opts.OnHeaders != nil || s.opts.OnInitialHeaders != nil {
		vals = []string{vals[0]}
	}
	h[key] = vals
}

// contentLengths caches the Content-Length values of small bodies, made
// on first use.
var contentLengths [1024]atomic.Pointer[[]string]

// contentLength returns the Content-Length header value of an n-byte
// body. The slice may be shared: it must not be modified.
func contentLength(n int) []string {
	if n >= len(contentLengths) {
		return []string{strconv.Itoa(n)}
	}
	if p := contentLengths[n].Load(); p != nil {
		return *p
	}
	v := []string{strconv.Itoa(n)}
	contentLengths[n].Store(&v)
	return v
}

package sailsbridge

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
)

// Recover wraps an HTTP handler so that a panic in a plain HTTP request
// is answered as the bridge answers one in a virtual request: 500
// "Internal Server Error" (text/plain), the stack logged with slog at
// Warn, and the connection kept for the client's next request (net/http
// alone drops it). When the response had already started, nothing can be
// sent instead: the connection is aborted (http.ErrAbortHandler), so that
// the client does not take a truncated body for a whole one. Virtual
// requests pass through untouched: the bridge recovers them itself.
// SessionMiddleware includes it.
func Recover(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IsSocket(r) {
			h.ServeHTTP(w, r)
			return
		}
		rw := &startWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			slog.Warn("sailsbridge: panic serving HTTP request", "method", r.Method, "url", r.URL.String(), "panic", v, "stack", string(debug.Stack()))
			if rw.started {
				panic(http.ErrAbortHandler)
			}
			hd := w.Header()
			for k := range hd {
				delete(hd, k)
			}
			hd.Set("Content-Type", "text/plain; charset=utf-8")
			hd.Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, http.StatusText(http.StatusInternalServerError))
		}()
		h.ServeHTTP(rw, r)
	})
}

// startWriter records whether the response has started. Flush, Hijack
// and the rest of http.ResponseController reach the wrapped writer.
type startWriter struct {
	http.ResponseWriter
	started bool
}

func (w *startWriter) WriteHeader(code int) {
	if code < 100 || code > 199 || code == http.StatusSwitchingProtocols {
		w.started = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *startWriter) Write(p []byte) (int, error) {
	w.started = true
	return w.ResponseWriter.Write(p)
}

// Flush starts the response.
func (w *startWriter) Flush() {
	w.started = true
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over; a later panic aborts it.
func (w *startWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.started = true
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the wrapped writer.
func (w *startWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

package upstream

import (
	"bytes"
	"io"
	"net/http"
)

// MaxFallbackBody bounds the body Fallback keeps to replay a request to
// the backend when the request cannot give it again (a plain HTTP request;
// a virtual request from the Sails bridge can). A larger body gets 413.
const MaxFallbackBody = 1 << 20

// Fallback returns a handler that serves each request with first (Go
// routes) and, when first answers 404 Not Found, sends it to next (an
// upstream Handler) instead, so that a team ports one route at a time:
// whatever Go does not serve yet goes to the backend. first's 404 headers
// and body are discarded; any other answer of first is the answer.
//
// The request body is given to next in full even when first read it. An
// http.ServeMux whose "/" pattern is the upstream Handler is the other way
// to mix them: an explicit route table.
func Fallback(first, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		replay, ok := replayable(r)
		if !ok {
			http.Error(w, "Request Entity Too Large", http.StatusRequestEntityTooLarge)
			return
		}
		fw := &fallthroughWriter{w: w, h: make(http.Header)}
		first.ServeHTTP(fw, r)
		if !fw.fell {
			if !fw.wrote {
				copyHeader(w.Header(), fw.h)
			}
			return
		}
		r2 := r.Clone(r.Context())
		if r2.Body, ok = replay(); !ok {
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			return
		}
		next.ServeHTTP(w, r2)
	})
}

// replayable returns a function giving r's body again. For a request that
// cannot (no GetBody), the body is read now, up to MaxFallbackBody.
func replayable(r *http.Request) (func() (io.ReadCloser, bool), bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return func() (io.ReadCloser, bool) { return http.NoBody, true }, true
	}
	if r.GetBody != nil {
		return func() (io.ReadCloser, bool) {
			b, err := r.GetBody()
			return b, err == nil
		}, true
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxFallbackBody+1))
	if err != nil || len(body) > MaxFallbackBody {
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return func() (io.ReadCloser, bool) { return io.NopCloser(bytes.NewReader(body)), true }, true
}

// fallthroughWriter passes a response on unless its status is 404, which
// it swallows. Headers are held apart until the status is known.
type fallthroughWriter struct {
	w     http.ResponseWriter
	h     http.Header
	wrote bool
	fell  bool
}

func (f *fallthroughWriter) Header() http.Header { return f.h }

func (f *fallthroughWriter) WriteHeader(code int) {
	if f.wrote {
		return
	}
	if code >= 100 && code <= 199 {
		return // informational: not the answer
	}
	f.wrote = true
	if code == http.StatusNotFound {
		f.fell = true
		return
	}
	copyHeader(f.w.Header(), f.h)
	f.w.WriteHeader(code)
}

func (f *fallthroughWriter) Write(p []byte) (int, error) {
	if !f.wrote {
		f.WriteHeader(http.StatusOK)
	}
	if f.fell {
		return len(p), nil
	}
	return f.w.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (f *fallthroughWriter) Unwrap() http.ResponseWriter { return f.w }

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = vs
	}
}

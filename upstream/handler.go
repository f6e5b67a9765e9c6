package upstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pierhq/pier/sailsbridge"
)

// Handler sends each request it serves to the backend as a real HTTP
// request and writes the backend's answer back. Given to the Sails bridge
// (sailsbridge.New), it serves the virtual requests of sails.io.js
// clients; see the package documentation for what is sent and returned.
//
// Concurrency: a Handler is safe for concurrent use; it holds no lock and
// shares one http.Client, whose Transport pools the connections to the
// backend.
type Handler struct {
	opts   Options
	base   *url.URL
	client *http.Client
	log    *slog.Logger
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler for opts. It fails when opts is nil or its URL is
// not an http(s) URL.
func New(opts *Options) (*Handler, error) {
	if opts == nil {
		return nil, errors.New("upstream: nil Options (URL is required)")
	}
	h := &Handler{opts: *opts}
	base, err := h.opts.normalize()
	if err != nil {
		return nil, err
	}
	h.base = base
	h.log = h.opts.Logger
	h.client = &http.Client{
		Transport: h.opts.Transport,
		// Redirects go back to the client, as a backend's answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return h, nil
}

// CloseIdleConnections closes the idle connections to the backend (at
// shutdown).
func (h *Handler) CloseIdleConnections() { h.client.CloseIdleConnections() }

// Hop-by-hop headers, never forwarded either way (RFC 9110 §7.6.1), plus
// the framing headers that the Handler sets itself.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Content-Length",
}

func removeHop(h http.Header) {
	for _, f := range h.Values("Connection") {
		for name := range strings.SplitSeq(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
}

// ServeHTTP sends r to the backend and writes its answer to w.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := newRequestID()
	sid := sailsbridge.GetID(r)
	log := h.log.With("rid", id, "sid", sid, "method", r.Method, "url", r.URL.RequestURI())

	ctx := r.Context()
	cancel := context.CancelFunc(func() {})
	if h.opts.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, h.opts.Timeout)
	}
	defer cancel()

	out, err := h.outgoing(ctx, r, id, sid)
	if err != nil {
		log.Warn("upstream: cannot build the request", "err", err)
		h.fail(w, id, http.StatusBadRequest, err.Error())
		return
	}
	resp, err := h.client.Do(out)
	if err != nil {
		h.failed(ctx, w, r, log, id, "upstream: the backend did not answer", err)
		return
	}
	defer resp.Body.Close()
	if resp.ContentLength > h.opts.MaxBodyBytes {
		log.Warn("upstream: the backend's answer is too large", "status", resp.StatusCode, "contentLength", resp.ContentLength, "limit", h.opts.MaxBodyBytes)
		h.fail(w, id, http.StatusBadGateway, "upstream: the backend's answer is larger than maxBodyBytes")
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, h.opts.MaxBodyBytes+1))
	if err != nil {
		h.failed(ctx, w, r, log, id, "upstream: the backend's answer was cut off", err)
		return
	}
	if int64(len(body)) > h.opts.MaxBodyBytes {
		log.Warn("upstream: the backend's answer is too large", "status", resp.StatusCode, "limit", h.opts.MaxBodyBytes)
		h.fail(w, id, http.StatusBadGateway, "upstream: the backend's answer is larger than maxBodyBytes")
		return
	}
	if len(body) > 0 && isJSON(resp.Header.Get("Content-Type")) && !json.Valid(body) {
		log.Warn("upstream: the backend's answer is not valid JSON", "status", resp.StatusCode, "contentType", resp.Header.Get("Content-Type"), "bytes", len(body))
		h.fail(w, id, http.StatusBadGateway, "upstream: the backend's answer is not valid JSON")
		return
	}
	dst := w.Header()
	for k, vs := range resp.Header {
		dst[k] = append(dst[k], vs...)
	}
	removeHop(dst)
	dst.Set(h.opts.RequestIDHeader, id)
	w.WriteHeader(resp.StatusCode)
	if len(body) > 0 && bodyAllowed(r.Method, resp.StatusCode) {
		w.Write(body)
	}
	log.Debug("upstream: answered", "status", resp.StatusCode, "bytes", len(body), "took", time.Since(start))
}

// outgoing builds the request to the backend.
func (h *Handler) outgoing(ctx context.Context, r *http.Request, id, sid string) (*http.Request, error) {
	target := *h.base
	target.Path = h.base.Path + r.URL.Path
	if r.URL.RawPath != "" {
		target.RawPath = h.base.EscapedPath() + r.URL.RawPath
	}
	target.RawQuery = r.URL.RawQuery
	body := r.Body
	if body == nil || r.ContentLength == 0 {
		body = http.NoBody
	}
	out, err := http.NewRequestWithContext(ctx, r.Method, target.String(), body)
	if err != nil {
		return nil, err
	}
	out.ContentLength = r.ContentLength
	if body == http.NoBody {
		out.ContentLength = 0
	}
	out.Header = r.Header.Clone()
	if out.Header == nil {
		out.Header = make(http.Header)
	}
	removeHop(out.Header)
	// Let the Transport ask for gzip and decode it: the JWR carries the
	// decoded body.
	out.Header.Del("Accept-Encoding")

	// Forwarding headers: the client's address appended to the chain the
	// handshake brought; host and scheme of the original request unless a
	// proxy in front already said them.
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := out.Header.Values("X-Forwarded-For"); len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		out.Header.Set("X-Forwarded-For", ip)
	}
	if out.Header.Get("X-Forwarded-Host") == "" && r.Host != "" {
		out.Header.Set("X-Forwarded-Host", r.Host)
	}
	if out.Header.Get("X-Forwarded-Proto") == "" {
		proto := "http"
		if r.TLS != nil {
			proto = "https"
		}
		out.Header.Set("X-Forwarded-Proto", proto)
	}
	out.Header.Del(h.opts.SocketIDHeader)
	if sid != "" {
		out.Header.Set(h.opts.SocketIDHeader, sid)
	}
	out.Header.Set(h.opts.RequestIDHeader, id)
	for k, vs := range h.opts.Headers {
		out.Header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = []string{""} // not Go's default
	}
	return out, nil
}

// failed answers a request whose exchange with the backend failed: 504
// when the Handler's timeout expired, 502 otherwise. When the client's
// own context ended (the socket left, or the bridge timed out), nothing
// is written: nobody reads it.
func (h *Handler) failed(ctx context.Context, w http.ResponseWriter, r *http.Request, log *slog.Logger, id, msg string, err error) {
	if r.Context().Err() != nil {
		log.Debug("upstream: the client went away", "err", err)
		return
	}
	if ctx.Err() == context.DeadlineExceeded {
		log.Warn("upstream: the backend timed out", "timeout", h.opts.Timeout, "err", err)
		h.fail(w, id, http.StatusGatewayTimeout, "upstream: the backend did not answer within "+h.opts.Timeout.String())
		return
	}
	log.Warn(msg, "err", err)
	h.fail(w, id, http.StatusBadGateway, msg)
}

// errorBody is the JSON body of the Handler's own error answers.
type errorBody struct {
	Status    int    `json:"status"`
	Error     string `json:"error"`
	Message   string `json:"message"`
	RequestID string `json:"requestId"`
}

// fail writes one of the Handler's own error answers.
func (h *Handler) fail(w http.ResponseWriter, id string, status int, msg string) {
	hd := w.Header()
	clear(hd)
	hd.Set("Content-Type", "application/json; charset=utf-8")
	hd.Set(h.opts.RequestIDHeader, id)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(errorBody{Status: status, Error: http.StatusText(status), Message: msg, RequestID: id})
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

func bodyAllowed(method string, status int) bool {
	return method != http.MethodHead && status != http.StatusNoContent && status != http.StatusNotModified && status >= 200
}

// newRequestID returns 16 random hex digits.
func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

package upstream

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Options configures a Handler. A nil *Options is invalid (URL is
// required); every zero field means the documented default.
type Options struct {
	// URL is the backend's base URL, "http://host[:port][/prefix]" or
	// https. A virtual request for /a?b=c goes to <URL>/a?b=c (the prefix,
	// when there is one, is put in front of the path). Required.
	URL string

	// Timeout bounds a request to the backend, from sending it to the
	// last byte of the answer. Past it, the client gets a 504 JWR.
	// Default DefaultTimeout; negative means no timeout of the Handler's
	// own (the Sails bridge's Options.Timeout still applies). Keep it
	// below the bridge's timeout (60s by default) so that the Handler's
	// 504, which is logged with its request id, is the one sent.
	Timeout time.Duration

	// MaxBodyBytes bounds the body of the backend's answer. An answer
	// announcing or sending more is not passed on: the client gets a 502
	// JWR and the connection to the backend is closed. Default
	// DefaultMaxBodyBytes (the Sails bridge's default response bound,
	// which must not be smaller).
	MaxBodyBytes int64

	// Headers are set on every request to the backend, replacing any the
	// client sent under the same names (a shared secret, for instance).
	Headers http.Header

	// SocketIDHeader names the header that carries the id of the socket a
	// virtual request came from (what a Sails app passes to
	// sails.sockets.join). The client can never set it. Default
	// "X-Socket-Id".
	SocketIDHeader string

	// RequestIDHeader names the header carrying the id the Handler gives
	// each request: sent to the backend, returned in the JWR's headers and
	// written in the logs. A client's value is replaced. Default
	// "X-Request-Id".
	RequestIDHeader string

	// Transport sends the requests. Default: a Transport of its own,
	// tuned to keep up to MaxIdleConnsPerHost idle connections to the
	// backend so that requests reuse them.
	Transport http.RoundTripper

	// Logger receives the backend's failures (Warn) and one line per
	// request (Debug), each with the request id. Default slog.Default().
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultTimeout         = 30 * time.Second
	DefaultMaxBodyBytes    = 8 << 20
	DefaultSocketIDHeader  = "X-Socket-Id"
	DefaultRequestIDHeader = "X-Request-Id"
	// MaxIdleConnsPerHost is how many idle connections the default
	// Transport keeps open to the backend.
	MaxIdleConnsPerHost = 64
)

// normalize checks o and fills in the defaults.
func (o *Options) normalize() (*url.URL, error) {
	if o.URL == "" {
		return nil, errors.New("upstream: URL is required")
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, fmt.Errorf("upstream: URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream: URL %q: want http(s)://host[:port][/prefix]", o.URL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("upstream: URL %q: no user, query or fragment allowed", o.URL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.SocketIDHeader == "" {
		o.SocketIDHeader = DefaultSocketIDHeader
	}
	if o.RequestIDHeader == "" {
		o.RequestIDHeader = DefaultRequestIDHeader
	}
	o.SocketIDHeader = http.CanonicalHeaderKey(o.SocketIDHeader)
	o.RequestIDHeader = http.CanonicalHeaderKey(o.RequestIDHeader)
	if o.Transport == nil {
		o.Transport = newTransport()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return u, nil
}

// newTransport is the default Transport: Go's defaults, with more idle
// connections kept per host (every request goes to the same backend).
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy: nil, // the backend is reached directly, whatever HTTP_PROXY says
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * MaxIdleConnsPerHost,
		MaxIdleConnsPerHost:   MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

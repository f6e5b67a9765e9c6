package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/socketio"
	"github.com/pierhq/pier/upstream"
)

// upstreamConfig is the upstream mode's configuration (the upstream
// section of Config, parsed; -upstream URL is upstream.url).
type upstreamConfig struct {
	URL          string
	Timeout      time.Duration // 0: upstream.DefaultTimeout
	MaxBodyBytes int64         // 0: upstream.DefaultMaxBodyBytes
	Headers      http.Header
	APIKeys      []string // the sockets API at /pier/api/ when set
	ConnectURL   string   // the connect hook
	EventsURL    string   // where Events and disconnects are POSTed
	Events       []string
}

// upstreamConfigOf maps the configuration's upstream section.
func upstreamConfigOf(c *UpstreamConfig) (upstreamConfig, error) {
	h := http.Header{}
	for _, kv := range c.Headers {
		name, value, ok := strings.Cut(kv, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return upstreamConfig{}, fmt.Errorf("upstream.headers: %q is not Name: value", kv)
		}
		h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return upstreamConfig{
		URL:          c.URL,
		Timeout:      c.Timeout.D(),
		MaxBodyBytes: c.MaxBodyBytes,
		Headers:      h,
		APIKeys:      c.APIKeys,
		ConnectURL:   c.Connect.URL,
		EventsURL:    c.Events.URL,
		Events:       c.Events.Names,
	}, nil
}

// newUpstreamApp is what `pier -upstream URL` serves: the Sails bridge on
// io's "/" namespace sends every sails.io.js virtual request to the
// backend (see package upstream), and every other HTTP request goes there
// too, so Pier can stand in front of the backend. Sessions stay the
// backend's: the bridge's cookie jar carries its cookies. With API keys,
// the backend acts on sockets through /pier/api/; with hook URLs, it hears
// of connections, events and disconnections. bridgeOpts configures the
// Sails bridge (its Logger defaults to log); wrap, when not nil, wraps the
// handler of virtual requests (metrics, drain).
func newUpstreamApp(io *socketio.Server, cfg upstreamConfig, bridgeOpts sailsbridge.Options, wrap func(http.Handler) http.Handler, log *slog.Logger) (http.Handler, error) {
	up, err := upstream.New(&upstream.Options{URL: cfg.URL, Timeout: cfg.Timeout, MaxBodyBytes: cfg.MaxBodyBytes, Headers: cfg.Headers, Logger: log})
	if err != nil {
		return nil, err
	}
	var sio http.Handler = io
	if cfg.ConnectURL != "" || cfg.EventsURL != "" {
		hooks, err := upstream.NewHooks(&upstream.HookOptions{ConnectURL: cfg.ConnectURL, EventsURL: cfg.EventsURL, Events: cfg.Events, Headers: cfg.Headers, Logger: log})
		if err != nil {
			return nil, err
		}
		hooks.Attach(io.Of("/"))
		sio = hooks.Handshake(io) // sails.io.js handshakes refused as Sails does
	}
	if bridgeOpts.Logger == nil {
		bridgeOpts.Logger = log
	}
	var virtual http.Handler = up
	if wrap != nil {
		virtual = wrap(up)
	}
	bridge, err := sailsbridge.New(virtual, &bridgeOpts)
	if err != nil {
		return nil, err
	}
	bridge.Attach(io.Of("/"))
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", bridge.Guard(sio))
	mux.Handle("/__getcookie", bridge.GetCookieHandler())
	if len(cfg.APIKeys) > 0 {
		api, err := upstream.NewAPI(io, &upstream.APIOptions{Keys: cfg.APIKeys, Logger: log})
		if err != nil {
			return nil, err
		}
		mux.Handle("/pier/api/", http.StripPrefix("/pier/api", api))
	}
	mux.Handle("/", up)
	log.Info("pier: upstream mode", "backend", cfg.URL, "api", len(cfg.APIKeys) > 0, "connectHook", cfg.ConnectURL != "", "eventsHook", cfg.EventsURL != "")
	return mux, nil
}

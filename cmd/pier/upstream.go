package main

import (
	"log/slog"
	"net/http"

	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/socketio"
	"github.com/pierhq/pier/upstream"
)

// newUpstreamApp is what `pier -upstream URL` serves: the Sails bridge on
// io's "/" namespace sends every sails.io.js virtual request to the
// backend at backendURL (see package upstream), and every other HTTP
// request goes there too, so Pier can stand in front of the backend.
// Sessions stay the backend's: the bridge's cookie jar carries its
// cookies.
func newUpstreamApp(io *socketio.Server, backendURL string, log *slog.Logger) (http.Handler, error) {
	up, err := upstream.New(&upstream.Options{URL: backendURL, Logger: log})
	if err != nil {
		return nil, err
	}
	bridge, err := sailsbridge.New(up, &sailsbridge.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	bridge.Attach(io.Of("/"))
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", bridge.Guard(io))
	mux.Handle("/__getcookie", bridge.GetCookieHandler())
	mux.Handle("/", up)
	log.Info("pier: upstream mode", "backend", backendURL)
	return mux, nil
}

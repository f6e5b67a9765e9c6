package main

import (
	"net/http"
	"time"

	"github.com/pierhq/pier/engineio"
)

// conformanceOptions are the settings the official protocol suites expect.
func conformanceOptions(path string) *engineio.Options {
	return &engineio.Options{
		Path:              path,
		PingInterval:      300 * time.Millisecond,
		PingTimeout:       200 * time.Millisecond,
		MaxHTTPBufferSize: 1_000_000,
	}
}

// echo is the Engine.IO fixture: every message goes back as it came.
type echo struct{}

func (echo) OnOpen(*engineio.Session)                          {}
func (echo) OnClose(*engineio.Session, error)                  {}
func (echo) OnMessage(s *engineio.Session, m engineio.Message) { s.Send(m) }

func runConformance(args []string) error {
	fs, addr, level := flags("pier conformance", "localhost:3000")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(*level)
	if err != nil {
		return err
	}
	o := conformanceOptions("/engine.io/")
	o.Logger = log
	eio, err := engineio.NewServer(echo{}, o)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", eio)
	return serve(*addr, mux, log, eio)
}

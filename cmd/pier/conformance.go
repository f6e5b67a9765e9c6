package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/socketio"
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

// newSocketIOFixture is the Socket.IO fixture of the official v5 suite:
// "/" and "/custom" greet with the auth payload, "/" echoes "message" as
// "message-back" and acknowledges "message-with-ack" with its arguments.
func newSocketIOFixture(eo *engineio.Options) (*socketio.Server, error) {
	io, err := socketio.NewServer(&socketio.Options{Engine: eo, ConnectTimeout: time.Second, Logger: eo.Logger})
	if err != nil {
		return nil, err
	}
	greet := func(s *socketio.Socket) { s.Emit("auth", s.Handshake().Auth) }
	io.OnConnection(func(s *socketio.Socket) {
		greet(s)
		s.On("message", func(s *socketio.Socket, e *socketio.Event) {
			s.Emit("message-back", e.Values()...)
		})
		s.On("message-with-ack", func(s *socketio.Socket, e *socketio.Event) {
			e.Ack(e.Values()...)
		})
	})
	io.Of("/custom").OnConnection(greet)
	return io, nil
}

func runConformance(args []string) error {
	fs, addr, level := flags("pier conformance", "localhost:3000")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
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
	so := conformanceOptions("/socket.io/")
	so.Logger = log
	sio, err := newSocketIOFixture(so)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", eio)
	mux.Handle("/socket.io/", sio)
	return serve(*addr, mux, log, eio, sio)
}

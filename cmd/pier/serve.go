package main

import (
	"net/http"

	"github.com/pierhq/pier/engineio"
)

// logSessions is the placeholder application of the default server until
// the Socket.IO layer serves /socket.io/: it logs sessions and ignores
// their messages.
type logSessions struct{ srv *engineio.Server }

func (logSessions) OnOpen(*engineio.Session)                      {}
func (logSessions) OnMessage(*engineio.Session, engineio.Message) {}
func (logSessions) OnClose(*engineio.Session, error)              {}

func runServe(args []string) error {
	fs, addr, level := flags("pier", ":1337")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(*level)
	if err != nil {
		return err
	}
	eio, err := engineio.NewServer(logSessions{}, &engineio.Options{Path: "/socket.io/", Logger: log})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", eio)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("Pier is running. Socket.IO clients connect to /socket.io/.\n"))
	})
	return serve(*addr, mux, log, eio)
}

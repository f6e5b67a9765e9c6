package upstream

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/pierhq/pier/socketio"
)

// APIOptions configures the sockets API (NewAPI).
type APIOptions struct {
	// Keys are the bearer keys a caller may present in
	// "Authorization: Bearer <key>". Several keys allow rotation: add the
	// new key, move the callers, remove the old one. At least one is
	// required; each must be at least 16 bytes.
	Keys []string

	// Namespaces are the namespaces a call may name (the API never
	// creates one). Default: only "/", where the Sails bridge lives.
	Namespaces []string

	// MaxBodyBytes bounds a call's JSON body; a larger one gets 413.
	// Default DefaultAPIMaxBodyBytes.
	MaxBodyBytes int64

	// Logger receives refused calls (Debug) and failed operations (Warn).
	// Default slog.Default().
	Logger *slog.Logger
}

// DefaultAPIMaxBodyBytes is the default bound of an API call's body.
const DefaultAPIMaxBodyBytes = 1 << 20

// api is the handler NewAPI returns. It holds no state of its own beyond
// its options and is safe for concurrent use.
type api struct {
	srv  *socketio.Server
	keys [][]byte
	nsps map[string]bool
	max  int64
	log  *slog.Logger
}

// NewAPI returns the HTTP API through which a backend acts on the sockets
// of srv, what sails.sockets and io.to(...) do in a Node server. Every
// call is a POST with a JSON body, authenticated by a bearer key, and goes
// through the namespace's adapter, so it reaches the sockets of every
// server of a cluster. Mount it under a prefix with http.StripPrefix.
//
// Each body selects sockets with "namespace" (default "/"; one of
// APIOptions.Namespaces), "sockets"
// (ids), "rooms" and "except" (rooms whose members are left out):
//
//	POST /emit        {"event": "e", "data": v}  or "args": [v1, v2]
//	                  to the selection; with neither sockets nor rooms,
//	                  to the whole namespace (sails.sockets.blast)
//	POST /join        {"join": ["r1"]}  the selected sockets join rooms
//	                  (with "rooms": ["src"], addRoomMembersToRooms)
//	POST /leave       {"leave": ["r1"]} (removeRoomMembersFromRooms)
//	POST /leave-all   the selected sockets leave all their rooms
//	POST /disconnect  {"close": false} disconnects the selected sockets;
//	                  it answers once the disconnections are queued, so a
//	                  socket busy in a handler may be listed a moment more
//	POST /sockets     answers {"sockets": [{"id", "rooms"}]}, sorted by id,
//	                  each socket's own room first
//
// join, leave, leave-all and disconnect need sockets or rooms (they never
// act on a whole namespace by accident). Answers are JSON: {"ok": true},
// or {"error": "...", "field": "..."} with 400 naming the field at fault,
// 401 for a missing or wrong key, 413 for a body over MaxBodyBytes.
func NewAPI(srv *socketio.Server, opts *APIOptions) (http.Handler, error) {
	if srv == nil {
		return nil, errors.New("upstream: NewAPI: nil server")
	}
	a := &api{srv: srv, max: DefaultAPIMaxBodyBytes, log: slog.Default(), nsps: map[string]bool{}}
	if opts != nil {
		for _, n := range opts.Namespaces {
			if !strings.HasPrefix(n, "/") {
				return nil, fmt.Errorf("upstream: NewAPI: namespace %q does not start with /", n)
			}
			a.nsps[n] = true
		}
		for i, k := range opts.Keys {
			if len(k) < 16 {
				return nil, fmt.Errorf("upstream: NewAPI: key %d is shorter than 16 bytes", i)
			}
			a.keys = append(a.keys, []byte(k))
		}
		if opts.MaxBodyBytes > 0 {
			a.max = opts.MaxBodyBytes
		}
		if opts.Logger != nil {
			a.log = opts.Logger
		}
	}
	if len(a.nsps) == 0 {
		a.nsps["/"] = true
	}
	if len(a.keys) == 0 {
		return nil, errors.New("upstream: NewAPI: at least one key is required")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /emit", a.call(a.emit))
	mux.HandleFunc("POST /join", a.call(a.join))
	mux.HandleFunc("POST /leave", a.call(a.leave))
	mux.HandleFunc("POST /leave-all", a.call(a.leaveAll))
	mux.HandleFunc("POST /disconnect", a.call(a.disconnect))
	mux.HandleFunc("POST /sockets", a.call(a.fetch))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !a.authorized(r) {
			a.unauthorized(w)
			return
		}
		apiError(w, http.StatusNotFound, "no such call: "+r.Method+" "+r.URL.Path, "")
	})
	return mux, nil
}

// apiRequest is the body of every call; each call reads the fields it
// needs and refuses the ones it does not know.
type apiRequest struct {
	Namespace string            `json:"namespace"`
	Sockets   []string          `json:"sockets"`
	Rooms     []string          `json:"rooms"`
	Except    []string          `json:"except"`
	Event     string            `json:"event"`
	Data      json.RawMessage   `json:"data"`
	Args      []json.RawMessage `json:"args"`
	Join      []string          `json:"join"`
	Leave     []string          `json:"leave"`
	Close     bool              `json:"close"`
}

// fieldError is a 400 naming the field at fault.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func (a *api) call(op func(r *http.Request, req *apiRequest) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.authorized(r) {
			a.unauthorized(w)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, a.max+1))
		if err != nil {
			apiError(w, http.StatusBadRequest, "reading the body: "+err.Error(), "")
			return
		}
		if int64(len(body)) > a.max {
			apiError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", a.max), "")
			return
		}
		var req apiRequest
		if err := decodeStrict(body, &req); err != nil {
			var fe *fieldError
			if errors.As(err, &fe) {
				apiError(w, http.StatusBadRequest, fe.msg, fe.field)
			} else {
				apiError(w, http.StatusBadRequest, err.Error(), "")
			}
			return
		}
		if req.Namespace == "" {
			req.Namespace = "/"
		}
		if !a.nsps[req.Namespace] {
			apiError(w, http.StatusBadRequest, "not a namespace of this API: "+req.Namespace, "namespace")
			return
		}
		out, err := op(r, &req)
		if err != nil {
			var fe *fieldError
			if errors.As(err, &fe) {
				apiError(w, http.StatusBadRequest, fe.msg, fe.field)
				return
			}
			a.log.Warn("upstream: sockets API call failed", "path", r.URL.Path, "err", err)
			apiError(w, http.StatusInternalServerError, err.Error(), "")
			return
		}
		if out == nil {
			out = map[string]bool{"ok": true}
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode(out)
	}
}

// decodeStrict decodes one JSON object, refusing unknown fields and
// values of the wrong type with the field's name.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		if dec.More() {
			return errors.New("the body must be one JSON object")
		}
		return nil
	case errors.As(err, &te) && te.Field != "":
		return &fieldError{te.Field, "must be " + jsonType(te.Type.Kind().String()) + ", not " + te.Value}
	case errors.As(err, &te):
		return errors.New("the body must be a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &fieldError{name, "unknown field"}
	}
	return fmt.Errorf("invalid JSON: %v", err)
}

func jsonType(kind string) string {
	switch kind {
	case "slice":
		return "an array"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	}
	return kind
}

func (a *api) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		return false
	}
	match := 0
	for _, k := range a.keys {
		match |= subtle.ConstantTimeCompare([]byte(token), k)
	}
	return match == 1
}

func (a *api) unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="pier"`)
	apiError(w, http.StatusUnauthorized, "missing or wrong bearer key", "")
}

func apiError(w http.ResponseWriter, status int, msg, field string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	body := map[string]string{"error": msg}
	if field != "" {
		body["field"] = field
	}
	json.NewEncoder(w).Encode(body)
}

// selection is the broadcast operator of a call's sockets, rooms and
// except. need says that an empty selection is an error.
func (a *api) selection(req *apiRequest, need bool) (socketio.BroadcastOperator, error) {
	op := a.srv.Of(req.Namespace).Except()
	var to []socketio.Room
	for _, id := range req.Sockets {
		if id == "" {
			return op, &fieldError{"sockets", "ids must not be empty"}
		}
		to = append(to, socketio.Room(id))
	}
	for _, r := range req.Rooms {
		if r == "" {
			return op, &fieldError{"rooms", "room names must not be empty"}
		}
		to = append(to, socketio.Room(r))
	}
	if need && len(to) == 0 {
		return op, &fieldError{"sockets", "sockets or rooms is required"}
	}
	if len(to) > 0 {
		op = op.To(to...)
	}
	if len(req.Except) > 0 {
		op = op.Except(rooms("except", req.Except)...)
	}
	return op, nil
}

func rooms(_ string, names []string) []socketio.Room {
	out := make([]socketio.Room, len(names))
	for i, n := range names {
		out[i] = socketio.Room(n)
	}
	return out
}

func (a *api) emit(r *http.Request, req *apiRequest) (any, error) {
	if req.Event == "" {
		return nil, &fieldError{"event", "required"}
	}
	if req.Data != nil && req.Args != nil {
		return nil, &fieldError{"args", "give data or args, not both"}
	}
	op, err := a.selection(req, false)
	if err != nil {
		return nil, err
	}
	var args []any
	switch {
	case req.Args != nil:
		for _, v := range req.Args {
			args = append(args, v)
		}
	case req.Data != nil:
		args = []any{req.Data}
	}
	return nil, op.Emit(req.Event, args...)
}

func (a *api) join(r *http.Request, req *apiRequest) (any, error) {
	if len(req.Join) == 0 {
		return nil, &fieldError{"join", "required: the rooms to join"}
	}
	op, err := a.selection(req, true)
	if err != nil {
		return nil, err
	}
	return nil, op.SocketsJoin(r.Context(), rooms("join", req.Join)...)
}

func (a *api) leave(r *http.Request, req *apiRequest) (any, error) {
	if len(req.Leave) == 0 {
		return nil, &fieldError{"leave", "required: the rooms to leave"}
	}
	op, err := a.selection(req, true)
	if err != nil {
		return nil, err
	}
	return nil, op.SocketsLeave(r.Context(), rooms("leave", req.Leave)...)
}

func (a *api) leaveAll(r *http.Request, req *apiRequest) (any, error) {
	op, err := a.selection(req, true)
	if err != nil {
		return nil, err
	}
	socks, err := op.FetchSockets(r.Context())
	if err != nil {
		return nil, err
	}
	for _, s := range socks {
		var leave []socketio.Room
		for _, room := range s.Rooms {
			if string(room) != s.ID {
				leave = append(leave, room)
			}
		}
		if len(leave) > 0 {
			if err := s.Leave(r.Context(), leave...); err != nil {
				return nil, err
			}
		}
	}
	return nil, nil
}

func (a *api) disconnect(r *http.Request, req *apiRequest) (any, error) {
	op, err := a.selection(req, true)
	if err != nil {
		return nil, err
	}
	return nil, op.DisconnectSockets(r.Context(), req.Close)
}

// socketJSON is a socket in the answer of /sockets.
type socketJSON struct {
	ID    string   `json:"id"`
	Rooms []string `json:"rooms"`
}

func (a *api) fetch(r *http.Request, req *apiRequest) (any, error) {
	op, err := a.selection(req, false)
	if err != nil {
		return nil, err
	}
	socks, err := op.FetchSockets(r.Context())
	if err != nil {
		return nil, err
	}
	slices.SortFunc(socks, func(a, b *socketio.RemoteSocket) int { return strings.Compare(a.ID, b.ID) })
	out := make([]socketJSON, 0, len(socks))
	for _, s := range socks {
		// The socket's own room first, then the others sorted.
		sj := socketJSON{ID: s.ID, Rooms: []string{s.ID}}
		for _, room := range s.Rooms {
			if string(room) != s.ID {
				sj.Rooms = append(sj.Rooms, string(room))
			}
		}
		slices.Sort(sj.Rooms[1:])
		out = append(out, sj)
	}
	return map[string]any{"sockets": out}, nil
}

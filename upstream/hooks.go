package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pierhq/pier/socketio"
)

// HookOptions configures Hooks: what the backend hears of the sockets'
// lives. Zero fields mean the documented defaults.
type HookOptions struct {
	// ConnectURL, when set, receives each socket's handshake before it
	// connects (see Hooks). Default: no connect hook.
	ConnectURL string

	// EventsURL, when set, receives the Events the clients emit and the
	// disconnections. Default: none.
	EventsURL string

	// Events are the client events POSTed to EventsURL.
	Events []string

	// Timeout bounds each call to the backend. Default 10s.
	Timeout time.Duration

	// MaxBodyBytes bounds the backend's answer to a call. Default 1 MiB.
	MaxBodyBytes int64

	// MaxInFlight bounds the event calls of one socket at once; past it
	// the socket's later events wait (nothing is dropped). Default 16.
	MaxInFlight int

	// Headers are set on every call (a shared secret, for instance).
	Headers http.Header

	// Transport sends the calls. Default: a pooled Transport of its own.
	Transport http.RoundTripper

	// Logger receives failed calls (Warn). Default slog.Default().
	Logger *slog.Logger
}

// Hooks tell the backend about sockets, over HTTP:
//
//   - Connect: POST ConnectURL {"namespace", "address", "headers" (lower
//     case, the cookies included), "query", "auth"} for each socket that
//     connects. A 2xx answer {"data": any, "rooms": [..]} makes data the
//     socket's data (socketio.Socket.Data) and the socket joins rooms; a
//     4xx refuses the connection with a connect_error whose message is the
//     answer's "message" (or the status text) and whose data is its
//     "data". Any other answer, or none within the timeout, refuses it
//     with "upstream connect hook failed". With Handshake in front of
//     the server, sails.io.js handshakes are asked on the HTTP request
//     and refused as Sails refuses them (see Handshake).
//   - Events: POST EventsURL {"namespace", "socketId", "data", "event",
//     "args"} for each of Events a client emits. A JSON array in a 2xx
//     answer is the acknowledgement's arguments when the client asked for
//     one. Binary arguments are not forwarded.
//   - Disconnect: POST EventsURL {"namespace", "socketId", "data",
//     "event": "disconnect", "reason"}.
//
// Concurrency: a Hooks is safe for concurrent use. Event calls run on
// their own goroutines, at most MaxInFlight per socket; the connect call
// runs in the namespace's middleware (or in Handshake, on the handshake
// request), delaying only that socket. Answers waiting between Handshake
// and the socket are kept under one leaf mutex, never held during a call.
type Hooks struct {
	opts    HookOptions
	client  *http.Client
	log     *slog.Logger
	tickets tickets // answers of Handshake waiting for their sockets
}

// NewHooks returns Hooks for opts. URLs must be http(s).
func NewHooks(opts *HookOptions) (*Hooks, error) {
	h := &Hooks{}
	if opts != nil {
		h.opts = *opts
	}
	for _, u := range []string{h.opts.ConnectURL, h.opts.EventsURL} {
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("upstream: hook URL %q: want http(s)://host[:port]/path", u)
		}
	}
	if len(h.opts.Events) > 0 && h.opts.EventsURL == "" {
		return nil, errors.New("upstream: hook Events need EventsURL")
	}
	if h.opts.Timeout <= 0 {
		h.opts.Timeout = 10 * time.Second
	}
	if h.opts.MaxBodyBytes <= 0 {
		h.opts.MaxBodyBytes = 1 << 20
	}
	if h.opts.MaxInFlight <= 0 {
		h.opts.MaxInFlight = 16
	}
	if h.opts.Transport == nil {
		h.opts.Transport = newTransport()
	}
	if h.opts.Logger == nil {
		h.opts.Logger = slog.Default()
	}
	h.log = h.opts.Logger
	h.client = &http.Client{
		Transport:     h.opts.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return h, nil
}

// Attach installs the hooks on ns. Attach once per namespace, before
// clients connect.
func (h *Hooks) Attach(ns *socketio.Namespace) {
	if h.opts.ConnectURL != "" {
		ns.Use(h.connect)
	}
	if h.opts.EventsURL != "" {
		ns.OnConnection(h.onConnection)
	}
}

// connectAnswer is the backend's answer to the connect hook.
type connectAnswer struct {
	Data    json.RawMessage `json:"data"`
	Rooms   []string        `json:"rooms"`
	Message string          `json:"message"`
}

func (h *Hooks) connect(s *socketio.Socket) error {
	hs := s.Handshake()
	if t := hs.Header.Get(ticketHeader); t != "" && s.Namespace().Name() == "/" {
		// Handshake already asked the backend about this handshake
		// (for namespace "/", which protocol 3 clients join first).
		if a, ok := h.tickets.take(t); ok {
			h.admit(s, a)
			return nil
		}
	}
	ctx, cancel := context.WithTimeout(s.Context(), h.opts.Timeout)
	defer cancel()
	a, ce := h.ask(ctx, s.Namespace().Name(), hs.Header, hostOf(hs.Request), hs.Query, hs.Address, hs.Auth, s.ID())
	if ce != nil {
		return ce
	}
	h.admit(s, a)
	return nil
}

func hostOf(r *http.Request) string {
	if r == nil {
		return ""
	}
	return r.Host
}

// admit applies an accepting answer to s.
func (h *Hooks) admit(s *socketio.Socket, a *connectAnswer) {
	if a.Data != nil {
		s.SetData(a.Data)
	}
	for _, r := range a.Rooms {
		s.Join(socketio.Room(r))
	}
}

// ask POSTs a handshake to the connect hook and returns the backend's
// accepting answer, or the refusal. sid only labels the logs.
func (h *Hooks) ask(ctx context.Context, nsp string, header http.Header, host string, q url.Values, address string, auth any, sid string) (*connectAnswer, *socketio.ConnectError) {
	headers := make(map[string]string, len(header))
	for k, vs := range header {
		if k == ticketHeader {
			continue
		}
		headers[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	if host != "" {
		headers["host"] = host // net/http keeps it out of Header
	}
	query := make(map[string]string, len(q))
	for k, vs := range q {
		query[k] = strings.Join(vs, ",")
	}
	body := map[string]any{
		"namespace": nsp, "address": address, "headers": headers,
		"query": query, "auth": auth,
	}
	status, answer, err := h.post(ctx, h.opts.ConnectURL, body)
	if err != nil {
		h.log.Warn("upstream: connect hook failed", "sid", sid, "err", err)
		return nil, &socketio.ConnectError{Message: hookFailed}
	}
	var a connectAnswer
	if len(bytes.TrimSpace(answer)) > 0 && json.Unmarshal(answer, &a) != nil && status < 300 {
		h.log.Warn("upstream: connect hook answered invalid JSON", "sid", sid, "status", status)
		return nil, &socketio.ConnectError{Message: hookFailed}
	}
	switch {
	case status >= 200 && status < 300:
		return &a, nil
	case status >= 400 && status < 500:
		msg := a.Message
		if msg == "" {
			msg = http.StatusText(status)
		}
		ce := &socketio.ConnectError{Message: msg}
		if a.Data != nil {
			ce.Data = a.Data
		}
		return nil, ce
	}
	h.log.Warn("upstream: connect hook answered an error", "sid", sid, "status", status)
	return nil, &socketio.ConnectError{Message: hookFailed}
}

// hookFailed is the refusal when the connect hook gives no usable answer.
const hookFailed = "upstream connect hook failed"

func (h *Hooks) onConnection(s *socketio.Socket) {
	sem := make(chan struct{}, h.opts.MaxInFlight)
	base := func() map[string]any {
		return map[string]any{"namespace": s.Namespace().Name(), "socketId": s.ID(), "data": s.Data()}
	}
	for _, name := range h.opts.Events {
		s.On(name, func(s *socketio.Socket, e *socketio.Event) {
			args := make([]json.RawMessage, e.Len())
			for i := range args {
				args[i] = e.Raw(i)
			}
			body := base()
			body["event"], body["args"] = e.Name, args
			select {
			case sem <- struct{}{}:
			case <-s.Context().Done():
				return
			}
			go func() {
				defer func() { <-sem }()
				ctx, cancel := context.WithTimeout(s.Context(), h.opts.Timeout)
				defer cancel()
				status, answer, err := h.post(ctx, h.opts.EventsURL, body)
				if err != nil || status < 200 || status >= 300 {
					h.log.Warn("upstream: event hook failed", "sid", s.ID(), "event", e.Name, "status", status, "err", err)
					return
				}
				var ack []json.RawMessage
				if e.WantsAck() && json.Unmarshal(answer, &ack) == nil {
					vals := make([]any, len(ack))
					for i, v := range ack {
						vals[i] = v
					}
					e.Ack(vals...)
				}
			}()
		})
	}
	s.OnDisconnect(func(s *socketio.Socket, reason string) {
		body := base()
		body["event"], body["reason"] = "disconnect", reason
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), h.opts.Timeout)
			defer cancel()
			if status, _, err := h.post(ctx, h.opts.EventsURL, body); err != nil || status >= 300 {
				h.log.Warn("upstream: disconnect hook failed", "sid", s.ID(), "status", status, "err", err)
			}
		}()
	})
}

// post sends v as JSON to u and returns the answer, read up to
// MaxBodyBytes.
func (h *Hooks) post(ctx context.Context, u string, v any) (int, []byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, vs := range h.opts.Headers {
		req.Header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, h.opts.MaxBodyBytes+1))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if int64(len(body)) > h.opts.MaxBodyBytes {
		return resp.StatusCode, nil, fmt.Errorf("answer over %d bytes", h.opts.MaxBodyBytes)
	}
	return resp.StatusCode, body, nil
}

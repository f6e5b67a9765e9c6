package upstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pierhq/pier/sailsbridge"
)

// ticketHeader carries, on a handshake request that Handshake let
// through, the ticket under which the connect hook's answer waits for the
// socket. Handshake removes any value a client sent.
const ticketHeader = "Pier-Upstream-Connect-Ticket"

// Handshake wraps the Socket.IO server's handler (serve the Engine.IO
// path with it; inside sailsbridge's Guard, when there is one, so that
// origins are checked first) so that the connect hook answers the
// handshakes of sails.io.js clients as a Sails app's beforeConnect does.
// A handshake of Engine.IO protocol 3 (what sails.io.js 1.x speaks) is
// POSTed to ConnectURL, with the same body as Attach's (namespace "/",
// auth {}), before the connection is made; a refusal is the HTTP answer
// Sails gives to a request its beforeConnect denies:
//
//   - a websocket upgrade: 400, Content-Type text/html, the message as the
//     body (sails.io.js reports a connect_error);
//   - a polling handshake: 403 {"code":4,"message":<message>}.
//
// The message is the 4xx answer's "message", else its status text
// ("Forbidden" for 403, Sails' default), or "upstream connect hook
// failed". An accepting answer's data and rooms are applied when the
// socket connects, without a second call. Handshakes of Engine.IO 4
// clients pass through: Attach's middleware asks the hook and refuses
// with a CONNECT_ERROR packet (message and data), which those clients
// show. Without ConnectURL, Handshake returns next.
//
// Like engine.io, Handshake leaves requests that are no handshake (not
// GET, or a websocket transport without an upgrade) to the server, which
// refuses them without asking the hook. Unlike it, Handshake does not know
// which transports the server allows: a polling handshake to a
// websocket-only server (Sails' default) is put to the hook before the
// server refuses it (400 "Transport unknown" when the hook accepts).
func (h *Hooks) Handshake(next http.Handler) http.Handler {
	if h.opts.ConnectURL == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		upgrade := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
		eio3 := q.Get("EIO") == "3" && q.Get("sid") == "" && r.Method == http.MethodGet &&
			(q.Get("transport") == "polling" || (q.Get("transport") == "websocket" && upgrade))
		if !eio3 {
			if _, forged := r.Header[ticketHeader]; forged {
				r = r.Clone(r.Context())
				r.Header.Del(ticketHeader)
			}
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
		defer cancel()
		address := r.RemoteAddr
		if host, _, err := net.SplitHostPort(address); err == nil {
			address = host
		}
		a, ce := h.ask(ctx, "/", r.Header, r.Host, q, address, json.RawMessage("{}"), "")
		if ce != nil {
			h.log.Debug("upstream: handshake refused by the connect hook", "message", ce.Message, "remote", r.RemoteAddr)
			sailsbridge.RefuseConnect(w, r, ce.Message)
			return
		}
		r = r.Clone(r.Context())
		r.Header.Del(ticketHeader)
		if id := h.tickets.put(a); id != "" {
			r.Header.Set(ticketHeader, id)
		} // else: too many answers wait; the middleware asks again
		next.ServeHTTP(w, r)
	})
}

// ticketTTL is how long an accepting answer waits for its socket. The
// socket of a protocol 3 handshake connects as soon as the handshake is
// served, so only handshakes that failed after the hook (a broken
// upgrade) leave answers behind, and those are dropped after it.
const ticketTTL = time.Minute

// maxTicketBytes bounds the memory of the answers waiting for their
// sockets. Past it, Handshake passes handshakes on without a ticket and
// the middleware asks the hook again.
const maxTicketBytes = 16 << 20

// ticketOverhead is what an answer counts besides its data and rooms:
// about its map entry, ticket and structs.
const ticketOverhead = 256

// tickets holds the connect hook's accepting answers between Handshake
// and the socket's connection, at most maxTicketBytes of them.
//
// Concurrency: safe for concurrent use; mu is a leaf lock.
type tickets struct {
	mu    sync.Mutex
	m     map[string]ticket
	bytes int64 // the cost of the answers in m
	swept time.Time
}

type ticket struct {
	a    *connectAnswer
	at   time.Time
	cost int64
}

func answerCost(a *connectAnswer) int64 {
	n := int64(ticketOverhead + len(a.Data) + len(a.Message))
	for _, r := range a.Rooms {
		n += int64(len(r)) + 16
	}
	return n
}

// put keeps a and returns its ticket (32 random hex digits), after
// dropping the answers older than ticketTTL (at most every ticketTTL/4,
// or when the bound is reached). It returns "" when a does not fit under
// maxTicketBytes.
func (t *tickets) put(a *connectAnswer) string {
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	cost := answerCost(a)
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[string]ticket)
	}
	if now.Sub(t.swept) > ticketTTL/4 || t.bytes+cost > maxTicketBytes {
		for k, v := range t.m {
			if now.Sub(v.at) > ticketTTL {
				delete(t.m, k)
				t.bytes -= v.cost
			}
		}
		t.swept = now
	}
	if t.bytes+cost > maxTicketBytes {
		return ""
	}
	t.m[id] = ticket{a: a, at: now, cost: cost}
	t.bytes += cost
	return id
}

// take removes and returns the answer of ticket id, if it is there and
// not older than ticketTTL.
func (t *tickets) take(id string) (*connectAnswer, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.m[id]
	if !ok {
		return nil, false
	}
	delete(t.m, id)
	t.bytes -= v.cost
	if time.Since(v.at) > ticketTTL {
		return nil, false
	}
	return v.a, true
}

// pending returns how many answers wait (for tests).
func (t *tickets) pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

package engineio

import (
	"net/http"
	"time"
)

// A polling session the client closed (its CLOSE arrived while no poll
// was pending) answers one racing poll with NOOP for PingTimeout after
// that, as if it were still registered. Rather than the session itself, a
// shard keeps for that time a clientTomb of a few bytes: under a load of
// short sessions the closed sessions of the last PingTimeout would
// otherwise stay in the maps, the heartbeat heap and the live heap (about
// a kilobyte each), which costs every request of the live ones time.

// clientTomb is what a shard keeps of a polling session the client closed.
type clientTomb struct {
	protocol int
	b64      bool
	until    int64 // hbNanos after which it is forgotten
}

// tombOrder is a shard's client tombs in the order they expire (all live
// PingTimeout), so that expired ones are dropped from the front.
type tombOrder struct {
	id    string
	until int64
}

// entomb replaces the registered sess, closed by its client with no poll
// pending, with a clientTomb; the session's count is released. It does
// nothing if sess is no longer registered. s.mu of sess is not held.
func (s *Server) entomb(sess *Session) {
	now := hbNanos(time.Now())
	sh := s.shard(sess.id)
	sh.mu.Lock()
	found := sh.m[sess.id] == sess
	if found {
		delete(sh.m, sess.id)
		sh.pruneTombsLocked(now)
		if sh.tombs == nil {
			sh.tombs = make(map[string]clientTomb)
		}
		until := now + int64(s.opts.PingTimeout)
		sh.tombs[sess.id] = clientTomb{protocol: sess.protocol, b64: sess.b64, until: until}
		sh.order = append(sh.order, tombOrder{id: sess.id, until: until})
	}
	sh.mu.Unlock()
	if found {
		s.released()
	}
}

// pruneTombsLocked drops the client tombs expired at now. sh.mu is held.
func (sh *sessionShard) pruneTombsLocked(now int64) {
	for sh.head < len(sh.order) && sh.order[sh.head].until <= now {
		o := sh.order[sh.head]
		if t, ok := sh.tombs[o.id]; ok && t.until == o.until {
			delete(sh.tombs, o.id)
		}
		sh.order[sh.head] = tombOrder{}
		sh.head++
	}
	if sh.head > 0 && sh.head >= len(sh.order)/2 {
		n := copy(sh.order, sh.order[sh.head:])
		clear(sh.order[n:])
		sh.order, sh.head = sh.order[:n], 0
	}
}

// clientTomb returns the unexpired client tomb of id.
func (s *Server) clientTomb(id string) (clientTomb, bool) {
	sh := s.shard(id)
	sh.mu.RLock()
	t, ok := sh.tombs[id]
	sh.mu.RUnlock()
	return t, ok && t.until > hbNanos(time.Now())
}

// takeClientTomb forgets the client tomb of id and reports whether it was
// there, unexpired.
func (s *Server) takeClientTomb(id string) bool {
	sh := s.shard(id)
	sh.mu.Lock()
	t, ok := sh.tombs[id]
	if ok {
		delete(sh.tombs, id)
	}
	sh.mu.Unlock()
	return ok && t.until > hbNanos(time.Now())
}

// dropClientTombs forgets every client tomb (Shutdown).
func (s *Server) dropClientTombs() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.tombs, sh.order, sh.head = nil, nil, 0
		sh.mu.Unlock()
	}
}

// serveClientTomb answers a request to a session the client closed, as the
// session would in its tombstone state: the first poll gets NOOP (a
// websocket is accepted and closed, a POST refused).
func (s *Server) serveClientTomb(w http.ResponseWriter, r *http.Request, req request, t clientTomb) {
	if req.transport == WebSocket {
		if s.opts.DisableUpgrades {
			s.refuse(w, r, true, refuseWith(CodeBadRequest, "name", "UPGRADES_DISABLED"))
			return
		}
		if c, err := s.acceptWebSocket(w, r, false); err == nil {
			c.closeWith(closeNormal)
		}
		return
	}
	switch r.Method {
	case http.MethodGet:
		if !s.takeClientTomb(req.sid) {
			// Another poll took it meanwhile.
			s.refuse(w, r, false, refuseWith(CodeUnknownSID, "sid", req.sid))
			return
		}
		s.writePayload(w, r, &Session{id: req.sid, protocol: t.protocol, b64: t.b64}, []packet{{typ: typeNoop}}, false)
	case http.MethodPost:
		s.refuse(w, r, false, refuse(CodeUnknownSID))
	default:
		s.refuse(w, r, false, refuseWith(CodeBadRequest, "name", "BAD_METHOD", "method", r.Method))
	}
}

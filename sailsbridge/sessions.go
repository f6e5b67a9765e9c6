package sailsbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/pierhq/pier/session"
	"github.com/pierhq/pier/socketio"
)

// Sessions is the SessionProvider of a session.Manager, doing what Sails' session
// hook does for sockets: a socket whose handshake names no stored session
// gets a new one, whose cookie its virtual requests carry (merged with the
// handshake's other cookies); at disconnect, AfterDisconnect sees the
// session in its context (session.FromContext) and it is saved afterwards.
// Serve the virtual requests through SessionMiddleware so that each loads
// and saves it.
//
// Unlike Sails, which stores that connect-time session at once, Sessions
// stores it lazily: just before the socket's first virtual request that
// uses a session runs, or after AfterDisconnect if it changed the session.
// A socket that never makes a request leaves nothing in the store, so
// idle or hostile connections cannot fill it. Nothing else is observable:
// the cookie every request of the socket carries and the session ID are
// the same as with Sails, and the first request finds the session stored.
func Sessions(m *session.Manager) SessionProvider { return &managerSessions{m: m} }

type managerSessions struct {
	m       *session.Manager
	pending sync.Map // *socketio.Socket → *pendingSession, until stored
}

// requestPreparer is implemented by providers that must act before each
// virtual request of a socket runs (on the request's goroutine).
type requestPreparer interface {
	prepareRequest(ctx context.Context, s *socketio.Socket) error
}

var _ requestPreparer = (*managerSessions)(nil)

// pendingSession is a connect-time session not stored yet. One request
// stores it; the socket's others wait for that attempt (not under mu).
type pendingSession struct {
	sess *session.Session

	mu     sync.Mutex
	saving chan struct{} // closed when the current attempt ends; nil when none
	saved  bool
}

func (p *managerSessions) Connect(ctx context.Context, s *socketio.Socket, hs *http.Request) string {
	sess, err := p.m.FromRequest(hs.WithContext(ctx))
	if err != nil {
		return ""
	}
	if !sess.IsNew() {
		if id, ok := passportUser(sess); ok {
			s.Join(UserRoom(id))
		}
		return ""
	}
	c, err := p.m.Cookie(sess)
	if err != nil {
		return ""
	}
	p.pending.Store(s, &pendingSession{sess: sess})
	return c.Name + "=" + c.Value
}

// prepareRequest stores the socket's connect-time session, once.
func (p *managerSessions) prepareRequest(ctx context.Context, s *socketio.Socket) error {
	v, ok := p.pending.Load(s)
	if !ok {
		return nil
	}
	ps := v.(*pendingSession)
	for {
		ps.mu.Lock()
		if ps.saved {
			ps.mu.Unlock()
			return nil
		}
		if ch := ps.saving; ch != nil {
			ps.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		ch := make(chan struct{})
		ps.saving = ch
		ps.mu.Unlock()

		err := ps.sess.Save(ctx)

		ps.mu.Lock()
		ps.saving, ps.saved = nil, err == nil
		ps.mu.Unlock()
		close(ch)
		if err == nil {
			p.pending.Delete(s) // from now on, loaded from the store
		}
		return err
	}
}

func (p *managerSessions) Disconnect(ctx context.Context, s *socketio.Socket, cookie string, after func(ctx context.Context)) {
	if v, ok := p.pending.LoadAndDelete(s); ok {
		// Never stored: AfterDisconnect gets it; stored only if changed.
		sess := v.(*pendingSession).sess
		before, _ := sess.MarshalJSON()
		after(session.NewContext(ctx, sess))
		if now, _ := sess.MarshalJSON(); !bytes.Equal(before, now) {
			sess.Save(ctx)
		}
		return
	}
	r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	sess, err := p.m.FromRequest(r)
	if err != nil {
		after(ctx)
		return
	}
	after(session.NewContext(ctx, sess))
	if !sess.IsNew() {
		sess.Save(ctx)
	}
}

// SessionMiddleware serves h with m's sessions, as Sails' session hook
// serves its routes, for plain HTTP and virtual requests alike:
//
//   - Sessions are saved with Sails' rules, express-session's resave and
//     saveUninitialized both on, whatever m's Options say
//     (m.WithSaveRules(true, true)): every request saves its session, and
//     a new one is stored and its cookie sent even when unmodified, which
//     GET /__getcookie needs to grant the cookie cross-origin. To keep m's
//     own rules, wrap h with m.Middleware yourself (and skip the requests
//     for which NoSession is true).
//   - Virtual requests of sockets that asked for none (nosession) get no
//     session.
//   - A panic in a plain HTTP request is answered 500 (see Recover).
func SessionMiddleware(m *session.Manager, h http.Handler) http.Handler {
	inner := m.WithSaveRules(true, true).Middleware(h)
	return Recover(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if NoSession(r) {
			r = r.WithContext(session.WithoutSession(r.Context()))
		}
		inner.ServeHTTP(w, r)
	}))
}

// UserRoom is the room of the sockets whose session belongs to a
// passport user: Sessions joins a socket to it when the session it
// connects with has session.passport.user (the user id as text: a number
// in the session gives its decimal form). A login that happens after the
// socket connected joins it with JoinUser.
func UserRoom(userID string) socketio.Room { return socketio.Room("user:" + userID) }

// JoinUser joins the socket behind a virtual request (if r is one) to its
// user's room: call it from a login handler.
func JoinUser(r *http.Request, userID string) {
	if s := FromContext(r.Context()); s != nil {
		s.Join(UserRoom(userID))
	}
}

// UserSockets lists a user's sockets in ns, on every server of the
// cluster (passport.socketio's filterSocketsByUser).
func UserSockets(ctx context.Context, ns *socketio.Namespace, userID string) ([]*socketio.RemoteSocket, error) {
	return ns.In(UserRoom(userID)).FetchSockets(ctx)
}

// DisconnectUser closes every connection of a user in ns, on every server
// of the cluster: log out everywhere, after destroying the session.
func DisconnectUser(ctx context.Context, ns *socketio.Namespace, userID string) error {
	return ns.In(UserRoom(userID)).DisconnectSockets(ctx, true)
}

// passportUser returns session.passport.user as text.
func passportUser(s *session.Session) (string, bool) {
	var raw json.RawMessage
	if ok, err := s.PassportUser(&raw); !ok || err != nil {
		return "", false
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return str, str != ""
	}
	return string(raw), len(raw) > 0 // a number, as its JSON text
}

package sailsbridge

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/pierhq/pier/session"
	"github.com/pierhq/pier/socketio"
)

// Sessions is the SessionProvider of a session.Manager, doing what Sails'
// session hook does for sockets: a socket whose handshake names no stored
// session gets a new one, saved at once, whose cookie its virtual requests
// carry; at disconnect, AfterDisconnect sees the session in its context
// (session.FromContext) and it is saved afterwards. Serve the virtual
// requests through SessionMiddleware so that each loads and saves it.
func Sessions(m *session.Manager) SessionProvider { return managerSessions{m} }

type managerSessions struct{ m *session.Manager }

func (p managerSessions) Connect(s *socketio.Socket, hs *http.Request) string {
	sess, err := p.m.FromRequest(hs)
	if err != nil {
		return ""
	}
	if !sess.IsNew() {
		if id, ok := passportUser(sess); ok {
			s.Join(UserRoom(id))
		}
		return ""
	}
	if sess.Save(s.Context()) != nil {
		return ""
	}
	c, err := p.m.Cookie(sess)
	if err != nil {
		return ""
	}
	return c.Name + "=" + c.Value
}

func (p managerSessions) Disconnect(s *socketio.Socket, cookie string, after func(ctx context.Context)) {
	ctx := context.Background()
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

// SessionMiddleware is m.Middleware around h, except for the virtual
// requests of sockets that asked for none (nosession).
func SessionMiddleware(m *session.Manager, h http.Handler) http.Handler {
	inner := m.Middleware(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if NoSession(r) {
			r = r.WithContext(session.WithoutSession(r.Context()))
		}
		inner.ServeHTTP(w, r)
	})
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

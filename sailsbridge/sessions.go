package sailsbridge

import (
	"context"
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
	if err != nil || !sess.IsNew() {
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

package sailsbridge

import (
	"context"
	"net/http"

	"github.com/pierhq/pier/socketio"
)

// SessionProvider connects sockets to a session system, as Sails' session
// hook does for sails-hook-sockets. The bridge calls it at the two points
// only it knows about; in between, each virtual request is an ordinary
// *http.Request carrying the socket's Cookie header, so the session
// system's HTTP middleware, wrapped around the bridge's handler, loads and
// saves the session (it should skip requests for which NoSession is true).
//
// Neither method is called for a socket whose handshake carried a
// nosession header or query parameter, except Disconnect, with cookie "".
//
// Implementations must be safe for concurrent use.
type SessionProvider interface {
	// Connect runs when a socket connects, before its first virtual
	// request is served, with the handshake request (it must not be
	// modified). It returns cookies ("name=value; ...") that the
	// socket's requests carry from then on, merged into the handshake's
	// Cookie header (replacing cookies of the same names, keeping the
	// others), or "" to keep the handshake's as is: Sails generates a
	// session (and its signed cookie) here for a handshake without a
	// valid session cookie. It must not block for long: the socket's
	// events wait for it. ctx ends when the socket disconnects or after
	// Options.Timeout; the session store's calls should use it.
	Connect(ctx context.Context, s *socketio.Socket, handshake *http.Request) (cookie string)

	// Disconnect runs once the socket has disconnected and its pending
	// virtual requests have returned, with the socket's last Cookie
	// header. It must call after exactly once, with a context carrying
	// the session (an empty one when cookie names none), and save the
	// session once after returns, as Sails does around afterDisconnect.
	// The session store's calls should use ctx (the Bridge passes one
	// that is not cancelled: Sails bounds neither the hook nor the save),
	// and so should the context given to after.
	Disconnect(ctx context.Context, s *socketio.Socket, cookie string, after func(ctx context.Context))
}

package sailsbridge

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// CheckOrigin validates an OnlyAllowOrigins entry as Sails does
// (checkOriginUrl): "file://…" is accepted as is; otherwise it must be
// http:// or https://, without an explicit default port, path, query,
// fragment or trailing slash. Because matching is exact and browsers send
// lower-case origins, an entry with upper-case letters is refused too, and
// so is one with user info.
func CheckOrigin(origin string) error {
	if strings.HasPrefix(origin, "file://") {
		return nil
	}
	bad := func(why string) error {
		return fmt.Errorf("sailsbridge: invalid origin %q: %s", origin, why)
	}
	if origin == "" {
		return bad("empty")
	}
	if !strings.HasPrefix(origin, "http://") && !strings.HasPrefix(origin, "https://") {
		return bad("must start with http:// or https://")
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return bad("not a URL with a host")
	}
	if u.User != nil {
		return bad("user info")
	}
	if (u.Scheme == "https" && u.Port() == "443") || (u.Scheme == "http" && u.Port() == "80") {
		return bad("explicit default port")
	}
	if strings.HasSuffix(origin, "/") {
		return bad("trailing slash")
	}
	if u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(origin, "#") {
		return bad("path, query or fragment")
	}
	if strings.ToLower(origin) != origin {
		return bad("upper case never matches a browser's Origin")
	}
	return nil
}

// originAllowed reports whether r carries exactly one Origin header, equal
// to an entry of OnlyAllowOrigins.
func (b *Bridge) originAllowed(r *http.Request) bool {
	vs := r.Header.Values("Origin")
	if len(vs) != 1 {
		return false
	}
	_, ok := b.origins[vs[0]]
	return ok
}

// Guard wraps the Socket.IO server's handler (serve only the Engine.IO
// path with it) to check connections as Sails does, with Sails' answers on
// the wire:
//
//   - OnlyAllowOrigins, on every Engine.IO request: a refused websocket
//     upgrade gets 400 text/html "Bad request", a refused polling request
//     400 {"code":3,"message":"Bad request"}; an allowed one gets
//     Access-Control-Allow-Origin and Vary: Origin, and a CORS preflight
//     (OPTIONS) is answered 204.
//   - BeforeConnect, on handshake requests (no sid): a refused websocket
//     upgrade gets 400 text/html with the error's text, a refused polling
//     handshake 403 {"code":4,"message":<text>}.
//
// Once Guard is called, Attach's middleware leaves these checks to it.
func (b *Bridge) Guard(next http.Handler) http.Handler {
	b.guarded.Store(true)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upgrade := isUpgrade(r)
		if b.origins != nil {
			if !b.originAllowed(r) {
				b.log.Debug("sailsbridge: origin not allowed", "origin", r.Header.Values("Origin"), "remote", r.RemoteAddr)
				refuse(w, upgrade, http.StatusBadRequest, 3, "Bad request")
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")
				if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
					h.Set("Access-Control-Allow-Headers", rh)
					h.Add("Vary", "Access-Control-Request-Headers")
				}
				h.Set("Content-Length", "0")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		if b.opts.BeforeConnect != nil && isHandshake(r) {
			if err := b.opts.BeforeConnect(r); err != nil {
				msg := refusalMessage(err)
				b.log.Debug("sailsbridge: connection refused by BeforeConnect", "message", msg, "remote", r.RemoteAddr)
				RefuseConnect(w, r, msg)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// isHandshake reports whether r opens an Engine.IO session.
func isHandshake(r *http.Request) bool {
	q := r.URL.Query()
	return q.Get("sid") == "" && q.Get("EIO") != "" && q.Get("transport") != ""
}

// RefuseConnect answers an Engine.IO handshake request as Sails does when
// its beforeConnect refuses the connection with message msg (what Guard
// writes for BeforeConnect): a websocket upgrade gets 400 text/html whose
// body is msg, a polling handshake 403 {"code":4,"message":msg}. It is for
// handshake checks that BeforeConnect cannot express, such as package
// upstream's, which passes the backend's answer on to the connection.
func RefuseConnect(w http.ResponseWriter, r *http.Request, msg string) {
	refuse(w, isUpgrade(r), http.StatusForbidden, 4, msg)
}

// refuse answers as engine.io does: a websocket upgrade with a plain 400
// whose body is the message, a polling request with the Engine.IO JSON
// error.
func refuse(w http.ResponseWriter, upgrade bool, status, code int, msg string) {
	h := w.Header()
	if upgrade {
		h.Set("Connection", "close")
		h.Set("Content-Type", "text/html")
		h.Set("Content-Length", strconv.Itoa(len(msg)))
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, msg)
		return
	}
	body := `{"code":` + strconv.Itoa(code) + `,"message":` + string(jsonQuote(msg)) + `}`
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// GetCookieHandler serves GET /__getcookie, the JSONP route sails.io.js
// loads in browsers before connecting cross-origin: 200
// application/javascript "_sailsIoJSConnect();". Mount it behind the
// session middleware so that the response sets the session cookie, as in
// Sails. It answers 404 when Options.DisableGetCookie is set, and for
// methods other than GET and HEAD.
func (b *Bridge) GetCookieHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.opts.DisableGetCookie || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/javascript; charset=utf-8")
		io.WriteString(w, "_sailsIoJSConnect();")
	})
}

func jsonQuote(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

package admin

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/pierhq/pier/socketio"
)

// serializedSocket is a socket as the dashboard lists it.
type serializedSocket struct {
	ID        string              `json:"id"`
	ClientID  string              `json:"clientId"`
	Transport string              `json:"transport"`
	Nsp       string              `json:"nsp"`
	Data      any                 `json:"data"`
	Handshake serializedHandshake `json:"handshake"`
	Rooms     []string            `json:"rooms"`
}

type serializedHandshake struct {
	Address string            `json:"address"`
	Headers map[string]string `json:"headers"`
	Query   map[string]string `json:"query"`
	Issued  int64             `json:"issued"`
	Time    string            `json:"time"`
	URL     string            `json:"url"`
	Secure  bool              `json:"secure"`
	XDomain bool              `json:"xdomain"`
}

// clientIDLen is how much of the Engine.IO id names a client: the
// dashboard groups the sockets of one connection under it.
const clientIDLen = 12

func clientID(engineID string) string { return engineID[:min(clientIDLen, len(engineID))] }

// serializeLocal describes a socket of this server.
func serializeLocal(s *socketio.Socket) serializedSocket {
	sess := s.Session()
	return serializedSocket{
		ID:        s.ID(),
		ClientID:  clientID(sess.ID()),
		Transport: sess.Transport(),
		Nsp:       s.Namespace().Name(),
		Data:      publicData(s.Data()),
		Handshake: serializeHandshake(s.Handshake()),
		Rooms:     roomNames(s.ID(), s.Rooms()),
	}
}

// serializeRemote describes a socket found by FetchSockets, preferring
// what this server knows when the socket is its own.
func (a *Admin) serializeRemote(n *socketio.Namespace, rs *socketio.RemoteSocket) serializedSocket {
	if s := n.Socket(rs.ID); s != nil {
		return serializeLocal(s)
	}
	out := serializedSocket{
		ID:        rs.ID,
		Transport: "websocket",
		Nsp:       n.Name(),
		Data:      publicData(rs.Data),
		Rooms:     roomNames(rs.ID, rs.Rooms),
	}
	if rs.Handshake != nil {
		out.Handshake = serializeHandshake(rs.Handshake)
	}
	// Node servers put the dashboard's view of a socket under data._admin.
	if m, ok := rs.Data.(map[string]any); ok {
		if adm, ok := m["_admin"].(map[string]any); ok {
			out.ClientID, _ = adm["clientId"].(string)
			if t, ok := adm["transport"].(string); ok {
				out.Transport = t
			}
		}
	}
	return out
}

// publicData is the socket's data without the "_admin" key, {} when none.
func publicData(d any) any {
	if d == nil {
		return struct{}{}
	}
	if raw, ok := d.(json.RawMessage); ok {
		var m map[string]any
		if json.Unmarshal(raw, &m) == nil {
			d = m
		}
	}
	if m, ok := d.(map[string]any); ok {
		if _, has := m["_admin"]; has {
			c := make(map[string]any, len(m))
			for k, v := range m {
				if k != "_admin" {
					c[k] = v
				}
			}
			return c
		}
	}
	if _, err := json.Marshal(d); err != nil {
		return struct{}{}
	}
	return d
}

// roomNames lists rooms with the socket's own room first, then by name.
func roomNames(id string, rooms []socketio.Room) []string {
	out := make([]string, 0, len(rooms))
	for _, r := range rooms {
		if string(r) != id {
			out = append(out, string(r))
		}
	}
	slices.Sort(out)
	if len(out) < len(rooms) {
		out = append([]string{id}, out...)
	}
	return out
}

// jsDateString is the layout of JavaScript's Date.prototype.toString.
const jsDateString = "Mon Jan 02 2006 15:04:05 GMT-0700 (MST)"

func serializeHandshake(hs *socketio.Handshake) serializedHandshake {
	out := serializedHandshake{
		Address: hs.Address,
		Headers: make(map[string]string, len(hs.Header)),
		Query:   make(map[string]string, len(hs.Query)),
		Issued:  hs.Time.UnixMilli(),
		Time:    hs.Time.Format(jsDateString),
		URL:     hs.URL,
		Secure:  hs.Secure,
		XDomain: hs.XDomain,
	}
	for k, v := range hs.Header {
		out.Headers[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	for k, v := range hs.Query {
		if len(v) > 0 {
			out.Query[k] = v[0]
		}
	}
	if v := hs.Header.Get("Cf-Connecting-Ip"); v != "" {
		out.Address = v
	} else if v := hs.Header.Get("X-Forwarded-For"); v != "" {
		out.Address = v
	}
	if hs.Time.IsZero() {
		out.Issued = time.Now().UnixMilli()
	}
	return out
}

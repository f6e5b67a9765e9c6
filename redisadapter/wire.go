package redisadapter

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/notepack"
	"github.com/pierhq/pier/internal/placeholder"
	"github.com/pierhq/pier/socketio"
)

// Request types of the classic protocol (@socket.io/redis-adapter 8.3.0).
const (
	reqSockets              = 0
	reqAllRooms             = 1
	reqRemoteJoin           = 2
	reqRemoteLeave          = 3
	reqRemoteDisconnect     = 4
	reqRemoteFetch          = 5
	reqServerSideEmit       = 6
	reqBroadcast            = 7
	reqBroadcastClientCount = 8
	reqBroadcastAck         = 9
)

const uidAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// uid2 returns n random characters of the base64url alphabet, as the npm
// uid2 package does (node uids and request ids).
func uid2(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = uidAlphabet[b[i]&63]
	}
	return string(b)
}

// errMalformed is returned for messages that do not have the expected shape.
var errMalformed = errors.New("redisadapter: malformed message")

// decodeMessage decodes a request or response: JSON when it starts with
// "{", msgpack otherwise (as 8.3.0 does).
func decodeMessage(b []byte) (notepack.Map, error) {
	var v any
	var err error
	if len(b) > 0 && b[0] == '{' {
		v, err = notepack.ParseJSON(b)
	} else {
		v, err = notepack.Decode(b)
	}
	if err != nil {
		return nil, err
	}
	m, ok := v.(notepack.Map)
	if !ok {
		return nil, errMalformed
	}
	return m, nil
}

func getString(m notepack.Map, key string) (string, bool) {
	v, _ := m.Get(key)
	s, ok := v.(string)
	return s, ok
}

func getNumber(m notepack.Map, key string) (float64, bool) {
	v, _ := m.Get(key)
	f, ok := v.(float64)
	return f, ok
}

// msgType is the type property of a message, read from the wire (a
// float64) or built here (an int); -1 when it has none.
func msgType(m notepack.Map) int {
	v, _ := m.Get(keyType)
	switch t := v.(type) {
	case float64:
		return int(t)
	case int:
		return t
	}
	return -1
}

func getMap(m notepack.Map, key string) (notepack.Map, bool) {
	v, _ := m.Get(key)
	mm, ok := v.(notepack.Map)
	return mm, ok
}

func getArray(m notepack.Map, key string) ([]any, bool) {
	v, _ := m.Get(key)
	a, ok := v.([]any)
	return a, ok
}

func getBool(m notepack.Map, key string) bool {
	v, _ := m.Get(key)
	b, _ := v.(bool)
	return b
}

// roomOf converts a room id read from the wire: a string, or a number
// (Node rooms may be numbers; Go rooms are their decimal text).
func roomOf(v any) (socketio.Room, bool) {
	switch v := v.(type) {
	case string:
		return socketio.Room(v), true
	case float64:
		return socketio.Room(notepack.FormatNumber(nil, v)), true
	}
	return "", false
}

func roomsOf(v any) []socketio.Room {
	a, _ := v.([]any)
	out := make([]socketio.Room, 0, len(a))
	for _, e := range a {
		if r, ok := roomOf(e); ok {
			out = append(out, r)
		}
	}
	return out
}

// roomList is the wire form of rooms: always an array, never null.
func roomList(rooms []socketio.Room) []any {
	out := make([]any, len(rooms))
	for i, r := range rooms {
		out[i] = string(r)
	}
	return out
}

// encodeJSON writes a request or response as JSON (it starts with "{").
func encodeJSON(m notepack.Map) ([]byte, error) {
	return notepack.AppendJSON(nil, m, notepack.BufferJSON)
}

// packetValue converts the data of a packet (JSON with binary placeholders
// and attachments) into the value Node puts on the wire: binary inline.
func packetValue(p *socketio.Packet) (any, error) {
	if len(p.Data) == 0 {
		return []any{}, nil
	}
	v, err := notepack.ParseJSON(p.Data)
	if err != nil {
		return nil, err
	}
	if len(p.Attachments) == 0 {
		return v, nil
	}
	return inlineBinary(v, p.Attachments, 0), nil
}

// argValue is argument i of args as a wire value (undefined when absent).
func argValue(args socketio.Args, i int) any {
	if i >= args.Len() {
		return notepack.Undefined{}
	}
	v, err := notepack.ParseJSON(args.Raw(i))
	if err != nil {
		return nil
	}
	if len(args.Attachments()) == 0 {
		return v
	}
	return inlineBinary(v, args.Attachments(), 0)
}

// inlineBinary replaces {"_placeholder":true,"num":n} objects by the
// attachments they stand for.
func inlineBinary(v any, atts [][]byte, depth int) any {
	if depth > notepack.DefaultMaxDepth {
		return v
	}
	switch t := v.(type) {
	case notepack.Map:
		if len(t) == 2 {
			ph, _ := t.Get("_placeholder")
			num, ok := getNumber(t, "num")
			if ph == true && ok && num >= 0 && num < float64(len(atts)) && num == float64(int(num)) {
				return atts[int(num)]
			}
		}
		for i := range t {
			t[i].Value = inlineBinary(t[i].Value, atts, depth+1)
		}
	case []any:
		for i := range t {
			t[i] = inlineBinary(t[i], atts, depth+1)
		}
	}
	return v
}

// jsonWithPlaceholders writes a wire value as packet JSON: binary values
// become placeholders and attachments, as socket.io-parser does.
func jsonWithPlaceholders(v any) ([]byte, [][]byte, error) {
	var atts [][]byte
	data, err := notepack.AppendJSON(nil, v, func(dst, b []byte) []byte {
		dst = placeholder.Append(dst, len(atts))
		atts = append(atts, b)
		return dst
	})
	return data, atts, err
}

// argsFromValues builds Args from wire values (event true: the first is
// the event name).
func argsFromValues(vals []any, event bool) (string, socketio.Args, error) {
	data, atts, err := jsonWithPlaceholders(vals)
	if err != nil {
		return "", socketio.Args{}, err
	}
	return socketio.NewArgs(&socketio.Packet{Type: socketio.PacketEvent, Namespace: "/", Data: data, Attachments: atts}, event)
}

// wirePacketFor converts a packet (JSON with binary placeholders and
// attachments) into the object of broadcasts.
func wirePacketFor(p *socketio.Packet, nsp string) (wirePacket, error) {
	data, err := packetValue(p)
	if err != nil {
		return wirePacket{}, err
	}
	t := p.Type
	switch t {
	case socketio.PacketBinaryEvent:
		t = socketio.PacketEvent // Node clients fail on type 5 with inline binary
	case socketio.PacketBinaryAck:
		t = socketio.PacketAck
	}
	return wirePacket{Type: int(t), Data: data, Nsp: nsp}, nil
}

// packet converts a wire packet for local delivery in namespace nsp.
func (w wirePacket) packet(nsp string) (*socketio.Packet, error) {
	typ := socketio.PacketEvent
	switch w.Type {
	case 3, 6:
		typ = socketio.PacketAck
	}
	data, atts, err := jsonWithPlaceholders(w.Data)
	if err != nil {
		return nil, err
	}
	p := &socketio.Packet{Type: typ, Namespace: nsp, Data: data, Attachments: atts}
	if len(atts) > 0 {
		if typ == socketio.PacketEvent {
			p.Type = socketio.PacketBinaryEvent
		} else {
			p.Type = socketio.PacketBinaryAck
		}
	}
	return p, nil
}

// Handshakes travel as Node's socket.handshake object.

const jsDateLayout = "Mon Jan 02 2006 15:04:05 GMT-0700"

func handshakeValue(hs *socketio.Handshake) notepack.Map {
	if hs == nil {
		return notepack.Map{}
	}
	headers := notepack.Map{}
	// Go keeps the Host header in Request.Host; Node's req.headers has it
	// (first, where clients send it).
	if _, ok := hs.Header["Host"]; !ok && hs.Request != nil && hs.Request.Host != "" {
		headers = append(headers, notepack.Entry{Key: "host", Value: hs.Request.Host})
	}
	for k, vs := range hs.Header {
		lk := strings.ToLower(k)
		if lk == "set-cookie" {
			a := make([]any, len(vs))
			for i, v := range vs {
				a[i] = v
			}
			headers = append(headers, notepack.Entry{Key: lk, Value: a})
			continue
		}
		sep := ", "
		if lk == "cookie" {
			sep = "; "
		}
		headers = append(headers, notepack.Entry{Key: lk, Value: strings.Join(vs, sep)})
	}
	query := notepack.Map{}
	for k, vs := range hs.Query {
		if len(vs) == 1 {
			query = append(query, notepack.Entry{Key: k, Value: vs[0]})
			continue
		}
		a := make([]any, len(vs))
		for i, v := range vs {
			a[i] = v
		}
		query = append(query, notepack.Entry{Key: k, Value: a})
	}
	var auth any = notepack.Map{}
	if len(hs.Auth) > 0 {
		if v, err := notepack.ParseJSON(hs.Auth); err == nil {
			auth = v
		}
	}
	t := hs.Time.UTC()
	return notepack.Map{
		{Key: "headers", Value: headers},
		{Key: "time", Value: t.Format(jsDateLayout) + " (Coordinated Universal Time)"},
		{Key: "address", Value: hs.Address},
		{Key: "xdomain", Value: hs.XDomain},
		{Key: "secure", Value: hs.Secure},
		{Key: "issued", Value: t.UnixMilli()},
		{Key: "url", Value: hs.URL},
		{Key: "query", Value: query},
		{Key: "auth", Value: auth},
	}
}

func handshakeOf(m notepack.Map) *socketio.Handshake {
	hs := &socketio.Handshake{Header: http.Header{}, Query: url.Values{}, Auth: json.RawMessage("{}")}
	if h, ok := getMap(m, "headers"); ok {
		for _, e := range h {
			k := textproto.CanonicalMIMEHeaderKey(e.Key)
			switch v := e.Value.(type) {
			case string:
				hs.Header.Add(k, v)
			case []any:
				for _, x := range v {
					if s, ok := x.(string); ok {
						hs.Header.Add(k, s)
					}
				}
			}
		}
	}
	if q, ok := getMap(m, "query"); ok {
		for _, e := range q {
			switch v := e.Value.(type) {
			case string:
				hs.Query.Add(e.Key, v)
			case []any:
				for _, x := range v {
					if s, ok := x.(string); ok {
						hs.Query.Add(e.Key, s)
					}
				}
			}
		}
	}
	if ms, ok := getNumber(m, "issued"); ok {
		hs.Time = time.UnixMilli(int64(ms))
	} else if s, ok := getString(m, "time"); ok {
		if i := strings.Index(s, " ("); i > 0 {
			s = s[:i]
		}
		hs.Time, _ = time.Parse(jsDateLayout, s)
	}
	hs.Address, _ = getString(m, "address")
	hs.URL, _ = getString(m, "url")
	hs.Secure = getBool(m, "secure")
	hs.XDomain = getBool(m, "xdomain")
	if a, ok := m.Get("auth"); ok {
		if b, err := notepack.AppendJSON(nil, a, nil); err == nil {
			hs.Auth = b
		}
	}
	return hs
}

// socketValue is a fetchSockets entry as Node sends it.
func socketValue(s socketio.SocketInfo) notepack.Map {
	var data any = s.Data
	if data == nil {
		data = notepack.Map{} // Node's socket.data starts as {}
	} else if b, err := notepack.AppendJSON(nil, data, nil); err != nil {
		data = notepack.Map{} // not JSON-encodable: answer without it rather than not at all
	} else {
		data = json.RawMessage(b)
	}
	return notepack.Map{
		{Key: "id", Value: s.ID},
		{Key: "handshake", Value: handshakeValue(s.Handshake)},
		{Key: "rooms", Value: roomList(s.Rooms)},
		{Key: "data", Value: data},
	}
}

func socketOf(v any) (socketio.SocketInfo, bool) {
	m, ok := v.(notepack.Map)
	if !ok {
		return socketio.SocketInfo{}, false
	}
	id, ok := getString(m, "id")
	if !ok {
		return socketio.SocketInfo{}, false
	}
	info := socketio.SocketInfo{ID: id}
	if hs, ok := getMap(m, "handshake"); ok {
		info.Handshake = handshakeOf(hs)
	} else {
		info.Handshake = handshakeOf(nil)
	}
	if r, ok := m.Get("rooms"); ok {
		info.Rooms = roomsOf(r)
	}
	if d, ok := m.Get("data"); ok {
		if b, err := notepack.AppendJSON(nil, d, nil); err == nil {
			info.Data = json.RawMessage(b)
		}
	}
	return info, true
}

// timeoutError builds the error of a request that did not get every
// response in time.
func timeoutError(what string, got, want int) error {
	return fmt.Errorf("%w: %s: only %d responses received out of %d", ErrTimeout, what, got, want)
}

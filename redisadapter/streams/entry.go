package streams

import (
	"encoding/base64"
	"errors"
	"strconv"

	"github.com/pierhq/pier/internal/notepack"
	"github.com/pierhq/pier/internal/placeholder"
	"github.com/pierhq/pier/socketio"
)

// Message types of socket.io-adapter's ClusterAdapter carried by the
// stream.
const (
	typeBroadcast         = 3
	typeSocketsJoin       = 4
	typeSocketsLeave      = 5
	typeDisconnectSockets = 6
)

var errMalformed = errors.New("streams: malformed entry")

// entry is a decoded stream entry.
type entry struct {
	id   string
	uid  string
	nsp  string
	typ  int
	data notepack.Map
}

// fields are the XADD field/value pairs of an entry, in Node's order.
func fields(uid, nsp string, typ int, data string) []any {
	return []any{"uid", uid, "nsp", nsp, "type", strconv.Itoa(typ), "data", data}
}

// encodeData is the data field of an entry: JSON, or base64 of msgpack
// when it holds binary, as the Node adapter writes it.
func encodeData(m notepack.Map, binary bool) (string, error) {
	if binary {
		b, err := notepack.Encode(m)
		if err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString(b), nil
	}
	b, err := notepack.AppendJSON(nil, m, notepack.BufferJSON)
	return string(b), err
}

// decodeData reads a data field: JSON when it starts with "{", base64 of
// msgpack otherwise.
func decodeData(s string) (notepack.Map, error) {
	var v any
	var err error
	if len(s) > 0 && s[0] == '{' {
		v, err = notepack.ParseJSON([]byte(s))
	} else {
		var b []byte
		if b, err = base64.StdEncoding.DecodeString(s); err != nil {
			return nil, err
		}
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

// parseEntry checks the fields of an entry. Entries of other namespaces
// or types are returned too; the caller filters.
func parseEntry(id string, values map[string]any) (*entry, error) {
	e := &entry{id: id}
	var ok bool
	if e.nsp, ok = values["nsp"].(string); !ok {
		return nil, errMalformed
	}
	e.uid, _ = values["uid"].(string)
	t, _ := values["type"].(string)
	n, err := strconv.Atoi(t)
	if err != nil {
		return nil, errMalformed
	}
	e.typ = n
	if d, ok := values["data"].(string); ok {
		if e.data, err = decodeData(d); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func roomList(rooms []socketio.Room) []any {
	out := make([]any, len(rooms))
	for i, r := range rooms {
		out[i] = string(r)
	}
	return out
}

// roomsOf reads rooms: strings, or numbers (Node rooms may be numbers; Go
// rooms are their decimal text).
func roomsOf(v any) []socketio.Room {
	a, _ := v.([]any)
	out := make([]socketio.Room, 0, len(a))
	for _, e := range a {
		switch e := e.(type) {
		case string:
			out = append(out, socketio.Room(e))
		case float64:
			out = append(out, socketio.Room(notepack.FormatNumber(nil, e)))
		}
	}
	return out
}

// broadcastData is the BROADCAST of packet p (an EVENT), and whether it
// holds binary.
func broadcastData(p *socketio.Packet, opts socketio.BroadcastOptions) (broadcastMsg, bool, error) {
	args := []any{}
	if len(p.Data) > 0 {
		v, err := notepack.ParseJSON(p.Data)
		if err != nil {
			return broadcastMsg{}, false, err
		}
		a, ok := v.([]any)
		if !ok {
			return broadcastMsg{}, false, errMalformed
		}
		args = a
	}
	binary := len(p.Attachments) > 0
	if binary {
		inlineBinary(args, p.Attachments, 0)
	}
	return broadcastMsg{Args: args, Opts: optsFor(opts)}, binary, nil
}

// inlineBinary replaces {"_placeholder":true,"num":n} objects by their
// attachments.
func inlineBinary(v any, atts [][]byte, depth int) any {
	if depth > notepack.DefaultMaxDepth {
		return v
	}
	switch t := v.(type) {
	case notepack.Map:
		if len(t) == 2 {
			ph, _ := t.Get("_placeholder")
			num, _ := t.Get("num")
			if n, ok := num.(float64); ph == true && ok && n >= 0 && n < float64(len(atts)) && n == float64(int(n)) {
				return atts[int(n)]
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

// eventOf builds the EVENT packet of a BROADCAST entry's data for
// namespace nsp, with offset appended as its last argument when not "".
func eventOf(data notepack.Map, nsp, offset string) (*socketio.Packet, socketio.BroadcastOptions, error) {
	b, err := broadcastMsgOf(data)
	if err != nil {
		return nil, b.Opts.local(), err
	}
	return b.event(nsp, offset)
}

// event builds the EVENT packet of b for namespace nsp (see eventOf).
func (b broadcastMsg) event(nsp, offset string) (*socketio.Packet, socketio.BroadcastOptions, error) {
	opts, args := b.Opts.local(), b.Args
	if offset != "" {
		args = append(args[:len(args):len(args)], offset)
	}
	var atts [][]byte
	js, err := notepack.AppendJSON(nil, args, func(dst, b []byte) []byte {
		dst = placeholder.Append(dst, len(atts))
		atts = append(atts, b)
		return dst
	})
	if err != nil {
		return nil, opts, err
	}
	p := &socketio.Packet{Type: socketio.PacketEvent, Namespace: nsp, Data: js, Attachments: atts}
	if len(atts) > 0 {
		p.Type = socketio.PacketBinaryEvent
	}
	return p, opts, nil
}

// withOffset returns a copy of event p with offset appended to its
// arguments.
func withOffset(p *socketio.Packet, offset string) *socketio.Packet {
	if len(p.Data) < 2 || p.Data[len(p.Data)-1] != ']' {
		return p
	}
	data := make([]byte, 0, len(p.Data)+len(offset)+3)
	data = append(data, p.Data[:len(p.Data)-1]...)
	if len(p.Data) > 2 {
		data = append(data, ',')
	}
	data = notepack.AppendJSONString(data, offset)
	data = append(data, ']')
	q := *p
	q.Data = data
	return &q
}

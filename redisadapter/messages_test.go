package redisadapter

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/pierhq/pier/internal/notepack"
	"github.com/pierhq/pier/socketio"
)

// TestMessagesRoundTrip encodes each typed message and compares the bytes
// with what @socket.io/redis-adapter 8.3.0 (or socket.io-redis 6, or the
// emitter) writes for it, then decodes those bytes and encodes the result
// again: a property the decoder dropped or misread changes the bytes.
func TestMessagesRoundTrip(t *testing.T) {
	sid := socketio.Room("wkPGWQzEaLB8043ZAAAA")
	none := []socketio.Room{}
	h := head{UID: "ni71p9"}
	hid := head{UID: "ni71p9", RequestID: "qkLg5Z"}
	opts := &wireOpts{Rooms: []socketio.Room{sid}, Except: none}
	legacyRoom := socketio.Room("legacy")
	must := func(m notepack.Map, err error) notepack.Map {
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	dec := func(b []byte) notepack.Map { return must(decodeMessage(b)) }

	cases := []struct {
		name    string
		msg     message
		msgpack bool
		golden  string // JSON, or hex when msgpack
		parse   func(m notepack.Map) message
	}{
		{"sockets", socketsRequest{head{RequestID: "req002"}, []socketio.Room{"room1"}}, false,
			`{"requestId":"req002","type":0,"rooms":["room1"]}`,
			func(m notepack.Map) message { return socketsRequestOf(m) }},
		{"allRooms", allRoomsRequest{hid}, false,
			`{"uid":"ni71p9","requestId":"qkLg5Z","type":1}`,
			func(m notepack.Map) message { return allRoomsRequestOf(m) }},
		{"join", roomRequest{head: h, Type: reqRemoteJoin, Opts: opts, Rooms: []socketio.Room{"room2", "room2b"}}, false,
			`{"uid":"ni71p9","type":2,"opts":{"rooms":["wkPGWQzEaLB8043ZAAAA"],"except":[]},"rooms":["room2","room2b"]}`,
			func(m notepack.Map) message { r, _ := roomRequestOf(m, reqRemoteJoin); return r }},
		{"leave", roomRequest{head: h, Type: reqRemoteLeave, Opts: opts, Rooms: []socketio.Room{"room2b"}}, false,
			`{"uid":"ni71p9","type":3,"opts":{"rooms":["wkPGWQzEaLB8043ZAAAA"],"except":[]},"rooms":["room2b"]}`,
			func(m notepack.Map) message { r, _ := roomRequestOf(m, reqRemoteLeave); return r }},
		{"disconnect", roomRequest{head: h, Type: reqRemoteDisconnect, Opts: opts, Close: true}, false,
			`{"uid":"ni71p9","type":4,"opts":{"rooms":["wkPGWQzEaLB8043ZAAAA"],"except":[]},"close":true}`,
			func(m notepack.Map) message { r, _ := roomRequestOf(m, reqRemoteDisconnect); return r }},
		{"emitter join", roomRequest{Type: reqRemoteJoin, Opts: &wireOpts{Rooms: []socketio.Room{"room1"}, Except: none}, Rooms: []socketio.Room{"joined"}}, false,
			`{"type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["joined"]}`,
			func(m notepack.Map) message { r, _ := roomRequestOf(m, reqRemoteJoin); return r }},
		{"legacy join", roomRequest{head: head{RequestID: "req005"}, Type: reqRemoteJoin, SID: string(sid), Room: &legacyRoom}, false,
			`{"requestId":"req005","type":2,"sid":"wkPGWQzEaLB8043ZAAAA","room":"legacy"}`,
			func(m notepack.Map) message { r, _ := roomRequestOf(m, reqRemoteJoin); return r }},
		{"legacy disconnect", roomRequest{head: head{RequestID: "req008"}, Type: reqRemoteDisconnect, SID: string(sid), Close: false}, false,
			`{"requestId":"req008","type":4,"sid":"wkPGWQzEaLB8043ZAAAA","close":false}`,
			func(m notepack.Map) message { r, _ := roomRequestOf(m, reqRemoteDisconnect); return r }},
		{"fetchSockets", fetchSocketsRequest{hid, wireOpts{Rooms: none, Except: none}}, false,
			`{"uid":"ni71p9","requestId":"qkLg5Z","type":5,"opts":{"rooms":[],"except":[]}}`,
			func(m notepack.Map) message { return fetchSocketsRequestOf(m) }},
		{"serverSideEmit", serverSideEmitRequest{h, []any{"s2s", "noack", 1}}, false,
			`{"uid":"ni71p9","type":6,"data":["s2s","noack",1]}`,
			func(m notepack.Map) message { r, _ := serverSideEmitRequestOf(m); return r }},
		{"emitter serverSideEmit", serverSideEmitRequest{head{UID: "emitter"}, []any{"s2s", []byte{10, 11}}}, false,
			`{"uid":"emitter","type":6,"data":["s2s",{"type":"Buffer","data":[10,11]}]}`,
			func(m notepack.Map) message { r, _ := serverSideEmitRequestOf(m); return r }},
		{"broadcast with acks", broadcastRequest{hid,
			wirePacket{Type: 2, Data: []any{"question", []byte{0xca, 0xfe}}, Nsp: "/"},
			wireOpts{Rooms: []socketio.Room{sid}, Except: none, Flags: &wireFlags{Timeout: 2000}}}, true,
			"85a3756964a66e6937317039a9726571756573744964a6716b4c67355aa47479706507a67061636b657483a47479706502a46461746192a87175657374696f6ec402cafea36e7370a12fa46f70747383a5726f6f6d7391b4776b504757517a45614c42383034335a41414141a665786365707490a5666c61677381a774696d656f7574cd07d0",
			func(m notepack.Map) message { r, _, _ := broadcastRequestOf(m); return r }},

		{"sockets response", socketsResponse{"req002", []string{"wkPGWQzEaLB8043ZAAAA"}}, false,
			`{"requestId":"req002","sockets":["wkPGWQzEaLB8043ZAAAA"]}`,
			func(m notepack.Map) message { return socketsResponseOf(m) }},
		{"allRooms response", allRoomsResponse{"req001", []socketio.Room{"room1", "123"}}, false,
			`{"requestId":"req001","rooms":["room1","123"]}`,
			func(m notepack.Map) message { return allRoomsResponseOf(m) }},
		{"legacy room response", roomResponse{"req005"}, false, `{"requestId":"req005"}`,
			func(m notepack.Map) message { id, _ := getString(m, keyRequestID); return roomResponse{id} }},
		{"fetchSockets response", fetchSocketsResponse{"req003", nil}, false, `{"requestId":"req003","sockets":[]}`,
			func(m notepack.Map) message { return fetchSocketsResponseOf(m) }},
		{"fetchSockets response with a socket", nil, false,
			`{"requestId":"r1","sockets":[{"id":"PeerSocket0000000001","handshake":{"headers":{"user-agent":"ua"},"time":"Sun Nov 22 2026 02:58:32 GMT+0000 (Coordinated Universal Time)","address":"10.0.0.9","xdomain":false,"secure":true,"issued":1795316312530,"url":"/socket.io/?EIO=4","query":{"EIO":"4"},"auth":{"user":"u"}},"rooms":["PeerSocket0000000001","7"],"data":{"blob":{"type":"Buffer","data":[10,11]}}}]}`,
			func(m notepack.Map) message { return fetchSocketsResponseOf(m) }},
		{"serverSideEmit response", serverSideEmitResponse{"req004", notepack.Map{{Key: "got", Value: []byte{1}}}}, false,
			`{"type":6,"requestId":"req004","data":{"got":{"type":"Buffer","data":[1]}}}`,
			func(m notepack.Map) message { return serverSideEmitResponseOf(m) }},
		{"serverSideEmit response without data", serverSideEmitResponse{"req009", notepack.Undefined{}}, false,
			`{"type":6,"requestId":"req009"}`,
			func(m notepack.Map) message { return serverSideEmitResponseOf(m) }},
		{"client count", clientCountResponse{"req006", 1}, false,
			`{"type":8,"requestId":"req006","clientCount":1}`,
			func(m notepack.Map) message { return clientCountResponseOf(m) }},
		{"broadcast ack", broadcastAckResponse{RequestID: "req006", Packet: notepack.Map{{Key: "client", Value: "c1"}, {Key: "x", Value: []byte{0xca, 0xfe}}}}, true,
			"83a47479706509a9726571756573744964a6726571303036a67061636b657482a6636c69656e74a26331a178c402cafe",
			func(m notepack.Map) message { return broadcastAckResponseOf(m) }},
		{"legacy broadcast ack", broadcastAckResponse{RequestID: "req007", Packet: []byte{9}}, false,
			`{"type":9,"requestId":"req007","packet":{"type":"Buffer","data":[9]}}`,
			func(m notepack.Map) message { return broadcastAckResponseOf(m) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := []byte(c.golden)
			if c.msgpack {
				want, _ = hex.DecodeString(c.golden)
			}
			if c.msg != nil {
				got, err := encode(c.msg, c.msgpack)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("encoded\n got %s\nwant %s", show(got, c.msgpack), c.golden)
				}
			}
			back, err := encode(c.parse(dec(want)), c.msgpack)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, want) {
				t.Errorf("decoded and encoded again\n got %s\nwant %s", show(back, c.msgpack), c.golden)
			}
		})
	}
}

func show(b []byte, msgpack bool) string {
	if msgpack {
		return hex.EncodeToString(b)
	}
	return string(b)
}

// TestBroadcastMessagesRoundTrip does the same for the [uid, packet, opts]
// arrays of the broadcast channel: Node's, and the emitter's (flags before
// except).
func TestBroadcastMessagesRoundTrip(t *testing.T) {
	none := []socketio.Room{}
	cases := []struct {
		name    string
		msg     broadcastMessage
		emitter bool
		golden  string
	}{
		{"node", broadcastMessage{"ni71p9", wirePacket{2, []any{"hello", "world", 1, 1.5, -2, 300, 70000, notepack.Map{{Key: "nested", Value: true}}, nil}, "/"}, wireOpts{none, none, &wireFlags{}}}, false,
			"93a66e693731703983a47479706502a46461746199a568656c6c6fa5776f726c6401cb3ff8000000000000fecd012cce0001117081a66e6573746564c3c0a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380"},
		{"node to a room", broadcastMessage{"ni71p9", wirePacket{2, []any{"msg", "to room1"}, "/"}, wireOpts{[]socketio.Room{"room1"}, none, &wireFlags{}}}, false,
			"93a66e693731703983a47479706502a46461746192a36d7367a8746f20726f6f6d31a36e7370a12f83a5726f6f6d7391a5726f6f6d31a665786365707490a5666c61677380"},
		{"node binary", broadcastMessage{"ni71p9", wirePacket{2, []any{"bin", []byte{1, 2, 3}, notepack.Map{{Key: "buf", Value: []byte{0xff}}, {Key: "s", Value: "x"}}}, "/"}, wireOpts{none, none, &wireFlags{}}}, false,
			"93a66e693731703983a47479706502a46461746193a362696ec40301020382a3627566c401ffa173a178a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380"},
		{"node volatile", broadcastMessage{"ni71p9", wirePacket{2, []any{"vol", "v"}, "/"}, wireOpts{none, none, &wireFlags{Volatile: true}}}, false,
			"93a66e693731703983a47479706502a46461746192a3766f6ca176a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677381a8766f6c6174696c65c3"},
		{"emitter", broadcastMessage{"emitter", wirePacket{2, []any{"from-emitter", 1, []byte{0xde, 0xad}}, "/"}, wireOpts{[]socketio.Room{"legacy"}, none, &wireFlags{}}}, true,
			"93a7656d697474657283a47479706502a46461746193ac66726f6d2d656d697474657201c402deada36e7370a12f83a5726f6f6d7391a66c6567616379a5666c61677380a665786365707490"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			value := c.msg.value
			if c.emitter {
				value = c.msg.emitterValue
			}
			got, err := notepack.Encode(value())
			if err != nil {
				t.Fatal(err)
			}
			if h := hex.EncodeToString(got); h != c.golden {
				t.Errorf("encoded\n got %s\nwant %s", h, c.golden)
			}
			want, _ := hex.DecodeString(c.golden)
			v, err := notepack.Decode(want)
			if err != nil {
				t.Fatal(err)
			}
			b, err := broadcastMessageOf(v)
			if err != nil {
				t.Fatal(err)
			}
			value = b.value
			if c.emitter {
				value = b.emitterValue
			}
			back, _ := notepack.Encode(value())
			if !bytes.Equal(back, want) {
				t.Errorf("decoded and encoded again\n got %x\nwant %s", back, c.golden)
			}
		})
	}
}

// TestShardedRoundTrip sends the typed messages through the sharded
// protocol's envelope: the bytes are those of a ClusterAdapter node of
// socket.io-adapter (data properties in its order, opts always with flags,
// broadcast packets without nsp, msgpack only for binary), and reading
// them back gives the same classic message.
func TestShardedRoundTrip(t *testing.T) {
	const uid = "0011223344556677"
	opts := wireOpts{Rooms: []socketio.Room{"gold"}, Except: []socketio.Room{}}
	// parse reads the classic message back; sharded opts always have
	// flags, which the room and fetch requests sent here have not: the
	// parse functions of those drop them.
	cases := []struct {
		name     string
		msg      message
		response bool
		golden   string // JSON, or hex of msgpack
		parse    func(notepack.Map) message
	}{
		{"broadcast", broadcastRequest{head{UID: uid}, wirePacket{2, []any{"g", 1}, "/"}, wireOpts{opts.Rooms, opts.Except, &wireFlags{}}}, false,
			`{"type":3,"data":{"packet":{"type":2,"data":["g",1]},"opts":{"rooms":["gold"],"except":[],"flags":{}}},"uid":"0011223344556677","nsp":"/"}`,
			func(m notepack.Map) message { r, _, _ := broadcastRequestOf(m); return r }},
		{"broadcast with acks and binary", broadcastRequest{head{UID: uid, RequestID: "r1"}, wirePacket{2, []any{"g", []byte{1}}, "/"}, wireOpts{opts.Rooms, opts.Except, &wireFlags{Timeout: 5}}}, false,
			"84a47479706503a46461746183a67061636b657482a47479706502a46461746192a167c40101a9726571756573744964a27231a46f70747383a5726f6f6d7391a4676f6c64a665786365707490a5666c61677381a774696d656f757405a3756964b030303131323233333434353536363737a36e7370a12f",
			func(m notepack.Map) message { r, _, _ := broadcastRequestOf(m); return r }},
		{"join", roomRequest{head: head{UID: uid}, Type: reqRemoteJoin, Opts: &opts, Rooms: []socketio.Room{"a"}}, false,
			`{"type":4,"data":{"opts":{"rooms":["gold"],"except":[],"flags":{}},"rooms":["a"]},"uid":"0011223344556677","nsp":"/"}`,
			func(m notepack.Map) message { r, _ := roomRequestOf(m, reqRemoteJoin); r.Opts.Flags = nil; return r }},
		{"disconnect", roomRequest{head: head{UID: uid}, Type: reqRemoteDisconnect, Opts: &opts, Close: true}, false,
			`{"type":6,"data":{"opts":{"rooms":["gold"],"except":[],"flags":{}},"close":true},"uid":"0011223344556677","nsp":"/"}`,
			func(m notepack.Map) message {
				r, _ := roomRequestOf(m, reqRemoteDisconnect)
				r.Opts.Flags = nil
				return r
			}},
		{"fetchSockets", fetchSocketsRequest{head{UID: uid, RequestID: "r1"}, opts}, false,
			`{"type":7,"data":{"opts":{"rooms":["gold"],"except":[],"flags":{}},"requestId":"r1"},"uid":"0011223344556677","nsp":"/"}`,
			func(m notepack.Map) message { r := fetchSocketsRequestOf(m); r.Opts.Flags = nil; return r }},
		{"fetchSockets response", fetchSocketsResponse{"r1", nil}, true,
			`{"type":8,"data":{"requestId":"r1","sockets":[]},"uid":"0011223344556677","nsp":"/"}`,
			func(m notepack.Map) message { return fetchSocketsResponseOf(m) }},
		{"serverSideEmit", serverSideEmitRequest{head{UID: uid, RequestID: "r1"}, []any{"ev", 1}}, false,
			`{"type":9,"data":{"requestId":"r1","packet":["ev",1]},"uid":"0011223344556677","nsp":"/"}`,
			func(m notepack.Map) message { r, _ := serverSideEmitRequestOf(m); return r }},
		{"serverSideEmit response", serverSideEmitResponse{"r1", notepack.Map{{Key: "ok", Value: true}}}, true,
			`{"type":10,"data":{"requestId":"r1","packet":{"ok":true}},"uid":"0011223344556677","nsp":"/"}`,
			func(m notepack.Map) message { return serverSideEmitResponseOf(m) }},
		{"client count", clientCountResponse{"r1", 2}, true,
			`{"type":11,"data":{"requestId":"r1","clientCount":2},"uid":"0011223344556677","nsp":"/"}`,
			func(m notepack.Map) message { return clientCountResponseOf(m) }},
		{"broadcast ack", broadcastAckResponse{RequestID: "r1", Packet: "yes"}, true,
			`{"type":12,"data":{"requestId":"r1","packet":"yes"},"uid":"0011223344556677","nsp":"/"}`,
			func(m notepack.Map) message { return broadcastAckResponseOf(m) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, got, err := encodeSharded(c.msg.wire(), c.response, uid, "/")
			if err != nil {
				t.Fatal(err)
			}
			msgpack := got[0] != '{'
			if s := show(got, msgpack); s != c.golden {
				t.Fatalf("encoded\n got %s\nwant %s", s, c.golden)
			}
			env, err := decodeMessage(got)
			if err != nil {
				t.Fatal(err)
			}
			m, response, err := fromSharded(env)
			if err != nil || response != c.response {
				t.Fatalf("fromSharded: response %v, %v", response, err)
			}
			want, _ := encode(c.msg, false)
			back, _ := encode(c.parse(m), false)
			if !bytes.Equal(back, want) {
				t.Errorf("read back as\n %s\nwant %s", back, want)
			}
		})
	}
}

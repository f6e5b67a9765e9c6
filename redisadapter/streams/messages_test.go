package streams

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/notepack"
	"github.com/pierhq/pier/socketio"
)

// TestEntriesRoundTrip encodes each typed stream entry as the adapter
// writes it (JSON, or base64 msgpack when it holds binary), compares it
// with the bytes the adapter wrote before the messages were typed (which
// the Node interop tests accept), then decodes and encodes again.
func TestEntriesRoundTrip(t *testing.T) {
	r1 := []socketio.Room{"r1"}
	cases := []struct {
		name   string
		msg    message
		binary bool
		golden string
		parse  func(notepack.Map) (message, error)
	}{
		{"broadcast", broadcastMsg{Args: []any{"hello", "world", 1, 1.5, notepack.Map{{Key: "n", Value: true}}, nil}, Opts: entryOpts{Rooms: r1, Except: []socketio.Room{"x"}, Volatile: true}}, false,
			`{"packet":{"type":2,"data":["hello","world",1,1.5,{"n":true},null]},"opts":{"rooms":["r1"],"except":["x"],"flags":{"volatile":true}}}`,
			func(m notepack.Map) (message, error) { return broadcastMsgOf(m) }},
		{"binary broadcast", broadcastMsg{Args: []any{"bin", []byte{1, 2, 3}}}, true,
			"gqZwYWNrZXSCpHR5cGUCpGRhdGGSo2JpbsQDAQIDpG9wdHODpXJvb21zkKZleGNlcHSQpWZsYWdzgA==",
			func(m notepack.Map) (message, error) { return broadcastMsgOf(m) }},
		{"join", roomsMsg{Opts: entryOpts{Rooms: r1}, Rooms: []socketio.Room{"a", "b"}}, false,
			`{"opts":{"rooms":["r1"],"except":[],"flags":{}},"rooms":["a","b"]}`,
			func(m notepack.Map) (message, error) { return roomsMsgOf(m, false) }},
		{"leave", roomsMsg{Leave: true, Opts: entryOpts{Rooms: r1}, Rooms: []socketio.Room{"a"}}, false,
			`{"opts":{"rooms":["r1"],"except":[],"flags":{}},"rooms":["a"]}`,
			func(m notepack.Map) (message, error) { return roomsMsgOf(m, true) }},
		{"disconnect", disconnectMsg{Opts: entryOpts{Rooms: r1}, Close: true}, false,
			`{"opts":{"rooms":["r1"],"except":[],"flags":{}},"close":true}`,
			func(m notepack.Map) (message, error) { return disconnectMsgOf(m) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := encodeData(c.msg.wire(), c.binary)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.golden {
				t.Errorf("encoded\n got %s\nwant %s", got, c.golden)
			}
			data, err := decodeData(c.golden)
			if err != nil {
				t.Fatal(err)
			}
			back, err := c.parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if back.msgType() != c.msg.msgType() {
				t.Errorf("type %d, want %d", back.msgType(), c.msg.msgType())
			}
			if again, _ := encodeData(back.wire(), c.binary); again != c.golden {
				t.Errorf("decoded and encoded again\n got %s\nwant %s", again, c.golden)
			}
		})
	}
	if _, err := broadcastMsgOf(notepack.Map{{Key: keyPacket, Value: notepack.Map{{Key: keyData, Value: []any{"x"}}}}}); err == nil {
		t.Error("a broadcast without opts was accepted")
	}
}

// TestPubSubMessagesRoundTrip does the same for the pub/sub requests and
// answers, in their {type, data, uid, nsp} envelope.
func TestPubSubMessagesRoundTrip(t *testing.T) {
	const uid, nsp, id = "a1b2c3d4e5f60708", "/chat", "0011223344556677"
	hs := &socketio.Handshake{
		Header:  http.Header{"User-Agent": {"ua"}},
		Query:   url.Values{"EIO": {"4"}},
		Auth:    json.RawMessage(`{"user":"u"}`),
		Address: "10.0.0.9", Secure: true, URL: "/socket.io/?EIO=4",
		Time: time.UnixMilli(1795316312530),
	}
	sock := socketio.SocketInfo{ID: "PeerSocket0000000001", Handshake: hs, Rooms: []socketio.Room{"PeerSocket0000000001", "7"}, Data: json.RawMessage(`{"k":1}`)}
	// A fetchSockets answer with one socket, as the Node adapter writes it.
	nodeSocket, _ := notepack.Encode(notepack.Map{{Key: keyType, Value: typeFetchSocketsResponse}, {Key: keyData, Value: notepack.Map{
		{Key: keyRequestID, Value: id},
		{Key: keySockets, Value: []any{notepack.Map{
			{Key: "id", Value: "PeerSocket0000000001"},
			{Key: "handshake", Value: notepack.Map{
				{Key: "headers", Value: notepack.Map{{Key: "user-agent", Value: "ua"}}},
				{Key: "time", Value: "Sun Nov 22 2026 02:58:32 GMT+0000 (Coordinated Universal Time)"},
				{Key: "address", Value: "10.0.0.9"}, {Key: "xdomain", Value: false}, {Key: "secure", Value: true},
				{Key: "issued", Value: 1795316312530}, {Key: "url", Value: "/socket.io/?EIO=4"},
				{Key: "query", Value: notepack.Map{{Key: "EIO", Value: "4"}}},
				{Key: "auth", Value: notepack.Map{{Key: "user", Value: "u"}}},
			}},
			{Key: "rooms", Value: []any{"PeerSocket0000000001", "7"}},
			{Key: "data", Value: notepack.Map{{Key: "k", Value: 1}}},
		}}},
	}}, {Key: keyUID, Value: uid}, {Key: keyNsp, Value: nsp}})
	cases := []struct {
		name   string
		msg    message
		golden string
		parse  func(notepack.Map) (message, error)
	}{
		{"broadcast with acks", broadcastMsg{Args: []any{"hello", "world", 1, 1.5, notepack.Map{{Key: "n", Value: true}}, nil}, Opts: entryOpts{Rooms: []socketio.Room{"r1"}, Timeout: 2000}, RequestID: id},
			"84a47479706503a46461746183a67061636b657482a47479706502a46461746196a568656c6c6fa5776f726c6401cb3ff800000000000081a16ec3c0a46f70747383a5726f6f6d7391a27231a665786365707490a5666c61677381a774696d656f7574cd07d0a9726571756573744964b030303131323233333434353536363737a3756964b061316232633364346535663630373038a36e7370a52f63686174",
			func(m notepack.Map) (message, error) { return broadcastMsgOf(m) }},
		{"fetchSockets", fetchSocketsMsg{RequestID: id},
			"84a47479706507a46461746182a46f70747383a5726f6f6d7390a665786365707490a5666c61677380a9726571756573744964b030303131323233333434353536363737a3756964b061316232633364346535663630373038a36e7370a52f63686174",
			func(m notepack.Map) (message, error) { return fetchSocketsMsgOf(m) }},
		{"fetchSockets response", fetchSocketsResponseMsg{RequestID: id, Sockets: []socketio.SocketInfo{sock}}, hex.EncodeToString(nodeSocket),
			func(m notepack.Map) (message, error) { return fetchSocketsResponseMsgOf(m), nil }},
		{"serverSideEmit", serverSideEmitMsg{Packet: []any{"ev", 1, []byte{9}}},
			"84a47479706509a46461746181a67061636b657493a2657601c40109a3756964b061316232633364346535663630373038a36e7370a52f63686174",
			func(m notepack.Map) (message, error) { return serverSideEmitMsgOf(m) }},
		{"serverSideEmit with ack", serverSideEmitMsg{RequestID: id, Packet: []any{"ev"}},
			"84a47479706509a46461746182a9726571756573744964b030303131323233333434353536363737a67061636b657491a26576a3756964b061316232633364346535663630373038a36e7370a52f63686174",
			func(m notepack.Map) (message, error) { return serverSideEmitMsgOf(m) }},
		{"serverSideEmit response", serverSideEmitResponseMsg{RequestID: id, Packet: notepack.Map{{Key: "ok", Value: true}}},
			"84a4747970650aa46461746182a9726571756573744964b030303131323233333434353536363737a67061636b657481a26f6bc3a3756964b061316232633364346535663630373038a36e7370a52f63686174",
			func(m notepack.Map) (message, error) { return serverSideEmitResponseMsgOf(m), nil }},
		{"client count", clientCountMsg{RequestID: id, ClientCount: 2},
			"84a4747970650ba46461746182a9726571756573744964b030303131323233333434353536363737ab636c69656e74436f756e7402a3756964b061316232633364346535663630373038a36e7370a52f63686174",
			func(m notepack.Map) (message, error) { return clientCountMsgOf(m), nil }},
		{"broadcast ack", broadcastAckMsg{RequestID: id, Packet: []byte{0xca, 0xfe}},
			"84a4747970650ca46461746182a9726571756573744964b030303131323233333434353536363737a67061636b6574c402cafea3756964b061316232633364346535663630373038a36e7370a52f63686174",
			func(m notepack.Map) (message, error) { return broadcastAckMsgOf(m), nil }},
		{"broadcast ack without argument", broadcastAckMsg{RequestID: id, Packet: notepack.Undefined{}},
			"84a4747970650ca46461746181a9726571756573744964b030303131323233333434353536363737a3756964b061316232633364346535663630373038a36e7370a52f63686174",
			nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := notepack.Encode(envelope(c.msg, uid, nsp))
			if err != nil {
				t.Fatal(err)
			}
			if h := hex.EncodeToString(got); h != c.golden {
				t.Errorf("encoded\n got %s\nwant %s", h, c.golden)
			}
			if c.parse == nil {
				return
			}
			want, _ := hex.DecodeString(c.golden)
			v, err := notepack.Decode(want)
			if err != nil {
				t.Fatal(err)
			}
			env := v.(notepack.Map)
			dv, _ := env.Get(keyData)
			back, err := c.parse(dv.(notepack.Map))
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := notepack.Encode(envelope(back, uid, nsp)); !bytes.Equal(again, want) {
				t.Errorf("decoded and encoded again\n got %x\nwant %s", again, c.golden)
			}
		})
	}
}

package redisadapter_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/notepack"
	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/socketio"
)

// peer plays a Node 8.3.0 node on the wire: it subscribes to the request
// channel (so it is counted), records the requests, and answers the
// counted ones as Node does.
type peer struct {
	t        *testing.T
	rdb      *redis.Client
	key, nsp string
	mu       sync.Mutex
	requests []string
}

func newPeer(t *testing.T, addr, key string) *peer {
	p := &peer{t: t, rdb: redis.NewClient(&redis.Options{Addr: addr}), key: key, nsp: "/"}
	ps := p.rdb.Subscribe(context.Background(), key+"-request#/#")
	if _, err := ps.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	ch := ps.Channel()
	go func() {
		for m := range ch {
			p.mu.Lock()
			p.requests = append(p.requests, m.Payload)
			p.mu.Unlock()
			p.answer(m.Payload)
		}
	}()
	t.Cleanup(func() { ps.Close(); p.rdb.Close() })
	return p
}

func (p *peer) answer(payload string) {
	var req struct {
		UID       string `json:"uid"`
		RequestID string `json:"requestId"`
		Type      int    `json:"type"`
	}
	if strings.HasPrefix(payload, "{") {
		json.Unmarshal([]byte(payload), &req)
	} else {
		v, _ := notepack.Decode([]byte(payload))
		m, _ := v.(notepack.Map)
		id, _ := m.Get("requestId")
		req.RequestID, _ = id.(string)
		req.Type = 7
	}
	if req.UID == "peer01" {
		return
	}
	var resp string
	switch req.Type {
	case 1:
		resp = fmt.Sprintf(`{"requestId":%q,"rooms":["peerroom",123]}`, req.RequestID)
	case 5:
		resp = fmt.Sprintf(`{"requestId":%q,"sockets":[{"id":"PeerSocket0000000001","handshake":{"headers":{"host":"x","user-agent":"ua"},"time":"Sun Nov 22 2026 02:58:32 GMT+0000 (Coordinated Universal Time)","address":"10.0.0.9","xdomain":false,"secure":true,"issued":1795316312530,"url":"/socket.io/?EIO=4&transport=websocket","query":{"EIO":"4","transport":"websocket"},"auth":{"user":"u"}},"rooms":["PeerSocket0000000001",7],"data":{"blob":{"type":"Buffer","data":[10,11]}}}]}`, req.RequestID)
	case 6:
		if req.RequestID == "" {
			return
		}
		resp = fmt.Sprintf(`{"type":6,"requestId":%q,"data":{"from":"peer"}}`, req.RequestID)
	case 7:
		resp = fmt.Sprintf(`{"type":8,"requestId":%q,"clientCount":0}`, req.RequestID)
	default:
		return
	}
	p.rdb.Publish(context.Background(), p.key+"-response#/#", resp)
}

func (p *peer) request(t *testing.T, match string) string {
	t.Helper()
	var out string
	eventually(t, "a request matching "+match, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, r := range p.requests {
			if strings.Contains(r, match) {
				out = r
				return true
			}
		}
		return false
	})
	return out
}

// TestWireGolden checks the exact bytes the Go node publishes against the
// bytes @socket.io/redis-adapter 8.3.0 published for the same operations
// (captured from a real Node server), the uid and request ids aside.
func TestWireGolden(t *testing.T) {
	t.Parallel()
	addr, key := sharedAddr(t), keyFor(t)
	sn := sniff(t, addr, key)
	a := newNode(t, addr, key, "A", nil)
	p := newPeer(t, addr, key)
	uid := a.adapter("/").UID()
	uidHex := hex.EncodeToString([]byte(uid))
	nsp := a.srv.Of("/")
	ctx := ctxT(t)

	bcast := []struct {
		emit    func() error
		channel string
		node    string // captured from Node, uid "ni71p9"
	}{
		{func() error {
			return nsp.Emit("hello", "world", 1, 1.5, -2, 300, 70000, map[string]any{"nested": true}, nil)
		}, "#/#", "93a66e693731703983a47479706502a46461746199a568656c6c6fa5776f726c6401cb3ff8000000000000fecd012cce0001117081a66e6573746564c3c0a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380"},
		{func() error { return nsp.To("room1").Emit("msg", "to room1") },
			"#/#room1#", "93a66e693731703983a47479706502a46461746192a36d7367a8746f20726f6f6d31a36e7370a12f83a5726f6f6d7391a5726f6f6d31a665786365707490a5666c61677380"},
		{func() error { return nsp.To("room1", "room3").Except("room3").Emit("multi", 1) },
			"#/#", "93a66e693731703983a47479706502a46461746192a56d756c746901a36e7370a12f83a5726f6f6d7392a5726f6f6d31a5726f6f6d33a665786365707491a5726f6f6d33a5666c61677380"},
		{func() error {
			return nsp.Emit("bin", []byte{1, 2, 3}, map[string]any{"buf": []byte{0xff}, "s": "x"})
		}, "#/#", "93a66e693731703983a47479706502a46461746193a362696ec40301020382a3627566c401ffa173a178a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380"},
		{func() error { return nsp.Volatile().Emit("vol", "v") },
			"#/#", "93a66e693731703983a47479706502a46461746192a3766f6ca176a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677381a8766f6c6174696c65c3"},
	}
	for i, b := range bcast {
		want := strings.Replace(b.node, "6e6937317039", uidHex, 1)
		if err := b.emit(); err != nil {
			t.Fatal(err)
		}
		got := sn.wait(t, key+b.channel, func(p string) bool { return hex.EncodeToString([]byte(p)) == want })
		if got == "" {
			t.Errorf("broadcast %d: not published", i)
		}
	}

	// Room operations: exactly Node's JSON.
	sid := "wkPGWQzEaLB8043ZAAAA"
	nsp.In(socketio.Room(sid)).SocketsJoin(ctx, "room2", "room2b")
	sn.wait(t, key+"-request#/#", func(s string) bool {
		return s == `{"uid":"`+uid+`","type":2,"opts":{"rooms":["wkPGWQzEaLB8043ZAAAA"],"except":[]},"rooms":["room2","room2b"]}`
	})
	nsp.In(socketio.Room(sid)).SocketsLeave(ctx, "room2b")
	sn.wait(t, key+"-request#/#", func(s string) bool {
		return s == `{"uid":"`+uid+`","type":3,"opts":{"rooms":["wkPGWQzEaLB8043ZAAAA"],"except":[]},"rooms":["room2b"]}`
	})
	nsp.In(socketio.Room(sid)).DisconnectSockets(ctx, true)
	sn.wait(t, key+"-request#/#", func(s string) bool {
		return s == `{"uid":"`+uid+`","type":4,"opts":{"rooms":["wkPGWQzEaLB8043ZAAAA"],"except":[]},"close":true}`
	})
	nsp.ServerSideEmit(ctx, "s2s", "noack", 1)
	sn.wait(t, key+"-request#/#", func(s string) bool {
		return s == `{"uid":"`+uid+`","type":6,"data":["s2s","noack",1]}`
	})

	// Counted requests, answered by the peer.
	socks, err := nsp.FetchSockets(ctx)
	if err != nil || len(socks) != 1 {
		t.Fatalf("FetchSockets = %v, %v", socks, err)
	}
	re := regexp.MustCompile(`^\{"uid":"` + uid + `","requestId":"[A-Za-z0-9_-]{6}","type":5,"opts":\{"rooms":\[\],"except":\[\]\}\}$`)
	if r := p.request(t, `"type":5`); !re.MatchString(r) {
		t.Errorf("fetch request %s", r)
	}
	s := socks[0]
	if s.ID != "PeerSocket0000000001" || len(s.Rooms) != 2 || s.Rooms[1] != "7" || s.Handshake.Address != "10.0.0.9" ||
		s.Handshake.Header.Get("User-Agent") != "ua" || !s.Handshake.Secure || s.Handshake.Time.UnixMilli() != 1795316312530 ||
		string(s.Handshake.Auth) != `{"user":"u"}` || string(s.Data.(json.RawMessage)) != `{"blob":{"type":"Buffer","data":[10,11]}}` {
		t.Errorf("fetched %+v %+v", s, s.Handshake)
	}
	rooms, err := a.adapter("/").AllRooms(ctx)
	if err != nil || len(rooms) != 2 || rooms[0] != "peerroom" || rooms[1] != "123" {
		t.Errorf("AllRooms = %v, %v", rooms, err)
	}
	if r := p.request(t, `"type":1`); !regexp.MustCompile(`^\{"uid":"` + uid + `","requestId":"[A-Za-z0-9_-]{6}","type":1\}$`).MatchString(r) {
		t.Errorf("allRooms request %s", r)
	}
	acks, err := nsp.ServerSideEmitWithAck(ctx, "s2s", "ack-me")
	if err != nil || len(acks) != 1 || string(acks[0].Raw(0)) != `{"from":"peer"}` {
		t.Errorf("ServerSideEmitWithAck = %v, %v", acks, err)
	}
	if r := p.request(t, `"ack-me"`); !regexp.MustCompile(`^\{"uid":"` + uid + `","requestId":"[A-Za-z0-9_-]{6}","type":6,"data":\["s2s","ack-me"\]\}$`).MatchString(r) {
		t.Errorf("serverSideEmit request %s", r)
	}
	// Broadcast with acks: msgpack request, as Node's (flags.timeout as set).
	if _, err := nsp.To(socketio.Room(sid)).Timeout(2*time.Second).EmitWithAck(ctx, "question", []byte{0xca, 0xfe}); err != nil {
		t.Fatal(err)
	}
	r := p.request(t, "question")
	want := "85a3756964a6" + uidHex + "a9726571756573744964a6"
	if h := hex.EncodeToString([]byte(r)); !strings.HasPrefix(h, want) ||
		!strings.Contains(h, "a47479706507a67061636b657483a47479706502a46461746192a87175657374696f6ec402cafea36e7370a12fa46f70747383a5726f6f6d7391b4776b504757517a45614c42383034335a41414141a665786365707490a5666c61677381a774696d656f7574cd07") {
		t.Errorf("broadcast request %s", h)
	}
}

// TestWireAnswers sends Node-shaped requests to a Go node and checks its
// answers byte for byte.
func TestWireAnswers(t *testing.T) {
	t.Parallel()
	addr, key := sharedAddr(t), keyFor(t)
	sn := sniff(t, addr, key)
	a := newNode(t, addr, key, "A", nil)
	c1 := dial(t, a, "/", `{"rooms":["room1"]}`)
	a.srv.Of("/").OnServerSideEmit("s2s", func(args socketio.Args, ack func(...any)) {
		if ack != nil {
			ack(map[string]any{"got": json.RawMessage(args.Raw(0))})
		}
	})
	pub := redis.NewClient(&redis.Options{Addr: addr})
	defer pub.Close()
	ctx := ctxT(t)
	req := func(payload string) { pub.Publish(ctx, key+"-request#/#", payload) }
	resp := key + "-response#/#"

	req(`{"uid":"peer01","requestId":"req001","type":1}`)
	sn.wait(t, resp, func(p string) bool {
		return p == `{"requestId":"req001","rooms":["`+c1.sid+`","room1"]}` || p == `{"requestId":"req001","rooms":["room1","`+c1.sid+`"]}`
	})
	req(`{"requestId":"req002","type":0,"rooms":["room1"]}`)
	sn.wait(t, resp, func(p string) bool { return p == `{"requestId":"req002","sockets":["`+c1.sid+`"]}` })
	req(`{"uid":"peer01","requestId":"req003","type":5,"opts":{"rooms":["nope"],"except":[]}}`)
	sn.wait(t, resp, func(p string) bool { return p == `{"requestId":"req003","sockets":[]}` })
	req(`{"uid":"emitter","requestId":"req004","type":6,"data":["s2s",{"type":"Buffer","data":[1]}]}`)
	sn.wait(t, resp, func(p string) bool {
		return p == `{"type":6,"requestId":"req004","data":{"got":{"type":"Buffer","data":[1]}}}`
	})
	// Legacy sid form, answered with {"requestId"}.
	req(`{"requestId":"req005","type":2,"sid":"` + c1.sid + `","room":"legacy"}`)
	sn.wait(t, resp, func(p string) bool { return p == `{"requestId":"req005"}` })
	// Emitter join (no uid), then a broadcast with acks (msgpack).
	req(`{"type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["joined"]}`)
	bq, _ := notepack.Encode(notepack.Map{{Key: "uid", Value: "peer01"}, {Key: "requestId", Value: "req006"}, {Key: "type", Value: 7},
		{Key: "packet", Value: notepack.Map{{Key: "type", Value: 2}, {Key: "data", Value: []any{"question", []byte{0xca, 0xfe}}}, {Key: "nsp", Value: "/"}}},
		{Key: "opts", Value: notepack.Map{{Key: "rooms", Value: []any{"joined"}}, {Key: "except", Value: []any{}}, {Key: "flags", Value: notepack.Map{{Key: "timeout", Value: 2000}}}}}})
	pub.Publish(ctx, key+"-request#/#", bq)
	sn.wait(t, resp, func(p string) bool { return p == `{"type":8,"requestId":"req006","clientCount":1}` })
	p := c1.read(5 * time.Second)
	id := strings.TrimSuffix(strings.TrimPrefix(p, "451-"), `["question",{"_placeholder":true,"num":0}]`)
	c1.expect("<binary cafe>")
	c1.c.Send(`461-` + id + `[{"client":"c1","x":{"_placeholder":true,"num":0}}]`)
	c1.c.SendBinary([]byte{0xca, 0xfe})
	sn.wait(t, resp, func(p string) bool {
		return hex.EncodeToString([]byte(p)) == "83a47479706509a9726571756573744964a6726571303036a67061636b657482a6636c69656e74a26331a178c402cafe"
	})
	// Emitter broadcast to a room, with a numeric room and garbage around it.
	pub.Publish(ctx, key+"#/#", `{"json":"crashes node"}`)
	pub.Publish(ctx, key+"-request#/#", `{"not":"valid`)
	pub.Publish(ctx, key+"-response#/#", "\xc1")
	eb, _ := notepack.Encode([]any{"emitter", notepack.Map{{Key: "type", Value: 2}, {Key: "data", Value: []any{"from-emitter", 1.0, []byte{0xde, 0xad}}}, {Key: "nsp", Value: "/"}},
		notepack.Map{{Key: "rooms", Value: []any{"legacy"}}, {Key: "flags", Value: notepack.Map{}}, {Key: "except", Value: []any{}}}})
	pub.Publish(ctx, key+"#/#legacy#", eb)
	c1.expect(`451-["from-emitter",1,{"_placeholder":true,"num":0}]`)
	c1.expect("<binary dead>")
	// Without nsp: delivered as "/"; with another nsp: dropped.
	for _, nspv := range []any{"/chat", notepack.Undefined{}} {
		b, _ := notepack.Encode([]any{"emitter", notepack.Map{{Key: "type", Value: 2}, {Key: "data", Value: []any{"nsp", nspv}}, {Key: "nsp", Value: nspv}},
			notepack.Map{{Key: "rooms", Value: []any{}}, {Key: "except", Value: []any{}}, {Key: "flags", Value: notepack.Map{}}}})
		pub.Publish(ctx, key+"#/#", b)
	}
	c1.expect(`42["nsp",null]`)
}

// TestLegacyPeers checks that with LegacyPeers nothing but JSON goes to the
// request and response channels, even for acknowledged broadcasts.
func TestLegacyPeers(t *testing.T) {
	t.Parallel()
	addr, key := sharedAddr(t), keyFor(t)
	sn := sniff(t, addr, key)
	a := newNode(t, addr, key, "A", func(o *redisadapter.Options) { o.LegacyPeers = true })
	b := newNode(t, addr, key, "B", func(o *redisadapter.Options) { o.LegacyPeers = true })
	c1 := dial(t, a, "/", `{}`)
	dial(t, b, "/", `{}`)
	ctx := ctxT(t)
	done := make(chan int, 1)
	go func() {
		acks, _ := a.srv.Of("/").Timeout(2*time.Second).EmitWithAck(ctx, "q", []byte{1})
		done <- len(acks)
	}()
	p := c1.read(5 * time.Second)
	c1.read(5 * time.Second) // the attachment
	id := strings.TrimSuffix(strings.TrimPrefix(p, "451-"), `["q",{"_placeholder":true,"num":0}]`)
	c1.c.Send("43" + id + `["ok"]`)
	if n := <-done; n != 1 {
		t.Errorf("local acks %d", n)
	}
	// An 8.x node's acknowledged broadcast is answered in JSON.
	pub := redis.NewClient(&redis.Options{Addr: addr})
	defer pub.Close()
	bq, _ := notepack.Encode(notepack.Map{{Key: "uid", Value: "peer01"}, {Key: "requestId", Value: "req007"}, {Key: "type", Value: 7},
		{Key: "packet", Value: notepack.Map{{Key: "type", Value: 2}, {Key: "data", Value: []any{"q8"}}, {Key: "nsp", Value: "/"}}},
		{Key: "opts", Value: notepack.Map{{Key: "rooms", Value: []any{c1.sid}}, {Key: "except", Value: []any{}}, {Key: "flags", Value: notepack.Map{}}}}})
	pub.Publish(ctx, key+"-request#/#", bq)
	p = c1.read(5 * time.Second)
	id = strings.TrimSuffix(strings.TrimPrefix(p, "42"), `["q8"]`)
	c1.c.Send("461-" + id + `[{"_placeholder":true,"num":0}]`)
	c1.c.SendBinary([]byte{9})
	sn.wait(t, key+"-response#/#", func(s string) bool {
		return s == `{"type":9,"requestId":"req007","packet":{"type":"Buffer","data":[9]}}`
	})
	a.srv.Of("/").FetchSockets(ctx)
	a.srv.Of("/").ServerSideEmit(ctx, "x")
	sn.mu.Lock()
	defer sn.mu.Unlock()
	for _, m := range sn.got {
		if m.Channel != key+"-request#/#" && !strings.HasPrefix(m.Channel, key+"-response#") {
			continue
		}
		if m.Channel == key+"-request#/#" && m.Payload == string(bq) {
			continue // the peer's own request
		}
		if !strings.HasPrefix(m.Payload, "{") {
			t.Errorf("non-JSON on %s: %x", m.Channel, m.Payload)
		}
	}
}

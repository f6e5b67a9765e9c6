package redisadapter_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/socketio"
)

// cluster3 starts three Go nodes A, B, C on the shared redis-server, with
// clients c1@A in r1, c2@B in r1 and r2, c3@C.
func cluster3(t *testing.T, tweak func(*redisadapter.Options)) (a, b, c *node, c1, c2, c3 *client) {
	addr, key := sharedAddr(t), keyFor(t)
	a = newNode(t, addr, key, "A", tweak)
	b = newNode(t, addr, key, "B", tweak)
	c = newNode(t, addr, key, "C", tweak)
	c1 = dial(t, a, "/", `{"rooms":["r1"],"data":{"n":1}}`)
	c2 = dial(t, b, "/", `{"rooms":["r1","r2"]}`)
	c3 = dial(t, c, "/", `{}`)
	a.waitRoom(t, "/", "r1", 2)
	a.waitRoom(t, "/", "r2", 1)
	return
}

// eachProtocol runs a test once per wire protocol, in parallel.
func eachProtocol(t *testing.T, f func(t *testing.T, proto func(*redisadapter.Options))) {
	for _, p := range []struct {
		name  string
		proto redisadapter.Protocol
	}{{"classic", redisadapter.Classic}, {"sharded", redisadapter.Sharded}} {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			f(t, func(o *redisadapter.Options) { o.Protocol = p.proto })
		})
	}
}

func TestServerCount(t *testing.T) { eachProtocol(t, testServerCount) }

func testServerCount(t *testing.T, proto func(*redisadapter.Options)) {
	a, _, c, _, _, _ := cluster3(t, proto)
	ctx := ctxT(t)
	n, err := a.adapter("/").ServerCount(ctx)
	if err != nil || n != 3 {
		t.Fatalf("ServerCount = %d, %v; want 3", n, err)
	}
	c.close()
	// Redis drops the subscriptions of the closed connection shortly after.
	eventually(t, "ServerCount 2 after closing C", func() bool {
		n, err = a.adapter("/").ServerCount(ctx)
		return err == nil && n == 2
	})
	// /chat exists on A and B only (C is closed).
	if n, _ := a.adapter("/chat").ServerCount(ctx); n != 2 {
		t.Fatalf("/chat ServerCount = %d, want 2", n)
	}
}

func TestBroadcast(t *testing.T) { eachProtocol(t, testBroadcast) }

func testBroadcast(t *testing.T, proto func(*redisadapter.Options)) {
	a, b, _, c1, c2, c3 := cluster3(t, proto)
	all := []*client{c1, c2, c3}

	a.srv.Of("/").Emit("hello", "world", 1, 1.5, map[string]any{"nested": true}, nil)
	for _, cl := range all {
		cl.expect(`42["hello","world",1,1.5,{"nested":true},null]`)
	}
	// Binary travels inline and comes back as attachments.
	b.srv.Of("/").Emit("bin", []byte{1, 2, 3}, map[string]any{"buf": []byte{0xff}, "s": "x"})
	for _, cl := range all {
		cl.expect(`452-["bin",{"_placeholder":true,"num":0},{"buf":{"_placeholder":true,"num":1},"s":"x"}]`)
		cl.expect("<binary 010203>")
		cl.expect("<binary ff>")
	}
	// Rooms and except, each followed by a broadcast to all so that a
	// client that should not get the first gets the marker next.
	// The marker comes from the same node: the order of two nodes'
	// broadcasts is not defined.
	cases := []struct {
		from *node
		op   socketio.BroadcastOperator
		want []bool
	}{
		{a, a.srv.Of("/").To("r1"), []bool{true, true, false}},
		{a, a.srv.Of("/").To("r2"), []bool{false, true, false}},
		{b, b.srv.Of("/").To("r1", "r2"), []bool{true, true, false}},
		{a, a.srv.Of("/").Except("r2"), []bool{true, false, true}},
		{a, a.srv.Of("/").To("r1").Except("r2"), []bool{true, false, false}},
		{a, a.srv.Of("/").To(socketio.Room(c3.sid)), []bool{false, false, true}},
		{b, b.srv.Of("/").Volatile().To("r2"), []bool{false, true, false}},
	}
	for i, tc := range cases {
		if err := tc.op.Emit("ev", i); err != nil {
			t.Fatal(err)
		}
		tc.from.srv.Of("/").Emit("marker", i)
		for j, cl := range all {
			if tc.want[j] {
				cl.expect(fmt.Sprintf(`42["ev",%d]`, i))
			}
			cl.expect(fmt.Sprintf(`42["marker",%d]`, i))
		}
	}
	// Local stays local.
	a.srv.Of("/").Local().Emit("local")
	a.srv.Of("/").Emit("marker")
	c1.expect(`42["local"]`)
	for _, cl := range all {
		cl.expect(`42["marker"]`)
	}
}

func TestNamespaces(t *testing.T) { eachProtocol(t, testNamespaces) }

func testNamespaces(t *testing.T, proto func(*redisadapter.Options)) {
	a, b, _, c1, _, _ := cluster3(t, proto)
	x := dial(t, b, "/chat", `{}`)
	a.srv.Of("/chat").Emit("in-chat")
	x.expect(`42/chat,["in-chat"]`)
	a.srv.Of("/").Emit("in-main")
	c1.expect(`42["in-main"]`)
	a.srv.Of("/chat").Emit("again")
	x.expect(`42/chat,["again"]`) // nothing from "/" in between
}

func TestRemoteRoomOps(t *testing.T) { eachProtocol(t, testRemoteRoomOps) }

func testRemoteRoomOps(t *testing.T, proto func(*redisadapter.Options)) {
	a, b, c, c1, c2, c3 := cluster3(t, proto)
	ctx := ctxT(t)
	inRoom := func(n *node, sid, room string) bool {
		s := n.srv.Of("/").Socket(sid)
		return s != nil && slices.Contains(s.Rooms(), socketio.Room(room))
	}
	if err := a.srv.Of("/").In(socketio.Room(c3.sid)).SocketsJoin(ctx, "r9"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "c3 in r9", func() bool { return inRoom(c, c3.sid, "r9") })
	c.waitRoom(t, "/", "r9", 1)
	b.srv.Of("/").To("r9").Emit("r9")
	c3.expect(`42["r9"]`)

	// All of r1 (c1 on A itself, c2 on B) join r8, then leave r1.
	if err := c.srv.Of("/").In("r1").SocketsJoin(ctx, "r8"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "r1 in r8", func() bool { return inRoom(a, c1.sid, "r8") && inRoom(b, c2.sid, "r8") })
	if err := c.srv.Of("/").In("r8").SocketsLeave(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "r8 out of r1", func() bool { return !inRoom(a, c1.sid, "r1") && !inRoom(b, c2.sid, "r1") })

	// Disconnect c2 (on B) from A; close=false sends a DISCONNECT packet.
	if err := a.srv.Of("/").In(socketio.Room(c2.sid)).DisconnectSockets(ctx, false); err != nil {
		t.Fatal(err)
	}
	c2.expect("41")
	eventually(t, "c2 gone", func() bool { return b.srv.Of("/").Socket(c2.sid) == nil })
	// close=true closes the whole connection.
	if err := b.srv.Of("/").In(socketio.Room(c1.sid)).DisconnectSockets(ctx, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "c1 gone", func() bool { return a.srv.Of("/").Socket(c1.sid) == nil })
}

func TestFetchSockets(t *testing.T) { eachProtocol(t, testFetchSockets) }

func testFetchSockets(t *testing.T, proto func(*redisadapter.Options)) {
	a, b, _, c1, c2, c3 := cluster3(t, proto)
	ctx := ctxT(t)
	socks, err := b.srv.Of("/").FetchSockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]*socketio.RemoteSocket{}
	for _, s := range socks {
		ids[s.ID] = s
	}
	if len(socks) != 3 || ids[c1.sid] == nil || ids[c2.sid] == nil || ids[c3.sid] == nil {
		t.Fatalf("FetchSockets: %d sockets %v", len(socks), ids)
	}
	r1 := ids[c1.sid]
	if !slices.Contains(r1.Rooms, "r1") || !slices.Contains(r1.Rooms, socketio.Room(c1.sid)) {
		t.Errorf("c1 rooms %v", r1.Rooms)
	}
	var data struct{ N int }
	if raw, ok := r1.Data.(json.RawMessage); !ok || json.Unmarshal(raw, &data) != nil || data.N != 1 {
		t.Errorf("c1 data %#v", r1.Data)
	}
	if r1.Handshake == nil || r1.Handshake.Address != "127.0.0.1" || r1.Handshake.Query.Get("EIO") != "4" ||
		!strings.Contains(string(r1.Handshake.Auth), `"rooms":["r1"]`) || time.Since(r1.Handshake.Time) > time.Minute {
		t.Errorf("c1 handshake %+v", r1.Handshake)
	}
	// Remote socket operations.
	if err := r1.Emit("via-remote", 1); err != nil {
		t.Fatal(err)
	}
	c1.expect(`42["via-remote",1]`)

	socks, err = a.srv.Of("/").In("r2").FetchSockets(ctx)
	if err != nil || len(socks) != 1 || socks[0].ID != c2.sid {
		t.Fatalf("In(r2).FetchSockets = %v, %v", socks, err)
	}
	socks, err = a.srv.Of("/").Except("r1").FetchSockets(ctx)
	if err != nil || len(socks) != 1 || socks[0].ID != c3.sid {
		t.Fatalf("Except(r1).FetchSockets = %v, %v", socks, err)
	}

	rooms, err := a.adapter("/").AllRooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []socketio.Room{"r1", "r2", socketio.Room(c1.sid), socketio.Room(c2.sid), socketio.Room(c3.sid)} {
		if !slices.Contains(rooms, r) {
			t.Errorf("AllRooms %v lacks %s", rooms, r)
		}
	}
	sids, err := a.adapter("/").Sockets(ctx, "r1")
	slices.Sort(sids)
	want := []string{c1.sid, c2.sid}
	slices.Sort(want)
	if err != nil || !slices.Equal(sids, want) {
		t.Errorf("Sockets(r1) = %v, %v; want %v", sids, err, want)
	}
}

func TestServerSideEmit(t *testing.T) { eachProtocol(t, testServerSideEmit) }

func testServerSideEmit(t *testing.T, proto func(*redisadapter.Options)) {
	var o redisadapter.Options
	proto(&o)
	sharded := o.Protocol == redisadapter.Sharded
	addr, key := sharedAddr(t), keyFor(t)
	nodes := []*node{newNode(t, addr, key, "A", proto), newNode(t, addr, key, "B", proto), newNode(t, addr, key, "C", proto)}
	var mu sync.Mutex
	got := map[string][]string{}
	for _, n := range nodes {
		n.srv.Of("/").OnServerSideEmit("ping", func(args socketio.Args, ack func(...any)) {
			mu.Lock()
			got[n.name] = append(got[n.name], string(args.Raw(0)))
			mu.Unlock()
			if ack != nil {
				ack(map[string]any{"from": n.name, "bin": []byte{7}}, "ignored")
			}
		})
	}
	ctx := ctxT(t)
	if err := nodes[0].srv.Of("/").ServerSideEmit(ctx, "ping", "no-ack"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B and C handlers", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got["B"]) == 1 && len(got["C"]) == 1 && len(got["A"]) == 0
	})
	acks, err := nodes[1].srv.Of("/").ServerSideEmitWithAck(ctx, "ping", "with-ack")
	if err != nil || len(acks) != 2 {
		t.Fatalf("ServerSideEmitWithAck = %v, %v", acks, err)
	}
	from := []string{}
	for _, a := range acks {
		var v struct{ From string }
		if err := a.Decode(&v); err != nil {
			t.Fatal(err)
		}
		// Binary travels as JSON (Node's Buffer object) in classic, as
		// msgpack in sharded.
		binary := strings.Contains(string(a.Raw(0)), `"bin":{"type":"Buffer","data":[7]}`)
		if sharded {
			binary = len(a.Attachments()) == 1 && string(a.Attachments()[0]) == "\x07"
		}
		if a.Len() != 1 || !binary {
			t.Errorf("ack %d args %s %x", a.Len(), a.Raw(0), a.Attachments())
		}
		from = append(from, v.From)
	}
	slices.Sort(from)
	if !slices.Equal(from, []string{"A", "C"}) {
		t.Errorf("acks from %v", from)
	}
	// A server that never answers: the caller gets a timeout with the
	// answers it got.
	nodes[2].srv.Of("/").OnServerSideEmit("slow", func(args socketio.Args, ack func(...any)) {})
	nodes[1].srv.Of("/").OnServerSideEmit("slow", func(args socketio.Args, ack func(...any)) { ack("b") })
	acks, err = nodes[0].srv.Of("/").ServerSideEmitWithAck(ctx, "slow")
	if !errors.Is(err, redisadapter.ErrTimeout) || len(acks) != 1 {
		t.Fatalf("slow: %v, %v", acks, err)
	}
}

func TestEmitWithAck(t *testing.T) { eachProtocol(t, testEmitWithAck) }

func testEmitWithAck(t *testing.T, proto func(*redisadapter.Options)) {
	a, _, _, c1, c2, c3 := cluster3(t, proto)
	type res struct {
		acks []socketio.Args
		err  error
	}
	done := make(chan res, 1)
	go func() {
		acks, err := a.srv.Of("/").Timeout(3*time.Second).EmitWithAck(ctxT(t), "question", []byte{0xca, 0xfe})
		done <- res{acks, err}
	}()
	for i, cl := range []*client{c1, c2, c3} {
		p := cl.read(5 * time.Second)
		// 451-<id>["question",{"_placeholder":true,"num":0}]
		if !strings.HasPrefix(p, "451-") || !strings.HasSuffix(p, `["question",{"_placeholder":true,"num":0}]`) {
			t.Fatalf("got %q", p)
		}
		id := strings.TrimSuffix(strings.TrimPrefix(p, "451-"), `["question",{"_placeholder":true,"num":0}]`)
		cl.expect("<binary cafe>")
		if i == 2 {
			// A binary ack from c3.
			cl.c.Send(fmt.Sprintf(`461-%s[{"client":%d,"x":{"_placeholder":true,"num":0}}]`, id, i))
			cl.c.SendBinary([]byte{0xbe, 0xef})
		} else {
			cl.c.Send(fmt.Sprintf(`43%s[{"client":%d}]`, id, i))
		}
	}
	r := <-done
	if r.err != nil || len(r.acks) != 3 {
		t.Fatalf("EmitWithAck = %d acks, %v", len(r.acks), r.err)
	}
	var binary []byte
	for _, ack := range r.acks {
		var v struct {
			Client int
			X      []byte
		}
		if err := ack.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if v.Client == 2 {
			binary = v.X
		}
	}
	if string(binary) != "\xbe\xef" {
		t.Errorf("binary ack %x", binary)
	}

	// A client that does not answer: timeout, with the acks received.
	go func() {
		acks, err := a.srv.Of("/").To("r1").Timeout(500*time.Millisecond).EmitWithAck(ctxT(t), "q2")
		done <- res{acks, err}
	}()
	p := c2.read(5 * time.Second)
	id := strings.TrimSuffix(strings.TrimPrefix(p, "42"), `["q2"]`)
	c2.c.Send(fmt.Sprintf(`43%s["ok"]`, id))
	c1.read(5 * time.Second) // c1 does not answer
	r = <-done
	if !errors.Is(r.err, socketio.ErrAckTimeout) || len(r.acks) != 1 {
		t.Fatalf("partial EmitWithAck = %d acks, %v", len(r.acks), r.err)
	}
}

func TestSpecificResponseChannel(t *testing.T) {
	t.Parallel()
	a, b, c, _, _, _ := cluster3(t, func(o *redisadapter.Options) { o.PublishOnSpecificResponseChannel = true })
	sn := sniff(t, sharedAddr(t), keyFor(t))
	ctx := ctxT(t)
	socks, err := a.srv.Of("/").FetchSockets(ctx)
	if err != nil || len(socks) != 3 {
		t.Fatalf("FetchSockets = %d, %v", len(socks), err)
	}
	sn.wait(t, keyFor(t)+"-response#/#"+a.adapter("/").UID()+"#", nil)
	b.srv.Of("/").OnServerSideEmit("x", func(args socketio.Args, ack func(...any)) { ack(1) })
	c.srv.Of("/").OnServerSideEmit("x", func(args socketio.Args, ack func(...any)) { ack(2) })
	if acks, err := a.srv.Of("/").ServerSideEmitWithAck(ctx, "x"); err != nil || len(acks) != 2 {
		t.Fatalf("ServerSideEmitWithAck = %v, %v", acks, err)
	}
	sn.wait(t, keyFor(t)+"-response#/#", func(p string) bool { return strings.HasPrefix(p, `{"type":6,`) })
}

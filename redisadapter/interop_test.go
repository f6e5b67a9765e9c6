package redisadapter_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/socketio"
)

// TestInteropNode runs a mixed cluster: two Node servers A and B
// (socket.io 4.8.4 + @socket.io/redis-adapter 8.3.0), the Go server G and
// @socket.io/redis-emitter 5.1.0 on one redis-server, with socket.io-client
// clients c1@A, c2@B (in room1) and c3@G (in goroom and "123"). It plays
// every cluster operation (broadcasts, acks, room ops, fetchSockets,
// serverSideEmit, the emitter) in both directions: with the
// classic protocol, with and without publishOnSpecificResponseChannel, and
// with the sharded one (createShardedAdapter, in its default "dynamic"
// subscription mode and in "dynamic-private"), which has no allRooms and
// no emitter.
func TestInteropNode(t *testing.T) {
	for _, tc := range []struct {
		name     string
		specific bool
		sharded  string // the subscription mode of the sharded protocol; "" for classic
	}{{"specific=false", false, ""}, {"specific=true", true, ""}, {"sharded", false, "dynamic"}, {"sharded-private", false, "dynamic-private"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			interopScenarios(t, tc.specific, tc.sharded)
		})
	}
}

func interopScenarios(t *testing.T, specific bool, shardedMode string) {
	rs := redistest.Shared(t)
	key := keyFor(t)
	p := startNodeProc(t)
	sharded := shardedMode != ""
	portA, _ := p.server("A", rs.URL(), key, specific, shardedMode)
	portB, _ := p.server("B", rs.URL(), key, specific, shardedMode)
	g := newNode(t, rs.Addr(), key, "G", func(o *redisadapter.Options) {
		o.PublishOnSpecificResponseChannel = specific
		if sharded {
			o.Protocol = redisadapter.Sharded
		}
		if shardedMode == "dynamic-private" {
			o.SubscriptionMode = redisadapter.SubscriptionDynamicPrivate
		}
	})
	gns := g.srv.Of("/")
	s2sCh := make(chan string, 16)
	gns.OnServerSideEmit("s2s", func(args socketio.Args, ack func(...any)) {
		s2sCh <- string(args.Raw(0))
		if ack != nil {
			ack(map[string]any{"from": "G", "got": json.RawMessage(args.Raw(0))})
		}
	})
	sid1 := p.client("c1", fmt.Sprintf("http://127.0.0.1:%d", portA), "/", `{"data":{"user":"c1"}}`)
	sid2 := p.client("c2", fmt.Sprintf("http://127.0.0.1:%d", portB), "/", `{"rooms":["room1"]}`)
	sid3 := p.client("c3", g.url, "/", `{"rooms":["goroom","123"],"data":{"user":"c3","n":42}}`)
	ctx := ctxT(t)
	for _, room := range []string{"room1", "goroom", "123"} {
		g.waitRoom(t, "/", room, 1)
	}
	if shardedMode == "dynamic-private" {
		for _, sid := range []string{sid1, sid2, sid3} {
			g.waitRoom(t, "/", sid, 1)
		}
	}

	// G14: every server counts three.
	var count int
	p.eval(&count, `return await io.A.of("/").adapter.serverCount()`)
	if count != 3 {
		t.Fatalf("G14: Node serverCount = %d, want 3", count)
	}
	if n, err := g.adapter("/").ServerCount(ctx); err != nil || n != 3 {
		t.Fatalf("Go ServerCount = %d, %v", n, err)
	}

	t.Run("G1 go emit to all", func(t *testing.T) {
		gns.Emit("g1", "txt", 1, 1.5, []byte{1, 2}, map[string]any{"nested": []byte{0xff}})
		want := `["txt",1,1.5,{"$bin":"0102"},{"nested":{"$bin":"ff"}}]`
		for _, c := range []string{"c1", "c2", "c3"} {
			if got := p.recv(c, "g1"); got != want {
				t.Errorf("%s got %s, want %s", c, got, want)
			}
		}
	})
	t.Run("G2 G3 go rooms and except", func(t *testing.T) {
		gns.To("room1").Emit("g2")
		gns.Except("room1").Emit("g3")
		gns.Emit("g23m")
		for _, c := range []string{"c1", "c2", "c3"} {
			p.recv(c, "g23m")
		}
		for c, want := range map[string][]string{"c1": {"g3"}, "c2": {"g2"}, "c3": {"g3"}} {
			var got []string
			for _, ev := range p.received(c) {
				if ev == "g2" || ev == "g3" {
					got = append(got, ev)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s got %v, want %v", c, got, want)
			}
		}
	})
	t.Run("G4 G5 node and emitter to go room", func(t *testing.T) {
		p.eval(nil, `io.A.to("goroom").emit("g4", "x", Buffer.from([1])); io.B.to(123).emit("g4n", 1)`)
		if got := p.recv("c3", "g4"); got != `["x",{"$bin":"01"}]` {
			t.Errorf("G4: %s", got)
		}
		if got := p.recv("c3", "g4n"); got != `[1]` {
			t.Errorf("numeric room: %s", got)
		}
		// Node except: c1@A and c3@G, not c2@B in room1 (B's marker comes after).
		p.eval(nil, `io.B.except("room1").emit("g4x"); io.B.emit("g4m")`)
		for _, c := range []string{"c1", "c2", "c3"} {
			p.recv(c, "g4m")
		}
		p.recv("c1", "g4x")
		p.recv("c3", "g4x")
		if slices.Contains(p.received("c2"), "g4x") {
			t.Error("c2 in room1 got the except broadcast")
		}
		if sharded {
			return // the emitter speaks the classic protocol only
		}
		p.eval(nil, `const e = await emitter(%s, %s); e.to("goroom").emit("g5", Buffer.from([0xde, 0xad])); e.except("room1").emit("g5all", 1)`,
			jsString(rs.URL()), jsString(key))
		if got := p.recv("c3", "g5"); got != `[{"$bin":"dead"}]` {
			t.Errorf("G5: %s", got)
		}
		p.recv("c3", "g5all")
		p.recv("c1", "g5all")
	})
	t.Run("G6 G7 G8 node fetchSockets", func(t *testing.T) {
		var socks []struct {
			ID        string
			Rooms     []string
			Data      map[string]any
			Handshake struct {
				Address string
				Query   map[string]string
				Auth    map[string]any
				Issued  float64
				Time    string
				Headers map[string]any
			}
		}
		p.eval(&socks, `return (await io.A.fetchSockets()).map(s => ({id: s.id, rooms: [...s.rooms], data: s.data, handshake: s.handshake}))`)
		var found bool
		for _, s := range socks {
			if s.ID == sid3 {
				found = true
				if !slices.Contains(s.Rooms, "goroom") || s.Data["user"] != "c3" || s.Handshake.Address != "127.0.0.1" ||
					s.Handshake.Query["EIO"] != "4" || s.Handshake.Auth["rooms"] == nil || s.Handshake.Issued == 0 || s.Handshake.Time == "" {
					t.Errorf("G6: Go socket %+v", s)
				}
				// As Node's req.headers: Go keeps Host apart from the other
				// headers (issue 18).
				if want := strings.TrimPrefix(g.url, "http://"); s.Handshake.Headers["host"] != want {
					t.Errorf("G6: Go socket's handshake.headers.host = %v, want %q (headers %v)", s.Handshake.Headers["host"], want, s.Handshake.Headers)
				}
			} else if s.Handshake.Headers["host"] == nil {
				t.Errorf("G6: Node socket without handshake.headers.host: %v", s.Handshake.Headers)
			}
		}
		if len(socks) != 3 || !found {
			t.Errorf("G6: %d sockets %+v", len(socks), socks)
		}
		var ids []string
		p.eval(&ids, `return (await io.B.in("goroom").fetchSockets()).map(s => s.id)`)
		if !slices.Equal(ids, []string{sid3}) {
			t.Errorf("G7: %v", ids)
		}
		p.eval(nil, `const [s] = await io.A.in("goroom").fetchSockets(); s.emit("g8", "rs")`)
		if got := p.recv("c3", "g8"); got != `["rs"]` {
			t.Errorf("G8: %s", got)
		}
	})
	t.Run("G9 node allRooms", func(t *testing.T) {
		if sharded {
			t.Skip("the sharded adapter of Node has no allRooms")
		}
		var rooms []any
		p.eval(&rooms, `return await io.A.of("/").adapter.allRooms()`)
		for _, want := range []any{"goroom", "room1", sid1, sid2, sid3} {
			if !slices.Contains(rooms, want) {
				t.Errorf("G9: %v lacks %v", rooms, want)
			}
		}
	})
	t.Run("G10 node serverSideEmitWithAck", func(t *testing.T) {
		var res []map[string]any
		p.eval(&res, `return await io.A.serverSideEmitWithAck("s2s", "ack-me")`)
		var from []string
		for _, r := range res {
			from = append(from, fmt.Sprint(r["from"]))
		}
		slices.Sort(from)
		if !slices.Equal(from, []string{"B", "G"}) {
			t.Errorf("G10: %v", res)
		}
		if got := <-s2sCh; got != `"ack-me"` {
			t.Errorf("G10: Go handler got %s", got)
		}
	})
	t.Run("G11 node emitWithAck", func(t *testing.T) {
		var res []map[string]any
		p.eval(&res, `return await io.A.timeout(3000).emitWithAck("g11", Buffer.from([0xca, 0xfe]))`)
		var clients []string
		for _, r := range res {
			clients = append(clients, fmt.Sprint(r["client"]))
			if b, _ := json.Marshal(r["x"]); string(b) != `{"$bin":"cafe"}` {
				t.Errorf("G11: ack %v", r)
			}
		}
		slices.Sort(clients)
		if !slices.Equal(clients, []string{"c1", "c2", "c3"}) {
			t.Errorf("G11: acks from %v", clients)
		}
	})
	t.Run("G12 node socketsJoin on go socket", func(t *testing.T) {
		p.eval(nil, `io.A.in(%s).socketsJoin("r12")`, jsString(sid3))
		eventually(t, "c3 in r12", func() bool {
			s := gns.Socket(sid3)
			return s != nil && slices.Contains(s.Rooms(), "r12")
		})
		p.eval(nil, `io.B.in("r12").socketsLeave("r12")`)
		eventually(t, "c3 out of r12", func() bool { return !slices.Contains(gns.Socket(sid3).Rooms(), "r12") })
	})
	t.Run("G15 G16 G17 go fetchSockets allRooms", func(t *testing.T) {
		socks, err := gns.FetchSockets(ctx)
		if err != nil || len(socks) != 3 {
			t.Fatalf("G15: %d, %v", len(socks), err)
		}
		for _, s := range socks {
			if s.ID == sid1 {
				var d map[string]any
				json.Unmarshal(s.Data.(json.RawMessage), &d)
				if d["user"] != "c1" || d["server"] != "A" || s.Handshake.Query.Get("EIO") != "4" || s.Handshake.Address == "" {
					t.Errorf("G15: c1 %+v %+v", s, s.Handshake)
				}
			}
		}
		socks, err = gns.In("room1").FetchSockets(ctx)
		if err != nil || len(socks) != 1 || socks[0].ID != sid2 {
			t.Errorf("G16: %v, %v", socks, err)
		}
		rooms, err := g.adapter("/").AllRooms(ctx)
		if err != nil || !slices.Contains(rooms, "room1") || !slices.Contains(rooms, socketio.Room(sid1)) {
			t.Errorf("G17: %v, %v", rooms, err)
		}
	})
	t.Run("G18 G19 go serverSideEmit", func(t *testing.T) {
		gns.ServerSideEmit(ctx, "s2s", "noack", 1)
		for _, srv := range []string{"A", "B"} {
			p.waitEvent("s2s on "+srv, func(e map[string]any) bool {
				args, _ := e["args"].([]any)
				return e["event"] == "s2s" && e["server"] == srv && len(args) == 2 && args[0] == "noack"
			})
		}
		acks, err := gns.ServerSideEmitWithAck(ctx, "s2s", "from-go")
		if err != nil || len(acks) != 2 {
			t.Fatalf("G19: %v, %v", acks, err)
		}
		for _, a := range acks {
			if !strings.Contains(string(a.Raw(0)), `"got":"from-go"`) {
				t.Errorf("G19: ack %s", a.Raw(0))
			}
		}
	})
	t.Run("G20 go emitWithAck", func(t *testing.T) {
		acks, err := gns.Timeout(3*time.Second).EmitWithAck(ctx, "g20", []byte{0xbe, 0xef})
		if err != nil || len(acks) != 3 {
			t.Fatalf("G20: %d acks, %v", len(acks), err)
		}
		for _, a := range acks {
			var v struct {
				Client string
				X      []byte
			}
			if err := a.Decode(&v); err != nil || string(v.X) != "\xbe\xef" {
				t.Errorf("G20: ack %s %v (%v)", a.Raw(0), a.Attachments(), err)
			}
		}
	})
	t.Run("G21 G22 go socketsJoin on node socket", func(t *testing.T) {
		inRoom := func(room string) bool {
			var ok bool
			p.eval(&ok, `return io.B.of("/").sockets.get(%s).rooms.has(%s)`, jsString(sid2), jsString(room))
			return ok
		}
		gns.In(socketio.Room(sid2)).SocketsJoin(ctx, "r21")
		eventually(t, "c2 in r21", func() bool { return inRoom("r21") })
		gns.In("r21").SocketsLeave(ctx, "r21")
		eventually(t, "c2 out of r21", func() bool { return !inRoom("r21") })
	})
	t.Run("X1 namespaces", func(t *testing.T) {
		p.client("x1", g.url, "/chat", `{}`)
		p.client("x2", fmt.Sprintf("http://127.0.0.1:%d", portA), "/chat", `{}`)
		p.eval(nil, `io.B.of("/chat").emit("chat1")`)
		p.recv("x1", "chat1")
		p.recv("x2", "chat1")
		g.srv.Of("/chat").Emit("chat2")
		p.recv("x1", "chat2")
		p.recv("x2", "chat2")
		for _, ev := range p.received("c1") {
			if strings.HasPrefix(ev, "chat") {
				t.Errorf("c1 (on /) got %s", ev)
			}
		}
	})
	t.Run("emitter requests", func(t *testing.T) {
		if sharded {
			t.Skip("the emitter speaks the classic protocol only")
		}
		p.eval(nil, `const e = await emitter(%s, %s); e.serverSideEmit("s2s", "from-emitter"); e.in("goroom").socketsJoin("viaemitter")`,
			jsString(rs.URL()), jsString(key))
		for got := range s2sCh {
			if got == `"from-emitter"` {
				break
			}
		}
		eventually(t, "c3 in viaemitter", func() bool { return slices.Contains(gns.Socket(sid3).Rooms(), "viaemitter") })
	})
	t.Run("Go emitter", func(t *testing.T) {
		if sharded {
			t.Skip("the emitter speaks the classic protocol only")
		}
		// The Go emitter publishes the very bytes the Node emitter does.
		sn := sniff(t, rs.Addr(), key)
		em := redisadapter.NewEmitter(g.rdb, &redisadapter.EmitterOptions{Key: key})
		type pair struct {
			js  string
			go_ func() error
		}
		pairs := []pair{
			{`e.to("goroom").emit("em1", 1, "two", {three: 3}, Buffer.from([1, 2]))`,
				func() error {
					return em.To("goroom").Emit(ctx, "em1", 1, "two", map[string]any{"three": 3}, []byte{1, 2})
				}},
			{`e.except("room1").volatile.emit("em2", null)`,
				func() error { return em.Except("room1").Volatile().Emit(ctx, "em2", nil) }},
			{`e.of("/chat").to("a").to("b").emit("em3")`,
				func() error { return em.Of("chat").To("a", "b").Emit(ctx, "em3") }},
			{`e.in("goroom").socketsJoin(["emr1", "emr2"])`,
				func() error { return em.In("goroom").SocketsJoin(ctx, "emr1", "emr2") }},
			{`e.in("emr1").except("x").socketsLeave("emr2")`,
				func() error { return em.In("emr1").Except("x").SocketsLeave(ctx, "emr2") }},
			{`e.serverSideEmit("s2s", "from-go-emitter", 1.5)`,
				func() error { return em.ServerSideEmit(ctx, "s2s", "from-go-emitter", 1.5) }},
		}
		for i, pr := range pairs {
			sn.mu.Lock()
			sn.got = nil
			sn.mu.Unlock()
			p.eval(nil, `const e = await emitter(%s, %s); `+pr.js, jsString(rs.URL()), jsString(key))
			eventually(t, "the Node emitter's message", func() bool { sn.mu.Lock(); defer sn.mu.Unlock(); return len(sn.got) == 1 })
			if err := pr.go_(); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the Go emitter's message", func() bool { sn.mu.Lock(); defer sn.mu.Unlock(); return len(sn.got) == 2 })
			sn.mu.Lock()
			js, gm := sn.got[0], sn.got[1]
			sn.mu.Unlock()
			if js.Channel != gm.Channel || js.Payload != gm.Payload {
				t.Errorf("pair %d: Node %s %x, Go %s %x", i, js.Channel, js.Payload, gm.Channel, gm.Payload)
			}
		}
		if got := p.recv("c3", "em1"); got != `[1,"two",{"three":3},{"$bin":"0102"}]` {
			t.Errorf("em1: %s", got)
		}
		eventually(t, "c3 in emr1 only", func() bool {
			rooms := gns.Socket(sid3).Rooms()
			return slices.Contains(rooms, "emr1") && !slices.Contains(rooms, "emr2")
		})
	})
	t.Run("G13 G23 disconnects", func(t *testing.T) {
		gns.In(socketio.Room(sid1)).DisconnectSockets(ctx, true)
		p.waitEvent("c1 disconnected", func(e map[string]any) bool { return e["event"] == "disconnect" && e["client"] == "c1" })
		p.eval(nil, `io.A.in(%s).disconnectSockets(true)`, jsString(sid3))
		p.waitEvent("c3 disconnected", func(e map[string]any) bool { return e["event"] == "disconnect" && e["client"] == "c3" })
		eventually(t, "c3 gone from G", func() bool { return gns.Socket(sid3) == nil })
	})
}

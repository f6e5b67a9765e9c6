package redisadapter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/socketio"
)

// TestLegacyInterop runs a Go node with LegacyPeers next to a Node server
// set up as a Sails 1.5 app sets it up (testdata/redis-legacy/server.js:
// socket.io 4.8.1, @sailshq/socket.io-redis 6.1.2 and the admin bus, both
// through sails-hook-sockets 3.0.2's own code) on one redis-server. Clients:
// c1 (in room1) and c2 on the Sails server S with socket.io-client 2.0.3,
// as sails.io.js connects; c3 (in goroom) and c4 on the Go node G with
// socket.io-client 4.8.1. It checks broadcasts both ways, every request a
// legacy node sends (answered, so that no Node call times out) and every
// request the Go node can send it, the Sails admin bus both ways, and that
// the Go node never publishes msgpack where the legacy node parses JSON.
func TestLegacyInterop(t *testing.T) {
	t.Parallel()
	rs := redistest.Shared(t)
	key := keyFor(t)
	sn := sniff(t, rs.Addr(), key)
	p := startNodeScript(t, "redis-legacy", "server.js")
	t.Cleanup(func() { sailsErrors(t, p) })
	portS, _ := p.server("S", rs.URL(), key, false, "")
	urlS := fmt.Sprintf("http://127.0.0.1:%d", portS)
	g := newNode(t, rs.Addr(), key, "G", func(o *redisadapter.Options) { o.LegacyPeers = true })
	gns := g.srv.Of("/")
	ctx := ctxT(t)
	// Sails, given a key, uses the key itself as the admin channel.
	bus, err := redisadapter.NewSailsBus(ctx, g.rdb, gns, &redisadapter.SailsBusOptions{Key: key, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close() })

	sid1 := legacyClient(p, "c1", urlS, `{"rooms":["room1"],"data":{"user":"c1"}}`, true)
	sid2 := legacyClient(p, "c2", urlS, `{}`, true)
	sid3 := legacyClient(p, "c3", g.url, `{"rooms":["goroom"],"data":{"user":"c3"}}`, false)
	sid4 := legacyClient(p, "c4", g.url, `{}`, false)
	goRooms := func(sid string) []socketio.Room {
		if s := gns.Socket(sid); s != nil {
			return s.Rooms()
		}
		return nil
	}
	sRooms := func(sid string) []string {
		var r []string
		p.eval(&r, `const s = io.S.of("/").sockets.get(%s); return s ? [...s.rooms] : null`, jsString(sid))
		return r
	}
	if n, err := g.adapter("/").ServerCount(ctx); err != nil || n != 2 {
		t.Fatalf("Go ServerCount = %d, %v; want 2", n, err)
	}
	if r := sRooms(sid1); !slices.Contains(r, "room1") {
		t.Fatalf("c1 (socket.io-client 2) is not S's socket %s in room1: %v", sid1, r)
	}

	t.Run("go broadcasts", func(t *testing.T) {
		gns.Emit("l1", "txt", 1, 1.5, []byte{1, 2}, map[string]any{"nested": []byte{0xff}})
		want := `["txt",1,1.5,{"$bin":"0102"},{"nested":{"$bin":"ff"}}]`
		for _, c := range []string{"c1", "c2", "c3", "c4"} {
			if got := p.recv(c, "l1"); got != want {
				t.Errorf("%s got %s, want %s", c, got, want)
			}
		}
		gns.To("room1").Emit("l2")
		gns.Except("room1").Emit("l3")
		gns.To(socketio.Room(sid2)).Emit("l4", "only c2")
		gns.Emit("lm")
		for _, c := range []string{"c1", "c2", "c3", "c4"} {
			p.recv(c, "lm")
		}
		for c, want := range map[string][]string{"c1": {"l2"}, "c2": {"l3", "l4"}, "c3": {"l3"}, "c4": {"l3"}} {
			if got := eventsIn(p.received(c), "l2", "l3", "l4"); !slices.Equal(got, want) {
				t.Errorf("%s got %v, want %v", c, got, want)
			}
		}
	})

	t.Run("legacy broadcasts", func(t *testing.T) {
		// notepack 2.2.0 writes a Uint8Array as ext type 0.
		p.eval(nil, `io.S.emit("n1", "x", Buffer.from([1]), new Uint8Array([7, 8]), {d: 2.5});
			io.S.to("goroom").emit("n2", {b: Buffer.from([0xde, 0xad])});
			io.S.except("goroom").emit("n3");
			io.S.to(%s).emit("n4", 4);
			io.S.emit("nm")`, jsString(sid4))
		for _, c := range []string{"c1", "c2", "c3", "c4"} {
			p.recv(c, "nm")
		}
		for _, c := range []string{"c3", "c4"} {
			if got := p.recv(c, "n1"); got != `["x",{"$bin":"01"},{"$bin":"0708"},{"d":2.5}]` {
				t.Errorf("%s n1: %s", c, got)
			}
		}
		if got := p.recv("c3", "n2"); got != `[{"b":{"$bin":"dead"}}]` {
			t.Errorf("c3 n2: %s", got)
		}
		if got := p.recv("c4", "n4"); got != `[4]` {
			t.Errorf("c4 n4: %s", got)
		}
		// Sails' own broadcast and blast.
		p.eval(nil, `sails.S.sockets.broadcast("goroom", "sb", {a: 1}); sails.S.sockets.blast("bl", {b: 2})`)
		if got := p.recv("c3", "sb"); got != `[{"a":1}]` {
			t.Errorf("c3 sails broadcast: %s", got)
		}
		if got := p.recv("c4", "bl"); got != `[{"b":2}]` {
			t.Errorf("c4 sails blast: %s", got)
		}
		for c, want := range map[string][]string{"c3": {"n1", "n2"}, "c4": {"n1", "n3", "n4"}} {
			if got := eventsIn(p.received(c), "n1", "n2", "n3", "n4"); !slices.Equal(got, want) {
				t.Errorf("%s got %v, want %v", c, got, want)
			}
		}
	})

	t.Run("legacy requests answered by go", func(t *testing.T) {
		var socks []struct {
			ID        string
			Rooms     []string
			Data      map[string]any
			Handshake struct {
				Address string
				Query   map[string]string
				Auth    map[string]any
			}
		}
		p.eval(&socks, `return (await io.S.fetchSockets()).map(s => ({id: s.id, rooms: [...s.rooms], data: s.data, handshake: s.handshake}))`)
		var found bool
		for _, s := range socks {
			if s.ID == sid3 {
				found = true
				if !slices.Contains(s.Rooms, "goroom") || s.Data["user"] != "c3" || s.Handshake.Address != "127.0.0.1" ||
					s.Handshake.Query["EIO"] != "4" || s.Handshake.Auth["rooms"] == nil {
					t.Errorf("fetchSockets: Go socket %+v", s)
				}
			}
		}
		if len(socks) != 4 || !found {
			t.Errorf("fetchSockets: %d sockets %+v", len(socks), socks)
		}
		var ids []string
		p.eval(&ids, `return (await io.S.in("goroom").fetchSockets()).map(s => s.id)`)
		if !slices.Equal(ids, []string{sid3}) {
			t.Errorf("in(goroom).fetchSockets: %v", ids)
		}
		p.eval(nil, `const [s] = await io.S.in("goroom").fetchSockets(); s.emit("rs", "remote"); s.join("rsj")`)
		if got := p.recv("c3", "rs"); got != `["remote"]` {
			t.Errorf("RemoteSocket.emit: %s", got)
		}
		eventually(t, "c3 in rsj", func() bool { return slices.Contains(goRooms(sid3), "rsj") })
		// allSockets is the SOCKETS request (type 0), which Sails' room
		// functions send.
		p.eval(&ids, `return [...await io.S.allSockets()]`)
		slices.Sort(ids)
		if want := sorted(sid1, sid2, sid3, sid4); !slices.Equal(ids, want) {
			t.Errorf("allSockets: %v, want %v", ids, want)
		}
		p.eval(&ids, `return [...await io.S.in("goroom").allSockets()]`)
		if !slices.Equal(ids, []string{sid3}) {
			t.Errorf("in(goroom).allSockets: %v", ids)
		}
		var rooms []string
		p.eval(&rooms, `return [...await io.S.of("/").adapter.allRooms()]`)
		for _, want := range []string{"goroom", "room1", sid1, sid2, sid3, sid4} {
			if !slices.Contains(rooms, want) {
				t.Errorf("allRooms: %v lacks %v", rooms, want)
			}
		}
		// remoteJoin and remoteLeave resolve on the Go node's answer, after
		// it changed the rooms.
		p.eval(nil, `await io.S.of("/").adapter.remoteJoin(%s, "rj")`, jsString(sid3))
		if !slices.Contains(goRooms(sid3), "rj") {
			t.Errorf("remoteJoin: c3 in %v", goRooms(sid3))
		}
		p.eval(nil, `await io.S.of("/").adapter.remoteLeave(%s, "rj")`, jsString(sid3))
		if slices.Contains(goRooms(sid3), "rj") {
			t.Errorf("remoteLeave: c3 in %v", goRooms(sid3))
		}
		// The opts forms (socketsJoin, socketsLeave) have no answer.
		p.eval(nil, `io.S.in("goroom").socketsJoin(["sj", "sj2"])`)
		eventually(t, "c3 in sj and sj2", func() bool { r := goRooms(sid3); return slices.Contains(r, "sj") && slices.Contains(r, "sj2") })
		p.eval(nil, `io.S.in(%s).socketsLeave("sj")`, jsString(sid3))
		eventually(t, "c3 out of sj", func() bool { return !slices.Contains(goRooms(sid3), "sj") })
		if slices.Contains(goRooms(sid4), "sj2") {
			t.Errorf("c4 joined sj2")
		}
	})

	t.Run("go requests answered by legacy", func(t *testing.T) {
		socks, err := gns.FetchSockets(ctx)
		if err != nil || len(socks) != 4 {
			t.Fatalf("FetchSockets: %d, %v", len(socks), err)
		}
		for _, s := range socks {
			if s.ID == sid1 {
				var d map[string]any
				json.Unmarshal(s.Data.(json.RawMessage), &d)
				// socket.io-client 2 speaks Engine.IO 3.
				if d["user"] != "c1" || d["server"] != "S" || s.Handshake.Query.Get("EIO") != "3" || !slices.Contains(s.Rooms, "room1") {
					t.Errorf("FetchSockets: c1 %+v %+v", s, s.Handshake)
				}
			}
		}
		socks, err = gns.In("room1").FetchSockets(ctx)
		if err != nil || len(socks) != 1 || socks[0].ID != sid1 {
			t.Errorf("In(room1).FetchSockets: %v, %v", socks, err)
		}
		rooms, err := g.adapter("/").AllRooms(ctx)
		if err != nil || !slices.Contains(rooms, "room1") || !slices.Contains(rooms, socketio.Room(sid2)) || !slices.Contains(rooms, "goroom") {
			t.Errorf("AllRooms: %v, %v", rooms, err)
		}
		ids, err := g.adapter("/").Sockets(ctx)
		slices.Sort(ids)
		if want := sorted(sid1, sid2, sid3, sid4); err != nil || !slices.Equal(ids, want) {
			t.Errorf("Sockets: %v, %v; want %v", ids, err, want)
		}
		ids, err = g.adapter("/").Sockets(ctx, "room1")
		if err != nil || !slices.Equal(ids, []string{sid1}) {
			t.Errorf("Sockets(room1): %v, %v", ids, err)
		}
		if err := gns.In(socketio.Room(sid2)).SocketsJoin(ctx, "gj", "gj2"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "c2 in gj and gj2", func() bool { r := sRooms(sid2); return slices.Contains(r, "gj") && slices.Contains(r, "gj2") })
		if err := gns.In("gj").SocketsLeave(ctx, "gj"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "c2 out of gj", func() bool { return !slices.Contains(sRooms(sid2), "gj") })
	})

	t.Run("go acks stay local", func(t *testing.T) {
		// A legacy node cannot take part in a broadcast with acks: the
		// request would be msgpack, and it never counts its clients.
		start := time.Now()
		acks, err := gns.Timeout(3*time.Second).EmitWithAck(ctx, "ack1", []byte{0xbe, 0xef})
		if err != nil || len(acks) != 2 {
			t.Fatalf("EmitWithAck: %d acks, %v", len(acks), err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("EmitWithAck took %v", d)
		}
		for _, a := range acks {
			var v struct {
				Client string
				X      []byte
			}
			if err := a.Decode(&v); err != nil || string(v.X) != "\xbe\xef" || (v.Client != "c3" && v.Client != "c4") {
				t.Errorf("ack %s (%v)", a.Raw(0), err)
			}
		}
		// Server-side events are unknown to socket.io-redis 6: ignored,
		// and never answered, so a request with acks ends in a timeout.
		if err := gns.ServerSideEmit(ctx, "s2s", "ignored"); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if acks, err := gns.ServerSideEmitWithAck(short, "s2s", "unanswered"); !errors.Is(err, redisadapter.ErrTimeout) || len(acks) != 0 {
			t.Errorf("ServerSideEmitWithAck: %v, %v; want a timeout", acks, err)
		}
		gns.Emit("am")
		p.recv("c1", "am")
		if got := eventsIn(p.received("c1"), "ack1"); len(got) != 0 {
			t.Errorf("c1 (on S) got %v", got)
		}
	})

	t.Run("sails admin bus", func(t *testing.T) {
		waitAdmin := func(what string, match func(msg map[string]any) bool) {
			t.Helper()
			p.waitEvent("S applying "+what, func(e map[string]any) bool {
				m, _ := e["msg"].(map[string]any)
				return e["event"] == "admin" && m != nil && match(m)
			})
		}
		// sails.sockets.join of a socket that is not on S: Sails publishes
		// on its admin bus (and asks the cluster for the room's members
		// with SOCKETS); the Go node applies it.
		p.eval(nil, `sails.S.sockets.join(%s, "sj1")`, jsString(sid3))
		eventually(t, "c3 in sj1", func() bool { return slices.Contains(goRooms(sid3), "sj1") })
		raw := sn.wait(t, key, func(p string) bool { return strings.Contains(p, `"event":"join"`) && strings.Contains(p, sid3) })
		var sailsMsg struct{ UID string }
		if err := json.Unmarshal([]byte(raw), &sailsMsg); err != nil || sailsMsg.UID == "" || sailsMsg.UID == bus.UID() {
			t.Fatalf("Sails admin message %s: %v", raw, err)
		}
		// The Go node publishes the same bytes, its own uid aside.
		if err := bus.PublishJoin(ctx, sid3, []string{"sj1"}); err != nil {
			t.Fatal(err)
		}
		want := strings.Replace(raw, `"uid":"`+sailsMsg.UID+`"`, `"uid":"`+bus.UID()+`"`, 1)
		sn.wait(t, key, func(p string) bool { return p == want })
		waitAdmin("the Go join", func(m map[string]any) bool { return m["uid"] == bus.UID() && m["event"] == "join" })

		p.eval(nil, `sails.S.sockets.leave(%s, "sj1")`, jsString(sid3))
		eventually(t, "c3 out of sj1", func() bool { return !slices.Contains(goRooms(sid3), "sj1") })

		// The room functions wait for the cluster's answer to SOCKETS: they
		// call back without error only if the Go node answered.
		call := func(fn string, args string) {
			t.Helper()
			p.eval(nil, `await new Promise((res, rej) => sails.S.sockets.%s(%s, (err) => err ? rej(err) : res()))`, fn, args)
		}
		call("addRoomMembersToRooms", `"goroom", ["gr2", "gr3"]`)
		eventually(t, "c3 in gr2 and gr3", func() bool { r := goRooms(sid3); return slices.Contains(r, "gr2") && slices.Contains(r, "gr3") })
		call("removeRoomMembersFromRooms", `"goroom", ["gr3"]`)
		eventually(t, "c3 out of gr3", func() bool { return !slices.Contains(goRooms(sid3), "gr3") })
		call("leaveAll", `"gr2"`)
		eventually(t, "c3 in its own room only", func() bool { r := goRooms(sid3); return len(r) == 1 && r[0] == socketio.Room(sid3) })
		if r := goRooms(sid4); len(r) != 1 {
			t.Errorf("c4 rooms %v", r)
		}

		// Go to Sails over the bus alone (no adapter request): S applies
		// the message with its own sails.sockets code.
		if err := bus.PublishJoin(ctx, "room1", []string{"viabus", "viabus2"}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "c1 in viabus and viabus2", func() bool {
			r := sRooms(sid1)
			return slices.Contains(r, "viabus") && slices.Contains(r, "viabus2")
		})
		if err := bus.PublishLeave(ctx, "room1", []string{"viabus"}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "c1 out of viabus", func() bool { return !slices.Contains(sRooms(sid1), "viabus") })
		if err := bus.PublishLeaveAll(ctx, sid1); err != nil {
			t.Fatal(err)
		}
		eventually(t, "c1 in its own room only", func() bool { r := sRooms(sid1); return len(r) == 1 && r[0] == sid1 })
		p.eval(nil, `io.S.of("/").sockets.get(%s).join("room1")`, jsString(sid1))

		// sails.sockets on the Go node, with the bus.
		socks := sailsbridge.NewSockets(gns).WithBus(bus)
		if err := socks.Join(ctx, sid2, "fromgo"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "c2 in fromgo", func() bool { return slices.Contains(sRooms(sid2), "fromgo") })
		waitAdmin("the Go join of c2", func(m map[string]any) bool {
			pl, _ := m["payload"].(map[string]any)
			return m["uid"] == bus.UID() && pl != nil && pl["sourceRoom"] == sid2
		})
	})

	t.Run("disconnects", func(t *testing.T) {
		if err := gns.In(socketio.Room(sid2)).DisconnectSockets(ctx, true); err != nil {
			t.Fatal(err)
		}
		p.waitEvent("c2 disconnected", func(e map[string]any) bool { return e["event"] == "disconnect" && e["client"] == "c2" })
		p.eval(nil, `await io.S.of("/").adapter.remoteDisconnect(%s, true)`, jsString(sid4))
		p.waitEvent("c4 disconnected", func(e map[string]any) bool { return e["event"] == "disconnect" && e["client"] == "c4" })
		p.eval(nil, `io.S.in(%s).disconnectSockets(true)`, jsString(sid3))
		p.waitEvent("c3 disconnected", func(e map[string]any) bool { return e["event"] == "disconnect" && e["client"] == "c3" })
		eventually(t, "c3 and c4 gone from G", func() bool { return gns.Socket(sid3) == nil && gns.Socket(sid4) == nil })
	})

	t.Run("no msgpack for legacy parsers", func(t *testing.T) {
		// socket.io-redis 6 parses everything on the request and response
		// channels with JSON.parse.
		sn.mu.Lock()
		defer sn.mu.Unlock()
		var n int
		for _, m := range sn.got {
			if strings.HasPrefix(m.Channel, key+"-request#") || strings.HasPrefix(m.Channel, key+"-response#") {
				n++
				if !json.Valid([]byte(m.Payload)) {
					t.Errorf("%s: not JSON: %x", m.Channel, m.Payload)
				}
			}
		}
		if n < 10 {
			t.Errorf("only %d request/response messages seen", n)
		}
	})
}

// legacyClient connects a client of testdata/redis-legacy/server.js:
// socket.io-client 2.0.3 when v2, 4.8.1 otherwise.
func legacyClient(p *nodeProc, name, url, auth string, v2 bool) string {
	p.t.Helper()
	var r struct{ Sid string }
	json.Unmarshal(p.do(map[string]any{"cmd": "client", "name": name, "url": url, "nsp": "/", "auth": json.RawMessage(auth), "v2": v2}), &r)
	if r.Sid == "" {
		p.t.Fatalf("client %s: no sid", name)
	}
	return r.Sid
}

// sailsErrors fails t when the Sails server logged an error or a warning
// (the hook logs adapter errors, such as a message it could not parse, and
// admin bus trouble).
func sailsErrors(t *testing.T, p *nodeProc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.events {
		if e["event"] != "sails-log" {
			continue
		}
		if msg, _ := e["msg"].(string); e["level"] != "verbose" || strings.Contains(msg, "adapter emitted error") {
			t.Errorf("Sails %s: %s", e["level"], msg)
		}
	}
}

// eventsIn keeps the events of evs named in names, in order.
func eventsIn(evs []string, names ...string) []string {
	var out []string
	for _, ev := range evs {
		if slices.Contains(names, ev) {
			out = append(out, ev)
		}
	}
	return out
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

package streams_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/redisadapter/streams"
	"github.com/pierhq/pier/socketio"
)

// TestNodeRequestsInterop: with a Pier and a Node server on one stream,
// the server count is 2 on both, fetchSockets both ways lists the sockets
// of both servers with their rooms and data, serverSideEmit with acks goes
// both ways, and socketsJoin/disconnectSockets of either apply on the
// other.
func TestNodeRequestsInterop(t *testing.T) {
	addr := redistest.Shared(t).Addr()
	stream := streamFor(t)
	g := newGoNode(t, addr, streams.Options{StreamName: stream, BlockTime: time.Second, RequestsTimeout: 3 * time.Second}, false)
	g.srv.Of("/").OnServerSideEmit("ping-s2s", func(args socketio.Args, ack func(...any)) {
		var s string
		args.Decode(&s)
		if ack != nil {
			ack(map[string]any{"from": "go", "got": s})
		}
	})
	node, nodeURL := startNodeServer(t, addr, stream, false)
	gc := dial(t, g.url, "/", `{"rooms":["r1"],"data":{"user":"g"}}`)
	nc := dial(t, nodeURL, "/", `{"rooms":["r2"],"data":{"user":"n"}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	ad := g.srv.Of("/").Adapter().(*streams.Adapter)
	eventually(t, "server count 2", func() bool {
		n, err := ad.ServerCount(ctx)
		return err == nil && n == 2
	})
	if n := node.call(map[string]any{"op": "count"}); n != 2.0 {
		t.Fatalf("node serverCount %v, want 2", n)
	}

	// Go fetchSockets sees Node's socket.
	socks, err := g.srv.Of("/").FetchSockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range socks {
		d, _ := json.Marshal(s.Data)
		got[s.ID] = string(d)
		if s.ID == nc.sid && !slices.Contains(s.Rooms, "r2") {
			t.Errorf("node socket rooms %v", s.Rooms)
		}
	}
	if got[gc.sid] != `{"user":"g"}` || got[nc.sid] != `{"user":"n"}` || len(got) != 2 {
		t.Fatalf("go fetchSockets: %v", got)
	}
	// Node fetchSockets sees Go's socket.
	var nsocks []struct {
		ID      string
		Rooms   []string
		Data    map[string]any
		Address string
	}
	b, _ := json.Marshal(node.call(map[string]any{"op": "fetch"}))
	json.Unmarshal(b, &nsocks)
	found := false
	for _, s := range nsocks {
		if s.ID == gc.sid {
			found = slices.Contains(s.Rooms, "r1") && s.Data["user"] == "g" && s.Address == "127.0.0.1"
		}
	}
	if len(nsocks) != 2 || !found {
		t.Fatalf("node fetchSockets: %s", b)
	}

	// serverSideEmit with acks, both ways.
	acks, err := g.srv.Of("/").ServerSideEmitWithAck(ctx, "ping-s2s", "from-go")
	if err != nil || len(acks) != 1 {
		t.Fatalf("go serverSideEmitWithAck: %v %v", acks, err)
	}
	var ack struct{ From, Got string }
	if err := acks[0].Decode(&ack); err != nil || ack.From != "node" || ack.Got != "from-go" {
		t.Fatalf("ack %+v %v", ack, err)
	}
	res := node.call(map[string]any{"op": "sse", "args": []any{"ping-s2s", "from-node"}})
	if b, _ := json.Marshal(res); string(b) != `[{"from":"go","got":"from-node"}]` {
		t.Fatalf("node serverSideEmitWithAck: %s", b)
	}

	// socketsJoin from Go applies on Node; then a broadcast to the room
	// reaches Node's socket.
	if err := g.srv.Of("/").In(socketio.Room(nc.sid)).SocketsJoin(ctx, "joined"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node socket in room joined", func() bool {
		var ss []struct {
			ID    string
			Rooms []string
		}
		b, _ := json.Marshal(node.call(map[string]any{"op": "sockets"}))
		json.Unmarshal(b, &ss)
		return len(ss) == 1 && slices.Contains(ss[0].Rooms, "joined")
	})
	if err := g.srv.Of("/").In(socketio.Room(nc.sid)).DisconnectSockets(ctx, false); err != nil {
		t.Fatal(err)
	}
	nc.expect("41")

	// And from Node to Go: join, leave, disconnect.
	node.call(map[string]any{"op": "join", "target": gc.sid, "rooms": []string{"n1", "n2"}})
	eventually(t, "go socket in rooms n1, n2", func() bool {
		r := g.srv.Of("/").Socket(gc.sid).Rooms()
		return slices.Contains(r, "n1") && slices.Contains(r, "n2")
	})
	node.call(map[string]any{"op": "leave", "target": gc.sid, "rooms": []string{"n1"}})
	eventually(t, "go socket out of room n1", func() bool {
		r := g.srv.Of("/").Socket(gc.sid).Rooms()
		return !slices.Contains(r, "n1") && slices.Contains(r, "n2")
	})
	node.call(map[string]any{"op": "disconnect", "target": "n2", "close": false})
	gc.expect("41")
}

// TestServerSideHandlerWaitsOnCluster: a server-side event handler that
// itself calls FetchSockets gets its answers (the requests of other
// servers run off the subscriber goroutine), and its ack reaches the
// sender in time.
func TestServerSideHandlerWaitsOnCluster(t *testing.T) {
	addr := redistest.Shared(t).Addr()
	o := streams.Options{StreamName: streamFor(t), BlockTime: time.Second, RequestsTimeout: 2 * time.Second}
	o.ChannelPrefix = o.StreamName
	a := newGoNode(t, addr, o, false)
	b := newGoNode(t, addr, o, false)
	dial(t, a.url, "/", `{}`)
	dial(t, b.url, "/", `{}`)
	a.srv.Of("/").OnServerSideEmit("count", func(args socketio.Args, ack func(...any)) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		socks, err := a.srv.Of("/").FetchSockets(ctx)
		if err != nil {
			ack("error: " + err.Error())
			return
		}
		ack(len(socks))
	})
	ad := b.srv.Of("/").Adapter().(*streams.Adapter)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eventually(t, "server count 2", func() bool {
		n, err := ad.ServerCount(ctx)
		return err == nil && n == 2
	})
	acks, err := b.srv.Of("/").ServerSideEmitWithAck(ctx, "count")
	if err != nil || len(acks) != 1 {
		t.Fatalf("acks %v, %v", acks, err)
	}
	var n int
	if err := acks[0].Decode(&n); err != nil || n != 2 {
		t.Fatalf("the handler's FetchSockets saw %s (%v), want 2 sockets", acks[0].Raw(0), err)
	}
}

package redisadapter_test

import (
	"log/slog"
	"slices"
	"testing"

	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/socketio"
)

var _ sailsbridge.RoomBus = (*redisadapter.SailsBus)(nil)

// TestSailsBus: room operations travel over the Sails admin bus in Sails'
// own JSON, both ways, and a node ignores its own messages.
func TestSailsBus(t *testing.T) {
	t.Parallel()
	addr := sharedAddr(t)
	key := keyFor(t)
	channel := key + "#sails#"
	n1 := newNode(t, addr, key, "go1", nil)
	n2 := newNode(t, addr, key, "go2", nil)
	ctx := ctxT(t)
	sniffed := sniff(t, addr, key)
	bus1, err := redisadapter.NewSailsBus(ctx, n1.rdb, n1.srv.Of("/"), &redisadapter.SailsBusOptions{Key: channel, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus1.Close() })
	var logs logRecorder
	bus2, err := redisadapter.NewSailsBus(ctx, n2.rdb, n2.srv.Of("/"), &redisadapter.SailsBusOptions{Key: channel, Logger: slog.New(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus2.Close() })

	b := dial(t, n2, "/", "")
	sock := n2.srv.Of("/").Socket(b.sid)
	in := func(room string) bool { return slices.Contains(sock.Rooms(), socketio.Room(room)) }

	// Node 1 asks, over the bus, that B (on node 2) join x: the bytes are
	// Sails' and node 2 applies them.
	if err := bus1.PublishJoin(ctx, b.sid, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	want := `{"uid":"` + bus1.UID() + `","event":"join","payload":{"sourceRoom":"` + b.sid + `","destRooms":["x"]}}`
	sniffed.wait(t, channel, func(p string) bool { return p == want })
	eventually(t, "B in x", func() bool { return in("x") })

	// A node ignores its own messages (the sender applies locally), and
	// survives garbage; messages from Sails servers are applied in order.
	if err := n1.rdb.Publish(ctx, channel, "not json").Err(); err != nil {
		t.Fatal(err)
	}
	if err := bus2.PublishJoin(ctx, b.sid, []string{"own"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a warning for the garbage", func() bool {
		w := logs.warnings()
		return len(w) == 1 && w[0]["channel"] == channel && w[0]["reason"] == "malformed Sails admin message"
	})
	sails := func(msg string) {
		if err := n1.rdb.Publish(ctx, channel, msg).Err(); err != nil {
			t.Fatal(err)
		}
	}
	sails(`{"uid":"JRKBbf","event":"join","payload":{"sourceRoom":"` + b.sid + `","destRooms":["y","z"]}}`)
	eventually(t, "B in y and z", func() bool { return in("y") && in("z") })
	if in("own") {
		t.Error("node 2 applied its own message")
	}
	sails(`{"uid":"JRKBbf","event":"leave","payload":{"sourceRoom":"` + b.sid + `","destRooms":["x"]}}`)
	eventually(t, "B out of x", func() bool { return !in("x") })
	sails(`{"uid":"JRKBbf","event":"leaveAll","payload":{"sourceRoom":"y"}}`)
	eventually(t, "B in its own room only", func() bool { r := sock.Rooms(); return len(r) == 1 && r[0] == socketio.Room(b.sid) })

	// sails.sockets on node 1, with the bus: join by id reaches B.
	socks := sailsbridge.NewSockets(n1.srv.Of("/")).WithBus(bus1)
	if err := socks.Join(ctx, b.sid, "w"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B in w", func() bool { return in("w") })
	sniffed.wait(t, channel, func(p string) bool {
		return p == `{"uid":"`+bus1.UID()+`","event":"join","payload":{"sourceRoom":"`+b.sid+`","destRooms":["w"]}}`
	})
}

package streams_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/redisadapter/streams"
	"github.com/pierhq/pier/socketio"
)

// TestBroadcastGo: two Pier servers on one stream, broadcasts with rooms,
// except and binary reach the sockets of both; local ones stay local.
func TestBroadcastGo(t *testing.T) {
	addr := redistest.Shared(t).Addr()
	o := streams.Options{StreamName: streamFor(t), BlockTime: time.Second}
	a := newGoNode(t, addr, o, false)
	b := newGoNode(t, addr, o, false)
	a1 := dial(t, a.url, "/", `{"rooms":["r1"]}`)
	b1 := dial(t, b.url, "/", `{"rooms":["r1"]}`)
	b2 := dial(t, b.url, "/", `{"rooms":["r1","r3"]}`)
	b3 := dial(t, b.url, "/", `{}`)

	if err := a.srv.Of("/").To("r1").Except("r3").Emit("hi", 1, "x"); err != nil {
		t.Fatal(err)
	}
	a1.expect(`42["hi",1,"x"]`)
	b1.expect(`42["hi",1,"x"]`)
	if err := b.srv.Of("/").Emit("all", map[string]any{"k": true}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a1, b1, b2, b3} {
		c.expect(`42["all",{"k":true}]`)
	}
	b.srv.Of("/").Local().Emit("local")
	a.srv.Of("/").Emit("bin", []byte{1, 2, 3})
	a1.expect(`451-["bin",{"_placeholder":true,"num":0}]`)
	b1.expect(`42["local"]`)
	b1.expect(`451-["bin",{"_placeholder":true,"num":0}]`)
	b1.expect("<binary 010203>")
}

// TestEntryFormat: the entries are those Node writes (uid, nsp, type as a
// decimal string, data as compact JSON or base64 msgpack).
func TestEntryFormat(t *testing.T) {
	addr := redistest.Shared(t).Addr()
	stream := streamFor(t)
	a := newGoNode(t, addr, streams.Options{StreamName: stream, BlockTime: time.Second}, false)
	nsp := a.srv.Of("/")
	nsp.To("room1").Except("room3").Emit("roomex", "x")
	nsp.Volatile().Emit("vol", "v")
	nsp.Emit("bin", []byte{1, 2, 3}, map[string]any{"s": "x"})
	nsp.In("sid1").SocketsJoin(context.Background(), "room9")
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	msgs, err := rdb.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ typ, data string }{
		{"3", `{"packet":{"type":2,"data":["roomex","x"]},"opts":{"rooms":["room1"],"except":["room3"],"flags":{}}}`},
		{"3", `{"packet":{"type":2,"data":["vol","v"]},"opts":{"rooms":[],"except":[],"flags":{"volatile":true}}}`},
		// {"packet":{"type":2,"data":["bin",bin<010203>,{"s":"x"}]},"opts":{…}} in msgpack
		{"3", "gqZwYWNrZXSCpHR5cGUCpGRhdGGTo2JpbsQDAQIDgaFzoXikb3B0c4Olcm9vbXOQpmV4Y2VwdJClZmxhZ3OA"},
		{"4", `{"opts":{"rooms":["sid1"],"except":[],"flags":{}},"rooms":["room9"]}`},
	}
	if len(msgs) != len(want) {
		t.Fatalf("%d entries, want %d: %v", len(msgs), len(want), msgs)
	}
	for i, m := range msgs {
		if m.Values["nsp"] != "/" || m.Values["type"] != want[i].typ || m.Values["data"] != want[i].data || len(m.Values["uid"].(string)) != 16 {
			t.Errorf("entry %d = %v, want type %s data %s", i, m.Values, want[i].typ, want[i].data)
		}
	}
}

// TestMalformedEntries: entries Node's reader chokes on are skipped and
// the next ones are delivered.
func TestMalformedEntries(t *testing.T) {
	addr := redistest.Shared(t).Addr()
	stream := streamFor(t)
	a := newGoNode(t, addr, streams.Options{StreamName: stream, BlockTime: time.Second}, true)
	c := dial(t, a.url, "/", `{}`)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx := context.Background()
	bad := [][]any{
		{"uid", "x", "nsp", "/", "type", "3"},
		{"uid", "x", "nsp", "/", "type", "3", "data", `{"packet":{}}`},
		{"uid", "x", "nsp", "/", "type", "3", "data", `{"opts":{}}`},
		{"uid", "x", "nsp", "/", "type", "4", "data", `{"rooms":1}`},
		{"uid", "x", "nsp", "/", "type", "3", "data", "!!notbase64"},
		{"uid", "x", "type", "3", "data", "{}"},
		{"uid", "x", "nsp", "/", "type", "three", "data", "{}"},
	}
	for _, v := range bad {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: v}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"uid", "x", "nsp", "/", "type", "3", "data",
		`{"packet":{"type":2,"data":["ok"]},"opts":{"rooms":[],"except":[],"flags":{}}}`}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	c.expect(`42["ok","` + id + `"]`)
}

// TestNegativeHashStream: with StreamCount 2, /notifications hashes to
// stream "-1" as in Node, and Pier servers still exchange its broadcasts.
func TestNegativeHashStream(t *testing.T) {
	addr := redistest.Shared(t).Addr()
	stream := streamFor(t)
	o := streams.Options{StreamName: stream, StreamCount: 2, BlockTime: time.Second}
	a := newGoNode(t, addr, o, false)
	b := newGoNode(t, addr, o, false)
	for _, tc := range []struct{ nsp, stream string }{{"/notifications", stream + "--1"}, {"/", stream + "-1"}, {"/chat", stream + "-1"}} {
		ad := a.srv.Of(tc.nsp).Adapter().(*streams.Adapter)
		if ad.Stream() != tc.stream {
			t.Errorf("%s: stream %q, want %q", tc.nsp, ad.Stream(), tc.stream)
		}
	}
	b.srv.Of("/notifications")
	c := dial(t, b.url, "/notifications", `{}`)
	if err := a.srv.Of("/notifications").Emit("n", 1); err != nil {
		t.Fatal(err)
	}
	c.expect(`42/notifications,["n",1]`)
}

var _ = socketio.Room("")

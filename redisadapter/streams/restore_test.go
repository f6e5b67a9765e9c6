package streams_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/redisadapter/streams"
)

// The session Node 0.3.1 wrote for sid 8zjl5VNDEwnNyfo1AAAA, pid
// 8RMXnfCA85BEIpTdAAAB, rooms [sid, room1, room5], data {server: A, user:
// c1} (recorded).
const nodeSession = "hKNzaWS0OHpqbDVWTkRFd25OeWZvMUFBQUGjcGlktDhSTVhuZkNBODVCRUlwVGRBQUFCpXJvb21zk7Q4empsNVZOREV3bk55Zm8xQUFBQaVyb29tMaVyb29tNaRkYXRhgqZzZXJ2ZXKhQaR1c2VyomMx"

// TestRestoreCases: a session record written by Node is restored from the
// stream (room filter, binary, the replay after the CONNECT reply), and
// the failures end in a fresh socket as in Node: an offset no longer in
// the stream (the record is consumed), an offset that is not an entry id
// and a missing offset (the record stays).
func TestRestoreCases(t *testing.T) {
	addr := redistest.Shared(t).Addr()
	stream := streamFor(t)
	prefix := stream + ":session:"
	g := newGoNode(t, addr, streams.Options{StreamName: stream, SessionKeyPrefix: prefix, BlockTime: time.Second}, true)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx := context.Background()
	const pid = "8RMXnfCA85BEIpTdAAAB"
	key := prefix + pid
	add := func(nsp, data string) string {
		id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"uid", "nodeuid", "nsp", nsp, "type", "3", "data", data}}).Result()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	ev := func(args, rooms, except string) string {
		return `{"packet":{"type":2,"data":` + args + `},"opts":{"rooms":` + rooms + `,"except":` + except + `,"flags":{}}}`
	}
	offset := add("/", ev(`["seen"]`, `[]`, `[]`))
	id1 := add("/", ev(`["m1",1]`, `["room1"]`, `[]`))
	add("/", ev(`["not-mine"]`, `["room2"]`, `[]`))
	add("/", ev(`["excepted"]`, `[]`, `["room5"]`))
	add("/chat", ev(`["other-nsp"]`, `[]`, `[]`))
	// {"packet":{"type":2,"data":["bin",bin<010203>]},"opts":{"rooms":[],"except":[],"flags":{}}} in msgpack
	id2 := add("/", "gqZwYWNrZXSCpHR5cGUCpGRhdGGSo2JpbsQDAQIDpG9wdHODpXJvb21zkKZleGNlcHSQpWZsYWdzgA==")

	rdb.Set(ctx, key, nodeSession, time.Minute)
	c := dial(t, g.url, "/", `{"pid":"`+pid+`","offset":"`+offset+`"}`)
	if c.sid != "8zjl5VNDEwnNyfo1AAAA" {
		t.Fatalf("restored sid %s", c.sid)
	}
	c.expect(`42["m1",1,"` + id1 + `"]`)
	c.expect(`451-["bin",{"_placeholder":true,"num":0},"` + id2 + `"]`)
	c.expect("<binary 010203>")
	s := g.srv.Of("/").Socket(c.sid)
	if d, _ := json.Marshal(s.Data()); s == nil || !s.Recovered() || string(d) != `{"server":"A","user":"c1"}` || len(s.Rooms()) != 3 {
		t.Fatalf("restored socket: %+v data %s", s, d)
	}
	if n, _ := rdb.Exists(ctx, key).Result(); n != 0 {
		t.Error("the session record was not consumed")
	}

	for _, tc := range []struct {
		name, auth string
		keyStays   bool
	}{
		{"offset gone", `{"pid":"` + pid + `","offset":"1-0"}`, false},
		{"offset not an id", `{"pid":"` + pid + `","offset":"seen"}`, true},
		{"no offset", `{"pid":"` + pid + `"}`, true},
	} {
		rdb.Set(ctx, key, nodeSession, time.Minute)
		c := dial(t, g.url, "/", tc.auth)
		if c.sid == "8zjl5VNDEwnNyfo1AAAA" {
			t.Errorf("%s: restored (sid %s)", tc.name, c.sid)
		}
		if s := g.srv.Of("/").Socket(c.sid); s == nil || s.Recovered() {
			t.Errorf("%s: socket %v recovered", tc.name, s)
		}
		if n, _ := rdb.Exists(ctx, key).Result(); (n == 1) != tc.keyStays {
			t.Errorf("%s: record exists %v, want %v", tc.name, n == 1, tc.keyStays)
		}
	}
}

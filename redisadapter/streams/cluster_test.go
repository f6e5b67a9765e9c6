package streams_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/redisadapter/streams"
)

// TestRedisClusterInterop: on a three-master Redis Cluster, two Pier
// servers (go-redis ClusterClient) and a Node server (node-redis
// createCluster): the server count is summed over the shards, broadcasts
// go both ways with the same offsets, fetchSockets sees every server's
// sockets, and a client moves from Pier to Node with its session.
func TestRedisClusterInterop(t *testing.T) {
	rc := redistest.StartCluster(t)
	addrs := rc.Addrs()
	stream := "cluster-stream"
	o := streams.Options{StreamName: stream, SessionKeyPrefix: stream + ":session:", BlockTime: time.Second, RequestsTimeout: 3 * time.Second}
	cc := func() redis.UniversalClient { return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs}) }
	a := newGoNodeOn(t, cc(), o, true)
	c := newGoNodeOn(t, cc(), o, true)
	node, nodeURL := startNodeServer(t, strings.Join(addrs, ","), stream, true)
	ca := dial(t, a.url, "/", `{"rooms":["r1"]}`)
	cc2 := dial(t, c.url, "/", `{"rooms":["r1"]}`)
	cn := dial(t, nodeURL, "/", `{"rooms":["r1"]}`)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ad := a.srv.Of("/").Adapter().(*streams.Adapter)
	eventually(t, "server count 3", func() bool {
		n, err := ad.ServerCount(ctx)
		return err == nil && n == 3
	})
	if n := node.call(map[string]any{"op": "count"}); n != 3.0 {
		t.Fatalf("node serverCount %v, want 3", n)
	}

	a.srv.Of("/").To("r1").Emit("fromGo", 1)
	p := ca.read()
	want := `42["fromGo",1,"` + offsetOf(t, p) + `"]`
	if p != want {
		t.Fatalf("got %q", p)
	}
	cc2.expect(want)
	cn.expect(want)
	node.call(map[string]any{"op": "emit", "rooms": []string{"r1"}, "args": []any{"fromNode"}})
	p = cn.read()
	want = `42["fromNode","` + offsetOf(t, p) + `"]`
	if p != want {
		t.Fatalf("got %q", p)
	}
	ca.expect(want)
	cc2.expect(want)

	socks, err := a.srv.Of("/").FetchSockets(ctx)
	if err != nil || len(socks) != 3 {
		t.Fatalf("FetchSockets: %d sockets, %v", len(socks), err)
	}
	b, _ := json.Marshal(node.call(map[string]any{"op": "fetch"}))
	if n := strings.Count(string(b), `"id"`); n != 3 {
		t.Fatalf("node fetchSockets: %s", b)
	}
}

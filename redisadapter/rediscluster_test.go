package redisadapter_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/socketio"
)

// TestRedisCluster runs Go nodes on a real Redis Cluster of three masters.
//
// Classic: node A uses a ClusterClient, B and C plain clients of two
// masters (classic pub/sub reaches every node of a cluster), so that the
// request channel's subscribers sit on different masters: only a count
// summed over the masters gives three.
//
// Sharded: every node uses a ClusterClient; the main channel, each node's
// response channel and the room channels hash to slots spread over the
// masters, each subscribed through the connection of its slot.
func TestRedisCluster(t *testing.T) {
	rc := redistest.StartCluster(t)
	clusterClient := func() redis.UniversalClient {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: rc.Addrs(), MaxRetries: -1})
	}
	rooms := []string{"r1", "r2", "r3", "r4", "r5", "r6"}
	for _, tc := range []struct {
		name    string
		proto   redisadapter.Protocol
		clients func() []redis.UniversalClient
	}{
		{"classic", redisadapter.Classic, func() []redis.UniversalClient {
			return []redis.UniversalClient{clusterClient(),
				redis.NewClient(&redis.Options{Addr: rc.Masters[1].Addr(), MaxRetries: -1}),
				redis.NewClient(&redis.Options{Addr: rc.Masters[2].Addr(), MaxRetries: -1})}
		}},
		{"sharded", redisadapter.Sharded, func() []redis.UniversalClient {
			return []redis.UniversalClient{clusterClient(), clusterClient(), clusterClient()}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key := keyFor(t)
			tweak := func(o *redisadapter.Options) { o.Protocol = tc.proto }
			var nodes []*node
			var clients []*client
			for i, rdb := range tc.clients() {
				n := newNodeOn(t, rdb, key, string(rune('A'+i)), tweak)
				nodes = append(nodes, n)
				// Client i is in rooms[i] and rooms[i+3].
				clients = append(clients, dial(t, n, "/", fmt.Sprintf(`{"rooms":[%q,%q]}`, rooms[i], rooms[i+3])))
			}
			a := nodes[0]
			ctx := ctxT(t)

			if n, err := a.adapter("/").ServerCount(ctx); err != nil || n != 3 {
				t.Fatalf("ServerCount = %d, %v; want 3", n, err)
			}
			if tc.proto == redisadapter.Classic {
				// The three subscriptions are on different masters.
				ch := key + "-request#/#"
				for _, m := range rc.Masters {
					c := redis.NewClient(&redis.Options{Addr: m.Addr()})
					n := numSub(t, c, false, ch)
					c.Close()
					if n >= 3 {
						t.Fatalf("master %s alone counts %d subscribers", m.Addr(), n)
					}
				}
			} else {
				// The sharded channels live on more than one master.
				cc := a.rdb.(*redis.ClusterClient)
				owners := map[string]bool{}
				for _, room := range rooms {
					m, err := cc.MasterForKey(ctx, key+"#/#"+room+"#")
					if err != nil {
						t.Fatal(err)
					}
					owners[m.Options().Addr] = true
				}
				if len(owners) < 2 {
					t.Fatalf("room channels on %v only", owners)
				}
			}
			for i, room := range rooms {
				nodes[i%3].waitRoom(t, "/", room, 1)
			}

			// Broadcasts: to all, from each node; to each room from A.
			for i, n := range nodes {
				n.srv.Of("/").Emit("all", i)
				for _, c := range clients {
					c.expect(fmt.Sprintf(`42["all",%d]`, i))
				}
			}
			for i, room := range rooms {
				a.srv.Of("/").To(socketio.Room(room)).Emit("room", room)
				clients[i%3].expect(fmt.Sprintf(`42["room",%q]`, room))
			}
			a.srv.Of("/").Except(socketio.Room(rooms[1])).Emit("except")
			clients[0].expect(`42["except"]`)
			clients[2].expect(`42["except"]`)

			// Requests and responses, from the nodes that count the servers
			// of the whole cluster (a plain client counts the subscribers
			// of its own master only).
			askers := nodes
			if tc.proto == redisadapter.Classic {
				askers = nodes[:1]
			}
			for _, n := range askers {
				socks, err := n.srv.Of("/").FetchSockets(ctx)
				if err != nil || len(socks) != 3 {
					t.Fatalf("%s: FetchSockets = %d, %v", n.name, len(socks), err)
				}
			}
			for _, n := range nodes[1:] {
				n.srv.Of("/").OnServerSideEmit("ping", func(args socketio.Args, ack func(...any)) { ack(n.name) })
			}
			acks, err := a.srv.Of("/").ServerSideEmitWithAck(ctx, "ping")
			if err != nil || len(acks) != 2 {
				t.Fatalf("ServerSideEmitWithAck = %v, %v", acks, err)
			}
			if err := a.srv.Of("/").In(socketio.Room(clients[2].sid)).SocketsJoin(ctx, "joined"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "c3 in joined", func() bool {
				s := nodes[2].srv.Of("/").Socket(clients[2].sid)
				return s != nil && slices.Contains(s.Rooms(), "joined")
			})
			type res struct {
				acks []socketio.Args
				err  error
			}
			done := make(chan res, 1)
			go func() {
				acks, err := askers[len(askers)-1].srv.Of("/").Timeout(3*time.Second).EmitWithAck(ctx, "q")
				done <- res{acks, err}
			}()
			for _, c := range clients {
				p := c.read(5 * time.Second)
				var id int
				if _, err := fmt.Sscanf(p, `42%d["q"]`, &id); err != nil {
					t.Fatalf("got %q", p)
				}
				c.c.Send(fmt.Sprintf(`43%d["ok"]`, id))
			}
			if r := <-done; r.err != nil || len(r.acks) != 3 {
				t.Fatalf("EmitWithAck = %d acks, %v", len(r.acks), r.err)
			}
		})
	}
}

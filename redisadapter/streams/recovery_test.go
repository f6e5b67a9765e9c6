package streams_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/redisadapter/streams"
	"github.com/pierhq/pier/socketio"
)

// server is a Go or Node server of a recovery test.
type server struct {
	url  string
	emit func(rooms, except []string, bin bool, args ...any)
	// socket returns the rooms and data of a local socket (ok false when
	// it is not there).
	socket func(id string) (rooms []string, data string, ok bool)
}

// redisClient is a client of addr: host:port, or a comma list of a Redis
// Cluster's masters.
func redisClient(addr string) redis.UniversalClient {
	if strings.Contains(addr, ",") {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addr, ",")})
	}
	return redis.NewClient(&redis.Options{Addr: addr})
}

// sessionKeys lists the session keys of a recovery test (on every master
// of a Cluster).
func sessionKeys(rdb redis.UniversalClient, stream string) []string {
	ctx := context.Background()
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		var all []string
		cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			keys, _ := c.Keys(ctx, stream+":session:*").Result()
			mu.Lock()
			all = append(all, keys...)
			mu.Unlock()
			return nil
		})
		return all
	}
	keys, _ := rdb.Keys(ctx, stream+":session:*").Result()
	return keys
}

func goServer(t *testing.T, addr, stream string) server {
	g := newGoNodeOn(t, redisClient(addr), streams.Options{StreamName: stream, SessionKeyPrefix: stream + ":session:", BlockTime: time.Second}, true)
	return server{
		url: g.url,
		emit: func(rooms, except []string, bin bool, args ...any) {
			op := g.srv.Of("/").To()
			for _, r := range rooms {
				op = op.To(socketio.Room(r))
			}
			for _, r := range except {
				op = op.Except(socketio.Room(r))
			}
			if bin {
				args = append(args, []byte{1, 2, 3})
			}
			if err := op.Emit(args[0].(string), args[1:]...); err != nil {
				t.Error(err)
			}
		},
		socket: func(id string) ([]string, string, bool) {
			s := g.srv.Of("/").Socket(id)
			if s == nil {
				return nil, "", false
			}
			var rooms []string
			for _, r := range s.Rooms() {
				rooms = append(rooms, string(r))
			}
			d, _ := json.Marshal(s.Data())
			return rooms, string(d), true
		},
	}
}

func nodeServer(t *testing.T, addr, stream string) server {
	p, url := startNodeServer(t, addr, stream, true)
	return server{
		url: url,
		emit: func(rooms, except []string, bin bool, args ...any) {
			if rooms == nil {
				rooms = []string{}
			}
			if except == nil {
				except = []string{}
			}
			p.call(map[string]any{"op": "emit", "rooms": rooms, "except": except, "bin": bin, "args": args})
		},
		socket: func(id string) ([]string, string, bool) {
			var socks []struct {
				ID    string          `json:"id"`
				Rooms []string        `json:"rooms"`
				Data  json.RawMessage `json:"data"`
			}
			b, _ := json.Marshal(p.call(map[string]any{"op": "sockets"}))
			json.Unmarshal(b, &socks)
			for _, s := range socks {
				if s.ID == id {
					return s.Rooms, string(s.Data), true
				}
			}
			return nil, "", false
		},
	}
}

// deadAddr is an address nothing listens on.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestRecoveryAcrossServers: socket.io-client 4.8 connected to server A
// loses its transport and comes back to server B (through a proxy whose
// target moves): it is recovered, with its id, rooms and data, and gets
// every event broadcast to it meanwhile (by A and by B, binary too), in
// order, then the live ones.
func TestRecoveryAcrossServers(t *testing.T) {
	var cluster string // started once, with the parent test
	parent := t
	for _, tc := range []struct {
		a, b    string
		cluster bool
	}{{"go", "go", false}, {"go", "node", false}, {"node", "go", false}, {"go", "node", true}, {"node", "go", true}} {
		name := tc.a + "-to-" + tc.b
		if tc.cluster {
			name += "-on-cluster"
		}
		t.Run(name, func(t *testing.T) {
			addr := redistest.Shared(t).Addr()
			if tc.cluster {
				if cluster == "" {
					cluster = strings.Join(redistest.StartCluster(parent).Addrs(), ",")
				}
				addr = cluster
			}
			stream := streamFor(t)
			mk := map[string]func(*testing.T, string, string) server{"go": goServer, "node": nodeServer}
			a, b := mk[tc.a](t, addr, stream), mk[tc.b](t, addr, stream)
			px := newProxy(t, hostOf(a.url))
			c := startNode(t, "client.js", "--url", px.url(), "--auth", `{"rooms":["r1"],"data":{"user":"c1"}}`)
			first := c.wait("connect", func(m map[string]any) bool { return m["event"] == "connect" })
			id := first["id"].(string)
			if first["recovered"] != false {
				t.Fatalf("first connect: %v", first)
			}
			a.emit(nil, nil, false, "e0", 0)
			c.wait("e0", func(m map[string]any) bool { return m["event"] == "msg" && m["args"].([]any)[0] == "e0" })

			rdb := redisClient(addr)
			defer rdb.Close()
			px.cut(deadAddr(t))
			eventually(t, "the session persisted", func() bool {
				return len(sessionKeys(rdb, stream)) == 1
			})
			a.emit(nil, nil, false, "m1", 1)
			a.emit([]string{"r1"}, nil, false, "m2", "r1")
			a.emit([]string{"r2"}, nil, false, "x3", "not for c1")
			a.emit(nil, []string{"r1"}, false, "x4", "not for c1")
			b.emit(nil, nil, false, "m5", map[string]any{"from": "B"})
			a.emit([]string{"r1"}, nil, true, "m6")
			b.emit([]string{id}, nil, false, "m7")
			px.cut(hostOf(b.url))
			again := c.wait("recovered connect", func(m map[string]any) bool {
				return m["event"] == "connect" && m != nil && m["id"] != nil && m["recovered"] == true
			})
			if again["id"] != id {
				t.Fatalf("recovered with id %v, want %s", again["id"], id)
			}
			b.emit(nil, nil, false, "live", 8)
			c.wait("live", func(m map[string]any) bool { return m["event"] == "msg" && m["args"].([]any)[0] == "live" })
			// Every event once, in stream order (a Node server's emit call
			// returns before its XADD, so the stream order of m5 and m6 is
			// not the order of the calls).
			var got, ids []string
			for _, m := range c.all(func(m map[string]any) bool { return m["event"] == "msg" }) {
				args := m["args"].([]any)
				last, _ := args[len(args)-1].(string)
				if !offsetRe.MatchString(`,"` + last + `"]`) {
					t.Errorf("event %v: no offset", args)
				}
				got = append(got, fmt.Sprint(args[:len(args)-1]))
				ids = append(ids, last)
			}
			for i := 1; i < len(ids); i++ {
				var a, b [2]int64
				fmt.Sscanf(ids[i-1], "%d-%d", &a[0], &a[1])
				fmt.Sscanf(ids[i], "%d-%d", &b[0], &b[1])
				if a[0] > b[0] || a[0] == b[0] && a[1] >= b[1] {
					t.Errorf("events out of stream order: %v", ids)
				}
			}
			want := []string{"[e0 0]", "[m1 1]", "[m2 r1]", "[m5 map[from:B]]", "[m6 map[bin:010203]]", "[m7]", "[live 8]"}
			sorted := slices.Clone(got)
			slices.Sort(sorted)
			slices.Sort(want)
			if !reflect.DeepEqual(sorted, want) {
				t.Fatalf("client events %q, want %q in stream order", got, want)
			}
			// Pier sends the missed events after the CONNECT reply, so the
			// client sees them after "connect" (Node: before).
			order := c.all(func(m map[string]any) bool {
				return m["recovered"] == true || m["event"] == "msg" && m["args"].([]any)[0] == "m1"
			})
			if wantFirst := map[string]string{"go": "connect", "node": "msg"}[tc.b]; len(order) != 2 || order[0]["event"] != wantFirst {
				t.Errorf("order of recovered connect and m1: %v, want %s first", order, wantFirst)
			}
			rooms, data, ok := b.socket(id)
			slices.Sort(rooms)
			if !ok || !reflect.DeepEqual(rooms, []string{"r1", id}) && !reflect.DeepEqual(rooms, []string{id, "r1"}) || data != `{"user":"c1"}` {
				t.Fatalf("on B: socket %s rooms %v data %s (found %v)", id, rooms, data, ok)
			}
			if keys := sessionKeys(rdb, stream); len(keys) != 0 {
				t.Errorf("session keys left: %v", keys)
			}
		})
	}
}

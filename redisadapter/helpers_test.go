package redisadapter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/internal/wiretest"
	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/socketio"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// keyFor gives each test its own channel prefix on the shared redis-server.
func keyFor(t *testing.T) string {
	return "t-" + strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
}

// node is a Socket.IO server with the Redis adapter, its own Redis client
// and an httptest server. Clients pass {"rooms":[...],"data":...} as auth
// to join rooms and set their data at connection.
type node struct {
	name string
	srv  *socketio.Server
	http *httptest.Server
	rdb  redis.UniversalClient
	url  string
	opts redisadapter.Options
}

func newNode(t *testing.T, addr, key, name string, tweak func(*redisadapter.Options)) *node {
	t.Helper()
	return newNodeOn(t, redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1}), key, name, tweak)
}

// newNodeOn is newNode with its own Redis client (closed with the node).
func newNodeOn(t *testing.T, rdb redis.UniversalClient, key, name string, tweak func(*redisadapter.Options)) *node {
	t.Helper()
	o := &redisadapter.Options{Key: key, RequestsTimeout: 2 * time.Second, Logger: quiet}
	if tweak != nil {
		tweak(o)
	}
	srv, err := socketio.NewServer(&socketio.Options{Adapter: redisadapter.New(rdb, o), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{name: name, srv: srv, rdb: rdb, opts: *o}
	for _, nsp := range []*socketio.Namespace{srv.Of("/"), srv.Of("/chat")} {
		nsp.OnConnection(func(s *socketio.Socket) {
			var auth struct {
				Rooms []string        `json:"rooms"`
				Data  json.RawMessage `json:"data"`
			}
			s.Handshake().DecodeAuth(&auth)
			for _, r := range auth.Rooms {
				s.Join(socketio.Room(r))
			}
			if auth.Data != nil {
				s.SetData(auth.Data)
			}
			s.On("echo", func(s *socketio.Socket, e *socketio.Event) { e.Ack(e.Values()...) })
		})
	}
	n.http = httptest.NewServer(srv)
	n.url = n.http.URL
	t.Cleanup(n.close)
	return n
}

func (n *node) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.srv.Shutdown(ctx)
	n.http.Close()
	n.rdb.Close()
}

// waitRoom waits, with the sharded protocol in a dynamic subscription
// mode, until want servers listen to the channel of room (servers
// subscribe to it asynchronously when a socket joins), so that a
// broadcast to the room reaches them all.
func (n *node) waitRoom(t *testing.T, nsp, room string, want int) {
	t.Helper()
	if n.opts.Protocol != redisadapter.Sharded || n.opts.SubscriptionMode == redisadapter.SubscriptionStatic {
		return
	}
	channel := n.opts.Key + "#" + nsp + "#" + room + "#"
	eventually(t, fmt.Sprintf("%d subscribers of %s", want, channel), func() bool {
		return numSub(t, n.rdb, true, channel) == want
	})
}

// numSub is PUBSUB NUMSUB (or SHARDNUMSUB) of channel, summed over the
// masters of a Redis Cluster.
func numSub(t *testing.T, rdb redis.UniversalClient, sharded bool, channel string) int {
	t.Helper()
	ctx := ctxT(t)
	count := func(c redis.Cmdable) int {
		cmd := c.PubSubNumSub(ctx, channel)
		if sharded {
			cmd = c.PubSubShardNumSub(ctx, channel)
		}
		m, err := cmd.Result()
		if err != nil {
			t.Error(err) // may run on a goroutine of ForEachMaster
		}
		return int(m[channel])
	}
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return count(rdb)
	}
	var mu sync.Mutex
	total := 0
	cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		n := count(c)
		mu.Lock()
		total += n
		mu.Unlock()
		return nil
	})
	return total
}

func (n *node) adapter(nsp string) *redisadapter.Adapter {
	return n.srv.Of(nsp).Adapter().(*redisadapter.Adapter)
}

// client is a raw Socket.IO v5 client over websocket.
type client struct {
	t   *testing.T
	c   *wiretest.Conn
	sid string
	nsp string
}

func dial(t *testing.T, n *node, nsp string, auth string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wiretest.Dial(ctx, n.url, "/socket.io/", 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sid, err := c.ConnectSocketIO(nsp, auth, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// The connection handler joins the rooms and sets the data after the
	// CONNECT answer: wait for it, so that a broadcast that follows finds
	// the socket in its rooms.
	var want struct {
		Rooms []string        `json:"rooms"`
		Data  json.RawMessage `json:"data"`
	}
	json.Unmarshal([]byte(auth), &want)
	eventually(t, "the connection handler of "+sid, func() bool {
		s := n.srv.Of(nsp).Socket(sid)
		if s == nil {
			return false
		}
		for _, r := range want.Rooms {
			if !slices.Contains(s.Rooms(), socketio.Room(r)) {
				return false
			}
		}
		return want.Data == nil || s.Data() != nil
	})
	return &client{t: t, c: c, sid: sid, nsp: nsp}
}

// read returns the next packet, failing the test after timeout.
func (c *client) read(timeout time.Duration) string {
	c.t.Helper()
	p, err := c.c.Read(timeout)
	if err != nil {
		c.t.Fatalf("client %s: read: %v", c.sid, err)
	}
	return p
}

// expect reads the next packet and checks it is want.
func (c *client) expect(want string) {
	c.t.Helper()
	if got := c.read(5 * time.Second); got != want {
		c.t.Fatalf("client %s: got %q, want %q", c.sid, got, want)
	}
}

// eventually polls cond until it holds or 5s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func sharedAddr(t *testing.T) string { return redistest.Shared(t).Addr() }

// sniffer records every message published under a key prefix (PSUBSCRIBE,
// so it does not change the server count).
type sniffer struct {
	ps  *redis.PubSub
	mu  sync.Mutex
	got []*redis.Message
}

func sniff(t *testing.T, addr, key string) *sniffer {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	ps := rdb.PSubscribe(context.Background(), key+"*")
	if _, err := ps.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := &sniffer{ps: ps}
	ch := ps.Channel()
	go func() {
		for m := range ch {
			s.mu.Lock()
			s.got = append(s.got, m)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { ps.Close(); rdb.Close() })
	return s
}

// wait returns the first message on channel accepted by match.
func (s *sniffer) wait(t *testing.T, channel string, match func(payload string) bool) string {
	t.Helper()
	var out string
	eventually(t, "a message on "+channel, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, m := range s.got {
			if m.Channel == channel && (match == nil || match(m.Payload)) {
				out = m.Payload
				return true
			}
		}
		return false
	})
	return out
}

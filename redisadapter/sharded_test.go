package redisadapter_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/socketio"
)

// msgPayload is the payload of a message read from a PubSub.
func msgPayload(m any) string {
	if msg, ok := m.(*redis.Message); ok {
		return msg.Payload
	}
	return ""
}

// TestShardedSubscriptionModes checks, for each subscriptionMode of
// createShardedAdapter, which room channels a server listens to (and
// stops listening to), that broadcasts to a room, to a 20-character room
// and to a socket id arrive, and the bytes of a broadcast to one room: the
// JSON Node writes, or msgpack when it holds binary.
func TestShardedSubscriptionModes(t *testing.T) {
	const twenty = "abcdefghijklmnopqrst" // as long as a socket id
	for _, tc := range []struct {
		name           string
		mode           redisadapter.SubscriptionMode
		rooms, sidsToo bool // room channels for public rooms, for socket ids
	}{
		{"dynamic", redisadapter.SubscriptionDynamic, true, false},
		{"static", redisadapter.SubscriptionStatic, false, false},
		{"dynamic-private", redisadapter.SubscriptionDynamicPrivate, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, key := sharedAddr(t), keyFor(t)
			tweak := func(o *redisadapter.Options) { o.Protocol, o.SubscriptionMode = redisadapter.Sharded, tc.mode }
			a := newNode(t, addr, key, "A", tweak)
			b := newNode(t, addr, key, "B", tweak)
			c := dial(t, b, "/", `{"rooms":["r1","`+twenty+`"]}`)
			ctx := ctxT(t)
			subs := func(room string) int { return numSub(t, a.rdb, true, key+"#/#"+room+"#") }
			b2i := func(b bool) int {
				if b {
					return 1
				}
				return 0
			}
			eventually(t, "room channel subscriptions", func() bool {
				return subs("r1") == b2i(tc.rooms) && subs(twenty) == b2i(tc.rooms) && subs(c.sid) == b2i(tc.sidsToo)
			})

			// What a broadcast to one room looks like on the wire.
			ps := a.rdb.SSubscribe(ctx, key+"#/#gold#")
			defer ps.Close()
			if _, err := ps.Receive(ctx); err != nil {
				t.Fatal(err)
			}
			a.srv.Of("/").To("gold").Emit("g", 1)
			a.srv.Of("/").To("gold").Emit("b", []byte{1})
			m, err := ps.ReceiveTimeout(ctx, 300*time.Millisecond)
			if !tc.rooms {
				if err == nil {
					t.Errorf("static mode published on a room channel: %v", m)
				}
			} else {
				want := fmt.Sprintf(`{"type":3,"data":{"packet":{"type":2,"data":["g",1]},"opts":{"rooms":["gold"],"except":[],"flags":{}}},"uid":"%s","nsp":"/"}`, a.adapter("/").UID())
				if err != nil {
					t.Fatalf("room channel: %v", err)
				}
				if got := msgPayload(m); got != want {
					t.Errorf("broadcast to one room:\n got %s\nwant %s", got, want)
				}
				m, err = ps.ReceiveTimeout(ctx, time.Second)
				if p := msgPayload(m); err != nil || len(p) == 0 || p[0] != 0x84 {
					t.Errorf("binary broadcast not msgpack: %q, %v", p, err)
				}
			}

			for i, room := range []string{"r1", twenty, c.sid} {
				a.srv.Of("/").To(socketio.Room(room)).Emit("ev", i)
				c.expect(fmt.Sprintf(`42["ev",%d]`, i))
			}
			if err := a.srv.Of("/").In("r1").SocketsLeave(ctx, "r1"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "r1 unsubscribed", func() bool { return subs("r1") == 0 })
			c.c.Close()
			eventually(t, "all room channels unsubscribed", func() bool { return subs(twenty) == 0 && subs(c.sid) == 0 })
		})
	}
}

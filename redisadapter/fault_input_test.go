package redisadapter_test

import (
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/socketio"
)

// deepMsgpack is a msgpack array holding arrays nested depth deep.
func deepMsgpack(depth int) []byte {
	b := make([]byte, 0, depth+1)
	for range depth {
		b = append(b, 0x91)
	}
	return append(b, 0xc0)
}

func msgpackStr(s string) []byte { return append([]byte{0xa0 | byte(len(s))}, s...) }

// TestGarbageOnChannels publishes malformed messages on every channel of
// a namespace (among them a broadcast nested deeper than the decoder
// allows, as a Node server may send): the nodes keep serving, and every
// drop is logged as a warning with its channel and reason, rate-limited.
func TestGarbageOnChannels(t *testing.T) { eachProtocol(t, testGarbageOnChannels) }

func testGarbageOnChannels(t *testing.T, proto func(*redisadapter.Options)) {
	addr, key := sharedAddr(t), keyFor(t)
	var logs logRecorder
	tweak := func(o *redisadapter.Options) { proto(o); o.Logger = slog.New(&logs) }
	a := newNode(t, addr, key, "A", tweak)
	b := newNode(t, addr, key, "B", tweak)
	c1 := dial(t, a, "/", `{"rooms":["r"]}`)
	c2 := dial(t, b, "/", `{"rooms":["r"]}`)
	a.waitRoom(t, "/", "r", 2)
	sharded := a.opts.Protocol == redisadapter.Sharded

	// A classic broadcast [uid, {type, data: ["ev", deep], nsp}, opts]
	// nested 120 deep, and its sharded JSON twin.
	deep := []byte{0x93}
	deep = append(deep, msgpackStr("nodeuid")...)
	deep = append(deep, 0x83)
	deep = append(deep, msgpackStr("type")...)
	deep = append(deep, 0x02)
	deep = append(deep, msgpackStr("data")...)
	deep = append(deep, 0x92)
	deep = append(deep, msgpackStr("ev")...)
	deep = append(deep, deepMsgpack(120)...)
	deep = append(deep, msgpackStr("nsp")...)
	deep = append(deep, msgpackStr("/")...)
	deep = append(deep, 0x80)
	deepJSON := `{"type":3,"data":{"packet":{"type":2,"data":["ev",` + strings.Repeat("[", 120) + strings.Repeat("]", 120) + `]},"opts":{"rooms":[],"except":[],"flags":{}}},"uid":"nodeuid","nsp":"/"}`
	// The deep ones first: later drops of the same reason are logged once
	// per interval.
	garbage := [][]byte{
		deep, []byte(deepJSON), nil, []byte("\xc1"), []byte("{"), []byte("{}"), []byte("[]"), []byte("\x93\x01\x02\x03"),
		[]byte("\xdf\xff\xff\xff\xff"), []byte("\xdd\xff\xff\xff\xff"), []byte(`{"type":7,"requestId":"x","packet":"nope"}`),
		[]byte(`{"type":5,"requestId":"x","opts":7}`), []byte(`{"type":3,"data":{"packet":7},"uid":"x","nsp":"/"}`),
		[]byte(strings.Repeat("\xff", 1024)),
	}
	var channels []string
	if sharded {
		channels = []string{key + "#/#", key + "#/#r#", key + "#/#" + b.adapter("/").UID() + "#"}
	} else {
		channels = []string{key + "#/#", key + "#/#r#", key + "-request#/#", key + "-response#/#", key + "-response#/#" + b.adapter("/").UID() + "#"}
	}
	ctx := ctxT(t)
	sent := 0
	for range 3 {
		for _, ch := range channels {
			for _, g := range garbage {
				var err error
				if sharded {
					err = a.rdb.SPublish(ctx, ch, g).Err()
				} else {
					err = a.rdb.Publish(ctx, ch, g).Err()
				}
				if err != nil {
					t.Fatal(err)
				}
				sent++
			}
		}
	}
	// Still serving: a broadcast and a request across the nodes.
	a.srv.Of("/").To("r").Emit("after")
	c1.expect(`42["after"]`)
	c2.expect(`42["after"]`)
	if socks, err := a.srv.Of("/").FetchSockets(ctx); err != nil || len(socks) != 2 {
		t.Fatalf("FetchSockets after the garbage = %d, %v", len(socks), err)
	}
	broadcastChannel := key + "#/#"
	var warns []map[string]string
	eventually(t, "a warning for the deep broadcast", func() bool {
		warns = logs.warnings()
		for _, w := range warns {
			if w["channel"] == broadcastChannel && strings.Contains(w["err"], "deep") {
				return true
			}
		}
		return false
	})
	for _, w := range warns {
		if w["channel"] == "" || w["reason"] == "" {
			t.Errorf("warning without channel or reason: %v", w)
		}
	}
	if len(warns) >= sent/2 {
		t.Errorf("%d warnings for %d dropped messages: not rate-limited", len(warns), sent)
	}
	t.Logf("%d malformed messages, %d warnings, e.g. %v", sent, len(warns), warns[0])
}

// TestSlowNamespaceDoesNotStallOthers blocks the server-side event handler
// of /chat on B while A sends it 1,500 events: broadcasts to / still reach
// B's clients (a full /chat queue used to block the subscriber loop shared
// by all namespaces), and with the default bound no /chat event is lost.
// With a small InboundQueueBytes, /chat's events past the bound are
// dropped with a warning instead.
func TestSlowNamespaceDoesNotStallOthers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bound int
	}{{"default bound", 0}, {"small bound", 8 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			eachProtocol(t, func(t *testing.T, proto func(*redisadapter.Options)) {
				testSlowNamespace(t, proto, tc.bound)
			})
		})
	}
}

func testSlowNamespace(t *testing.T, proto func(*redisadapter.Options), bound int) {
	addr, key := sharedAddr(t), keyFor(t)
	var logs logRecorder
	tweak := func(o *redisadapter.Options) {
		proto(o)
		o.Logger = slog.New(&logs)
		o.InboundQueueBytes = bound
	}
	a := newNode(t, addr, key, "A", tweak)
	b := newNode(t, addr, key, "B", tweak)
	c2 := dial(t, b, "/", `{}`)
	release := make(chan struct{})
	var handled atomic.Int32
	b.srv.Of("/chat").OnServerSideEmit("slow", func(socketio.Args, func(...any)) {
		<-release
		handled.Add(1)
	})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the nodes close (cleanups run last first)

	const n = 1500
	ctx := ctxT(t)
	// A counter on /chat's request channel (it changes no server count).
	var ps *redis.PubSub
	if a.opts.Protocol == redisadapter.Sharded {
		ps = a.rdb.SSubscribe(ctx, key+"#/chat#")
	} else {
		ps = a.rdb.Subscribe(ctx, key+"-request#/chat#")
	}
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := a.srv.Of("/chat").ServerSideEmit(ctx, "slow", i); err != nil {
			t.Fatal(err)
		}
	}
	// Once Redis has published them all, a broadcast to / comes after
	// them on B's subscriber connection.
	for range n {
		if _, err := ps.ReceiveMessage(ctx); err != nil {
			t.Fatal(err)
		}
	}
	a.srv.Of("/").Emit("other")
	c2.expect(`42["other"]`)
	unblock()
	if bound == 0 {
		eventually(t, "every /chat event handled", func() bool { return handled.Load() == n })
		return
	}
	var dropped bool
	eventually(t, "a warning for the full /chat queue", func() bool {
		for _, w := range logs.warnings() {
			if w["reason"] == "namespace queue full" && w["nsp"] == "/chat" {
				dropped = true
			}
		}
		return dropped
	})
	// Every event counts 64 bytes plus its payload (> 40 bytes): at most
	// bound/104 wait, plus the one being handled.
	time.Sleep(200 * time.Millisecond)
	if got := handled.Load(); got == 0 || int(got) > bound/104+2 {
		t.Errorf("%d /chat events handled with a bound of %d bytes", got, bound)
	}
	t.Logf("bound %d bytes: %d of %d /chat events kept", bound, handled.Load(), n)
}

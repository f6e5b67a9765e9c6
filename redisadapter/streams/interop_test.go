package streams_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/redisadapter/streams"
)

var offsetRe = regexp.MustCompile(`,"([0-9]+-[0-9]+)"\]$`)

// offsetOf returns the offset a broadcast event carries.
func offsetOf(t *testing.T, packet string) string {
	t.Helper()
	m := offsetRe.FindStringSubmatch(packet)
	if m == nil {
		t.Fatalf("no offset in %q", packet)
	}
	return m[1]
}

// TestNodeBroadcastInterop: a Pier server and a Node server
// (@socket.io/redis-streams-adapter 0.3.1), both with connection state
// recovery, on one stream: broadcasts with rooms, except, volatile and
// binary go both ways, and every client gets the same entry id as offset.
func TestNodeBroadcastInterop(t *testing.T) {
	addr := redistest.Shared(t).Addr()
	stream := streamFor(t)
	g := newGoNode(t, addr, streams.Options{StreamName: stream, BlockTime: time.Second}, true)
	node, nodeURL := startNodeServer(t, addr, stream, true)
	g1 := dial(t, g.url, "/", `{"rooms":["r1"]}`)
	g3 := dial(t, g.url, "/", `{"rooms":["r1","r3"]}`)
	n1 := dial(t, nodeURL, "/", `{"rooms":["r1"]}`)
	n3 := dial(t, nodeURL, "/", `{"rooms":["r1","r3"]}`)
	nc := dial(t, nodeURL, "/chat", `{}`)

	// Go → Node.
	if err := g.srv.Of("/").To("r1").Except("r3").Emit("hi", 1.5, "é", nil, map[string]any{"nested": true}); err != nil {
		t.Fatal(err)
	}
	p := g1.read()
	id := offsetOf(t, p)
	want := `42["hi",1.5,"é",null,{"nested":true},"` + id + `"]`
	if p != want {
		t.Fatalf("go client got %q, want %q", p, want)
	}
	n1.expect(want)
	g.srv.Of("/").Volatile().Emit("vol", "v")
	g1.expect(`42["vol","v"]`)
	g3.expect(`42["vol","v"]`)
	n1.expect(`42["vol","v"]`)
	n3.expect(`42["vol","v"]`)
	g.srv.Of("/").Emit("bin", []byte{1, 2, 3})
	p = g1.read()
	id = offsetOf(t, p)
	want = `451-["bin",{"_placeholder":true,"num":0},"` + id + `"]`
	if p != want {
		t.Fatalf("go client got %q, want %q", p, want)
	}
	g1.expect("<binary 010203>")
	g3.expect(want)
	g3.expect("<binary 010203>")
	n1.expect(want)
	n1.expect("<binary 010203>")
	n3.expect(want)
	n3.expect("<binary 010203>")
	g.srv.Of("/chat").Emit("chatmsg", "c")
	p = nc.read()
	if want := `42/chat,["chatmsg","c","` + offsetOf(t, p) + `"]`; p != want {
		t.Fatalf("node /chat client got %q, want %q", p, want)
	}

	// Node → Go.
	node.call(map[string]any{"op": "emit", "rooms": []string{"r1"}, "except": []string{"r3"}, "args": []any{"fromNode", 1, map[string]any{"a": []int{1}}}})
	p = n1.read()
	id = offsetOf(t, p)
	want = `42["fromNode",1,{"a":[1]},"` + id + `"]`
	if p != want {
		t.Fatalf("node client got %q, want %q", p, want)
	}
	g1.expect(want)
	node.call(map[string]any{"op": "emit", "volatile": true, "args": []any{"nvol"}})
	for _, c := range []*client{n1, n3, g1, g3} {
		c.expect(`42["nvol"]`)
	}
	node.call(map[string]any{"op": "emit", "bin": true, "args": []any{"nbin"}})
	p = n3.read()
	id = offsetOf(t, p)
	want = `451-["nbin",{"_placeholder":true,"num":0},"` + id + `"]`
	if p != want {
		t.Fatalf("node client got %q, want %q", p, want)
	}
	for _, c := range []*client{g1, g3} {
		c.expect(want)
		c.expect("<binary 010203>")
	}
	// Nothing else arrived: r3 was excepted from the first broadcasts.
	node.call(map[string]any{"op": "emit", "args": []any{"end"}})
	g.srv.Of("/").Emit("end2")
	for _, c := range []*client{g3} {
		p := c.read()
		if want := `42["end","` + offsetOf(t, p) + `"]`; p != want {
			t.Fatalf("g3 got %q, want %q", p, want)
		}
	}
}

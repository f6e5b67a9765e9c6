package streams_test

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/redisadapter/streams"
)

var askRe = regexp.MustCompile(`^42([0-9]+)\["question",7\]$`)

// answer reads a question with an ack id and acknowledges it with reply.
func (c *client) answer(reply string) {
	c.t.Helper()
	p := c.read()
	m := askRe.FindStringSubmatch(p)
	if m == nil {
		c.t.Fatalf("client %s: got %q, want a question with an ack id", c.sid, p)
	}
	if err := c.c.Send("43" + m[1] + `["` + reply + `"]`); err != nil {
		c.t.Fatal(err)
	}
}

// TestNodeAckInterop: EmitWithAck gathers the acknowledgements of the
// clients of both servers, from Go and from Node.
func TestNodeAckInterop(t *testing.T) {
	addr := redistest.Shared(t).Addr()
	stream := streamFor(t)
	g := newGoNode(t, addr, streams.Options{StreamName: stream, BlockTime: time.Second}, false)
	node, nodeURL := startNodeServer(t, addr, stream, false)
	gc := dial(t, g.url, "/", `{}`)
	nc := dial(t, nodeURL, "/", `{}`)
	ad := g.srv.Of("/").Adapter().(*streams.Adapter)
	eventually(t, "server count 2", func() bool {
		n, err := ad.ServerCount(context.Background())
		return err == nil && n == 2
	})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan []string, 1)
	go func() {
		res, err := g.srv.Of("/").EmitWithAck(ctx, "question", 7)
		if err != nil {
			t.Error(err)
		}
		var out []string
		for _, r := range res {
			var s string
			r.Decode(&s)
			out = append(out, s)
		}
		slices.Sort(out)
		done <- out
	}()
	gc.answer("go-client")
	nc.answer("node-client")
	if got := <-done; !slices.Equal(got, []string{"go-client", "node-client"}) {
		t.Fatalf("go EmitWithAck: %v", got)
	}

	res := make(chan any, 1)
	go func() { res <- node.call(map[string]any{"op": "ask", "args": []any{"question", 7}}) }()
	gc.answer("go-client")
	nc.answer("node-client")
	b, _ := json.Marshal(<-res)
	var got []string
	json.Unmarshal(b, &got)
	slices.Sort(got)
	if !slices.Equal(got, []string{"go-client", "node-client"}) {
		t.Fatalf("node emitWithAck: %s", b)
	}
}

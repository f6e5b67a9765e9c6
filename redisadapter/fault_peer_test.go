package redisadapter_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/socketio"
)

// ackNext reads the next event of c, which must ask for an ack, and
// answers it with args.
func (c *client) ackNext(args string) string {
	c.t.Helper()
	p := c.read(5 * time.Second)
	m := regexp.MustCompile(`^42(\d+)(\[.*)$`).FindStringSubmatch(p)
	if m == nil {
		c.t.Fatalf("client %s: %q is not an event with an ack id", c.sid, p)
	}
	if err := c.c.Send("43" + m[1] + args); err != nil {
		c.t.Fatal(err)
	}
	return m[2]
}

// TestEmitWithAckPublishFails: with Redis down, EmitWithAck returns the
// acknowledgements of this server's clients and an error (it used to
// report success).
func TestEmitWithAckPublishFails(t *testing.T) { eachProtocol(t, testEmitWithAckPublishFails) }

func testEmitWithAckPublishFails(t *testing.T, proto func(*redisadapter.Options)) {
	rs := redistest.Start(t)
	a := newNode(t, rs.Addr(), "ackfail", "A", func(o *redisadapter.Options) { o.RequestsTimeout = 500 * time.Millisecond; proto(o) })
	c1 := dial(t, a, "/", `{}`)
	rs.Stop()
	type result struct {
		acks []socketio.Args
		err  error
	}
	done := make(chan result, 1)
	go func() {
		acks, err := a.srv.Of("/").Timeout(5*time.Second).EmitWithAck(context.Background(), "ask", 1)
		done <- result{acks, err}
	}()
	if got := c1.ackNext(`["yes"]`); got != `["ask",1]` {
		t.Fatalf("c1 got %s", got)
	}
	r := <-done
	if r.err == nil || errors.Is(r.err, socketio.ErrAckTimeout) {
		t.Fatalf("EmitWithAck with Redis down: err = %v, want the publish error", r.err)
	}
	if len(r.acks) != 1 || string(r.acks[0].Raw(0)) != `"yes"` {
		t.Fatalf("EmitWithAck with Redis down: acks %v, want the local one", r.acks)
	}
	t.Logf("EmitWithAck with Redis down: %d ack, err %v", len(r.acks), r.err)
}

// TestPeerKilledDuringRequests: a Node peer (socket.io 4.8.4 with the
// classic Redis adapter) is frozen, so that it is counted but does not
// answer, then killed while FetchSockets and ServerSideEmitWithAck wait
// for it: both return what the other servers answered, with an error
// wrapping ErrTimeout, within RequestsTimeout.
func TestPeerKilledDuringRequests(t *testing.T) {
	const timeout = 2 * time.Second
	rs := redistest.Shared(t)
	key := keyFor(t)
	sn := sniff(t, rs.Addr(), key)
	p := startNodeProc(t)
	portN, _ := p.server("N", rs.URL(), key, false, "")
	tweak := func(o *redisadapter.Options) { o.RequestsTimeout = timeout }
	a := newNode(t, rs.Addr(), key, "A", tweak)
	b := newNode(t, rs.Addr(), key, "B", tweak)
	b.srv.Of("/").OnServerSideEmit("ping", func(args socketio.Args, ack func(...any)) {
		if ack != nil {
			ack("pong-B")
		}
	})
	c1 := dial(t, a, "/", `{}`)
	c2 := dial(t, b, "/", `{}`)
	p.client("c3", fmt.Sprintf("http://127.0.0.1:%d", portN), "/", `{}`)
	ctx := ctxT(t)
	if socks, err := a.srv.Of("/").FetchSockets(ctx); err != nil || len(socks) != 3 {
		t.Fatalf("FetchSockets before = %d, %v", len(socks), err)
	}

	freeze(t, p)
	start := time.Now()
	var wg sync.WaitGroup
	var socks []*socketio.RemoteSocket
	var acks []socketio.Args
	var fetchErr, emitErr error
	wg.Add(2)
	go func() { defer wg.Done(); socks, fetchErr = a.srv.Of("/").FetchSockets(context.Background()) }()
	go func() {
		defer wg.Done()
		acks, emitErr = a.srv.Of("/").ServerSideEmitWithAck(context.Background(), "ping")
	}()
	reqChannel := key + "-request#/#"
	sn.wait(t, reqChannel, func(p string) bool { return strings.Contains(p, `"type":5`) })
	sn.wait(t, reqChannel, func(p string) bool { return strings.Contains(p, `"type":6`) && strings.Contains(p, `"requestId"`) })
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	elapsed := time.Since(start)
	ids := make([]string, len(socks))
	for i, s := range socks {
		ids[i] = s.ID
	}
	slices.Sort(ids)
	want := []string{c1.sid, c2.sid}
	slices.Sort(want)
	if !slices.Equal(ids, want) || !errors.Is(fetchErr, redisadapter.ErrTimeout) {
		t.Errorf("FetchSockets with a dead peer = %v, %v; want %v and a timeout", ids, fetchErr, want)
	}
	if len(acks) != 1 || string(acks[0].Raw(0)) != `"pong-B"` || !errors.Is(emitErr, redisadapter.ErrTimeout) {
		t.Errorf("ServerSideEmitWithAck with a dead peer = %v, %v; want B's ack and a timeout", acks, emitErr)
	}
	if elapsed > timeout+3*time.Second {
		t.Errorf("the requests took %v (RequestsTimeout %v)", elapsed, timeout)
	}
	t.Logf("dead peer: %d sockets and %d ack after %v; errors %v / %v", len(socks), len(acks), elapsed, fetchErr, emitErr)
}

// freeze stops a Node process (SIGSTOP): its connections stay open, so
// Redis still counts it, and it answers nothing.
func freeze(t *testing.T, p *nodeProc) {
	t.Helper()
	if err := p.cmd.Process.Signal(sigStop); err != nil {
		t.Fatal(err)
	}
}

package streams_test

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/redisadapter/streams"
)

var seqRe = regexp.MustCompile(`^42\["seq",([0-9]+)(,"[0-9]+-[0-9]+")?\]$`)

// readSeq reads the "seq" events of c until "end", returning their numbers
// and whether each carried an offset.
func readSeq(t *testing.T, c *client) (seq []int, offsets int) {
	t.Helper()
	for {
		p := c.read()
		if p == `42["end"]` || len(p) > 8 && p[:8] == `42["end"` {
			return seq, offsets
		}
		m := seqRe.FindStringSubmatch(p)
		if m == nil {
			t.Fatalf("unexpected packet %q", p)
		}
		n, _ := strconv.Atoi(m[1])
		seq = append(seq, n)
		if m[2] != "" {
			offsets++
		}
	}
}

// TestRedisRestartLoss: server A broadcasts a steady sequence while Redis
// (no persistence) is stopped and started again.
//
// With the retry queue (the default), measured guarantee: A's own client
// gets every event, in order, at once; B's client gets every event too, in
// order and once, those published during the outage when Redis is back.
// A's client got no offset for the events queued during the outage.
//
// Without it (RetryFor < 0): A's client still gets every event; B's
// client gets, in order and once, exactly the events whose XADD
// succeeded, and every one published after Redis came back; the events
// published during the outage are lost for it.
func TestRedisRestartLoss(t *testing.T) {
	for _, retry := range []bool{true, false} {
		name := "retry"
		if !retry {
			name = "no-retry"
		}
		t.Run(name, func(t *testing.T) { testRedisRestartLoss(t, retry) })
	}
}

func testRedisRestartLoss(t *testing.T, retry bool) {
	rs := redistest.Start(t)
	o := streams.Options{StreamName: "loss", BlockTime: 500 * time.Millisecond, PublishTimeout: 300 * time.Millisecond}
	if !retry {
		o.RetryFor = -1
	}
	a := newGoNode(t, rs.Addr(), o, true)
	b := newGoNode(t, rs.Addr(), o, true)
	ca := dial(t, a.url, "/", `{}`)
	cb := dial(t, b.url, "/", `{}`)

	const n = 150
	failed := map[int]bool{}
	firstAfter := -1
	for i := range n {
		switch i {
		case n / 3:
			rs.Stop()
		case n / 2:
			rs.Restart(t)
		}
		if err := a.srv.Of("/").Emit("seq", i); err != nil {
			failed[i] = true
		} else if i >= n/2 && firstAfter < 0 {
			firstAfter = i
		}
		time.Sleep(5 * time.Millisecond)
	}
	// "end" is retried until it is in the stream.
	eventually(t, "end published", func() bool { return a.srv.Of("/").Emit("end") == nil })

	seqA, offA := readSeq(t, ca)
	seqB, offB := readSeq(t, cb)
	for i := range n {
		if i >= len(seqA) || seqA[i] != i {
			t.Fatalf("A's client: %v, want 0..%d", seqA, n-1)
		}
	}
	if offA == n {
		t.Fatalf("A's client got an offset with every event: the outage was not seen")
	}
	if retry {
		if len(failed) != 0 {
			t.Errorf("%d emits failed with the retry queue", len(failed))
		}
		for i := range n {
			if i >= len(seqB) || seqB[i] != i || len(seqB) != n {
				t.Fatalf("B's client: %v, want 0..%d", seqB, n-1)
			}
		}
		t.Logf("sent %d; A's client got %d (%d with offsets: the others were queued while Redis was down); B's client got %d, in order",
			n, len(seqA), offA, len(seqB))
		return
	}
	if offA != n-len(failed) {
		t.Errorf("A's client: %d events with an offset, want %d (the published ones)", offA, n-len(failed))
	}
	if len(failed) == 0 || firstAfter < 0 {
		t.Fatalf("the outage was not seen: %d failed, first success after restart %d", len(failed), firstAfter)
	}
	last := -1
	for _, s := range seqB {
		if s <= last {
			t.Fatalf("B's client: out of order or duplicate: %v", seqB)
		}
		if failed[s] {
			t.Fatalf("B's client got %d, whose publish failed", s)
		}
		last = s
	}
	got := map[int]bool{}
	for _, s := range seqB {
		got[s] = true
	}
	for i := firstAfter; i < n; i++ {
		if !failed[i] && !got[i] {
			t.Errorf("B's client missed %d, published after Redis came back", i)
		}
	}
	lostBefore := 0
	for i := 0; i < n/3; i++ {
		if !got[i] {
			lostBefore++
		}
	}
	t.Logf("sent %d; publish failed for %d (Redis down); A's client got %d; B's client got %d (%d with offsets), %d of those published before the stop were lost",
		n, len(failed), len(seqA), len(seqB), offB, lostBefore)
}

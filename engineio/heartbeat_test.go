package engineio

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestHeartbeatHeap arms, re-arms and stops deadlines at random and checks
// after each step that the heap is ordered, that every session knows its
// place, and that the timer is set no later than the earliest deadline.
func TestHeartbeatHeap(t *testing.T) {
	var h heartbeats
	sessions := make([]*Session, 300)
	for i := range sessions {
		sessions[i] = &Session{}
	}
	armed := map[*Session]int64{}
	base := time.Now().Add(time.Hour) // never fires during the test
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 20000 {
		s := sessions[rng.IntN(len(sessions))]
		if rng.IntN(3) == 0 {
			h.stop(s)
			delete(armed, s)
		} else {
			due := base.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
			h.arm(s, due)
			armed[s] = hbNanos(due)
		}
		if len(h.heap) != len(armed) {
			t.Fatalf("step %d: %d entries, want %d", step, len(h.heap), len(armed))
		}
		for i, e := range h.heap {
			if e.s.hbIndex != i+1 || armed[e.s] != e.at {
				t.Fatalf("step %d: entry %d: index %d, at %d, want %d", step, i, e.s.hbIndex, e.at, armed[e.s])
			}
			if i > 0 && h.heap[(i-1)/2].at > e.at {
				t.Fatalf("step %d: entry %d before its parent", step, i)
			}
		}
		// Set for the earliest deadline or before it (a deadline moved
		// later leaves the timer to fire early and set itself again).
		if len(h.heap) > 0 && (h.next == 0 || h.next > h.heap[0].at) {
			t.Fatalf("step %d: timer set for %d, earliest deadline %d", step, h.next, h.heap[0].at)
		}
		if len(h.heap) == 0 && h.next != 0 {
			t.Fatalf("step %d: timer set with no deadline", step)
		}
	}
	for _, s := range sessions {
		h.stop(s)
	}
	if h.next != 0 || len(h.heap) != 0 {
		t.Fatalf("after stopping all: %d entries, timer %d", len(h.heap), h.next)
	}
}

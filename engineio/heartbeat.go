package engineio

import (
	"sync"
	"time"
)

// hbEpoch is the origin of heartbeat deadlines in nanoseconds (monotonic).
var hbEpoch = time.Now()

// hbNanos returns t as nanoseconds since hbEpoch.
func hbNanos(t time.Time) int64 { return int64(t.Sub(hbEpoch)) }

// hbTime is the time of n nanoseconds since hbEpoch.
func hbTime(n int64) time.Time { return hbEpoch.Add(time.Duration(n)) }

// heartbeats holds the heartbeat deadlines of a server's sessions in one
// min-heap, with one runtime timer set for the earliest: a session costs
// an entry in the heap rather than a timer of its own. When deadlines
// pass, their sessions' onTimer run one after the other on the timer's
// goroutine, outside the lock.
//
// Concurrency: safe for concurrent use. mu is taken under Session.mu
// (arm, stop) and never the other way round.
type heartbeats struct {
	mu    sync.Mutex
	heap  []hbEntry   // min-heap on at
	timer *time.Timer // runs fire; made on the first arm
	next  int64       // when timer is set to fire (hbNanos), 0 when not set
}

type hbEntry struct {
	at int64 // hbNanos of the deadline
	s  *Session
}

// arm sets the deadline of s to due, in place of any it had. s.mu is held.
func (h *heartbeats) arm(s *Session, due time.Time) {
	at := hbNanos(due)
	h.mu.Lock()
	if i := s.hbIndex - 1; i >= 0 {
		old := h.heap[i].at
		h.heap[i].at = at
		if at < old {
			h.up(i)
		} else {
			h.down(i)
		}
	} else {
		h.heap = append(h.heap, hbEntry{at: at, s: s})
		s.hbIndex = len(h.heap)
		h.up(len(h.heap) - 1)
	}
	h.scheduleLocked()
	h.mu.Unlock()
}

// stop removes the deadline of s, if it has one. s.mu is held.
func (h *heartbeats) stop(s *Session) {
	h.mu.Lock()
	if i := s.hbIndex - 1; i >= 0 {
		h.removeLocked(i)
		h.scheduleLocked()
	}
	h.mu.Unlock()
}

// fire runs the sessions whose deadline has passed.
func (h *heartbeats) fire() {
	now := hbNanos(time.Now())
	var due []*Session
	h.mu.Lock()
	h.next = 0
	for len(h.heap) > 0 && h.heap[0].at <= now {
		due = append(due, h.heap[0].s)
		h.removeLocked(0)
	}
	h.scheduleLocked()
	h.mu.Unlock()
	for _, s := range due {
		s.onTimer()
	}
}

// scheduleLocked sets the timer for the earliest deadline. h.mu is held.
func (h *heartbeats) scheduleLocked() {
	if len(h.heap) == 0 {
		if h.next != 0 {
			h.timer.Stop()
			h.next = 0
		}
		return
	}
	at := h.heap[0].at
	if h.next != 0 && h.next <= at {
		return // set for then or earlier; fire sets it again
	}
	d := time.Duration(at - hbNanos(time.Now()))
	if h.timer == nil {
		h.timer = time.AfterFunc(d, h.fire)
	} else {
		h.timer.Reset(d)
	}
	h.next = at
}

// removeLocked removes the entry at i. h.mu is held.
func (h *heartbeats) removeLocked(i int) {
	h.heap[i].s.hbIndex = 0
	last := len(h.heap) - 1
	if i != last {
		h.heap[i] = h.heap[last]
		h.heap[i].s.hbIndex = i + 1
	}
	h.heap[last] = hbEntry{}
	h.heap = h.heap[:last]
	if i != last {
		h.down(i)
		h.up(i)
	}
	if cap(h.heap) > 64 && len(h.heap) < cap(h.heap)/4 {
		h.heap = append([]hbEntry(nil), h.heap...) // give back what a burst left
	}
}

func (h *heartbeats) swap(i, j int) {
	h.heap[i], h.heap[j] = h.heap[j], h.heap[i]
	h.heap[i].s.hbIndex = i + 1
	h.heap[j].s.hbIndex = j + 1
}

func (h *heartbeats) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h.heap[p].at <= h.heap[i].at {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *heartbeats) down(i int) {
	n := len(h.heap)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && h.heap[c+1].at < h.heap[c].at {
			c++
		}
		if h.heap[i].at <= h.heap[c].at {
			return
		}
		h.swap(i, c)
		i = c
	}
}

package upstream

import (
	"testing"
	"time"
)

// A ticket's answer is taken once; answers older than ticketTTL are
// neither taken nor kept (the next put sweeps them).
func TestTickets(t *testing.T) {
	var tk tickets
	a := &connectAnswer{Rooms: []string{"r"}}
	id := tk.put(a)
	if len(id) != 32 {
		t.Fatalf("ticket %q", id)
	}
	if got, ok := tk.take(id); !ok || got != a {
		t.Fatalf("take: %v %v", got, ok)
	}
	if _, ok := tk.take(id); ok {
		t.Fatal("taken twice")
	}
	if _, ok := tk.take("forged"); ok {
		t.Fatal("unknown ticket taken")
	}

	old := tk.put(a)
	tk.mu.Lock()
	v := tk.m[old]
	v.at = time.Now().Add(-2 * ticketTTL)
	tk.m[old] = v
	tk.swept = time.Time{} // due for a sweep
	tk.mu.Unlock()
	if _, ok := tk.take(old); ok {
		t.Fatal("an expired answer was taken")
	}

	for range 3 {
		tk.put(a) // left behind: their sockets never came
	}
	tk.mu.Lock()
	for k, v := range tk.m {
		v.at = time.Now().Add(-2 * ticketTTL)
		tk.m[k] = v
	}
	tk.swept = time.Time{}
	tk.mu.Unlock()
	tk.put(a)
	if n := tk.pending(); n != 1 {
		t.Fatalf("%d answers kept after the sweep, want 1", n)
	}
}

package upstream

import (
	"encoding/json"
	"runtime"
	"strings"
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

// Answers that no socket takes are bounded in bytes: offering 64 MiB of
// them keeps at most maxTicketBytes, measured on the heap.
func TestTicketsBound(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var tk tickets
	data := json.RawMessage(`"` + strings.Repeat("x", 1<<20-2) + `"`)
	kept := 0
	for range 64 {
		a := &connectAnswer{Data: append(json.RawMessage(nil), data...)}
		if tk.put(a) != "" {
			kept++
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("kept %d of 64 answers of 1 MiB, %d bytes counted, heap grew %.1f MiB", kept, tk.bytes, float64(grown)/(1<<20))
	if kept == 0 || kept >= 16 || tk.bytes > maxTicketBytes {
		t.Errorf("kept %d answers, %d bytes", kept, tk.bytes)
	}
	if grown > maxTicketBytes+4<<20 {
		t.Errorf("heap grew %d bytes, bound %d", grown, maxTicketBytes)
	}
	runtime.KeepAlive(&tk)
	// Taken answers free their room.
	for id := range tk.m {
		tk.take(id)
	}
	if tk.bytes != 0 || tk.put(&connectAnswer{Data: data}) == "" {
		t.Errorf("after taking all: %d bytes counted", tk.bytes)
	}
}

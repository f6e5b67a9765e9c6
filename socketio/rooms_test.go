package socketio

import (
	"strconv"
	"testing"
	"time"
)

// One socket joining 100,000 rooms stays within the default bound of rooms
// per socket: the heap grows by what 10,000 rooms take, not 100,000.
func TestRoomsPerSocketBoundedHeap(t *testing.T) {
	const joins = 100_000
	srv, url := newTestServer(t, nil)
	done := make(chan int, 1)
	srv.OnConnection(func(s *Socket) {
		s.On("join-many", func(s *Socket, e *Event) {
			for i := range joins {
				s.Join(Room("room-" + strconv.Itoa(i)))
			}
			done <- len(s.Rooms())
		})
	})
	c := dialRaw(t, url, 4)
	c.Send("40")
	readUntil(t, c, "40")
	before := heapAlloc()
	c.Send(`42["join-many"]`)
	var rooms int
	select {
	case rooms = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("joins did not finish")
	}
	growth := heapAlloc() - before
	t.Logf("%d joins from one socket: in %d rooms, heap +%d bytes", joins, rooms, growth)
	if rooms != 10_000 {
		t.Errorf("socket in %d rooms, want the default bound 10000", rooms)
	}
	if growth > 8<<20 {
		t.Errorf("heap grew by %d bytes", growth)
	}
}

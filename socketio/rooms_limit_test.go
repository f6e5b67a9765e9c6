package socketio

import (
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/syncbuf"
)

// Past MaxRoomsPerSocket a join is refused as a whole with
// ErrTooManyRooms and a warning (once per socket); rooms the socket is in already, and
// repeated names, do not count twice; leaving makes room again.
func TestMaxRoomsPerSocket(t *testing.T) {
	var logs syncbuf.Buffer
	srv, url := newTestServer(t, &Options{MaxRoomsPerSocket: 5, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	type step struct {
		join    []Room
		leave   []Room
		wantErr bool
		rooms   int // after the step, its id room included
	}
	steps := []step{
		{join: []Room{"a", "b", "c"}, rooms: 4},
		{join: []Room{"a", "d", "d"}, rooms: 5},
		{join: []Room{"e"}, wantErr: true, rooms: 5},
		{join: []Room{"a", "b"}, rooms: 5},
		{join: []Room{"e", "f"}, wantErr: true, rooms: 5},
		{leave: []Room{"a"}, join: []Room{"e"}, rooms: 5},
	}
	result := make(chan string, 1)
	srv.OnConnection(func(s *Socket) {
		var fails []string
		for i, st := range steps {
			s.Leave(st.leave...)
			err := s.Join(st.join...)
			if (err != nil) != st.wantErr || (err != nil && !errors.Is(err, ErrTooManyRooms)) {
				fails = append(fails, "step "+strconv.Itoa(i)+": err "+errString(err))
			}
			if n := len(s.Rooms()); n != st.rooms {
				fails = append(fails, "step "+strconv.Itoa(i)+": rooms "+strconv.Itoa(n))
			}
		}
		result <- strings.Join(fails, "; ")
	})
	c := dialRaw(t, url, 4)
	c.Send("40")
	readUntil(t, c, "40")
	if r := <-result; r != "" {
		t.Fatal(r)
	}
	if n := strings.Count(logs.String(), "level=WARN msg=\"socketio: join refused, the socket would be in too many rooms\""); n != 1 {
		t.Fatalf("%d warnings, want 1 (once per socket); logs:\n%s", n, logs.String())
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

package socketio

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestLocalAdapterRoomsMatchModel runs random joins and leaves on a
// LocalAdapter (which keeps a socket's own room as a flag and few rooms in
// a slice) and on a plain map of sets, and checks that every selection of
// recipients, every socket's rooms and the room list agree.
func TestLocalAdapterRoomsMatchModel(t *testing.T) {
	srv, err := NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"s1", "s2", "s3", "s4"}
	// Rooms: the sockets' own rooms (and one of a socket that never
	// connects), two shared rooms, and enough others to cross manyRooms.
	rooms := []Room{"s1", "s2", "s3", "s4", "ghost", "a", "b"}
	for i := range manyRooms + 4 {
		rooms = append(rooms, Room("r"+string(rune('A'+i))))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 40 {
		a := NewLocal(srv.Of("/"))
		model := map[string]map[Room]bool{} // socket → rooms; present while connected
		pick := func() Room { return rooms[rng.IntN(len(rooms))] }
		for step := range 400 {
			id := ids[rng.IntN(len(ids))]
			switch op := rng.IntN(10); {
			case op < 6:
				rs := []Room{pick()}
				if op == 0 {
					rs = append(rs, pick(), Room(id))
				}
				a.Join(id, rs...)
				if model[id] == nil {
					model[id] = map[Room]bool{}
				}
				for _, r := range rs {
					model[id][r] = true
				}
			case op < 9:
				r := pick()
				a.Leave(id, r)
				delete(model[id], r)
			default:
				a.LeaveAll(id)
				delete(model, id)
			}
			for _, sid := range ids {
				got := a.SocketRooms(sid)
				var want []Room
				for r := range model[sid] {
					want = append(want, r)
				}
				if model[sid][Room(sid)] && (len(got) == 0 || got[0] != Room(sid)) {
					t.Fatalf("round %d step %d: rooms of %s %v: own room not first", round, step, sid, got)
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Fatalf("round %d step %d: rooms of %s = %v, want %v", round, step, sid, got, want)
				}
			}
			var wantRooms []Room
			for _, r := range rooms {
				in := false
				for _, m := range model {
					in = in || m[r]
				}
				if in {
					wantRooms = append(wantRooms, r)
				}
				if a.HasRoom(r) != in {
					t.Fatalf("round %d step %d: HasRoom(%s) = %v, want %v", round, step, r, !in, in)
				}
			}
			gotRooms := a.Rooms()
			slices.Sort(gotRooms)
			slices.Sort(wantRooms)
			if !slices.Equal(gotRooms, wantRooms) {
				t.Fatalf("round %d step %d: Rooms() = %v, want %v", round, step, gotRooms, wantRooms)
			}
			for range 3 {
				var opts BroadcastOptions
				for range rng.IntN(3) {
					opts.Rooms = append(opts.Rooms, pick())
				}
				for range rng.IntN(3) {
					opts.Except = append(opts.Except, pick())
				}
				var got, want []string
				a.each(opts, func(id string) { got = append(got, id) })
				for sid, m := range model {
					in := len(opts.Rooms) == 0
					for _, r := range opts.Rooms {
						in = in || m[r]
					}
					for _, r := range opts.Except {
						in = in && !m[r]
					}
					if in {
						want = append(want, sid)
					}
				}
				slices.Sort(want)
				if len(slices.Compact(slices.Clone(got))) != len(got) {
					t.Fatalf("round %d step %d: %+v visited a socket twice: %v", round, step, opts, got)
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("round %d step %d: recipients of %+v = %v, want %v", round, step, opts, got, want)
				}
			}
		}
	}
}

// TestSocketListenersMatchModel adds and removes handlers of random event
// names on a socket (a slice of names while few, a map past fewEvents) and
// checks every name's handlers against a plain map.
func TestSocketListenersMatchModel(t *testing.T) {
	names := make([]string, fewEvents+6)
	for i := range names {
		names[i] = "ev" + string(rune('a'+i))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 30 {
		s := &Socket{}
		model := map[string]int{} // handlers per name
		var offs []func()
		var offNames []string
		for step := range 300 {
			name := names[rng.IntN(len(names))]
			switch op := rng.IntN(10); {
			case op < 6:
				offs = append(offs, s.On(name, func(*Socket, *Event) {}))
				offNames = append(offNames, name)
				model[name]++
			case op < 9 && len(offs) > 0:
				i := rng.IntN(len(offs))
				offs[i]()
				offs[i] = func() {} // removing twice does nothing
				if offNames[i] != "" {
					model[offNames[i]]--
					offNames[i] = ""
				}
			default:
				s.Off(name)
				model[name] = 0
				for i, n := range offNames {
					if n == name {
						offNames[i] = ""
					}
				}
			}
			for _, n := range names {
				if got := s.ListenerCount(n); got != model[n] {
					t.Fatalf("round %d step %d: %d handlers of %s, want %d", round, step, got, n, model[n])
				}
			}
		}
	}
}

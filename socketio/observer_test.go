package socketio_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/wiretest"
	"github.com/pierhq/pier/socketio"
)

// obsRecorder keeps what an Observer saw, as lines.
type obsRecorder struct {
	mu    sync.Mutex
	lines []string
	in    int
}

func (r *obsRecorder) add(format string, args ...any) {
	r.mu.Lock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *obsRecorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

func (r *obsRecorder) observer() *socketio.Observer {
	return &socketio.Observer{
		ConnOpened: func(*engineio.Session) { r.add("open") },
		ConnClosed: func(_ *engineio.Session, reason string) { r.add("close %s", reason) },
		MessageIn: func(*engineio.Session, engineio.Message) {
			r.mu.Lock()
			r.in++
			r.mu.Unlock()
		},
		SocketConnected: func(s *socketio.Socket) {
			r.add("connected %s", strings.ReplaceAll(fmt.Sprint(s.Rooms()), s.ID(), "self"))
		},
		SocketDisconnected: func(s *socketio.Socket, reason string) { r.add("disconnected %s", reason) },
		RoomsJoined: func(n *socketio.Namespace, id string, rooms []socketio.Room) {
			r.add("joined %s", strings.ReplaceAll(fmt.Sprint(rooms), id, "self"))
		},
		RoomsLeft: func(n *socketio.Namespace, id string, rooms []socketio.Room) {
			r.add("left %s", strings.ReplaceAll(fmt.Sprint(rooms), id, "self"))
		},
		EventReceived: func(s *socketio.Socket, e *socketio.Event) { r.add("received %s %d", e.Name, e.Args.Len()) },
		EventSent:     func(s *socketio.Socket, p *socketio.Packet) { r.add("sent %s", p.Data) },
	}
}

// TestObserver checks the order and content of what an observer is told
// for one socket's life: rooms reported once per change, the own room
// before the socket and first when leaving, direct and broadcast sends.
func TestObserver(t *testing.T) {
	t.Parallel()
	io, err := socketio.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &obsRecorder{}
	io.Observe(rec.observer())
	io.OnConnection(func(s *socketio.Socket) {
		s.Join("b", "a")
		s.Join("a") // already in: not reported again
		s.On("go", func(s *socketio.Socket, e *socketio.Event) {
			s.Emit("direct", 1)
			io.To("a").Emit("bcast", 2)
			s.Leave("b", "zzz") // only b was joined
			s.Disconnect(false)
		})
	})
	srv := httptest.NewServer(io)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wiretest.Dial(ctx, srv.URL, "/socket.io/", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Send("40")
	if p, err := c.Read(5 * time.Second); err != nil || !strings.HasPrefix(p, "40") {
		t.Fatalf("CONNECT reply %q, %v", p, err)
	}
	c.Send(`42["go","x"]`)
	for {
		p, err := c.Read(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if p == "41" {
			break
		}
	}
	c.Close()
	// The connection's end is not ordered with the socket's own
	// disconnection (the client closes once it reads the DISCONNECT, which
	// the server sends first): it is compared apart.
	want := []string{"open", "joined [self]", "connected [self]", "joined [b a]", "received go 1",
		`sent ["direct",1]`, `sent ["bcast",2]`, "left [b]", "disconnected server namespace disconnect",
		"left [self a]"}
	const closed = "close transport close"
	split := func() ([]string, bool) {
		got := rec.snapshot()
		i := slices.Index(got, closed)
		if i >= 0 {
			got = slices.Delete(got, i, i+1)
		}
		return got, i >= 0
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, sawClose := split()
		if slices.Equal(got, want) && sawClose {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("observed\n %q (connection closed: %v)\nwant\n %q and %q", got, sawClose, want, closed)
		}
		time.Sleep(10 * time.Millisecond)
	}
	rec.mu.Lock()
	in := rec.in
	rec.mu.Unlock()
	if in != 2 {
		t.Errorf("MessageIn called %d times, want 2 (CONNECT and the event)", in)
	}
}

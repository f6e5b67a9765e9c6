package socketio_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/wiretest"
	"github.com/pierhq/pier/socketio"
)

func TestConnectionStateRecovery(t *testing.T) {
	t.Parallel()
	io, err := socketio.NewServer(&socketio.Options{ConnectionStateRecovery: &socketio.RecoveryOptions{}})
	if err != nil {
		t.Fatal(err)
	}
	connected := make(chan *socketio.Socket, 4)
	gone := make(chan string, 4)
	middlewareRuns := 0
	io.Use(func(s *socketio.Socket) error { middlewareRuns++; return nil })
	io.OnConnection(func(s *socketio.Socket) {
		if !s.Recovered() {
			s.Join("r")
			s.SetData("data of " + s.ID())
		}
		s.OnDisconnect(func(_ *socketio.Socket, reason string) { gone <- reason })
		connected <- s
	})
	srv := httptest.NewServer(io)
	defer srv.Close()
	ctx := context.Background()

	c1, err := wiretest.Dial(ctx, srv.URL, "/socket.io/", 4)
	if err != nil {
		t.Fatal(err)
	}
	c1.Send("40")
	var hello struct{ SID, PID string }
	reply := mustRead(t, c1)
	if err := json.Unmarshal([]byte(strings.TrimPrefix(reply, "40")), &hello); err != nil || hello.SID == "" || hello.PID == "" {
		t.Fatalf("CONNECT reply %q: want sid and pid", reply)
	}
	first := <-connected

	// A broadcast carries an offset as its last argument.
	io.To("r").Emit("news", 1)
	var args []any
	if err := json.Unmarshal([]byte(strings.TrimPrefix(mustRead(t, c1), "42")), &args); err != nil || len(args) != 3 {
		t.Fatalf("news = %v, %v: want [news 1 offset]", args, err)
	}
	offset := args[2].(string)

	// The connection drops; what is broadcast meanwhile is kept.
	c1.Close()
	if r := <-gone; r != "transport close" {
		t.Fatalf("disconnect reason %q", r)
	}
	io.To("r").Emit("news", 2)
	io.To("other").Emit("news", "not for it")
	io.Emit("all", 3)

	c2, err := wiretest.Dial(ctx, srv.URL, "/socket.io/", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.Send(`40{"pid":"` + hello.PID + `","offset":"` + offset + `"}`)
	if got, want := mustRead(t, c2), `40{"sid":"`+hello.SID+`","pid":"`+hello.PID+`"}`; got != want {
		t.Fatalf("reconnect reply %q, want %q", got, want)
	}
	for _, want := range []string{`42["news",2,`, `42["all",3,`} {
		if got := mustRead(t, c2); !strings.HasPrefix(got, want) {
			t.Fatalf("missed packet %q, want prefix %q", got, want)
		}
	}
	s := <-connected
	if !s.Recovered() || s.ID() != first.ID() || s.Data() != "data of "+first.ID() {
		t.Fatalf("recovered=%v id=%q data=%v, want the first socket's state", s.Recovered(), s.ID(), s.Data())
	}
	if rooms := s.Rooms(); len(rooms) != 2 {
		t.Errorf("rooms %v, want its id room and r", rooms)
	}
	if middlewareRuns != 1 {
		t.Errorf("middleware ran %d times, want once (skipped on recovery)", middlewareRuns)
	}

	// An unknown offset (or a session already restored) starts afresh.
	c3, err := wiretest.Dial(ctx, srv.URL, "/socket.io/", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	c3.Send(`40{"pid":"` + hello.PID + `","offset":"nope"}`)
	if got := mustRead(t, c3); strings.Contains(got, hello.SID) {
		t.Fatalf("reply %q reused the old sid", got)
	}
	if s := <-connected; s.Recovered() {
		t.Fatal("recovered with an unknown session")
	}
}

func mustRead(t *testing.T, c *wiretest.Conn) string {
	t.Helper()
	p, err := c.Read(2 * time.Second)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return p
}

package redisadapter_test

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/socketio"
	"github.com/redis/go-redis/v9"
)

// The server reaches the adapter's local part through Local (the adapter
// no longer embeds it): Options.MaxRoomsPerSocket still refuses a join
// past the limit, and the rooms live in that part.
func TestLocalPartEnforcesRoomLimit(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: sharedAddr(t)})
	defer rdb.Close()
	o := &redisadapter.Options{Key: keyFor(t), RequestsTimeout: 2 * time.Second, Logger: quiet}
	srv, err := socketio.NewServer(&socketio.Options{Adapter: redisadapter.New(rdb, o), Logger: quiet, MaxRoomsPerSocket: 3})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	srv.Of("/").OnConnection(func(s *socketio.Socket) {
		if err := s.Join("a", "b"); err != nil { // with its own id room: 3
			got <- err
			return
		}
		got <- s.Join("c")
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(ctxT(t))
	n := &node{srv: srv, url: hs.URL}
	dial(t, n, "/", "{}")
	select {
	case err := <-got:
		if !errors.Is(err, socketio.ErrTooManyRooms) {
			t.Fatalf("join past the limit: got %v, want ErrTooManyRooms", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no connection")
	}
	a := n.adapter("/")
	if !a.Local().HasRoom("a") || a.Local().HasRoom("c") {
		t.Fatalf("local rooms: %v", a.Local().Rooms())
	}
}

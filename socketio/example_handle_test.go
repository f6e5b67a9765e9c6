package socketio_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/pierhq/pier/internal/wiretest"
	"github.com/pierhq/pier/socketio"
)

// Typed handlers: the argument arrives decoded into a struct and the
// result is the acknowledgement; an error is acknowledged as
// {"error": message} and reaches the socket's OnError handlers.
func ExampleHandle() {
	type Join struct {
		Room string `json:"room"`
	}
	type Joined struct {
		Room    string `json:"room"`
		Members int    `json:"members"`
	}
	io, err := socketio.NewServer(nil)
	if err != nil {
		panic(err)
	}
	io.OnConnection(func(s *socketio.Socket) {
		socketio.Handle(s, "join", func(s *socketio.Socket, in Join) (Joined, error) {
			if in.Room == "" {
				return Joined{}, errors.New("room required")
			}
			s.Join(socketio.Room(in.Room))
			return Joined{Room: in.Room, Members: 1}, nil
		})
		s.OnError(func(s *socketio.Socket, err error) { fmt.Println("OnError:", err) })
	})
	srv := httptest.NewServer(io)
	defer srv.Close()

	c, err := wiretest.Dial(context.Background(), srv.URL, "/socket.io/", 4)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.Send("40")
	c.Read(time.Second)                    // the CONNECT reply
	c.Send(`421["join",{"room":"lobby"}]`) // EVENT "join" with ack id 1
	ack, _ := c.Read(time.Second)
	fmt.Println(ack)
	c.Send(`422["join",{}]`) // no room
	ack, _ = c.Read(time.Second)
	fmt.Println(ack)
	// Output:
	// 431[{"room":"lobby","members":1}]
	// OnError: socketio: event "join": room required
	// 432[{"error":"room required"}]
}

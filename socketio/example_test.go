package socketio_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/pierhq/pier/internal/wiretest"
	"github.com/pierhq/pier/socketio"
)

// A chat server: every "chat" message is acknowledged and relayed to the
// other clients. The client side here speaks the raw protocol to show the
// packets on the wire.
func Example() {
	io, err := socketio.NewServer(nil)
	if err != nil {
		panic(err)
	}
	io.OnConnection(func(s *socketio.Socket) {
		s.On("chat", func(s *socketio.Socket, e *socketio.Event) {
			var msg string
			if err := e.Decode(&msg); err != nil {
				return
			}
			s.Broadcast().Emit("chat", s.ID() == "", msg)
			e.Ack("received: " + msg)
		})
	})
	srv := httptest.NewServer(io)
	defer srv.Close()

	c, err := wiretest.Dial(context.Background(), srv.URL, "/socket.io/", 4)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.Send("40")                    // CONNECT to "/"
	reply, _ := c.Read(time.Second) // 40{"sid":"..."}
	fmt.Println(reply[:9])
	c.Send(`421["chat","hello"]`) // EVENT "chat" with ack id 1
	ack, _ := c.Read(time.Second)
	fmt.Println(ack)
	// Output:
	// 40{"sid":
	// 431["received: hello"]
}

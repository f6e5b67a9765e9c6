package socketio_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/pierhq/pier/socketio"
)

// A chat server: every "chat" message is acknowledged and relayed to the
// other clients. The client side here speaks the raw protocol over HTTP
// long-polling, with the standard library alone, to show the packets on
// the wire.
func Example() {
	server, err := socketio.NewServer(nil)
	if err != nil {
		panic(err)
	}
	server.OnConnection(func(s *socketio.Socket) {
		s.On("chat", func(s *socketio.Socket, e *socketio.Event) {
			var msg string
			if err := e.Decode(&msg); err != nil {
				return
			}
			s.Broadcast().Emit("chat", msg)
			e.Ack("received: " + msg)
		})
	})
	srv := httptest.NewServer(server)
	defer srv.Close()

	// poll sends body (POST) or waits for packets (GET, body "").
	poll := func(query, body string) string {
		url := srv.URL + "/socket.io/?EIO=4&transport=polling" + query
		var resp *http.Response
		var err error
		if body == "" {
			resp, err = http.Get(url)
		} else {
			resp, err = http.Post(url, "text/plain", strings.NewReader(body))
		}
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			panic(err)
		}
		return string(b)
	}
	open := poll("", "") // 0{"sid":"...",...}: the Engine.IO handshake
	sid := strings.Split(strings.SplitN(open, `"sid":"`, 2)[1], `"`)[0]
	poll("&sid="+sid, "40")                  // CONNECT to "/"
	fmt.Println(poll("&sid="+sid, "")[:9])   // 40{"sid":"..."}
	poll("&sid="+sid, `421["chat","hello"]`) // EVENT "chat" with ack id 1
	fmt.Println(poll("&sid="+sid, ""))       // its ACK
	// Output:
	// 40{"sid":
	// 431["received: hello"]
}

package sailsbridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/socketio"
)

// A Go handler answers io.socket.get('/hello') from an unchanged
// sails.io.js front end, and joins the socket to a room on the way.
func Example() {
	srv, err := socketio.NewServer(&socketio.Options{Engine: sailsbridge.EngineOptions()})
	if err != nil {
		log.Fatal(err)
	}
	sockets := sailsbridge.NewSockets(srv.Of("/"))

	app := http.NewServeMux()
	app.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		if sailsbridge.IsSocket(r) {
			sockets.Join(r.Context(), sailsbridge.GetID(r), "greeted")
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"hello": r.URL.Query().Get("name")})
	})

	bridge, err := sailsbridge.New(app, &sailsbridge.Options{OnlyAllowOrigins: []string{"http://localhost:1337"}})
	if err != nil {
		log.Fatal(err)
	}
	bridge.Attach(srv.Of("/"))
	app.Handle("GET /__getcookie", bridge.GetCookieHandler())

	root := http.NewServeMux()
	root.Handle("/socket.io/", bridge.Guard(srv))
	root.Handle("/", app)
	hs := httptest.NewServer(root)
	defer hs.Close()

	// What sails.io.js sends, frame by frame.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"Origin": {"http://localhost:1337"}})}
	conn, br, _, err := d.Dial(ctx, strings.Replace(hs.URL, "http", "ws", 1)+"/socket.io/?"+sailsQuery)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	var rw io.ReadWriter = conn
	if br != nil { // frames that came with the handshake response
		rw = struct {
			io.Reader
			io.Writer
		}{br, conn}
	}
	wsutil.ReadServerText(rw) // open packet
	wsutil.ReadServerText(rw) // 40
	wsutil.WriteClientText(rw, []byte(`420["get",{"method":"get","headers":{},"data":{},"url":"/hello?name=sails"}]`))
	ack, _ := wsutil.ReadServerText(rw)
	fmt.Println(string(ack))

	sockets.Broadcast(context.Background(), []string{"greeted"}, "news", map[string]int{"n": 1}, "")
	ev, _ := wsutil.ReadServerText(rw)
	fmt.Println(string(ev))

	conn.Close()
	sctx, scancel := context.WithTimeout(context.Background(), time.Second)
	defer scancel()
	srv.Shutdown(sctx)
	// Output:
	// 430[{"body":{"hello":"sails"},"headers":{"content-type":"application/json"},"statusCode":200}]
	// 42["news",{"n":1}]
}

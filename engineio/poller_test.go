//go:build linux

package engineio_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/pierhq/pier/engineio"
)

// parkedFixture serves websockets that park after 20ms of silence.
func parkedFixture(t *testing.T, opts engineio.Options) *fixture {
	opts.ParkIdleAfter = 20 * time.Millisecond
	return newFixture(t, &opts, nil)
}

func waitParked(t *testing.T, s *engineio.Session, want bool) {
	t.Helper()
	if !eventually(waitFor, func() bool { return engineio.Parked(s) == want }) {
		t.Fatalf("session %s: parked = %v, want %v", s.ID(), !want, want)
	}
}

// A parked websocket is read again when data arrives, by message or by
// frames split around the park deadline, and stays writable meanwhile.
func TestParkedWebSocketResumes(t *testing.T) {
	t.Parallel()
	f := parkedFixture(t, engineio.Options{})
	c, sid := f.openWebSocket(4)
	s := f.h.session(t, sid)
	waitParked(t, s, true)

	c.sendText("4hello")
	c.expectText("4hello")
	waitParked(t, s, true)

	// The server writes to a parked connection without waking it.
	if err := s.Send(engineio.Text("from server")); err != nil {
		t.Fatal(err)
	}
	c.expectText("4from server")
	if !engineio.Parked(s) {
		t.Error("sending unparked the connection")
	}

	// A frame whose first bytes come before the park deadline and the rest
	// long after: the message is read whole, the deadline does not cut it.
	frame := ws.MustCompileFrame(ws.MaskFrame(ws.NewTextFrame([]byte("4split message"))))
	c.write(frame[:3])
	time.Sleep(100 * time.Millisecond)
	c.write(frame[3:])
	c.expectText("4split message")

	// Several messages in one write are all read before parking again.
	var burst []byte
	for i := range 5 {
		burst = append(burst, ws.MustCompileFrame(ws.MaskFrame(ws.NewTextFrame(fmt.Appendf(nil, "4m%d", i))))...)
	}
	c.write(burst)
	for i := range 5 {
		c.expectText(fmt.Sprintf("4m%d", i))
	}
	waitParked(t, s, true)
}

// Many parked connections are each woken for their own data, whatever the
// order.
func TestParkedWebSocketsManyConnections(t *testing.T) {
	t.Parallel()
	f := parkedFixture(t, engineio.Options{})
	const n = 100
	clients := make([]*wsClient, n)
	sessions := make([]*engineio.Session, n)
	for i := range clients {
		var sid string
		clients[i], sid = f.openWebSocket(4)
		sessions[i] = f.h.session(t, sid)
	}
	for _, s := range sessions {
		waitParked(t, s, true)
	}
	for i := n - 1; i >= 0; i-- {
		clients[i].sendText(fmt.Sprintf("4client %d", i))
	}
	for i, c := range clients {
		c.expectText(fmt.Sprintf("4client %d", i))
	}
}

// A parked connection still notices its end: the client going away, a
// close frame, a missed heartbeat; and it leaves the poller.
func TestParkedWebSocketCloses(t *testing.T) {
	t.Parallel()
	t.Run("client hangs up", func(t *testing.T) {
		t.Parallel()
		f := parkedFixture(t, engineio.Options{})
		c, sid := f.openWebSocket(4)
		s := f.h.session(t, sid)
		waitParked(t, s, true)
		c.conn.Close()
		f.h.wantClosedWith(t, sid, engineio.ReasonTransportClose)
		waitParked(t, s, false)
	})
	t.Run("close frame", func(t *testing.T) {
		t.Parallel()
		f := parkedFixture(t, engineio.Options{})
		c, sid := f.openWebSocket(4)
		s := f.h.session(t, sid)
		waitParked(t, s, true)
		c.send(ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
		f.h.wantClosedWith(t, sid, engineio.ReasonTransportClose)
		waitParked(t, s, false)
	})
	t.Run("ping timeout", func(t *testing.T) {
		t.Parallel()
		f := parkedFixture(t, engineio.Options{PingInterval: 100 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
		_, sid := f.openWebSocket(4)
		s := f.h.session(t, sid)
		waitParked(t, s, true)
		f.h.wantClosedWith(t, sid, engineio.ReasonPingTimeout)
		waitParked(t, s, false)
	})
	t.Run("heartbeat kept while parked", func(t *testing.T) {
		t.Parallel()
		f := parkedFixture(t, engineio.Options{PingInterval: 60 * time.Millisecond, PingTimeout: 200 * time.Millisecond})
		c, sid := f.openWebSocket(4)
		s := f.h.session(t, sid)
		for range 5 {
			waitParked(t, s, true)
			c.expectText("2")
			c.sendText("3")
		}
		if s.Context().Err() != nil {
			t.Fatalf("session closed: %v", s.Context().Err())
		}
	})
	t.Run("v3 client ping", func(t *testing.T) {
		t.Parallel()
		f := parkedFixture(t, engineio.Options{})
		c, sid := f.openWebSocket(3)
		s := f.h.session(t, sid)
		waitParked(t, s, true)
		c.sendText("2probe-ish")
		c.expectText("3probe-ish")
	})
	t.Run("server close", func(t *testing.T) {
		t.Parallel()
		f := parkedFixture(t, engineio.Options{})
		c, sid := f.openWebSocket(4)
		s := f.h.session(t, sid)
		waitParked(t, s, true)
		s.Close("bye")
		res, ok := c.awaitClose(waitFor)
		if !ok || !res.gotClose || res.code != ws.StatusNormalClosure {
			t.Fatalf("client saw %v (ended %v), want a close frame 1000", res, ok)
		}
		f.h.wantClosedWith(t, sid, engineio.ReasonForcedClose)
		waitParked(t, s, false)
	})
}

// ParkIdleAfter < 0 keeps a goroutine on every websocket.
func TestParkingDisabled(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &engineio.Options{ParkIdleAfter: -1}, nil)
	c, sid := f.openWebSocket(4)
	s := f.h.session(t, sid)
	time.Sleep(50 * time.Millisecond)
	if engineio.Parked(s) {
		t.Fatal("parked with ParkIdleAfter < 0")
	}
	c.sendText("4x")
	c.expectText("4x")
}

// A websocket over TLS cannot be parked (the TLS layer buffers what it
// reads): it keeps its goroutine and works as usual.
func TestTLSWebSocketNotParked(t *testing.T) {
	t.Parallel()
	h := newRecHandler()
	srv, err := engineio.NewServer(h, &engineio.Options{ParkIdleAfter: 5 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewTLSServer(srv)
	t.Cleanup(hs.Close)
	d := ws.Dialer{Timeout: waitFor, TLSConfig: hs.Client().Transport.(*http.Transport).TLSClientConfig}
	conn, br, _, err := d.Dial(context.Background(), "wss"+strings.TrimPrefix(hs.URL, "https")+eioPath+"?EIO=4&transport=websocket")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if br == nil {
		br = bufio.NewReader(conn)
	}
	c := &wsClient{t: t, conn: conn, br: br}
	sid := parseOpen(t, 4, c.readText())["sid"].(string)
	s := h.session(t, sid)
	time.Sleep(50 * time.Millisecond)
	if engineio.Parked(s) {
		t.Fatal("a TLS websocket was parked")
	}
	c.sendText("4over tls")
	c.expectText("4over tls")
}

// Sends that the socket cannot take at once (the client stops reading)
// are finished later, whole and in order, without blocking the sender.
func TestSendToFullSocket(t *testing.T) {
	t.Parallel()
	f := parkedFixture(t, engineio.Options{})
	c, sid := f.openWebSocket(4)
	s := f.h.session(t, sid)
	const n, size = 200, 50_000 // 10 MB: far more than the socket buffers
	msgs := make([]string, n)
	start := time.Now()
	for i := range msgs {
		b := make([]byte, size)
		for j := range b {
			b[j] = 'a' + byte((i+j)%26)
		}
		msgs[i] = string(b)
		if err := s.Send(engineio.Text(msgs[i])); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Send blocked: %v for %d sends to a client that does not read", d, n)
	}
	time.Sleep(50 * time.Millisecond) // the client is still not reading
	for i, want := range msgs {
		if got := c.readText(); got != "4"+want {
			t.Fatalf("message %d: got %d bytes (%.20q...), want %d bytes (%.20q...)", i, len(got), got, len(want)+1, "4"+want)
		}
	}
	// The session goes on: an echo still works.
	c.sendText("4after")
	c.expectText("4after")
}

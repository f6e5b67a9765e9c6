package socketio

import (
	"regexp"
	"testing"
	"time"
)

// TestHandshakeBuiltOnDemand checks the handshake a socket builds when
// first asked for: the time of the CONNECT (not of the call), the auth
// payload copied out of the message, the request's query and headers, the
// same value on every call, and the value a dynamic namespace's matcher
// saw when it had to build it earlier.
func TestHandshakeBuiltOnDemand(t *testing.T) {
	srv, url := newTestServer(t, nil)
	type seen struct {
		first, second *Handshake
		matcher       *Handshake
		asked         time.Time
	}
	got := make(chan seen, 2)
	var matched *Handshake
	handler := func(s *Socket) {
		time.Sleep(50 * time.Millisecond) // the handshake's time stays the CONNECT's
		v := seen{asked: time.Now(), matcher: matched}
		v.first = s.Handshake()
		v.second = s.Handshake()
		got <- v
	}
	srv.OnConnection(handler)
	srv.OfMatch(func(name string, hs *Handshake) bool {
		matched = hs
		return name == "/dyn"
	}).OnConnection(handler)

	before := time.Now()
	c := dialRaw(t, url, 4)
	if _, err := c.ConnectSocketIO("/", `{"token":"abc"}`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	v := <-got
	hs := v.first
	if hs != v.second {
		t.Error("Handshake returned two different values")
	}
	if hs.Time.Before(before.Add(-time.Second)) || !hs.Time.Before(v.asked.Add(-40*time.Millisecond)) {
		t.Errorf("handshake time %v: want the CONNECT's (between %v and %v)", hs.Time, before, v.asked)
	}
	if string(hs.Auth) != `{"token":"abc"}` {
		t.Errorf("auth %s", hs.Auth)
	}
	if hs.Query.Get("EIO") != "4" || hs.Query.Get("transport") != "websocket" {
		t.Errorf("query %v", hs.Query)
	}
	if !regexp.MustCompile(`^/socket\.io/\?EIO=4&transport=websocket$`).MatchString(hs.URL) || hs.Header.Get("Upgrade") == "" || hs.Address == "" {
		t.Errorf("url %q, header %v, address %q", hs.URL, hs.Header, hs.Address)
	}

	if _, err := c.ConnectSocketIO("/dyn", "", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	v = <-got
	if v.matcher == nil || v.first != v.matcher {
		t.Errorf("the socket's handshake %p is not the one its matcher saw %p", v.first, v.matcher)
	}
	if string(v.first.Auth) != "{}" {
		t.Errorf("auth without payload: %s", v.first.Auth)
	}
}

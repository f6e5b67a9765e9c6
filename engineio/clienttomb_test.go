package engineio_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pierhq/pier/engineio"
)

// A polling session the client closed with no poll pending answers, for
// PingTimeout, as it did while registered: one racing poll gets NOOP, a
// POST is refused, a websocket is accepted and closed, another protocol
// version is unknown; then it is forgotten.
func TestClientClosedSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, nil)
	for _, eio := range []int{3, 4} {
		close, noop := "1", "6"
		if eio == 3 {
			close, noop = "1:1", "1:6"
		}
		t.Run(fmt.Sprintf("v%d", eio), func(t *testing.T) {
			t.Parallel()
			f := f.on(t)
			sid := f.openPolling(eio, "")
			wantBody(t, "POST close", f.post(f.q(eio, sid), close), "ok")
			f.h.wantClosedWith(t, sid, engineio.ReasonTransportClose)
			wantError(t, "GET with the other protocol", f.get(f.q(7-eio, sid)), 400, 1, "Session ID unknown")
			wantError(t, "POST after close", f.post(f.q(eio, sid), close), 400, 1, "Session ID unknown")
			c := f.mustDial(fmt.Sprintf("EIO=%d&transport=websocket&sid=%s", eio, sid))
			if res := c.wantClosed(waitFor); !res.gotClose || len(res.before) > 0 {
				t.Errorf("websocket to the closed session: %v", res)
			}
			wantBody(t, "GET after close", f.get(f.q(eio, sid)), noop)
			f.wantGone(eio, sid)
		})
	}
	t.Run("not counted", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil, nil)
		sid := f.openPolling(4, "")
		wantBody(t, "POST close", f.post(f.q(4, sid), "1"), "ok")
		if !eventually(waitFor, func() bool { return f.srv.SessionCount() == 0 }) {
			t.Fatalf("SessionCount() = %d after the client closed its only session", f.srv.SessionCount())
		}
	})
	t.Run("forgotten after PingTimeout", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, &engineio.Options{PingInterval: time.Second, PingTimeout: 50 * time.Millisecond}, nil)
		sid := f.openPolling(4, "")
		wantBody(t, "POST close", f.post(f.q(4, sid), "1"), "ok")
		time.Sleep(200 * time.Millisecond) // 4 PingTimeouts: only later is safe
		f.wantGone(4, sid)
	})
	t.Run("id stays taken", func(t *testing.T) {
		t.Parallel()
		var ce connErrors
		f := newFixture(t, &engineio.Options{
			OnConnectionError: ce.add,
			GenerateID:        func(*http.Request) (string, error) { return "same-id", nil },
		}, nil)
		sid := f.openPolling(4, "")
		wantBody(t, "POST close", f.post(f.q(4, sid), "1"), "ok")
		f.h.wantClosedWith(t, sid, engineio.ReasonTransportClose)
		wantError(t, "handshake reusing the id", f.get("EIO=4&transport=polling&n=2"), 400, 3, "Bad request")
		e, ok := ce.last("n=2")
		if !ok || e.Context["name"] != "ID_GENERATION_ERROR" {
			t.Fatalf("OnConnectionError: %+v %v", e, ok)
		}
		if err, _ := e.Context["error"].(error); err == nil {
			t.Errorf("ID_GENERATION_ERROR without the error: %v", e.Context)
		}
	})
}

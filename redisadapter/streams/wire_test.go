package streams

import (
	"encoding/json"
	"testing"

	"github.com/pierhq/pier/socketio"
)

// TestStreamOf: Node's hash and stream names, negative remainders
// included (the values were recorded from the Node adapter 0.3.1).
func TestStreamOf(t *testing.T) {
	if h := hashCode("/notifications"); h != -1014064871 {
		t.Errorf("hashCode(/notifications) = %d", h)
	}
	o := Options{StreamName: "socket.io", StreamCount: 2}
	for _, tc := range []struct{ nsp, want string }{
		{"/notifications", "socket.io--1"},
		{"/", "socket.io-1"},
		{"/chat", "socket.io-1"},
	} {
		if got := o.streamOf(tc.nsp); got != tc.want {
			t.Errorf("streamOf(%q) = %q, want %q", tc.nsp, got, tc.want)
		}
	}
	if got := (Options{StreamName: "s", StreamCount: 1}).streamOf("/notifications"); got != "s" {
		t.Errorf("StreamCount 1: %q", got)
	}
	want := []string{"s-0", "s-1", "s-2", "s--1", "s--2"}
	got := Options{StreamName: "s", StreamCount: 3}.streamNames()
	if len(got) != len(want) {
		t.Fatalf("streamNames = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("streamNames = %v, want %v", got, want)
		}
	}
}

// TestSessionValue: a session is stored with the bytes the Node adapter
// writes (recorded from 0.3.1), and read back.
func TestSessionValue(t *testing.T) {
	s := socketio.PersistedSession{
		SID:   "8zjl5VNDEwnNyfo1AAAA",
		PID:   "8RMXnfCA85BEIpTdAAAB",
		Rooms: []socketio.Room{"8zjl5VNDEwnNyfo1AAAA", "room1", "room5"},
		Data:  json.RawMessage(`{"server":"A","user":"c1"}`),
	}
	const node = "hKNzaWS0OHpqbDVWTkRFd25OeWZvMUFBQUGjcGlktDhSTVhuZkNBODVCRUlwVGRBQUFCpXJvb21zk7Q4empsNVZOREV3bk55Zm8xQUFBQaVyb29tMaVyb29tNaRkYXRhgqZzZXJ2ZXKhQaR1c2VyomMx"
	got, err := sessionValue(s)
	if err != nil || got != node {
		t.Fatalf("sessionValue = %s, %v\nwant %s", got, err, node)
	}
	back, err := sessionOf(node)
	if err != nil || back.SID != s.SID || back.PID != s.PID || len(back.Rooms) != 3 || string(back.Data.(json.RawMessage)) != `{"server":"A","user":"c1"}` {
		t.Fatalf("sessionOf = %+v, %v", back, err)
	}
	if v, _ := sessionValue(socketio.PersistedSession{SID: "a", PID: "b"}); v != "hKNzaWShYaNwaWShYqVyb29tc5CkZGF0YYA=" {
		t.Errorf("nil data: %s (want data {} and rooms [])", v)
	}
}

// TestNextOffset: the exclusive start of a restore XRANGE.
func TestNextOffset(t *testing.T) {
	for in, want := range map[string]string{"1796245251614-0": "1796245251614-1", "5-9": "5-10", "0-0": "0-1"} {
		if got := nextOffset(in); got != want {
			t.Errorf("nextOffset(%s) = %s, want %s", in, got, want)
		}
	}
}

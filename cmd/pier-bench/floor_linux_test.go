//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// startFloor serves a floor server on a free port for the test.
func startFloor(t *testing.T) *floorServer {
	t.Helper()
	s, err := newFloorServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return s
}

var testJoin = maskedFrame(ws.OpText, []byte(`420["join","bench"]`))

// readDeadline reads the next message of c within the test's patience.
func readDeadline(t *testing.T, c *wsClient) []byte {
	t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	defer c.conn.SetReadDeadline(time.Time{})
	p, err := c.readMessage()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFloorServerJoinBroadcastEcho(t *testing.T) {
	s := startFloor(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var members []*wsClient
	for range 3 {
		c, err := dialSIOJoin(ctx, s.Addr(), testJoin) // the open packet, CONNECT, join and its ack "430[]"
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		members = append(members, c)
	}
	if !bytes.Contains(members[0].Open, []byte(`"pingInterval":25000`)) || !bytes.Contains(members[0].Open, []byte(`"pingTimeout":20000`)) {
		t.Errorf("open packet %s", members[0].Open)
	}
	sender, err := dialSIO(ctx, s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()

	// An acked echo comes back with the ack id; one without an id as an
	// "echo" event.
	sender.write(maskedFrame(ws.OpText, []byte(`427["echo",{"msg":"hi"}]`)))
	if p := readDeadline(t, sender); string(p) != `437[{"msg":"hi"}]` {
		t.Errorf("echo ack = %q", p)
	}
	sender.write(maskedFrame(ws.OpText, []byte(`42["echo","x"]`)))
	if p := readDeadline(t, sender); string(p) != `42["echo","x"]` {
		t.Errorf("echo = %q", p)
	}

	// A broadcast reaches every member, not the sender (not a member).
	sender.write(maskedFrame(ws.OpText, []byte(`42["broadcast","bench",1234]`)))
	for i, c := range members {
		if p := readDeadline(t, c); string(p) != `42["broadcast",1234]` {
			t.Errorf("member %d got %q", i, p)
		}
	}
	// A member that leaves is no longer written to: a connection opened
	// after it (which may get its descriptor number) gets no broadcast;
	// the others still do, and a large payload (a 16-bit length) arrives
	// whole.
	members[1].Close()
	// The server has handled the close once a connection opened after it
	// is served (the events of one loop pass are handled in order, and a
	// reused descriptor number means the close was handled).
	late, err := dialSIO(ctx, s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	big := `"` + strings.Repeat("y", 3000) + `"`
	sender.write(maskedFrame(ws.OpText, []byte(`42["broadcast","bench",`+big+`]`)))
	for _, i := range []int{0, 2} {
		if p := readDeadline(t, members[i]); string(p) != `42["broadcast",`+big+`]` {
			t.Fatalf("member %d got %d bytes", i, len(p))
		}
	}
	// The broadcast was handled: the late connection's first message is
	// its own ack, not the broadcast.
	late.write(maskedFrame(ws.OpText, []byte(`421["echo",0]`)))
	if p := readDeadline(t, late); string(p) != `431[0]` {
		t.Errorf("a connection that joined nothing got %q", p)
	}
}

func TestFloorServerRefuses(t *testing.T) {
	s := startFloor(t)
	// A plain HTTP request (no websocket upgrade) gets a 400 and the end
	// of the connection.
	resp, err := http.Get("http://" + s.Addr() + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("polling request: status %d", resp.StatusCode)
	}
	// A request head larger than the bound is dropped.
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go conn.Write(append([]byte("GET /socket.io/ HTTP/1.1\r\nX: "), bytes.Repeat([]byte("a"), 2*floorMaxFrame)...))
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := bufio.NewReader(conn).ReadByte(); err == nil || os.IsTimeout(err) {
		t.Errorf("an oversized request head: read %v, want the connection closed", err)
	}
	// Another namespace gets a connect_error.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := dialWS(ctx, s.Addr(), sioPath, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.write(maskedFrame(ws.OpText, []byte("40/admin,")))
	if p := readDeadline(t, c); string(p) != `44/admin,{"message":"Invalid namespace"}` {
		t.Errorf("other namespace: %q", p)
	}
}

func TestParseClientFrame(t *testing.T) {
	for _, size := range []int{0, 5, 125, 126, 4000, 70000} {
		payload := bytes.Repeat([]byte{'z'}, size)
		f := append(maskedFrame(ws.OpText, payload), maskedFrame(ws.OpClose, nil)...)
		whole := len(f) - 6
		for cut := 0; cut < whole; cut += 1 + cut/2 {
			if _, _, n, err := parseClientFrame(append([]byte(nil), f[:cut]...)); n != 0 || err != nil && size <= floorMaxFrame {
				t.Fatalf("size %d cut %d: n %d err %v", size, cut, n, err)
			}
		}
		op, p, n, err := parseClientFrame(f)
		if size > floorMaxFrame {
			if err == nil {
				t.Errorf("size %d: a frame above the bound was taken", size)
			}
			continue
		}
		if err != nil || op != 0x1 || n != whole || !bytes.Equal(p, payload) {
			t.Fatalf("size %d: op %d n %d err %v", size, op, n, err)
		}
		if op, _, _, err := parseClientFrame(f[n:]); err != nil || op != 0x8 {
			t.Errorf("size %d: next frame op %d err %v", size, op, err)
		}
	}
	if _, _, _, err := parseClientFrame(appendServerFrame(nil, 0x1, []byte("4x"))); err == nil {
		t.Error("an unmasked client frame was taken")
	}
	frag := maskedFrame(ws.OpText, []byte("4x"))
	frag[0] &^= 0x80
	if _, _, _, err := parseClientFrame(frag); err == nil {
		t.Error("a fragment was taken")
	}
}

func TestFloorEventName(t *testing.T) {
	for _, tc := range []struct {
		in, name, rest string
		ok             bool
	}{
		{`["join","bench"]`, "join", `"bench"]`, true},
		{`["bench"]`, "bench", `]`, true},
		{`["broadcast","r",{"a":[1]}]`, "broadcast", `"r",{"a":[1]}]`, true},
		{`["a\"b",1]`, "", "", false},
		{`[1,2]`, "", "", false},
		{`["x"`, "", "", false},
		{`"x"`, "", "", false},
	} {
		name, rest, ok := floorEventName([]byte(tc.in))
		if name != tc.name || string(rest) != tc.rest || ok != tc.ok {
			t.Errorf("floorEventName(%s) = %q, %q, %v", tc.in, name, rest, ok)
		}
	}
}

// TestEpollReceiver reads broadcasts of the floor server with the
// receiving children's reader, in both of its modes.
func TestEpollReceiver(t *testing.T) {
	for _, poll := range []time.Duration{0, time.Millisecond} {
		t.Run(fmt.Sprint(poll), func(t *testing.T) {
			s := startFloor(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			conns, err := openConns(ctx, 20, 4, func(ctx context.Context) (*wsClient, error) { return dialSIOJoin(ctx, s.Addr(), testJoin) })
			if err != nil {
				t.Fatal(err)
			}
			rx, err := newEpollReceiver(conns, poll)
			if err != nil {
				t.Fatal(err)
			}
			go rx.loop()
			sender, err := dialSIO(ctx, s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer sender.Close()
			var sent []int64
			for range 3 {
				now := time.Now().UnixNano()
				sent = append(sent, now)
				sender.write(maskedFrame(ws.OpText, fmt.Appendf(nil, `42["broadcast","bench",%d]`, now)))
			}
			for deadline := time.Now().Add(30 * time.Second); rx.received.Load() < 60 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			rx.stop()
			rx.closeAll()
			if rx.err != nil || rx.lost != 0 || len(rx.samples) != 60 {
				t.Fatalf("err %v lost %d samples %d, want 60", rx.err, rx.lost, len(rx.samples))
			}
			count := map[int64]int{}
			for _, x := range rx.samples {
				count[x.Sent]++
				// The kernel's stamp is taken before the read, and after
				// the send (give or take the float-free path: exact here).
				if x.Kernel < x.Sent || x.Kernel > x.Read {
					t.Errorf("sample %+v: kernel time out of order", x)
				}
			}
			for _, v := range sent {
				if count[v] != 20 {
					t.Errorf("broadcast %d reached %d of 20", v, count[v])
				}
			}
			// The samples file round-trips.
			file := filepath.Join(t.TempDir(), "s.bin")
			if err := writeSamples(file, rx.samples); err != nil {
				t.Fatal(err)
			}
			back, err := readSamples(file)
			if err != nil || len(back) != 60 || back[59] != rx.samples[59] {
				t.Errorf("readSamples: %d samples, %v", len(back), err)
			}
		})
	}
}

func TestParseDigitsAndStamp(t *testing.T) {
	for in, want := range map[string]int64{"123]": 123, "0]": 0} {
		if v, ok := parseDigits([]byte(in)); !ok || v != want {
			t.Errorf("parseDigits(%q) = %d, %v", in, v, ok)
		}
	}
	for _, bad := range []string{"]", "12", `"12"]`, "1x]"} {
		if _, ok := parseDigits([]byte(bad)); ok {
			t.Errorf("parseDigits(%q) took it", bad)
		}
	}
	if kernelStamp(nil) != 0 || kernelStamp(make([]byte, 8)) != 0 || kernelStamp(make([]byte, 64)) != 0 {
		t.Error("kernelStamp of no control message is not 0")
	}
}

// TestFloorServerDropsSlowReader: a member that does not read is
// disconnected once more than floorMaxPending waits for it (beyond its
// sockets' buffers), and the server goes on serving the others.
func TestFloorServerDropsSlowReader(t *testing.T) {
	s := startFloor(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	slow, err := dialSIOJoin(ctx, s.Addr(), testJoin)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	sender, err := dialSIO(ctx, s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	payload := `"` + strings.Repeat("p", 60<<10) + `"`
	frame := maskedFrame(ws.OpText, []byte(`42["broadcast","bench",`+payload+`]`))
	const n = 400 // 24 MB: more than loopback's socket buffers (a few MB each way) and the bound
	for range n {
		if err := sender.write(frame); err != nil {
			t.Fatal(err)
		}
	}
	// The server still answers, after handling every broadcast.
	sender.write(maskedFrame(ws.OpText, []byte(`421["echo",1]`)))
	if p := readDeadline(t, sender); string(p) != `431[1]` {
		t.Fatalf("echo after the flood: %q", p)
	}
	// The slow member gets what its buffers held, then the end.
	slow.conn.SetReadDeadline(time.Now().Add(time.Minute))
	got := 0
	buf := make([]byte, 64<<10)
	for {
		k, err := slow.conn.Read(buf)
		got += k
		if err != nil {
			if os.IsTimeout(err) {
				t.Fatalf("the slow member was not disconnected (read %d bytes)", got)
			}
			break
		}
	}
	if total := n * len(payload); got >= total {
		t.Errorf("the slow member got all %d bytes", total)
	}
	t.Logf("the slow member read %d of %d bytes before the end", got, n*len(payload))
}

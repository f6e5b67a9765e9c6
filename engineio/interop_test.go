package engineio_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/jstest"
)

// These tests drive the official engine.io-client (6.6.8 for EIO4, 3.1.6 —
// the version socket.io-client@2.0.3 uses — for EIO3) against an echo server
// through testdata/js/eio-client.js. See internal/jstest.

const (
	interopPingInterval = 100 * time.Millisecond
	interopPingTimeout  = 1000 * time.Millisecond // generous: a loaded CI machine delays the node clients
	interopCaseTimeout  = 30 * time.Second
	// Goroutines allowed above the baseline once the server is shut down.
	interopGoroutineSlack = 2
)

type interopCase struct {
	eio        int
	transports string // as passed to --transports
	scenario   string
}

func (c interopCase) name() string {
	return fmt.Sprintf("eio%d_%s_%s", c.eio, strings.ReplaceAll(c.transports, ",", "+"), c.scenario)
}

func interopCases() []interopCase {
	var cases []interopCase
	for _, eio := range []int{3, 4} {
		for _, tr := range []string{"polling", "websocket", "polling,websocket"} {
			for _, sc := range []string{"echo", "binary", "heartbeat", "close", "server-close"} {
				cases = append(cases, interopCase{eio, tr, sc})
			}
		}
		cases = append(cases, interopCase{eio, "polling,websocket", "upgrade"})
	}
	return cases
}

// echoHandler sends every message back unchanged and closes the session on
// the text "please-close". It records each session's protocol by ID.
func echoHandler(protocols *sync.Map) engineio.Handler {
	return engineio.HandlerFunc(func(s *engineio.Session) {
		protocols.Store(s.ID(), s.Protocol())
		ctx := context.Background()
		for {
			msg, err := s.Read(ctx)
			if err != nil {
				return
			}
			if !msg.Binary && string(msg.Data) == "please-close" {
				s.Close("server close")
				return
			}
			if err := s.Send(msg); err != nil {
				return
			}
		}
	})
}

func TestInteropEngineIOClient(t *testing.T) {
	jstest.Install(t)
	baseline := runtime.NumGoroutine()

	var protocols sync.Map
	srv, err := engineio.NewServer(echoHandler(&protocols), &engineio.Options{
		PingInterval: interopPingInterval,
		PingTimeout:  interopPingTimeout,
		Logger:       slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.Close()
	}
	t.Cleanup(stop)

	t.Run("clients", func(t *testing.T) {
		for _, c := range interopCases() {
			t.Run(c.name(), func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), interopCaseTimeout)
				defer cancel()
				events, err := jstest.Run(ctx, t, "eio-client.js",
					"--url", hs.URL,
					"--eio", fmt.Sprint(c.eio),
					"--transports", c.transports,
					"--scenario", c.scenario,
				)
				if err != nil {
					logEvents(t, events)
					t.Fatal(err)
				}
				checkInteropEvents(t, c, events, &protocols)
				if t.Failed() {
					logEvents(t, events)
				}
			})
		}
	})

	stop()
	checkGoroutines(t, baseline)
}

func logEvents(t *testing.T, events []jstest.Event) {
	t.Helper()
	for _, e := range events {
		t.Logf("event: %v", map[string]any(e))
	}
}

func checkInteropEvents(t *testing.T, c interopCase, events []jstest.Event, protocols *sync.Map) {
	t.Helper()
	transports := strings.Split(c.transports, ",")

	if len(events) == 0 {
		t.Fatal("no events")
	}
	if last := events[len(events)-1]; last.Name() != "done" || !last.Bool("ok") {
		t.Fatalf("last event = %v, want done ok", map[string]any(last))
	}
	for _, e := range jstest.Filter(events, "error") {
		t.Errorf("client error event: %s", e.String("error"))
	}

	hs, ok := jstest.First(events, "handshake")
	if !ok {
		t.Fatal("no handshake event")
	}
	if got, want := hs.Number("pingInterval"), float64(interopPingInterval.Milliseconds()); got != want {
		t.Errorf("handshake pingInterval = %v, want %v", got, want)
	}
	if got, want := hs.Number("pingTimeout"), float64(interopPingTimeout.Milliseconds()); got != want {
		t.Errorf("handshake pingTimeout = %v, want %v", got, want)
	}
	if transports[0] == "polling" {
		upgrades, _ := hs["upgrades"].([]any)
		if !slices.Contains(upgrades, any("websocket")) {
			t.Errorf("handshake upgrades = %v, want websocket offered on polling", hs["upgrades"])
		}
	}

	open, ok := jstest.First(events, "open")
	if !ok {
		t.Fatal("no open event")
	}
	sid := open.String("sid")
	if sid == "" || sid != hs.String("sid") {
		t.Errorf("open sid = %q, handshake sid = %q", sid, hs.String("sid"))
	}
	if got := open.String("transport"); got != transports[0] {
		t.Errorf("open transport = %q, want %q", got, transports[0])
	}
	if p, ok := protocols.Load(sid); !ok {
		t.Errorf("server has no session %q", sid)
	} else if p.(int) != c.eio {
		t.Errorf("server session Protocol() = %d, want %d", p, c.eio)
	}

	msgs := jstest.Filter(events, "message")
	if len(transports) == 1 {
		if n := jstest.Count(events, "upgrade"); n != 0 {
			t.Errorf("%d upgrade events with transports %s", n, c.transports)
		}
		for i, m := range msgs {
			if got := m.String("transport"); got != transports[0] {
				t.Errorf("message %d over %q, want %q", i, got, transports[0])
			}
		}
	}

	wantText := func(i int, data string) {
		t.Helper()
		if i >= len(msgs) {
			return
		}
		if m := msgs[i]; m.Bool("binary") || m.String("data") != data {
			t.Errorf("message %d = %v, want text %q", i, map[string]any(m), data)
		}
	}
	wantMsgs := func(n int) {
		t.Helper()
		if len(msgs) != n {
			t.Errorf("%d message events, want %d", len(msgs), n)
		}
	}
	closeReason := func() string {
		t.Helper()
		e, ok := jstest.First(events, "close")
		if !ok {
			t.Error("no close event")
		}
		return e.String("reason")
	}

	switch c.scenario {
	case "echo":
		wantMsgs(3)
		wantText(0, "hello")
		wantText(1, "héllo ✓ 😀")
		if len(msgs) == 3 {
			if m := msgs[2]; m.Bool("binary") || m.Number("length") != 100*1024 {
				t.Errorf("message 2 = %v, want 100 KiB of text", map[string]any(m))
			}
		}
	case "binary":
		wantMsgs(2)
		if len(msgs) == 2 {
			if m := msgs[0]; !m.Bool("binary") || m.String("data") != "01020304" {
				t.Errorf("message 0 = %v, want binary 01020304", map[string]any(m))
			}
			if m := msgs[1]; !m.Bool("binary") || m.Number("length") != 64*1024 {
				t.Errorf("message 1 = %v, want 64 KiB binary", map[string]any(m))
			}
		}
	case "heartbeat":
		// EIO4: the server pings, the client emits "ping". EIO3: the client
		// pings, and emits "pong" when the server answers.
		name := "ping"
		if c.eio == 3 {
			name = "pong"
		}
		if n := jstest.Count(events, name); n < 2 {
			t.Errorf("%d %s events in the idle period, want >= 2", n, name)
		}
		wantMsgs(1)
		wantText(0, "still-here")
	case "close":
		wantMsgs(1)
		wantText(0, "before-close")
		if got := closeReason(); got != "forced close" {
			t.Errorf("close reason = %q, want %q", got, "forced close")
		}
	case "server-close":
		wantMsgs(0)
		// "transport close" means the client got a close packet (or the
		// transport was closed); a server that merely went silent would give
		// "ping timeout".
		if got := closeReason(); got != "transport close" {
			t.Errorf("close reason = %q, want %q", got, "transport close")
		}
	case "upgrade":
		up, ok := jstest.First(events, "upgrade")
		if !ok || up.String("transport") != "websocket" {
			t.Errorf("upgrade event = %v, want upgrade to websocket", map[string]any(up))
		}
		wantMsgs(2)
		wantText(0, "over websocket héllo ✓ 😀")
		if len(msgs) == 2 {
			if m := msgs[1]; !m.Bool("binary") || m.String("data") != "0506070800ff" {
				t.Errorf("message 1 = %v, want binary 0506070800ff", map[string]any(m))
			}
		}
		for i, m := range msgs {
			if got := m.String("transport"); got != "websocket" {
				t.Errorf("message %d over %q after upgrade, want websocket", i, got)
			}
		}
	default:
		t.Fatalf("unknown scenario %q", c.scenario)
	}
}

// checkGoroutines waits for the goroutine count to settle back to within
// interopGoroutineSlack of baseline, and reports the remaining goroutines if
// it does not within a few seconds.
func checkGoroutines(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= baseline+interopGoroutineSlack {
			return
		}
		if time.Now().After(deadline) {
			var buf bytes.Buffer
			pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Errorf("%d goroutines after Shutdown, baseline %d (+%d allowed):\n%s",
				n, baseline, interopGoroutineSlack, buf.String())
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testLog sends the server's logs to the test log, shown when it fails.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Helper()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

package socketio_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/socketio"
)

// These tests drive the official socket.io-client, 4.8.4 (protocol v5 over
// EIO4) and 2.0.3 (protocol v4 over EIO3), against a Pier server through
// testdata/js/sio-client.js. Each case is one node run against a server of
// its own, set up for the case's scenario. See internal/jstest.
//
// Node runs spend most of their time starting up and waiting on the network,
// so each case starts its run before t.Parallel and only waits for it after:
// up to interopConcurrency runs proceed at once whatever -parallel is.

const (
	interopCaseTimeout  = 30 * time.Second
	interopConcurrency  = 8
	interopSettle       = 3 * time.Second // wait for server-side effects
	interopGoroutineMax = 2               // goroutines allowed above the baseline at the end
)

var interopSlots = make(chan struct{}, interopConcurrency)

type sioCase struct {
	client     string // "4" (socket.io-client 4.8.4) or "2" (2.0.3)
	transports string // as passed to --transports
	scenario   string
}

func (c sioCase) name() string {
	return fmt.Sprintf("client%s_%s_%s", c.client, strings.ReplaceAll(c.transports, ",", "+"), c.scenario)
}

// finalTransport is the transport the clients must be on at the end.
func (c sioCase) finalTransport() string {
	if strings.Contains(c.transports, "websocket") {
		return "websocket"
	}
	return "polling"
}

func sioCases() []sioCase {
	var cases []sioCase
	for _, tr := range []string{"websocket", "polling", "polling,websocket"} {
		for _, sc := range []string{"basic", "ack", "binary", "auth", "namespaces", "rooms", "broadcast-ack", "disconnect", "volatile", "fetch"} {
			cases = append(cases, sioCase{"4", tr, sc})
		}
		for _, sc := range []string{"basic", "custom", "ack", "binary", "rooms", "volatile"} {
			cases = append(cases, sioCase{"2", tr, sc})
		}
	}
	return cases
}

// scenario is the server side of a sio-client.js scenario.
type scenario struct {
	// setup registers the handlers (the "__final" handler of "/" is
	// already registered).
	setup func(srv *socketio.Server, rec *recorder)
	// finals is how many clients make the final round trip.
	finals int
	// settle, if set, waits for server-side effects of the run before the
	// server shuts down.
	settle func(rec *recorder)
	// check asserts the client's events and what the server recorded.
	check func(t *testing.T, c sioCase, r *caseRun)
}

var scenarios = map[string]scenario{
	"basic":         basicScenario,
	"custom":        customScenario,
	"ack":           ackScenario,
	"binary":        binaryScenario,
	"auth":          authScenario,
	"namespaces":    namespacesScenario,
	"rooms":         roomsScenario,
	"broadcast-ack": broadcastAckScenario,
	"disconnect":    disconnectScenario,
	"volatile":      volatileScenario,
	"fetch":         fetchScenario,
}

func TestInteropSocketIOClient(t *testing.T) {
	jstest.Install(t)
	baseline := runtime.NumGoroutine()
	t.Run("clients", func(t *testing.T) {
		for _, c := range sioCases() {
			t.Run(c.name(), func(t *testing.T) {
				run := startCase(t, c)
				t.Parallel()
				<-run.done
				run.report(t, c)
			})
		}
	})
	checkGoroutines(t, baseline)
}

// caseRun is one case under way or done.
type caseRun struct {
	done   chan struct{}
	events []jstest.Event
	err    error
	rec    *recorder
	logs   *caseLog
	took   time.Duration // of the node run
}

// startCase starts the server and node run of c in the background.
func startCase(t *testing.T, c sioCase) *caseRun {
	sc, ok := scenarios[c.scenario]
	if !ok {
		t.Fatalf("unknown scenario %q", c.scenario)
	}
	r := &caseRun{done: make(chan struct{}), rec: newRecorder(), logs: &caseLog{}}
	srv, err := socketio.NewServer(&socketio.Options{
		Logger: slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	withFinal(srv.Of("/"))
	sc.setup(srv, r.rec)
	hs := httptest.NewServer(srv)
	go func() {
		defer close(r.done)
		interopSlots <- struct{}{}
		defer func() { <-interopSlots }()
		ctx, cancel := context.WithTimeout(context.Background(), interopCaseTimeout)
		defer cancel()
		start := time.Now()
		defer func() { r.took = time.Since(start) }()
		r.events, r.err = jstest.Run(ctx, t, "sio-client.js",
			"--url", hs.URL,
			"--client", c.client,
			"--transports", c.transports,
			"--scenario", c.scenario,
		)
		if sc.settle != nil && r.err == nil {
			sc.settle(r.rec)
		}
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			r.rec.add("shutdown-error", err)
		}
		hs.Close()
	}()
	return r
}

func (r *caseRun) report(t *testing.T, c sioCase) {
	defer func() {
		if t.Failed() {
			for _, e := range r.events {
				t.Logf("event: %s", mustJSON(e))
			}
			t.Logf("server log:\n%s", r.logs.String())
		}
		r.logs.stop()
	}()
	t.Logf("node run took %v", r.took.Round(time.Millisecond))
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, e := range r.rec.get("shutdown-error") {
		t.Errorf("Shutdown: %v", e)
	}
	if len(r.events) == 0 {
		t.Fatal("no events")
	}
	if last := r.events[len(r.events)-1]; last.Name() != "done" || !last.Bool("ok") {
		t.Fatalf("last event = %s, want done ok", mustJSON(last))
	}
	if c.client == "2" && c.scenario != "custom" {
		for _, e := range jstest.Filter(r.events, "error") {
			t.Errorf("client error event: %s", mustJSON(e))
		}
	}
	sc := scenarios[c.scenario]
	finals := jstest.Filter(r.events, "final")
	if len(finals) != sc.finals {
		t.Errorf("%d final round trips, want %d", len(finals), sc.finals)
	}
	for _, f := range finals {
		if got := f.String("transport"); got != c.finalTransport() {
			t.Errorf("client %v ended on %q, want %q", f["c"], got, c.finalTransport())
		}
		wantJSON(t, "final ack", f["args"], []any{"final-ok", f["c"], f["nsp"]})
	}
	sc.check(t, c, r)
}

// withFinal answers the "__final" round trip of sio-client.js on n.
func withFinal(n interface{ OnConnection(func(*socketio.Socket)) }) {
	n.OnConnection(func(s *socketio.Socket) {
		s.On("__final", func(s *socketio.Socket, e *socketio.Event) {
			var c int
			e.Decode(&c)
			e.Ack("final-ok", c, s.Namespace().Name())
		})
	})
}

// ---------------------------------------------------------------------------
// Scenarios.

var basicScenario = scenario{
	setup: func(srv *socketio.Server, rec *recorder) {
		srv.OnConnection(func(s *socketio.Socket) {
			rec.add("id", s.ID())
			s.Emit("welcome", s.ID(), 42, map[string]any{"nsp": s.Namespace().Name(), "list": []any{true, nil, 1.5, "✓"}})
			s.On("echo", func(s *socketio.Socket, e *socketio.Event) {
				var (
					str string
					f   float64
					obj struct {
						X []any `json:"x"`
						Y *int  `json:"y"`
					}
				)
				if err := e.Decode(&str, &f, &obj); err != nil {
					rec.add("echo", err)
				} else {
					rec.add("echo", []any{str, f, obj.X, obj.Y, e.Len(), e.WantsAck()})
				}
				s.Emit("echo-back", e.Values()...)
			})
		})
	},
	finals: 1,
	check: func(t *testing.T, c sioCase, r *caseRun) {
		id := clientID(t, r.events, 0)
		if ids := r.rec.get("id"); len(ids) != 1 || ids[0] != id {
			t.Errorf("server socket ids %v, client id %q", ids, id)
		}
		welcome := only(t, r.events, "welcome")
		wantJSON(t, "welcome", welcome["args"], []any{id, 42, map[string]any{"nsp": "/", "list": []any{true, nil, 1.5, "✓"}}})
		echoArgs := `["str",1.5,{"x":[1,2,"three"],"y":null,"z":{"deep":[[]]}},null,true,"héllo ✓ 😀",-7,[],{}]`
		wantJSON(t, "echo-back", only(t, r.events, "echo-back")["args"], json.RawMessage(echoArgs))
		wantJSON(t, "server's decoded echo", r.rec.get("echo"), []any{[]any{"str", 1.5, []any{1, 2, "three"}, nil, 9, false}})
	},
}

// customScenario: protocol v4 clients carry their auth in the namespace's
// query string.
var customScenario = scenario{
	setup: func(srv *socketio.Server, rec *recorder) {
		custom := srv.Of("/custom")
		withFinal(custom)
		custom.Use(func(s *socketio.Socket) error {
			rec.add("auth", string(s.Handshake().Auth))
			var auth struct{ Token string }
			s.Handshake().DecodeAuth(&auth)
			if auth.Token == "bad" {
				return socketio.NewConnectError("not authorized", map[string]any{"code": 401})
			}
			return nil
		})
		custom.OnConnection(func(s *socketio.Socket) {
			var auth map[string]any
			if err := s.Handshake().DecodeAuth(&auth); err != nil {
				rec.add("auth", err)
			}
			s.Emit("auth", auth, s.ID())
		})
	},
	finals: 1,
	check: func(t *testing.T, c sioCase, r *caseRun) {
		auths := r.rec.get("auth")
		sort.Slice(auths, func(i, j int) bool { return fmt.Sprint(auths[i]) < fmt.Sprint(auths[j]) })
		wantJSON(t, "server's Handshake().Auth", auths, []any{`{"token":"abc"}`, `{"token":"bad"}`})
		// Protocol v4 refusals carry only the message: an ERROR packet.
		wantJSON(t, "refusal", only(t, r.events, "error"), map[string]any{"event": "error", "c": 1, "nsp": "/custom", "error": "not authorized"})
		if n := jstest.Count(r.events, "connect"); n != 1 {
			t.Errorf("%d connect events, want 1", n)
		}
		e := only(t, r.events, "auth")
		id := e.String("id")
		if !strings.HasPrefix(id, "/custom#") {
			t.Errorf("client socket id %q, want /custom#<engine id>", id)
		}
		wantJSON(t, "auth event", e["args"], []any{map[string]any{"token": "abc"}, id})
	},
}

var ackScenario = scenario{
	setup: func(srv *socketio.Server, rec *recorder) {
		srv.OnConnection(func(s *socketio.Socket) {
			s.On("sum", func(s *socketio.Socket, e *socketio.Event) {
				var a, b int
				if err := e.Decode(&a, &b); err != nil {
					rec.add("sum", err)
				}
				rec.add("sum", e.WantsAck())
				e.Ack(a+b, "sum")
			})
			s.On("noargs", func(s *socketio.Socket, e *socketio.Event) { e.Ack() })
			s.On("never", func(s *socketio.Socket, e *socketio.Event) { rec.add("never", e.WantsAck()) })
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				a, err := s.EmitWithAck(ctx, "ask", 1)
				var (
					n   int
					str string
				)
				if err == nil {
					err = a.Decode(&n, &str)
				}
				rec.add("ask", []any{n, str, a.Len(), errString(err)})
				s.Emit("ask-result", n, str, errString(err))
			}()
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				defer cancel()
				start := time.Now()
				_, err := s.EmitWithAck(ctx, "ignore")
				rec.add("ignore", err)
				rec.add("ignore-elapsed", time.Since(start))
				s.Emit("ignore-result", errors.Is(err, socketio.ErrAckTimeout), errString(err))
			}()
		})
	},
	finals: 1,
	check: func(t *testing.T, c sioCase, r *caseRun) {
		acks := map[string]any{}
		for _, e := range jstest.Filter(r.events, "ack") {
			acks[e.String("name")] = e["args"]
		}
		want := map[string]any{"sum": []any{3, "sum"}, "noargs": []any{}}
		if c.client == "4" {
			want["sum-promise"] = []any{5}
		}
		wantJSON(t, "client acks", acks, want)
		wantJSON(t, "ask (client listener)", only(t, r.events, "ask")["args"], []any{1})
		wantJSON(t, "ask-result", only(t, r.events, "ask-result")["args"], []any{2, "pong", ""})
		wantJSON(t, "server's ask ack", r.rec.get("ask"), []any{[]any{2, "pong", 2, ""}})
		if n := jstest.Count(r.events, "ignore"); n != 1 {
			t.Errorf("%d ignore events, want 1", n)
		}
		errs := r.rec.get("ignore")
		if len(errs) != 1 || !errors.Is(errs[0].(error), socketio.ErrAckTimeout) {
			t.Errorf("EmitWithAck to a listener that never acks: %v, want ErrAckTimeout", errs)
		}
		if el := r.rec.get("ignore-elapsed"); len(el) == 1 && el[0].(time.Duration) > 4*time.Second {
			t.Errorf("EmitWithAck with a 300ms context returned after %v", el[0])
		}
		wantJSON(t, "ignore-result", only(t, r.events, "ignore-result")["args"], []any{true, socketio.ErrAckTimeout.Error()})
		sums := []any{true}
		if c.client == "4" {
			sums = append(sums, true)
			e := only(t, r.events, "ack-timeout")
			if msg := e.String("message"); msg != "operation has timed out" {
				t.Errorf("client timeout(200).emitWithAck: %q, want %q", msg, "operation has timed out")
			}
			if n := jstest.Count(r.events, "never-acked"); n != 0 {
				t.Error("the client got an ack for never")
			}
			wantJSON(t, "server's never", r.rec.get("never"), []any{true})
		}
		wantJSON(t, "server's sum WantsAck", r.rec.get("sum"), sums)
	},
}

func bigBinary(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + 7)
	}
	return b
}

// hexBytes replaces the []byte values in v, a decoded JSON value, by their
// hex with a "bytes:" prefix, so that nil and empty compare equal.
func hexBytes(v any) any {
	switch v := v.(type) {
	case []byte:
		return "bytes:" + hex.EncodeToString(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = hexBytes(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = hexBytes(e)
		}
		return out
	}
	return v
}

// jsBin is how sio-client.js reports binary data.
func jsBin(b []byte) map[string]any {
	if len(b) <= 64 {
		return map[string]any{"$bin": hex.EncodeToString(b)}
	}
	sum := sha256.Sum256(b)
	return map[string]any{"$binlen": len(b), "$sha256": hex.EncodeToString(sum[:])}
}

var binaryScenario = scenario{
	setup: func(srv *socketio.Server, rec *recorder) {
		srv.OnConnection(func(s *socketio.Socket) {
			s.On("bin", func(s *socketio.Socket, e *socketio.Event) {
				var (
					top []byte
					obj struct {
						Name  string `json:"name"`
						Data  []byte `json:"data"`
						Empty []byte `json:"empty"`
					}
					big []byte
				)
				if err := e.Decode(&top, &obj, &big); err != nil {
					rec.add("bin", err)
				}
				var anyObj any
				var skip json.RawMessage
				if err := e.Decode(&skip, &anyObj); err != nil {
					rec.add("bin", err)
				}
				sum := sha256.Sum256(big)
				rec.add("bin", map[string]any{
					"top": top, "name": obj.Name, "data": obj.Data, "empty": obj.Empty, "emptyNil": obj.Empty == nil,
					"any": anyObj, "bigLen": len(big), "bigSum": hex.EncodeToString(sum[:]), "atts": len(e.Attachments()),
				})
				s.Emit("bin-back", top, map[string]any{"name": obj.Name, "data": obj.Data, "list": []any{[]byte{7}, "s"}, "empty": obj.Empty},
					hex.EncodeToString(sum[:]), len(big))
				s.Emit("bin-echo", e.Values()...)
				e.Ack([]byte{9, 8, 7}, map[string]any{"nested": []any{[]byte{1}}}, "text")
			})
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				a, err := s.EmitWithAck(ctx, "bin-ask", []byte{0xde, 0xad})
				var (
					b  []byte
					st struct {
						Inner []byte `json:"inner"`
						N     int    `json:"n"`
					}
				)
				if err == nil {
					err = a.Decode(&b, &st)
				}
				s.Emit("bin-ask-result", hex.EncodeToString(b), string(st.Inner), st.N, errString(err))
			}()
		})
	},
	finals: 1,
	check: func(t *testing.T, c sioCase, r *caseRun) {
		big := bigBinary(100 * 1024)
		sum := sha256.Sum256(big)
		obj := map[string]any{"name": "obj", "data": jsBin([]byte{4, 5, 6}), "list": []any{jsBin([]byte{7}), "s"}, "empty": jsBin(nil)}
		wantJSON(t, "bin-ack", only(t, r.events, "bin-ack")["args"],
			[]any{jsBin([]byte{9, 8, 7}), map[string]any{"nested": []any{jsBin([]byte{1})}}, "text"})
		wantJSON(t, "bin-back", only(t, r.events, "bin-back")["args"],
			[]any{jsBin([]byte{1, 2, 3}), obj, hex.EncodeToString(sum[:]), len(big)})
		wantJSON(t, "bin-echo", only(t, r.events, "bin-echo")["args"], []any{jsBin([]byte{1, 2, 3}), obj, jsBin(big)})
		wantJSON(t, "bin-ask (client listener)", only(t, r.events, "bin-ask")["args"], []any{jsBin([]byte{0xde, 0xad})})
		wantJSON(t, "bin-ask-result", only(t, r.events, "bin-ask-result")["args"], []any{"deadbeef", "hi", 1, ""})
		got := r.rec.get("bin")
		if len(got) != 1 {
			t.Fatalf("server bin records: %v", got)
		}
		m, ok := got[0].(map[string]any)
		if !ok {
			t.Fatalf("server bin decode: %v", got[0])
		}
		if !bytes.Equal(m["top"].([]byte), []byte{1, 2, 3}) || !bytes.Equal(m["data"].([]byte), []byte{4, 5, 6}) ||
			m["name"] != "obj" || len(m["empty"].([]byte)) != 0 || m["bigLen"] != len(big) ||
			m["bigSum"] != hex.EncodeToString(sum[:]) || m["atts"] != 5 {
			t.Errorf("server decoded %v", m)
		}
		wantAny := map[string]any{"name": "obj", "data": []byte{4, 5, 6}, "list": []any{[]byte{7}, "s"}, "empty": []byte{}}
		if got := hexBytes(m["any"]); !reflect.DeepEqual(got, hexBytes(wantAny)) {
			t.Errorf("server decoded into *any: %#v, want %#v", got, hexBytes(wantAny))
		}
	},
}

var authScenario = scenario{
	setup: func(srv *socketio.Server, rec *recorder) {
		srv.Use(func(s *socketio.Socket) error {
			var a struct {
				Token string `json:"token"`
				User  string `json:"user"`
			}
			if err := s.Handshake().DecodeAuth(&a); err != nil {
				return err
			}
			rec.add("auth", string(s.Handshake().Auth))
			switch a.Token {
			case "good":
				s.SetData(a.User)
				return nil
			case "bad":
				return socketio.NewConnectError("not authorized", map[string]any{"code": 401})
			default:
				return errors.New("plain failure: " + a.Token)
			}
		})
		srv.OnConnection(func(s *socketio.Socket) {
			rec.add("connected", s.Data())
			s.Emit("whoami", s.Data(), s.Handshake().Auth)
		})
	},
	finals: 1,
	check: func(t *testing.T, c sioCase, r *caseRun) {
		wantJSON(t, "whoami", only(t, r.events, "whoami")["args"], []any{"ann", map[string]any{"token": "good", "user": "ann"}})
		wantJSON(t, "server connections", r.rec.get("connected"), []any{"ann"})
		auths := r.rec.get("auth")
		sort.Slice(auths, func(i, j int) bool { return auths[i].(string) < auths[j].(string) })
		wantJSON(t, "server's Handshake().Auth", auths, []any{`{"token":"bad"}`, `{"token":"good","user":"ann"}`, `{"token":"other"}`})
		errs := map[float64]jstest.Event{}
		for _, e := range jstest.Filter(r.events, "connect_error") {
			errs[e.Number("c")] = e
		}
		if len(errs) != 2 {
			t.Fatalf("connect_error events for clients %v, want 1 and 2", errs)
		}
		wantJSON(t, "connect_error of the bad token", errs[1], map[string]any{
			"event": "connect_error", "c": 1, "nsp": "/", "message": "not authorized", "data": map[string]any{"code": 401},
		})
		wantJSON(t, "connect_error of a plain error", errs[2], map[string]any{
			"event": "connect_error", "c": 2, "nsp": "/", "message": "plain failure: other",
		})
		for _, e := range jstest.Filter(r.events, "connect") {
			if e.Number("c") != 0 {
				t.Errorf("refused client connected: %s", mustJSON(e))
			}
		}
	},
}

var namespacesScenario = scenario{
	setup: func(srv *socketio.Server, rec *recorder) {
		srv.OnConnection(func(s *socketio.Socket) { rec.add("root", s.ID()) })
		hello := func(s *socketio.Socket) {
			rec.add("nsp", s.Namespace().Name())
			s.Emit("hello", s.Namespace().Name(), s.ID())
			s.On("which", func(s *socketio.Socket, e *socketio.Event) { e.Ack(s.Namespace().Name()) })
		}
		admin := srv.Of("/admin")
		withFinal(admin)
		admin.OnConnection(hello)
		dyn := srv.OfRegexp(regexp.MustCompile(`^/dyn-\d+$`))
		withFinal(dyn)
		dyn.OnConnection(hello)
		rec.add("parent", dyn)
	},
	finals: 2,
	check: func(t *testing.T, c sioCase, r *caseRun) {
		if roots := r.rec.get("root"); len(roots) != 0 {
			t.Errorf("sockets connected to / without asking: %v", roots)
		}
		nsps := r.rec.get("nsp")
		sort.Slice(nsps, func(i, j int) bool { return nsps[i].(string) < nsps[j].(string) })
		wantJSON(t, "server connections", nsps, []any{"/admin", "/dyn-42"})
		var children []string
		for _, n := range r.rec.get("parent")[0].(*socketio.ParentNamespace).Children() {
			children = append(children, n.Name())
		}
		if !slices.Equal(children, []string{"/dyn-42"}) {
			t.Errorf("dynamic namespaces created: %v, want [/dyn-42]", children)
		}
		for i, nsp := range []string{"/admin", "/dyn-42"} {
			id := clientID(t, r.events, i)
			for _, e := range jstest.Filter(r.events, "hello") {
				if int(e.Number("c")) == i {
					wantJSON(t, "hello on "+nsp, e["args"], []any{nsp, id})
				}
			}
			for _, e := range jstest.Filter(r.events, "which") {
				if int(e.Number("c")) == i {
					wantJSON(t, "which on "+nsp, e["args"], []any{nsp})
				}
			}
		}
		if n, m := jstest.Count(r.events, "hello"), jstest.Count(r.events, "which"); n != 2 || m != 2 {
			t.Errorf("%d hello and %d which events, want 2 of each", n, m)
		}
		e := only(t, r.events, "connect_error")
		wantJSON(t, "connect_error", e, map[string]any{"event": "connect_error", "c": 2, "nsp": "/nope", "message": "Invalid namespace"})
	},
}

var roomsScenario = scenario{
	setup: func(srv *socketio.Server, rec *recorder) {
		srv.OnConnection(func(s *socketio.Socket) {
			s.On("join", func(s *socketio.Socket, e *socketio.Event) {
				var rooms []socketio.Room
				if err := e.Decode(&rooms); err != nil {
					rec.add("error", err)
				}
				s.Join(rooms...)
				got := s.Rooms()
				slices.Sort(got)
				e.Ack(got)
			})
			s.On("go", func(s *socketio.Socket, e *socketio.Event) {
				var p struct {
					Direct socketio.Room `json:"direct"`
				}
				if err := e.Decode(&p); err != nil {
					rec.add("error", err)
				}
				io := srv.Of("/")
				for _, err := range []error{
					io.To("room-a").Emit("to-a", 1),
					io.Except("room-a").Emit("except-a", 2),
					io.To("room-a", "room-b").Emit("to-ab", 3),
					io.To("room-b").Except("room-a").Emit("b-not-a", 4),
					s.Broadcast().Emit("bcast", 5),
					s.To("room-a").Emit("sender-to-a", 6),
					io.To(p.Direct).Emit("direct", 7),
				} {
					if err != nil {
						rec.add("error", err)
					}
				}
				s.Leave("room-a")
				for _, err := range []error{io.To("room-a").Emit("after-leave", 8), srv.Emit("end")} {
					if err != nil {
						rec.add("error", err)
					}
				}
			})
		})
	},
	finals: 5,
	check: func(t *testing.T, c sioCase, r *caseRun) {
		for _, err := range r.rec.get("error") {
			t.Errorf("server: %v", err)
		}
		roomsOf := [][]string{{"room-a"}, {"room-a"}, {"room-b"}, {"room-a", "room-b"}, {}}
		for _, e := range jstest.Filter(r.events, "joined") {
			i := int(e.Number("c"))
			want := append([]string{clientID(t, r.events, i)}, roomsOf[i]...)
			slices.Sort(want)
			wantJSON(t, fmt.Sprintf("client %d's rooms", i), e["args"], []any{want})
		}
		if n := jstest.Count(r.events, "joined"); n != 5 {
			t.Errorf("%d joined events, want 5", n)
		}
		// Events in order of emission, with their argument.
		want := [][]any{
			{[]any{"to-a", 1}, []any{"to-ab", 3}, []any{"end"}},
			{[]any{"to-a", 1}, []any{"to-ab", 3}, []any{"bcast", 5}, []any{"sender-to-a", 6}, []any{"after-leave", 8}, []any{"end"}},
			{[]any{"except-a", 2}, []any{"to-ab", 3}, []any{"b-not-a", 4}, []any{"bcast", 5}, []any{"direct", 7}, []any{"end"}},
			{[]any{"to-a", 1}, []any{"to-ab", 3}, []any{"bcast", 5}, []any{"sender-to-a", 6}, []any{"after-leave", 8}, []any{"end"}},
			{[]any{"except-a", 2}, []any{"bcast", 5}, []any{"end"}},
		}
		got := make([]any, 5)
		for _, e := range jstest.Filter(r.events, "received") {
			got[int(e.Number("c"))] = e["list"]
		}
		for i := range want {
			wantJSON(t, fmt.Sprintf("client %d received", i), got[i], want[i])
		}
	},
}

var broadcastAckScenario = scenario{
	setup: func(srv *socketio.Server, rec *recorder) {
		srv.OnConnection(func(s *socketio.Socket) {
			s.On("start-poll", func(s *socketio.Socket, e *socketio.Event) {
				// EmitWithAck waits for this client's ack too, which this
				// client's dispatch queue delivers: not from the handler.
				go func() {
					io := srv.Of("/")
					start := time.Now()
					res, err := io.Timeout(5*time.Second).EmitWithAck(context.Background(), "poll", "q1")
					rec.add("round1", time.Since(start))
					rec.add("round1", err)
					rec.add("round1", answers(res))
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					start = time.Now()
					res2, err2 := io.Timeout(1500*time.Millisecond).EmitWithAck(ctx, "poll2", "q2")
					rec.add("round2", time.Since(start))
					rec.add("round2", err2)
					rec.add("round2", answers(res2))
					e.Ack(answers(res), errString(err), answers(res2), errString(err2))
				}()
			})
		})
	},
	finals: 3,
	check: func(t *testing.T, c sioCase, r *caseRun) {
		r1, r2 := r.rec.get("round1"), r.rec.get("round2")
		if len(r1) != 3 || len(r2) != 3 {
			t.Fatalf("rounds not recorded: %v %v", r1, r2)
		}
		if r1[1] != nil {
			t.Errorf("round 1 (every client acks): %v", r1[1])
		}
		if d := r1[0].(time.Duration); d >= 4*time.Second {
			t.Errorf("round 1 took %v: EmitWithAck waited for its timeout although every client answered", d)
		}
		wantJSON(t, "round 1 answers", r1[2], []any{
			map[string]any{"c": 0, "q": "q1"}, map[string]any{"c": 1, "q": "q1"}, map[string]any{"c": 2, "q": "q1"}})
		if err, _ := r2[1].(error); !errors.Is(err, socketio.ErrAckTimeout) {
			t.Errorf("round 2 (client 2 silent): %v, want ErrAckTimeout", r2[1])
		}
		if d := r2[0].(time.Duration); d < 1400*time.Millisecond || d > 6*time.Second {
			t.Errorf("round 2 with Timeout(1.5s) took %v", d)
		}
		wantJSON(t, "round 2 answers", r2[2], []any{map[string]any{"c": 0, "q": "q2"}, map[string]any{"c": 1, "q": "q2"}})
		polled := only(t, r.events, "polled")
		wantJSON(t, "client 0's ack", polled["args"], []any{r1[2], "", r2[2], socketio.ErrAckTimeout.Error()})
	},
}

// answers decodes the first argument of each ack, sorted by its "c".
func answers(res []socketio.Args) []map[string]any {
	out := []map[string]any{}
	for _, a := range res {
		var m map[string]any
		if err := a.Decode(&m); err != nil {
			m = map[string]any{"error": err.Error()}
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]["c"]) < fmt.Sprint(out[j]["c"]) })
	return out
}

var disconnectScenario = scenario{
	setup: func(srv *socketio.Server, rec *recorder) {
		srv.OnConnection(func(s *socketio.Socket) {
			s.OnDisconnect(func(s *socketio.Socket, reason string) { rec.add("reason:"+s.ID(), reason) })
			s.On("kick-me", func(s *socketio.Socket, e *socketio.Event) {
				var close bool
				e.Decode(&close)
				s.Disconnect(close)
			})
			s.On("hello", func(s *socketio.Socket, e *socketio.Event) { e.Ack() })
		})
	},
	finals: 0,
	settle: func(rec *recorder) {
		rec.waitPrefix("reason:", 3, interopSettle)
	},
	check: func(t *testing.T, c sioCase, r *caseRun) {
		// Each client sees one disconnect: a server that closed the
		// connection before the client took the DISCONNECT packet would
		// give "transport close" first.
		wantJSON(t, "client disconnect reasons", disconnectReasons(r.events), map[string]any{
			"0": []any{"io server disconnect"}, "1": []any{"io client disconnect"}, "2": []any{"io server disconnect"}})
		for i, want := range []string{socketio.ReasonServerDisconnect, socketio.ReasonClientDisconnect, socketio.ReasonServerDisconnect} {
			id := clientID(t, r.events, i)
			wantJSON(t, fmt.Sprintf("server OnDisconnect reason of client %d", i), r.rec.get("reason:"+id), []any{want})
		}
	},
}

var volatileScenario = scenario{
	setup: func(srv *socketio.Server, rec *recorder) {
		srv.OnConnection(func(s *socketio.Socket) {
			s.On("go", func(s *socketio.Socket, e *socketio.Event) {
				rec.add("err", srv.Of("/").Volatile().Emit("vol", 1))
				rec.add("err", s.EmitVolatile("vol", 2))
				rec.add("err", s.Emit("after", 3))
			})
		})
	},
	finals: 1,
	check: func(t *testing.T, c sioCase, r *caseRun) {
		wantJSON(t, "emit errors", r.rec.get("err"), []any{nil, nil, nil})
		wantJSON(t, "after", only(t, r.events, "after")["args"], []any{3})
		// Volatile events may be dropped, but not reordered or changed.
		vols, _ := only(t, r.events, "vols")["list"].([]any)
		var ok bool
		for _, want := range [][]any{{}, {[]any{1}}, {[]any{2}}, {[]any{1}, []any{2}}} {
			if jsonEqual(vols, want) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("volatile events received: %s", mustJSON(vols))
		}
	},
}

var fetchScenario = scenario{
	setup: func(srv *socketio.Server, rec *recorder) {
		srv.OnConnection(func(s *socketio.Socket) {
			s.OnDisconnect(func(s *socketio.Socket, reason string) { rec.add("reason:"+s.ID(), reason) })
			s.On("admin", func(s *socketio.Socket, e *socketio.Event) {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					io := srv.Of("/")
					ids := func(socks []*socketio.RemoteSocket, err error) []string {
						if err != nil {
							rec.add("error", err)
						}
						var out []string
						for _, s := range socks {
							out = append(out, s.ID)
							if !slices.Contains(s.Rooms, socketio.Room(s.ID)) {
								rec.add("error", fmt.Errorf("FetchSockets: socket %s not in its own room: %v", s.ID, s.Rooms))
							}
						}
						slices.Sort(out)
						return out
					}
					all := ids(io.FetchSockets(ctx))
					if err := io.SocketsJoin(ctx, "x"); err != nil {
						rec.add("error", err)
					}
					inX, err := io.In("x").FetchSockets(ctx)
					for _, s := range inX {
						if !slices.Contains(s.Rooms, "x") {
							rec.add("error", fmt.Errorf("FetchSockets: socket %s not in x after SocketsJoin: %v", s.ID, s.Rooms))
						}
					}
					x := ids(inX, err)
					if err := io.To("x").Emit("in-x", "hello x"); err != nil {
						rec.add("error", err)
					}
					e.Ack(all, x)
					if err := io.DisconnectSockets(ctx, true); err != nil {
						rec.add("error", err)
					}
				}()
			})
		})
	},
	finals: 0,
	settle: func(rec *recorder) {
		rec.waitPrefix("reason:", 3, interopSettle)
	},
	check: func(t *testing.T, c sioCase, r *caseRun) {
		for _, err := range r.rec.get("error") {
			t.Errorf("server: %v", err)
		}
		var ids []string
		for i := range 3 {
			ids = append(ids, clientID(t, r.events, i))
		}
		slices.Sort(ids)
		wantJSON(t, "FetchSockets ids (all, in x)", only(t, r.events, "admin")["args"], []any{ids, ids})
		inX := jstest.Filter(r.events, "in-x")
		if len(inX) != 3 {
			t.Errorf("%d clients got in-x, want 3", len(inX))
		}
		for _, e := range inX {
			wantJSON(t, "in-x", e["args"], []any{"hello x"})
		}
		wantJSON(t, "client disconnect reasons", disconnectReasons(r.events), map[string]any{
			"0": []any{"io server disconnect"}, "1": []any{"io server disconnect"}, "2": []any{"io server disconnect"}})
		for _, id := range ids {
			wantJSON(t, "server OnDisconnect reason of "+id, r.rec.get("reason:"+id), []any{socketio.ReasonServerDisconnect})
		}
	},
}

// ---------------------------------------------------------------------------
// Helpers.

// disconnectReasons returns the reasons of each client's disconnect events,
// in order, by client index.
func disconnectReasons(events []jstest.Event) map[string][]string {
	out := map[string][]string{}
	for _, e := range jstest.Filter(events, "disconnect") {
		c := fmt.Sprint(e["c"])
		out[c] = append(out[c], e.String("reason"))
	}
	return out
}

// clientID returns the id client c got on connecting.
func clientID(t *testing.T, events []jstest.Event, c int) string {
	t.Helper()
	for _, e := range jstest.Filter(events, "connect") {
		if int(e.Number("c")) == c {
			return e.String("id")
		}
	}
	t.Fatalf("client %d never connected", c)
	return ""
}

// only returns the single event named name.
func only(t *testing.T, events []jstest.Event, name string) jstest.Event {
	t.Helper()
	got := jstest.Filter(events, name)
	if len(got) != 1 {
		t.Fatalf("%d %s events, want 1", len(got), name)
	}
	return got[0]
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// normalize returns v as encoding/json sees it: what it decodes from v's
// encoding into an any.
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("unencodable %#v: %v", v, err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Sprintf("undecodable %s: %v", b, err)
	}
	return out
}

func jsonEqual(got, want any) bool { return reflect.DeepEqual(normalize(got), normalize(want)) }

// wantJSON checks that got and want have the same JSON value.
func wantJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	if !jsonEqual(got, want) {
		t.Errorf("%s = %s, want %s", what, mustJSON(got), mustJSON(want))
	}
}

// recorder collects what the server's handlers saw, by key.
type recorder struct {
	mu sync.Mutex
	m  map[string][]any
}

func newRecorder() *recorder { return &recorder{m: make(map[string][]any)} }

func (r *recorder) add(key string, v any) {
	r.mu.Lock()
	r.m[key] = append(r.m[key], v)
	r.mu.Unlock()
}

func (r *recorder) get(key string) []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.m[key])
}

// waitPrefix waits until n keys starting with prefix have values, or d.
func (r *recorder) waitPrefix(prefix string, n int, d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		r.mu.Lock()
		count := 0
		for k := range r.m {
			if strings.HasPrefix(k, prefix) {
				count++
			}
		}
		r.mu.Unlock()
		if count >= n || time.Now().After(deadline) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// caseLog keeps a case's server log, to show when the case fails. It drops
// what is written after stop.
type caseLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	stopped bool
}

func (l *caseLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped && l.buf.Len() < 1<<20 {
		l.buf.Write(p)
	}
	return len(p), nil
}

func (l *caseLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *caseLog) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}

// checkGoroutines waits for the goroutine count to settle back to within
// interopGoroutineMax of baseline, and reports the goroutines left if it does
// not within a few seconds.
func checkGoroutines(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= baseline+interopGoroutineMax {
			return
		}
		if time.Now().After(deadline) {
			var buf bytes.Buffer
			pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Errorf("%d goroutines after every server shut down, baseline %d (+%d allowed):\n%s",
				n, baseline, interopGoroutineMax, buf.String())
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

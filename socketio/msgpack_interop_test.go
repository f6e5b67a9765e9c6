package socketio_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/internal/syncbuf"
	"github.com/pierhq/pier/socketio"
)

// TestMsgpackInterop drives the official socket.io-client 4.8.4 with the npm
// socket.io-msgpack-parser 3.0.2 against a server using
// socketio.MsgpackParser, over each transport, through
// testdata/js/sio-msgpack-client.js (which describes the scenario).
func TestMsgpackInterop(t *testing.T) {
	jstest.Install(t)
	for _, tr := range []string{"websocket", "polling"} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			mpiRun(t, tr)
		})
	}
}

// mpiRec collects what the server's handlers saw, by key.
type mpiRec struct {
	mu sync.Mutex
	m  map[string][]any
}

func (r *mpiRec) add(key string, v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[string][]any)
	}
	r.m[key] = append(r.m[key], v)
}

func (r *mpiRec) get(key string) []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]any(nil), r.m[key]...)
}

func mpiBig(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + 7)
	}
	return b
}

// mpiBin is how the script reports binary data.
func mpiBin(b []byte) map[string]any {
	if len(b) <= 64 {
		return map[string]any{"$bin": hex.EncodeToString(b)}
	}
	sum := sha256.Sum256(b)
	return map[string]any{"$binlen": len(b), "$sha256": hex.EncodeToString(sum[:])}
}

func mpiNormalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	var out any
	json.Unmarshal(b, &out)
	return out
}

func mpiWant(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := mpiNormalize(got), mpiNormalize(want); !reflect.DeepEqual(g, w) {
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		t.Errorf("%s = %s, want %s", what, gb, wb)
	}
}

func mpiOnly(t *testing.T, events []jstest.Event, name string) jstest.Event {
	t.Helper()
	got := jstest.Filter(events, name)
	if len(got) != 1 {
		t.Fatalf("%d %s events, want 1", len(got), name)
	}
	return got[0]
}

func mpiErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func mpiRun(t *testing.T, transport string) {
	var (
		rec  mpiRec
		logs syncbuf.Buffer
	)
	srv, err := socketio.NewServer(&socketio.Options{
		Parser: socketio.MsgpackParser(),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Use(func(s *socketio.Socket) error {
		rec.add("auth", string(s.Handshake().Auth))
		var a struct {
			Token string `json:"token"`
			User  string `json:"user"`
		}
		if err := s.Handshake().DecodeAuth(&a); err != nil {
			return err
		}
		switch a.Token {
		case "good":
			return nil
		case "bad":
			return socketio.NewConnectError("not authorized", map[string]any{"code": 401})
		}
		return errors.New("plain failure: " + a.Token)
	})
	srv.OnConnection(func(s *socketio.Socket) {
		var auth any
		s.Handshake().DecodeAuth(&auth)
		s.Emit("welcome", s.ID(), auth, 42, 1.5, map[string]any{"list": []any{true, nil, "✓", -3}}, []byte{0xca, 0xfe})
		s.On("mixed", func(s *socketio.Socket, e *socketio.Event) {
			var (
				str    string
				n, neg int
				f      float64
				obj    struct {
					Nested struct {
						A []any `json:"a"`
					} `json:"nested"`
					Bin []byte `json:"bin"`
				}
				b, big, u8 []byte
				date       string
				m          map[string]any
			)
			err := e.Decode(&str, &n, &f, &neg, &obj, &b, &big, &u8, &date, &m)
			sum := sha256.Sum256(big)
			rec.add("mixed", map[string]any{
				"err": mpiErr(err), "str": str, "n": n, "f": f, "neg": neg, "a": obj.Nested.A, "objBin": hex.EncodeToString(obj.Bin),
				"b": hex.EncodeToString(b), "bigLen": len(big), "bigSum": hex.EncodeToString(sum[:]), "u8": hex.EncodeToString(u8),
				"date": date, "m": m, "len": e.Len(), "atts": len(e.Attachments()), "ack": e.WantsAck(),
			})
			s.Emit("mixed-back", e.Values()...)
			e.Ack([]byte{9, 8, 7}, map[string]any{"nested": []any{[]byte{1}}}, "text", 3.25, 10)
		})
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			a, err := s.EmitWithAck(ctx, "ask", []byte{0xde, 0xad}, "q")
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
			s.Emit("ask-result", string(b), hex.EncodeToString(st.Inner), st.N, mpiErr(err))
		}()
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events, err := jstest.Run(ctx, t, "sio-msgpack-client.js", "--url", hs.URL, "--transports", transport)
	defer func() {
		if t.Failed() {
			for _, e := range events {
				b, _ := json.Marshal(e)
				t.Logf("event: %s", b)
			}
			t.Logf("server log:\n%s", logs.String())
		}
	}()
	if err != nil {
		t.Fatal(err)
	}
	if last := events[len(events)-1]; last.Name() != "done" || !last.Bool("ok") {
		t.Fatalf("last event %v, want done ok", last)
	}

	conn := mpiOnly(t, events, "connect")
	id := conn.String("id")
	if conn.Number("c") != 0 || id == "" || conn.String("transport") != transport {
		t.Errorf("connect event %v", conn)
	}
	mpiWant(t, "welcome", mpiOnly(t, events, "welcome")["args"],
		[]any{id, map[string]any{"token": "good", "user": "ann"}, 42, 1.5, map[string]any{"list": []any{true, nil, "✓", -3}}, mpiBin([]byte{0xca, 0xfe})})

	big := mpiBig(70000)
	bigSum := sha256.Sum256(big)
	mpiWant(t, "server's decoded mixed", rec.get("mixed"), []any{map[string]any{
		"err": "", "str": "str", "n": 42, "f": 1.5, "neg": -7, "a": []any{1, "two", nil, true}, "objBin": "0102",
		"b": "010203", "bigLen": 70000, "bigSum": hex.EncodeToString(bigSum[:]), "u8": "050607",
		"date": "2024-02-29T12:34:56.789Z", "m": map[string]any{"b": 1}, "len": 10, "atts": 4, "ack": true,
	}})
	mpiWant(t, "mixed-back", mpiOnly(t, events, "mixed-back")["args"], []any{
		"str", 42, 1.5, -7, map[string]any{"nested": map[string]any{"a": []any{1, "two", nil, true}}, "bin": mpiBin([]byte{1, 2})},
		mpiBin([]byte{1, 2, 3}), mpiBin(big), mpiBin([]byte{5, 6, 7}), "2024-02-29T12:34:56.789Z", map[string]any{"b": 1},
	})
	mpiWant(t, "mixed-ack", mpiOnly(t, events, "mixed-ack")["args"],
		[]any{mpiBin([]byte{9, 8, 7}), map[string]any{"nested": []any{mpiBin([]byte{1})}}, "text", 3.25, 10})
	mpiWant(t, "ask (client listener)", mpiOnly(t, events, "ask")["args"], []any{mpiBin([]byte{0xde, 0xad}), "q"})
	mpiWant(t, "ask-result", mpiOnly(t, events, "ask-result")["args"], []any{"hi", "0102", 1, ""})

	errs := map[int]jstest.Event{}
	for _, e := range jstest.Filter(events, "connect_error") {
		errs[int(e.Number("c"))] = e
	}
	if len(errs) != 3 {
		t.Fatalf("connect_error events %v, want clients 1, 2 and 3", errs)
	}
	mpiWant(t, "connect_error of the bad token", errs[1],
		map[string]any{"event": "connect_error", "c": 1, "message": "not authorized", "data": map[string]any{"code": 401}})
	mpiWant(t, "connect_error of a plain error", errs[2],
		map[string]any{"event": "connect_error", "c": 2, "message": "plain failure: other"})
	mpiWant(t, "connect_error without auth", errs[3],
		map[string]any{"event": "connect_error", "c": 3, "message": "plain failure: "})

	auths := map[string]bool{}
	for _, a := range rec.get("auth") {
		auths[a.(string)] = true
	}
	mpiWant(t, "server's Handshake().Auth", auths, map[string]bool{
		`{"token":"good","user":"ann"}`: true, `{"token":"bad"}`: true, `{"token":"other"}`: true, `{}`: true,
	})
}

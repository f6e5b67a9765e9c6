package socketio

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// nested returns an argument whose payload ["ev", arg] nests depth levels.
func nested(depth int) any {
	var v any = 1
	for range depth - 1 {
		v = []any{v}
	}
	return v
}

func nestedJSON(depth int) string {
	return strings.Repeat("[", depth-1) + "1" + strings.Repeat("]", depth-1)
}

// MaxDepth is one limit: Emit refuses an argument that would make the
// payload nest deeper, whatever the argument's type, and the decoder
// accepts from a client exactly what Emit may send back.
func TestMaxDepthOneLimit(t *testing.T) {
	type deepStruct struct {
		A any `json:"a"`
	}
	args := []struct {
		name string
		arg  func(depth int) any
	}{
		{"[]any", nested},
		{"map", func(d int) any { return map[string]any{"a": nested(d - 1)} }},
		{"json.RawMessage", func(d int) any { return json.RawMessage(nestedJSON(d)) }},
		{"struct", func(d int) any { return deepStruct{A: nested(d - 1)} }},
	}
	for _, a := range args {
		for _, c := range []struct {
			depth   int
			wantErr bool
		}{{MaxDepth, false}, {MaxDepth + 1, true}} {
			_, _, err := encodeEvent("ev", []any{a.arg(c.depth)})
			if c.wantErr != (err != nil) || (err != nil && !errors.Is(err, ErrTooDeep)) {
				t.Errorf("%s, payload depth %d: err %v, want error %v", a.name, c.depth, err, c.wantErr)
			}
		}
	}

	srv, url := newTestServer(t, nil)
	srv.OnConnection(func(s *Socket) {
		s.On("echo", func(s *Socket, e *Event) {
			if err := s.Emit("echo", e.Raw(0)); err != nil {
				s.Emit("error", err.Error())
			}
		})
	})
	c := dialRaw(t, url, 4)
	c.Send("40")
	readUntil(t, c, "40")
	at := `42["echo",` + nestedJSON(MaxDepth) + `]`
	c.Send(at)
	if got := readUntil(t, c, "42"); got != at {
		t.Fatalf("echo at the limit: got %.80q", got)
	}
	c.Send(`42["echo",` + nestedJSON(MaxDepth+1) + `]`)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		p, err := c.Read(20 * time.Second)
		if err != nil {
			return // closed for the protocol violation, as Node closes on a parse error
		}
		if strings.HasPrefix(p, "42") {
			t.Fatalf("a payload past the limit was handled: %.80q", p)
		}
	}
	t.Fatal("the connection stayed open after a payload past the limit")
}

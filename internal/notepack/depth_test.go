package notepack

import (
	"errors"
	"testing"

	"github.com/pierhq/pier/internal/nesting"
)

// payload returns an event payload ["ev", [[...]]] whose nesting is n (the
// payload array is level 1).
func payload(n int) []any {
	var v any = 1.0
	for range n - 1 {
		v = []any{v}
	}
	if n == 1 {
		return []any{"ev"}
	}
	return []any{"ev", v}
}

// payloadBytes is payload(n) in MessagePack and JSON, written by hand
// (the encoders refuse what is too deep, as they should; Node does not).
func payloadBytes(n int) (mp, js []byte) {
	mp = append([]byte{0x92, 0xa2, 'e', 'v'}, bytesRepeat(0x91, n-1)...)
	mp = append(mp, 0x01)
	js = append([]byte(`["ev",`), bytesRepeat('[', n-1)...)
	js = append(append(js, '1'), bytesRepeat(']', n)...)
	return mp, js
}

func bytesRepeat(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

func mustEncode(t *testing.T, v any) []byte {
	b, err := Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A packet as deep as the one nesting limit (nesting.MaxDepth, which is
// socketio.MaxDepth) passes inside every cluster envelope, and encodes;
// a message nesting deeper than the payload limit plus the envelope is
// refused by the decoders.
func TestDepthLimitIsTheSocketIOLimit(t *testing.T) {
	// [uid, {type, data, nsp}, opts] with data spliced in.
	classic := func(t *testing.T, data []byte) []byte {
		b := []byte{0x93}
		b = append(b, mustEncode(t, "uid")...)
		b = append(b, 0x83)
		b = append(b, mustEncode(t, "type")...)
		b = append(b, 0x02)
		b = append(b, mustEncode(t, "data")...)
		b = append(b, data...)
		b = append(b, mustEncode(t, "nsp")...)
		b = append(b, mustEncode(t, "/")...)
		return append(b, mustEncode(t, Map{{"rooms", []any{}}, {"except", []any{}}})...)
	}
	classicJSON := func(data []byte) []byte {
		return []byte(`{"type":2,"packet":{"type":2,"data":` + string(data) + `,"nsp":"/"}}`)
	}
	cases := []struct {
		name    string
		depth   int // of the payload
		wrap    bool
		wantErr bool
	}{
		{"in an envelope, payload at the limit", nesting.MaxDepth, true, false},
		{"in an envelope, past the limit and the envelope", nesting.MaxDepth + nesting.EnvelopeDepth, true, true},
		{"bare, at the limit and the envelope", DefaultMaxDepth, false, false},
		{"bare, past the limit and the envelope", DefaultMaxDepth + 1, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mp, js := payloadBytes(c.depth)
			if c.wrap {
				mp, js = classic(t, mp), classicJSON(js)
			}
			v, err := Decode(mp)
			if c.wantErr != (err != nil) || (err != nil && !errors.Is(err, ErrTooDeep)) {
				t.Fatalf("Decode: err %v, want error %v", err, c.wantErr)
			}
			if _, err := ParseJSON(js); c.wantErr != (err != nil) {
				t.Fatalf("ParseJSON: err %v, want error %v", err, c.wantErr)
			}
			if err == nil {
				// What decodes encodes again, in both codecs.
				if _, err := Encode(v); err != nil {
					t.Fatalf("Encode: %v", err)
				}
				if _, err := AppendJSON(nil, v, nil); err != nil {
					t.Fatalf("AppendJSON: %v", err)
				}
			}
		})
	}
	// The sharded adapter's envelope is one level deeper.
	sharded := Map{{"uid", "u"}, {"type", 3.0}, {"data", Map{{"packet", Map{{"type", 2.0}, {"data", payload(nesting.MaxDepth)}, {"nsp", "/"}}}}}}
	if _, err := Decode(mustEncode(t, sharded)); err != nil {
		t.Fatalf("sharded envelope, payload at the limit: %v", err)
	}
}

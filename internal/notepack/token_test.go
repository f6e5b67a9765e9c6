package notepack

import (
	"encoding/hex"
	"testing"
)

func TestNext(t *testing.T) {
	for _, tc := range []struct {
		hex  string
		kind Kind
		next int
		err  error
		ext  int8
	}{
		{"c0", KindNil, 1, nil, 0},
		{"7f", KindUint, 1, nil, 0},
		{"cfffffffffffffffff", KindUint, 9, nil, 0},
		{"d0ff", KindInt, 2, nil, 0},
		{"a3616263", KindStr, 4, nil, 0},
		{"a4616263", 0, 0, ErrTruncated, 0},
		{"c40201", 0, 0, ErrTruncated, 0},
		{"c7020001ff", KindBin, 5, nil, 0},                            // ext type 0: notepack 2's ArrayBuffer
		{"c70205aabb", KindExt, 5, nil, 5},                            // any other type
		{"c700ff" + "000000000000000000000001", KindExt, 15, nil, -1}, // timestamp 96 spans 12 bytes
		{"d40000", KindUndef, 3, nil, 0},
		{"d7000000000000000001", KindDate, 10, nil, 0},
		{"d6ff00000001", KindExt, 6, nil, -1},
		{"93c0c0c0", KindArray, 1, nil, 0},
		{"93c0", 0, 0, ErrTruncated, 0}, // three elements cannot fit in one byte
		{"dfffffffff", 0, 0, ErrTruncated, 0},
		{"c1", 0, 0, ErrInvalid, 0},
		{"", 0, 0, ErrTruncated, 0},
	} {
		b, _ := hex.DecodeString(tc.hex)
		tok, next, err := Next(b, 0)
		if err != tc.err || err == nil && (tok.Kind != tc.kind || next != tc.next || tok.Ext != tc.ext) {
			t.Errorf("Next(%s) = %+v, %d, %v; want kind %d, next %d, ext %d, err %v", tc.hex, tok, next, err, tc.kind, tc.next, tc.ext, tc.err)
		}
	}
	b, _ := hex.DecodeString("92c0" + "81a16101") // [nil, {a: 1}]
	if end, err := Skip(b, 0); err != nil || end != len(b) {
		t.Errorf("Skip = %d, %v; want %d", end, err, len(b))
	}
}

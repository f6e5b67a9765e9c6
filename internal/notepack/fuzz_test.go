package notepack

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// FuzzDecode checks that Decode never panics nor allocates beyond bounds,
// and that what it accepts re-encodes into bytes that reach a fixed point.
func FuzzDecode(f *testing.F) {
	for _, h := range captured {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	for _, h := range []string{"d40000", "c7020001ff", "d70000000000000003e8", "d6ff00000001", "c70cff1dcd6500fffffffffffffffe", "dd7fffffff", "8101a178", "cf0000000000000000"} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Decode(b)
		if err != nil {
			return
		}
		once, err := Encode(v)
		if err != nil {
			t.Fatalf("re-encoding %x: %v", b, err)
		}
		v2, err := Decode(once)
		if err != nil {
			t.Fatalf("decoding re-encoded %x: %v", once, err)
		}
		twice, err := Encode(v2)
		if err != nil {
			t.Fatal(err)
		}
		// Integral numbers of 2^64 and more are written as 0, as notepack
		// does: a second round may change them once, never again.
		v3, err := Decode(twice)
		if err != nil {
			t.Fatal(err)
		}
		thrice, _ := Encode(v3)
		if !bytes.Equal(twice, thrice) {
			t.Fatalf("not a fixed point: %x then %x", twice, thrice)
		}
		if _, err := AppendJSON(nil, v, nil); err != nil {
			t.Fatalf("JSON of %x: %v", b, err)
		}
	})
}

// FuzzParseJSON checks that ParseJSON never panics and that its values
// encode.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,"x",null,true]}`, `[{"type":"Buffer","data":[1]}]`, `1e400`, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseJSON(b)
		if err != nil {
			return
		}
		if _, err := Encode(v); err != nil {
			t.Fatalf("encoding %q: %v", b, err)
		}
		if _, err := AppendJSON(nil, v, nil); err != nil {
			t.Fatal(err)
		}
	})
}

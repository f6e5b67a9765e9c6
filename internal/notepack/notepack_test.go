package notepack

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Captured from @socket.io/redis-adapter 8.3.0 / notepack.io 3.0.1 traffic.
// Decoding then encoding must give the same bytes.
var captured = []string{
	"93a66e693731703983a47479706502a46461746199a568656c6c6fa5776f726c6401cb3ff8000000000000fecd012cce0001117081a66e6573746564c3c0a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380",
	"93a66e693731703983a47479706502a46461746192a36d7367a8746f20726f6f6d31a36e7370a12f83a5726f6f6d7391a5726f6f6d31a665786365707490a5666c61677380",
	"93a66e693731703983a47479706502a46461746192a56d756c746901a36e7370a12f83a5726f6f6d7392a5726f6f6d31a5726f6f6d33a665786365707491a5726f6f6d33a5666c61677380",
	"93a66e693731703983a47479706502a46461746193a362696ec40301020382a3627566c401ffa173a178a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380",
	"93a66e693731703983a47479706502a46461746192a976696152656d6f7465a27273a36e7370a12f83a5726f6f6d7391b4776b504757517a45614c42383034335a41414141a665786365707490a5666c61677381b465787065637453696e676c65526573706f6e7365c3",
	"93a633507054364483a47479706502a46461746192a36e756da16ea36e7370a12f83a5726f6f6d73917ba665786365707490a5666c61677380",
	"85a3756964a66e6937317039a9726571756573744964a6716b4c67355aa47479706507a67061636b657483a47479706502a46461746192a87175657374696f6ec402cafea36e7370a12fa46f70747383a5726f6f6d7391b4776b504757517a45614c42383034335a41414141a665786365707490a5666c61677381a774696d656f7574cd07d0",
	"83a47479706509a9726571756573744964a6716b4c67355aa67061636b657482a6636c69656e74a463324042a178c402cafe",
	"84a4747970650ca46461746182a9726571756573744964b031353339386564306632316532666631a67061636b657482a6636c69656e74a463324042a178c402cafea3756964b036396633626662343264326333323162a36e7370a12f",
}

func TestCapturedRoundTrip(t *testing.T) {
	for _, h := range captured {
		b, _ := hex.DecodeString(h)
		v, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		out, err := Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, b) {
			t.Errorf("round trip\n got %x\nwant %x", out, b)
		}
	}
	b, _ := hex.DecodeString(captured[0])
	v, _ := Decode(b)
	arr := v.([]any)
	pkt := arr[1].(Map)
	data, _ := pkt.Get("data")
	got, _ := AppendJSON(nil, data, nil)
	if want := `["hello","world",1,1.5,-2,300,70000,{"nested":true},null]`; string(got) != want {
		t.Errorf("json %s, want %s", got, want)
	}
}

func TestEncodeNumbers(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{0, "00"}, {math.Copysign(0, -1), "00"}, {127, "7f"}, {128, "cc80"}, {300, "cd012c"}, {70000, "ce00011170"},
		{float64(1 << 32), "cf0000000100000000"}, {-1, "ff"}, {-32, "e0"}, {-33, "d0df"}, {-200, "d1ff38"},
		{-40000, "d2ffff63c0"}, {float64(-1 << 40), "d3ffffff0000000000"}, {1.5, "cb3ff8000000000000"},
		{1e300, "cf0000000000000000"}, {math.NaN(), "cb7ff8000000000000"}, {math.Inf(1), "cb7ff0000000000000"},
		{1.0, "01"}, {float32(2.5), "cb4004000000000000"}, {uint64(math.MaxUint64), "cfffffffffffffffff"},
		{int64(math.MinInt64), "d38000000000000000"}, {json.Number("12"), "0c"},
	}
	for _, c := range cases {
		got, err := Encode(c.v)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != c.want {
			t.Errorf("%v: got %x want %s", c.v, got, c.want)
		}
	}
}

func TestEncodeValues(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{nil, "c0"}, {Undefined{}, "c0"}, {true, "c3"}, {false, "c2"}, {"", "a0"},
		{strings.Repeat("a", 31), "bf" + strings.Repeat("61", 31)},
		{strings.Repeat("a", 32), "d920" + strings.Repeat("61", 32)},
		{[]byte{1, 2}, "c4020102"}, {[]any{}, "90"}, {Map{}, "80"},
		{Map{{"a", Undefined{}}, {"b", 1}}, "81a16201"},
		{map[string]any{"b": 1, "a": "x"}, "82a161a178a16201"},
		{[]any{Undefined{}, nil}, "92c0c0"},
		{json.RawMessage(`{"z":1,"a":[true]}`), "82a17a01a16191c3"},
		{struct {
			A int `json:"a"`
		}{3}, "81a16103"},
		{time.UnixMilli(1000).UTC(), "d6ff00000001"},
		{time.UnixMilli(1500).UTC(), "d7ff7735940000000001"},
		{time.UnixMilli(-1500).UTC(), "c70cff1dcd6500fffffffffffffffe"},
		{[]string{"x"}, "91a178"},
	}
	for _, c := range cases {
		got, err := Encode(c.v)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != c.want {
			t.Errorf("%#v: got %x want %s", c.v, got, c.want)
		}
	}
}

func TestDecodeValues(t *testing.T) {
	cases := []struct {
		in   string
		want any
	}{
		{"ca3fc00000", 1.5}, {"d3ffffffffffffffff", -1.0}, {"d0ff", -1.0}, {"d903616263", "abc"},
		{"d40000", Undefined{}}, {"c7020001ff", []byte{1, 0xff}}, {"d70000000000000003e8", time.UnixMilli(1000).UTC()},
		{"d6ff00000001", time.Unix(1, 0).UTC()}, {"d70000000000000005dc", time.UnixMilli(1500).UTC()},
		{"d40501", []any{5.0, []byte{1}}}, {"8101a178", Map{{"1", "x"}}}, {"81c0c3", Map{{"null", true}}},
		{"82a161a178a161a179", Map{{"a", "y"}}}, {"81a95f5f70726f746f5f5f80", Map{}},
		{"a3ff6162", "\uFFFDab"},
	}
	for _, c := range cases {
		b, _ := hex.DecodeString(c.in)
		got, err := Decode(b)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %#v want %#v", c.in, got, c.want)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, in := range []string{"", "c1", "0101", "dd7fffffff", "df7fffffff", "c6ffffffff", "db00000010", "92", "cd01", "a5616263"} {
		b, _ := hex.DecodeString(in)
		if _, err := Decode(b); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
	deep := bytes.Repeat([]byte{0x91}, DefaultMaxDepth+5)
	deep = append(deep, 0xc0)
	if _, err := Decode(deep); !errors.Is(err, ErrTooDeep) {
		t.Errorf("deep: %v", err)
	}
}

func TestFormatNumber(t *testing.T) {
	cases := map[float64]string{
		0: "0", 1: "1", -1: "-1", 1.5: "1.5", 1e21: "1e+21", 1e20: "100000000000000000000", 123456789012: "123456789012",
		0.000001: "0.000001", 1e-7: "1e-7", 1.5e-7: "1.5e-7", 0.30000000000000004: "0.30000000000000004", -1.25e30: "-1.25e+30",
		9007199254740993: "9007199254740992", 5e-324: "5e-324", math.MaxFloat64: "1.7976931348623157e+308",
	}
	for f, want := range cases {
		if got := string(FormatNumber(nil, f)); got != want {
			t.Errorf("%v: got %s want %s", f, got, want)
		}
	}
}

func TestJSON(t *testing.T) {
	v, err := ParseJSON([]byte(`{"b":[1,2.5,"x",null,true],"a":{"type":"Buffer","data":[1]},"b":0}`))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := AppendJSON(nil, v, nil)
	if want := `{"b":0,"a":{"type":"Buffer","data":[1]}}`; string(got) != want {
		t.Errorf("got %s want %s", got, want)
	}
	got, _ = AppendJSON(nil, []any{Undefined{}, Map{{"u", Undefined{}}, {"s", "\x01\"é\u2028"}}, []byte{7}, math.NaN(), time.UnixMilli(1).UTC()}, nil)
	if want := `[null,{"s":"\u0001\"é` + "\u2028" + `"},{"type":"Buffer","data":[7]},null,"1970-01-01T00:00:00.001Z"]`; string(got) != want {
		t.Errorf("got %s want %s", got, want)
	}
	for _, bad := range []string{`[1,`, `{"a":}`, `[1] 2`, strings.Repeat("[", 200) + strings.Repeat("]", 200)} {
		if _, err := ParseJSON([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

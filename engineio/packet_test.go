package engineio

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"
)

func text(typ byte, s string) packet { return packet{typ: typ, data: []byte(s)} }
func bin(typ byte, b ...byte) packet { return packet{typ: typ, binary: true, data: b} }
func show(ps []packet) string {
	var sb strings.Builder
	for _, p := range ps {
		if p.binary {
			fmt.Fprintf(&sb, "[bin %c %x]", p.typ, p.data)
		} else {
			fmt.Fprintf(&sb, "[%c %q]", p.typ, p.data)
		}
	}
	return sb.String()
}

func TestDecodePayloadV4(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []packet
		wantErr bool
	}{
		{name: "message", in: "4hello", want: []packet{text('4', "hello")}},
		{name: "three", in: "4test1\x1e4test2\x1e4test3", want: []packet{text('4', "test1"), text('4', "test2"), text('4', "test3")}},
		{name: "binary", in: "4hello\x1ebAQIDBA==", want: []packet{text('4', "hello"), bin('4', 1, 2, 3, 4)}},
		{name: "binary unpadded", in: "bAQIDBA", want: []packet{bin('4', 1, 2, 3, 4)}},
		{name: "ping pong close", in: "2\x1e3\x1e1", want: []packet{text('2', ""), text('3', ""), text('1', "")}},
		{name: "empty", in: "", wantErr: true},
		{name: "trailing separator", in: "4a\x1e", want: []packet{text('4', "a")}, wantErr: true},
		{name: "unknown type", in: "4a\x1e7b\x1e4c", want: []packet{text('4', "a")}, wantErr: true},
		{name: "bad base64", in: "b!!!", wantErr: true},
		{name: "invalid utf8", in: "4\xff", wantErr: true},
		{name: "abc", in: "abc", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodePayloadV4(nil, []byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if show(got) != show(tt.want) {
				t.Fatalf("got %s\nwant %s", show(got), show(tt.want))
			}
		})
	}
}

func TestDecodePayloadV3Text(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []packet
		wantErr bool
	}{
		{name: "message", in: "6:4hello", want: []packet{text('4', "hello")}},
		{name: "two with b64", in: "6:4hello10:b4AQIDBA==", want: []packet{text('4', "hello"), bin('4', 1, 2, 3, 4)}},
		{name: "ping", in: "1:2", want: []packet{text('2', "")}},
		// "é" is one UTF-16 unit, "😀" two: the lengths count units, not bytes.
		{name: "utf16 lengths", in: "2:4é3:4😀", want: []packet{text('4', "é"), text('4', "😀")}},
		{name: "empty packet skipped", in: "0:1:1", want: []packet{text('1', "")}},
		{name: "split surrogate pair", in: "2:4😀", wantErr: true},
		{name: "length too long", in: "9:4hello", wantErr: true},
		{name: "no colon", in: "4hello", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "negative", in: "-1:4", wantErr: true},
		{name: "huge length", in: strings.Repeat("9", 400) + ":4", wantErr: true},
		{name: "second bad", in: "2:4a2:9b", want: []packet{text('4', "a")}, wantErr: true},
		{name: "abc", in: "abc", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodePayloadV3Text([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if show(got) != show(tt.want) {
				t.Fatalf("got %s\nwant %s", show(got), show(tt.want))
			}
		})
	}
}

func TestPayloadV3BinaryFormat(t *testing.T) {
	t.Parallel()
	// The bytes the official v3 suite expects for "4hello" then binary 01 02 03 04.
	want := []byte{0x00, 0x06, 0xFF, '4', 'h', 'e', 'l', 'l', 'o', 0x01, 0x05, 0xFF, 0x04, 1, 2, 3, 4}
	ps := []packet{text('4', "hello"), bin('4', 1, 2, 3, 4)}
	if got := appendPayloadV3Binary(nil, ps); !bytes.Equal(got, want) {
		t.Fatalf("encode = % x\nwant     % x", got, want)
	}
	got, err := decodePayloadV3Binary(want)
	if err != nil || show(got) != show(ps) {
		t.Fatalf("decode = %s, %v", show(got), err)
	}
	// String lengths in the binary format count UTF-8 bytes (engine.io parser-v3).
	enc := appendPayloadV3Binary(nil, []packet{text('4', "é")})
	if !bytes.Equal(enc, []byte{0, 3, 0xff, '4', 0xc3, 0xa9}) {
		t.Fatalf("utf-8 length: % x", enc)
	}
	for _, bad := range [][]byte{
		{0x02, 0x01, 0xff, '4'},        // marker not 0 or 1
		{0x00, 0x09, 0xff, '4'},        // length past the end
		{0x00, 0x01},                   // no 0xff
		{0x00, 0xff, '4'},              // no digits
		{0x00, 0x0a, 0xff, '4'},        // digit byte > 9
		{0x01, 0x02, 0xff, 0x09, 0x01}, // binary packet type > 6
	} {
		if _, err := decodePayloadV3Binary(bad); err == nil {
			t.Errorf("decodePayloadV3Binary(% x) accepted", bad)
		}
	}
}

func TestEncodePayloads(t *testing.T) {
	t.Parallel()
	ps := []packet{text('0', `{"sid":"x"}`), text('4', "h😀"), bin('4', 1, 2, 3, 4)}
	if got, want := string(appendPayloadV4(nil, ps)), "0{\"sid\":\"x\"}\x1e4h😀\x1ebAQIDBA=="; got != want {
		t.Errorf("v4 = %q, want %q", got, want)
	}
	if got, want := string(appendPayloadV3Text(nil, ps)), `12:0{"sid":"x"}4:4h😀10:b4AQIDBA==`; got != want {
		t.Errorf("v3 = %q, want %q", got, want)
	}
}

func TestUTF16Len(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "abc", "é", "😀", "a😀é✓", "\xff\xfe", "x\xf0\x9f"} {
		want := len(utf16.Encode([]rune(s)))
		if got := utf16Len([]byte(s)); got != want {
			t.Errorf("utf16Len(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestDecodeTextPacket(t *testing.T) {
	t.Parallel()
	if p, err := decodeTextPacket([]byte("b4AQID"), 3); err != nil || !p.binary || p.typ != '4' || !bytes.Equal(p.data, []byte{1, 2, 3}) {
		t.Errorf("v3 base64 = %+v, %v", p, err)
	}
	if _, err := decodeTextPacket([]byte("b9AQID"), 3); !errors.Is(err, errParse) {
		t.Errorf("v3 base64 with type 9 accepted")
	}
	if p, err := decodeBinaryPacket([]byte{4, 1, 2}, 3); err != nil || p.typ != '4' || !bytes.Equal(p.data, []byte{1, 2}) {
		t.Errorf("v3 binary = %+v, %v", p, err)
	}
	if p, err := decodeBinaryPacket([]byte{4, 1, 2}, 4); err != nil || p.typ != '4' || !bytes.Equal(p.data, []byte{4, 1, 2}) {
		t.Errorf("v4 binary = %+v, %v", p, err)
	}
}

// roundTrip checks that a decoded payload encodes back to something that
// decodes to the same packets.
func roundTrip(t *testing.T, ps []packet, enc func([]byte, []packet) []byte, dec func([]byte) ([]packet, error)) {
	again, err := dec(enc(nil, ps))
	if err != nil || show(again) != show(ps) {
		t.Fatalf("round trip of %s: %s, %v", show(ps), show(again), err)
	}
}

func FuzzDecodePayloadV4(f *testing.F) {
	for _, s := range []string{"4hello", "4test1\x1e4test2\x1e4test3", "4hello\x1ebAQIDBA==", "2", "abc", "4a\x1e", "b!!"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ps, err := decodePayloadV4(nil, in)
		if len(ps) > len(in)+1 {
			t.Fatalf("%d packets from %d bytes", len(ps), len(in))
		}
		if err == nil && len(ps) > 0 {
			roundTrip(t, ps, appendPayloadV4, func(b []byte) ([]packet, error) { return decodePayloadV4(nil, b) })
		}
	})
}

func FuzzDecodePayloadV3Text(f *testing.F) {
	for _, s := range []string{"6:4hello", "6:4hello10:b4AQIDBA==", "1:2", "2:4é3:4😀", "2:4😀", "0:", strings.Repeat("9", 20) + ":4"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ps, err := decodePayloadV3Text(in)
		if err == nil && len(ps) > 0 {
			roundTrip(t, ps, appendPayloadV3Text, decodePayloadV3Text)
		}
	})
}

func FuzzDecodePayloadV3Binary(f *testing.F) {
	f.Add([]byte{0x00, 0x06, 0xFF, '4', 'h', 'e', 'l', 'l', 'o', 0x01, 0x05, 0xFF, 0x04, 1, 2, 3, 4})
	f.Add([]byte{0x00, 0x01, 0xff, '2'})
	f.Add([]byte{0x01, 0x09, 0x09, 0x09, 0x09, 0x09, 0x09, 0x09, 0x09, 0x09, 0x09, 0x09, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		ps, err := decodePayloadV3Binary(in)
		if err == nil && len(ps) > 0 {
			roundTrip(t, ps, appendPayloadV3Binary, decodePayloadV3Binary)
		}
	})
}

func FuzzDecodePacket(f *testing.F) {
	for _, s := range []string{"4hello", "2probe", "bAQID", "b4AQID", "5", "\x04\x01\x02"} {
		f.Add([]byte(s), true, 4)
		f.Add([]byte(s), false, 3)
	}
	f.Fuzz(func(t *testing.T, in []byte, isText bool, protocol int) {
		if protocol != 3 {
			protocol = 4
		}
		var p packet
		var err error
		if isText {
			p, err = decodeTextPacket(in, protocol)
		} else {
			p, err = decodeBinaryPacket(in, protocol)
		}
		if err == nil && !validType(p.typ) {
			t.Fatalf("decoded invalid type %q", p.typ)
		}
	})
}

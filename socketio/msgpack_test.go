package socketio

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/notepack"
)

// ---------------------------------------------------------------------------
// Helpers

func mpHex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// mpRaw is raw MessagePack in an mpBuild list.
type mpRaw string

// mpBuild concatenates MessagePack values: a string is a str, an int an
// integer, a float64 a float 64, bool and nil themselves, mpRaw hex bytes.
func mpBuild(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			b = mpAppendStr(b, v)
		case int:
			b = notepack.AppendInt(b, int64(v))
		case float64:
			b = append(b, 0xcb)
			b = append(b, mpHex(fmt.Sprintf("%016x", math.Float64bits(v)))...)
		case bool:
			if v {
				b = append(b, 0xc3)
			} else {
				b = append(b, 0xc2)
			}
		case nil:
			b = append(b, 0xc0)
		case mpRaw:
			b = append(b, mpHex(string(v))...)
		default:
			panic(fmt.Sprintf("mpBuild: %T", p))
		}
	}
	return b
}

// mpMapH and mpArrH are map and array headers.
func mpMapH(n int) mpRaw { return mpRaw(hex.EncodeToString(mpAppendHeader(nil, mpMap, n))) }
func mpArrH(n int) mpRaw { return mpRaw(hex.EncodeToString(mpAppendHeader(nil, mpArray, n))) }
func mpBinV(b []byte) mpRaw {
	return mpRaw(hex.EncodeToString(append(mpAppendHeader(nil, mpBin, len(b)), b...)))
}

// mpEvent is the packet map {type: 2, data: <data...>, nsp: "/"}: data is
// the MessagePack parts of the data value.
func mpEvent(data ...any) []byte {
	return mpBuild(append(append([]any{mpMapH(3), "type", 2, "data"}, data...), "nsp", "/")...)
}

const mpPH0 = `{"_placeholder":true,"num":0}`
const mpPH1 = `{"_placeholder":true,"num":1}`
const mpPH2 = `{"_placeholder":true,"num":2}`

func mpPkt(t PacketType, nsp string, id int64, hasID bool, data string, atts ...[]byte) *Packet {
	p := &Packet{Type: t, Namespace: nsp, ID: id, HasID: hasID, Attachments: atts}
	if data != "" {
		p.Data = []byte(data)
	}
	return p
}

func mpEqual(a, b *Packet) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Type != b.Type || a.Namespace != b.Namespace || a.HasID != b.HasID || a.ID != b.ID ||
		!bytes.Equal(a.Data, b.Data) || (a.Data == nil) != (b.Data == nil) || len(a.Attachments) != len(b.Attachments) {
		return false
	}
	for i := range a.Attachments {
		if !bytes.Equal(a.Attachments[i], b.Attachments[i]) {
			return false
		}
	}
	return true
}

func mpFmt(p *Packet) string {
	if p == nil {
		return "<nil>"
	}
	atts := make([]string, len(p.Attachments))
	for i, a := range p.Attachments {
		if len(a) > 32 {
			atts[i] = fmt.Sprintf("%d bytes", len(a))
		} else {
			atts[i] = hex.EncodeToString(a)
		}
	}
	data := string(p.Data)
	if len(data) > 300 {
		data = data[:300] + "…"
	}
	return fmt.Sprintf("{%v nsp=%q id=%d/%v data=%s nil=%v atts=%v}", p.Type, p.Namespace, p.ID, p.HasID, data, p.Data == nil, atts)
}

func mpDecode(lim Limits, b []byte) (*Packet, error) {
	return MsgpackParser().NewDecoder(lim).Decode(engineio.Message{Binary: true, Data: b})
}

func mpEncode(p *Packet) []byte {
	msgs := MsgpackParser().Encode(nil, p)
	if len(msgs) != 1 || !msgs[0].Binary {
		panic(fmt.Sprintf("Encode gave %d messages", len(msgs)))
	}
	return msgs[0].Data
}

// mpPattern is the bytes (i*31+7)&0xff.
func mpPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + 7)
	}
	return b
}

// ---------------------------------------------------------------------------
// Differential vectors from the npm parser.

// mpNodeVector is a packet and the bytes npm socket.io-msgpack-parser 3.0.2
// (notepack.io 2.2.0) encodes it to. The hex was produced once, with Node
// 20, by running in testdata/js:
//
//	const { Encoder } = require('socket.io-msgpack-parser');
//	const enc = (p) => Buffer.from(new Encoder().encode(p)[0]).toString('hex');
//	const pat = (n) => { const b = Buffer.alloc(n); for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff; return b; };
//	console.log(enc(<the object in the comment of each vector>));
//
// For "sizes 32" the output was summarised as its length and SHA-256.
type mpNodeVector struct {
	name string
	js   string // the JS object encoded
	hex  string
	want *Packet
	// decodeOnly: packets as socket.io-client builds them (key order,
	// "options", undefined), which our encoder does not reproduce.
	decodeOnly bool
}

func mpSizes16() *Packet {
	var sb strings.Builder
	sb.WriteString(`["s","` + strings.Repeat("x", 31) + `","` + strings.Repeat("x", 32) + `","` + strings.Repeat("x", 255) + `","` +
		strings.Repeat("x", 256) + `",` + mpPH0 + `,` + mpPH1 + `,`)
	for _, n := range []int{15, 16} {
		sb.WriteByte('[')
		for i := range n {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(strconv.Itoa(i))
		}
		sb.WriteString("],")
	}
	for j, n := range []int{15, 16} {
		sb.WriteByte('{')
		for i := range n {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `"k%d":%d`, i, i)
		}
		sb.WriteByte('}')
		if j == 0 {
			sb.WriteByte(',')
		}
	}
	sb.WriteByte(']')
	return mpPkt(PacketEvent, "/", 0, false, sb.String(), mpPattern(255), mpPattern(256))
}

func mpSizes32() *Packet {
	var sb strings.Builder
	sb.WriteString(`["big","` + strings.Repeat("y", 65536) + `",` + mpPH0 + `,[`)
	for i := range 65536 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('0' + byte(i&1))
	}
	sb.WriteString("],{")
	for i := range 65536 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"k%d":%d`, i, i&1)
	}
	sb.WriteString("}]")
	return mpPkt(PacketEvent, "/", 0, false, sb.String(), mpPattern(65536))
}

func mpNodeVectors() []mpNodeVector {
	return []mpNodeVector{
		{name: "connect auth", js: `{ type: 0, data: { token: 'abc', n: 1 }, nsp: '/' }`,
			hex:  "83a47479706500a46461746182a5746f6b656ea3616263a16e01a36e7370a12f",
			want: mpPkt(PacketConnect, "/", 0, false, `{"token":"abc","n":1}`)},
		{name: "connect reply", js: `{ type: 0, data: { sid: 'abc' }, nsp: '/admin' }`,
			hex:  "83a47479706500a46461746181a3736964a3616263a36e7370a62f61646d696e",
			want: mpPkt(PacketConnect, "/admin", 0, false, `{"sid":"abc"}`)},
		{name: "disconnect", js: `{ type: 1, nsp: '/admin' }`,
			hex:  "82a47479706501a36e7370a62f61646d696e",
			want: mpPkt(PacketDisconnect, "/admin", 0, false, ``)},
		{name: "connect_error", js: `{ type: 4, data: { message: 'not authorized', data: { code: 401 } }, nsp: '/' }`,
			hex:  "83a47479706504a46461746182a76d657373616765ae6e6f7420617574686f72697a6564a46461746181a4636f6465cd0191a36e7370a12f",
			want: mpPkt(PacketConnectError, "/", 0, false, `{"message":"not authorized","data":{"code":401}}`)},
		{name: "event ints", js: `{ type: 2, data: ['n', 0, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 9007199254740991, -1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -9007199254740991], nsp: '/' }`,
			hex: "83a47479706502a464617461dc0015a16e007fcc80ccffcd0100cdffffce00010000ceffffffffcf0000000100000000cf001fffffffffffffffe0d0dfd080d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffffd3ffe0000000000001a36e7370a12f",
			want: mpPkt(PacketEvent, "/", 0, false,
				`["n",0,127,128,255,256,65535,65536,4294967295,4294967296,9007199254740991,-1,-32,-33,-128,-129,-32768,-32769,-2147483648,-2147483649,-9007199254740991]`)},
		{name: "event floats", js: `{ type: 2, data: ['f', 1.5, -0.25, 0.1, 1e-7, 5e-324, 123456.789, -1.0000000000000002, 2.5e-300], nsp: '/' }`,
			hex:  "83a47479706502a46461746199a166cb3ff8000000000000cbbfd0000000000000cb3fb999999999999acb3e7ad7f29abcaf48cb0000000000000001cb40fe240c9fbe76c9cbbff0000000000001cb01bac9a7b3b7302fa36e7370a12f",
			want: mpPkt(PacketEvent, "/", 0, false, `["f",1.5,-0.25,0.1,1e-7,5e-324,123456.789,-1.0000000000000002,2.5e-300]`)},
		{name: "event misc", js: `{ type: 2, data: ['héllo ✓ 😀', 'a"b\\c\nd\u0001\u007f/', '', true, false, null, {}, [], { a: 1, b: [null, { c: 'd' }] }], nsp: '/chat', id: 42 }`,
			hex:  "84a47479706502a46461746199af68c3a96c6c6f20e29c9320f09f9880aa6122625c630a64017f2fa0c3c2c0809082a16101a16292c081a163a164a36e7370a52f63686174a269642a",
			want: mpPkt(PacketEvent, "/chat", 42, true, "[\"héllo ✓ 😀\",\"a\\\"b\\\\c\\nd\\u0001\x7f/\",\"\",true,false,null,{},[],{\"a\":1,\"b\":[null,{\"c\":\"d\"}]}]")},
		{name: "event numeric name", js: `{ type: 2, data: [7, 'x'], nsp: '/' }`,
			hex:  "83a47479706502a4646174619207a178a36e7370a12f",
			want: mpPkt(PacketEvent, "/", 0, false, `[7,"x"]`)},
		{name: "event binary", js: `{ type: 2, data: ['bin', Buffer.from([1, 2, 3]), { name: 'obj', data: Buffer.from([4, 5, 6]), empty: Buffer.alloc(0) }], nsp: '/', id: 0 }`,
			hex: "84a47479706502a46461746193a362696ec40301020383a46e616d65a36f626aa464617461c403040506a5656d707479c400a36e7370a12fa2696400",
			want: mpPkt(PacketEvent, "/", 0, true, `["bin",`+mpPH0+`,{"name":"obj","data":`+mpPH1+`,"empty":`+mpPH2+`}]`,
				[]byte{1, 2, 3}, []byte{4, 5, 6}, []byte{})},
		{name: "ack binary", js: `{ type: 3, data: [Buffer.from([9, 8, 7]), { nested: [Buffer.from([1])] }, 'text'], nsp: '/', id: 9007199254740991 }`,
			hex:  "84a47479706503a46461746193c40309080781a66e657374656491c40101a474657874a36e7370a12fa26964cf001fffffffffffff",
			want: mpPkt(PacketAck, "/", 1<<53-1, true, `[`+mpPH0+`,{"nested":[`+mpPH1+`]},"text"]`, []byte{9, 8, 7}, []byte{1})},
		{name: "ack empty", js: `{ type: 3, data: [], nsp: '/', id: 1 }`,
			hex:  "84a47479706503a46461746190a36e7370a12fa2696401",
			want: mpPkt(PacketAck, "/", 1, true, `[]`)},
		{name: "sizes 16", js: `{ type: 2, data: ['s', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(255), 'x'.repeat(256), pat(255), pat(256), Array.from({length: 15}, (_, i) => i), Array.from({length: 16}, (_, i) => i), Object.fromEntries(Array.from({length: 15}, (_, i) => ['k' + i, i])), Object.fromEntries(Array.from({length: 16}, (_, i) => ['k' + i, i]))], nsp: '/' }`,
			hex: "83a47479706502a4646174619ba173bf" + strings.Repeat("78", 31) + "d920" + strings.Repeat("78", 32) + "d9ff" + strings.Repeat("78", 255) +
				"da0100" + strings.Repeat("78", 256) + "c4ff" + hex.EncodeToString(mpPattern(255)) + "c50100" + hex.EncodeToString(mpPattern(256)) +
				"9f000102030405060708090a0b0c0d0edc0010000102030405060708090a0b0c0d0e0f" +
				"8fa26b3000a26b3101a26b3202a26b3303a26b3404a26b3505a26b3606a26b3707a26b3808a26b3909a36b31300aa36b31310ba36b31320ca36b31330da36b31340e" +
				"de0010a26b3000a26b3101a26b3202a26b3303a26b3404a26b3505a26b3606a26b3707a26b3808a26b3909a36b31300aa36b31310ba36b31320ca36b31330da36b31340ea36b31350f" +
				"a36e7370a12f",
			want: mpSizes16()},

		// Packets as socket.io-client 4.8.4 builds them.
		{name: "client connect no auth", js: `{ type: 0, data: undefined, nsp: '/' }`, decodeOnly: true,
			hex:  "83a47479706500a464617461d40000a36e7370a12f",
			want: mpPkt(PacketConnect, "/", 0, false, ``)},
		{name: "client event", js: `{ type: 2, data: ['mixed', 'str', 42, 1.5, Buffer.from([1, 2])], options: { compress: true }, id: 3, nsp: '/' }`, decodeOnly: true,
			hex:  "85a47479706502a46461746195a56d69786564a37374722acb3ff8000000000000c4020102a76f7074696f6e7381a8636f6d7072657373c3a2696403a36e7370a12f",
			want: mpPkt(PacketEvent, "/", 3, true, `["mixed","str",42,1.5,`+mpPH0+`]`, []byte{1, 2})},
		{name: "client event js types", decodeOnly: true,
			js:   `{ type: 2, data: ['js', new Uint8Array([5, 6, 7]), new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789)), undefined, { a: undefined, b: 1 }], options: { compress: true }, nsp: '/' }`,
			hex:  "84a47479706502a46461746195a26a73c70300050607d7000000018df4dc5495d4000082a161d40000a16201a76f7074696f6e7381a8636f6d7072657373c3a36e7370a12f",
			want: mpPkt(PacketEvent, "/", 0, false, `["js",`+mpPH0+`,"2024-02-29T12:34:56.789Z",null,{"b":1}]`, []byte{5, 6, 7})},
		{name: "client ack", js: `{ type: 3, id: 5, data: [Buffer.from([0xde, 0xad]), { n: 1 }], nsp: '/' }`, decodeOnly: true,
			hex:  "84a47479706503a2696405a46461746192c402dead81a16e01a36e7370a12f",
			want: mpPkt(PacketAck, "/", 5, true, `[`+mpPH0+`,{"n":1}]`, []byte{0xde, 0xad})},
	}
}

func TestMsgpackNodeVectors(t *testing.T) {
	for _, v := range mpNodeVectors() {
		t.Run(v.name, func(t *testing.T) {
			in := mpHex(v.hex)
			got, err := mpDecode(Limits{}, in)
			if err != nil {
				t.Fatalf("decode %s: %v", v.js, err)
			}
			if !mpEqual(got, v.want) {
				t.Errorf("decode %s:\n got %s\nwant %s", v.js, mpFmt(got), mpFmt(v.want))
			}
			if v.decodeOnly {
				return
			}
			if enc := mpEncode(v.want); !bytes.Equal(enc, in) {
				t.Errorf("encode %s:\n got %x\nwant %x", v.js, enc, in)
			}
		})
	}
	t.Run("sizes 32", func(t *testing.T) {
		// { type: 2, data: ['big', 'y'.repeat(65536), pat(65536), Array.from({length: 65536}, (_, i) => i & 1),
		//   Object.fromEntries(Array.from({length: 65536}, (_, i) => ['k' + i, i & 1]))], nsp: '/' }
		const wantLen, wantSum = 709829, "0e4a8c6719c6bf380d854c46a255758b5c7b85ee9809b99e68ac9455925c5a89"
		p := mpSizes32()
		enc := mpEncode(p)
		sum := sha256.Sum256(enc)
		if len(enc) != wantLen || hex.EncodeToString(sum[:]) != wantSum {
			t.Fatalf("encoding: %d bytes, sha256 %x; want %d bytes, %s", len(enc), sum, wantLen, wantSum)
		}
		got, err := mpDecode(Limits{MaxAttachmentBytes: 1 << 20}, enc)
		if err != nil || !mpEqual(got, p) {
			t.Fatalf("decode: %v %s", err, mpFmt(got))
		}
	})
	t.Run("integral numbers beyond 64 bits", func(t *testing.T) {
		// notepack.io truncates integral numbers outside [-2^63, 2^64)
		// ({ type: 2, data: ['huge', 1e21, 2 ** 64, -(2 ** 64)], nsp: '/' });
		// Pier writes them as float64.
		node := mpHex("83a47479706502a46461746194a468756765cf35c9adc5dea00000cf0000000000000000d30000000000000000a36e7370a12f")
		got, err := mpDecode(Limits{}, node)
		if want := mpPkt(PacketEvent, "/", 0, false, `["huge",3875820019684212736,0,0]`); err != nil || !mpEqual(got, want) {
			t.Errorf("decode node bytes: %v %s, want %s", err, mpFmt(got), mpFmt(want))
		}
		p := mpPkt(PacketEvent, "/", 0, false, `["huge",1e21,18446744073709551616,-18446744073709551616]`)
		enc := mpEncode(p)
		want := mpHex("83a47479706502a46461746194a468756765 cb444b1ae4d6e2ef50 cb43f0000000000000 cbc3f0000000000000 a36e7370a12f")
		if !bytes.Equal(enc, want) {
			t.Errorf("encode: %x, want %x", enc, want)
		}
		got, err = mpDecode(Limits{}, enc)
		if want := mpPkt(PacketEvent, "/", 0, false, `["huge",1e+21,18446744073709552000,-18446744073709552000]`); err != nil || !mpEqual(got, want) {
			t.Errorf("decode: %v %s, want %s", err, mpFmt(got), mpFmt(want))
		}
	})
}

// ---------------------------------------------------------------------------
// Decoding

type mpDecodeCase struct {
	name string
	in   []byte
	text bool // a text message
	lim  Limits
	want *Packet // nil: an error
}

// mpDeep is the data ["x", [[...[leaf]...]]] nested n deep with a scalar
// leaf (n+1 with a map).
func mpDeep(n int, leaf ...any) []any {
	parts := []any{mpArrH(2), "x"}
	for range n - 1 {
		parts = append(parts, mpArrH(1))
	}
	return append(parts, leaf...)
}

func mpDecodeCases() []mpDecodeCase {
	ok := func(name string, in []byte, want *Packet) mpDecodeCase {
		return mpDecodeCase{name: name, in: in, want: want}
	}
	bad := func(name string, in []byte) mpDecodeCase { return mpDecodeCase{name: name, in: in} }
	ev := func(data string, atts ...[]byte) *Packet { return mpPkt(PacketEvent, "/", 0, false, data, atts...) }
	ph := func(n int) string { return string(appendPlaceholder(nil, n)) }
	long := strings.Repeat("a", 300)
	return []mpDecodeCase{
		// Packet map.
		ok("connect no data", mpBuild(mpMapH(2), "type", 0, "nsp", "/"), mpPkt(PacketConnect, "/", 0, false, "")),
		ok("keys in any order", mpBuild(mpMapH(4), "id", 7, "nsp", "/a", "data", mpArrH(1), "e", "type", 2), mpPkt(PacketEvent, "/a", 7, true, `["e"]`)),
		ok("unknown keys skipped", mpBuild(mpMapH(4), "type", 2, "x", mpRaw("93d50501029201c7020502029281c0c0a161"), "data", mpArrH(1), "e", "nsp", "/"), ev(`["e"]`)),
		ok("key str8", mpBuild(mpMapH(3), mpRaw("d90474797065"), 2, "data", mpArrH(1), "e", "nsp", "/"), ev(`["e"]`)),
		ok("type uint8 format", mpBuild(mpMapH(3), "type", mpRaw("cc02"), "data", mpArrH(1), "e", "nsp", "/"), ev(`["e"]`)),
		ok("type float 2.0", mpBuild(mpMapH(3), "type", 2.0, "data", mpArrH(1), "e", "nsp", "/"), ev(`["e"]`)),
		ok("type int64 format", mpBuild(mpMapH(3), "type", mpRaw("d30000000000000002"), "data", mpArrH(1), "e", "nsp", "/"), ev(`["e"]`)),
		ok("id float 3.0", mpBuild(mpMapH(4), "type", 3, "data", mpArrH(0), "nsp", "/", "id", 3.0), mpPkt(PacketAck, "/", 3, true, `[]`)),
		ok("id 2^53-1", mpBuild(mpMapH(4), "type", 3, "data", mpArrH(0), "nsp", "/", "id", 1<<53-1), mpPkt(PacketAck, "/", 1<<53-1, true, `[]`)),
		ok("id undefined", mpBuild(mpMapH(4), "type", 2, "data", mpArrH(1), "e", "nsp", "/", "id", mpRaw("d40000")), ev(`["e"]`)),
		ok("data undefined", mpBuild(mpMapH(3), "type", 1, "data", mpRaw("d40000"), "nsp", "/"), mpPkt(PacketDisconnect, "/", 0, false, "")),
		ok("map16 packet", mpBuild(mpRaw("de0003"), "type", 2, "data", mpArrH(1), "e", "nsp", "/"), ev(`["e"]`)),
		ok("connect_error string", mpBuild(mpMapH(3), "type", 4, "data", "nope", "nsp", "/"), mpPkt(PacketConnectError, "/", 0, false, `"nope"`)),
		ok("nsp with comma", mpBuild(mpMapH(2), "type", 0, "nsp", "/a,b"), mpPkt(PacketConnect, "/a,b", 0, false, "")),
		ok("nsp max len", mpBuild(mpMapH(2), "type", 0, "nsp", "/"+strings.Repeat("n", 255)), mpPkt(PacketConnect, "/"+strings.Repeat("n", 255), 0, false, "")),
		bad("text message", nil),
		{name: "text message with packet", in: mpBuild(mpMapH(2), "type", 0, "nsp", "/"), text: true},
		bad("empty", []byte{}),
		bad("not a map", mpBuild(mpArrH(0))),
		bad("string", mpBuild("x")),
		bad("truncated map", mpBuild(mpMapH(3), "type", 2, "data", mpArrH(1), "e")),
		bad("truncated str", mpHex("82a474797065")),
		bad("truncated int", mpBuild(mpMapH(2), "type", mpRaw("cd00"))),
		bad("trailing", append(mpBuild(mpMapH(2), "type", 0, "nsp", "/"), 0xc0)),
		bad("0xc1", mpBuild(mpMapH(2), "type", mpRaw("c1"), "nsp", "/")),
		bad("0xc1 in unknown key", mpBuild(mpMapH(3), "type", 0, "x", mpRaw("91c1"), "nsp", "/")),
		bad("huge array count", mpBuild(mpMapH(3), "type", 2, "nsp", "/", "data", mpRaw("ddffffffff"))),
		bad("huge map count", mpRaw("dfffffffff").bytes()),
		bad("huge str", mpBuild(mpMapH(2), "type", 0, "nsp", mpRaw("dbffffffff2f"))),
		bad("huge bin", mpEvent(mpArrH(2), "e", mpRaw("c6ffffffff00"))),
		bad("huge ext", mpEvent(mpArrH(2), "e", mpRaw("c9ffffffff0000"))),
		bad("non-string top key", mpBuild(mpMapH(3), 1, 2, "type", 0, "nsp", "/")),
		bad("bin top key", mpBuild(mpMapH(2), mpRaw("c404"), mpRaw("74797065"), 0, "nsp", "/")),
		bad("duplicate type", mpBuild(mpMapH(3), "type", 0, "type", 0, "nsp", "/")),
		bad("duplicate data", mpBuild(mpMapH(4), "type", 2, "data", mpArrH(1), "e", "data", mpArrH(1), "e", "nsp", "/")),
		bad("duplicate nsp", mpBuild(mpMapH(3), "type", 0, "nsp", "/", "nsp", "/")),
		bad("missing type", mpBuild(mpMapH(1), "nsp", "/")),
		bad("type undefined", mpBuild(mpMapH(2), "type", mpRaw("d40000"), "nsp", "/")),
		bad("type 5", mpBuild(mpMapH(3), "type", 5, "data", mpArrH(2), "e", mpBinV([]byte{1}), "nsp", "/")),
		bad("type 6", mpBuild(mpMapH(4), "type", 6, "data", mpArrH(1), mpBinV([]byte{1}), "nsp", "/", "id", 1)),
		bad("type -1", mpBuild(mpMapH(2), "type", -1, "nsp", "/")),
		bad("type 1.5", mpBuild(mpMapH(2), "type", 1.5, "nsp", "/")),
		bad("type NaN", mpBuild(mpMapH(2), "type", math.NaN(), "nsp", "/")),
		bad("type string", mpBuild(mpMapH(2), "type", "0", "nsp", "/")),
		bad("type nil", mpBuild(mpMapH(2), "type", nil, "nsp", "/")),
		bad("type array", mpBuild(mpMapH(2), "type", mpArrH(1), 0, "nsp", "/")),
		bad("type uint64 max", mpBuild(mpMapH(2), "type", mpRaw("cfffffffffffffffff"), "nsp", "/")),
		bad("missing nsp", mpBuild(mpMapH(1), "type", 0)),
		bad("nsp undefined", mpBuild(mpMapH(2), "type", 0, "nsp", mpRaw("d40000"))),
		bad("nsp nil", mpBuild(mpMapH(2), "type", 0, "nsp", nil)),
		bad("nsp bin", mpBuild(mpMapH(2), "type", 0, "nsp", mpBinV([]byte("/")))),
		bad("nsp empty", mpBuild(mpMapH(2), "type", 0, "nsp", "")),
		bad("nsp without slash", mpBuild(mpMapH(2), "type", 0, "nsp", "chat")),
		bad("nsp control char", mpBuild(mpMapH(2), "type", 0, "nsp", "/a\nb")),
		bad("nsp C1 control", mpBuild(mpMapH(2), "type", 0, "nsp", "/a\u0085")),
		bad("nsp invalid utf8", mpBuild(mpMapH(2), "type", 0, "nsp", "/\xff")),
		bad("nsp too long", mpBuild(mpMapH(2), "type", 0, "nsp", "/"+strings.Repeat("n", 256))),
		bad("id negative", mpBuild(mpMapH(4), "type", 3, "data", mpArrH(0), "nsp", "/", "id", -1)),
		bad("id 2^53", mpBuild(mpMapH(4), "type", 3, "data", mpArrH(0), "nsp", "/", "id", 1<<53)),
		bad("id uint64 max", mpBuild(mpMapH(4), "type", 3, "data", mpArrH(0), "nsp", "/", "id", mpRaw("cfffffffffffffffff"))),
		bad("id 1.5", mpBuild(mpMapH(4), "type", 3, "data", mpArrH(0), "nsp", "/", "id", 1.5)),
		bad("id nil", mpBuild(mpMapH(4), "type", 3, "data", mpArrH(0), "nsp", "/", "id", nil)),
		bad("id string", mpBuild(mpMapH(4), "type", 3, "data", mpArrH(0), "nsp", "/", "id", "1")),
		bad("id on connect", mpBuild(mpMapH(3), "type", 0, "nsp", "/", "id", 1)),
		bad("id on disconnect", mpBuild(mpMapH(3), "type", 1, "nsp", "/", "id", 1)),
		bad("id on connect_error", mpBuild(mpMapH(4), "type", 4, "data", "x", "nsp", "/", "id", 1)),
		bad("ack without id", mpBuild(mpMapH(3), "type", 3, "data", mpArrH(0), "nsp", "/")),

		// Payload shape.
		ok("connect object", mpBuild(mpMapH(3), "type", 0, "data", mpMapH(1), "token", "abc", "nsp", "/"), mpPkt(PacketConnect, "/", 0, false, `{"token":"abc"}`)),
		ok("connect empty object", mpBuild(mpMapH(3), "type", 0, "data", mpMapH(0), "nsp", "/"), mpPkt(PacketConnect, "/", 0, false, `{}`)),
		bad("connect nil", mpBuild(mpMapH(3), "type", 0, "data", nil, "nsp", "/")),
		bad("connect array", mpBuild(mpMapH(3), "type", 0, "data", mpArrH(0), "nsp", "/")),
		bad("connect string", mpBuild(mpMapH(3), "type", 0, "data", "x", "nsp", "/")),
		bad("connect binary", mpBuild(mpMapH(3), "type", 0, "data", mpMapH(1), "b", mpBinV([]byte{1}), "nsp", "/")),
		bad("disconnect nil", mpBuild(mpMapH(3), "type", 1, "data", nil, "nsp", "/")),
		bad("disconnect array", mpBuild(mpMapH(3), "type", 1, "data", mpArrH(0), "nsp", "/")),
		bad("connect_error absent", mpBuild(mpMapH(2), "type", 4, "nsp", "/")),
		bad("connect_error number", mpBuild(mpMapH(3), "type", 4, "data", 1, "nsp", "/")),
		bad("connect_error binary", mpBuild(mpMapH(3), "type", 4, "data", mpMapH(1), "b", mpBinV([]byte{1}), "nsp", "/")),
		bad("event absent", mpBuild(mpMapH(2), "type", 2, "nsp", "/")),
		bad("event empty", mpEvent(mpArrH(0))),
		bad("event object", mpEvent(mpMapH(0))),
		bad("event string", mpEvent("e")),
		bad("event name bool", mpEvent(mpArrH(1), true)),
		bad("event name nil", mpEvent(mpArrH(1), nil)),
		bad("event name undefined", mpEvent(mpArrH(1), mpRaw("d40000"))),
		bad("event name array", mpEvent(mpArrH(1), mpArrH(0))),
		bad("event name binary", mpEvent(mpArrH(1), mpBinV([]byte("e")))),
		bad("event name connect", mpEvent(mpArrH(1), "connect")),
		bad("event name disconnecting", mpEvent(mpArrH(2), "disconnecting", 1)),
		bad("event name newListener", mpEvent(mpArrH(1), "newListener")),
		ok("event name connectx", mpEvent(mpArrH(1), "connectx"), ev(`["connectx"]`)),
		ok("event name empty", mpEvent(mpArrH(1), ""), ev(`[""]`)),
		ok("event name float", mpEvent(mpArrH(1), 1.5), ev(`[1.5]`)),
		ok("event name negative", mpEvent(mpArrH(1), -3), ev(`[-3]`)),
		ok("event name date", mpEvent(mpArrH(1), mpRaw("d7000000000000000000")), ev(`["1970-01-01T00:00:00.000Z"]`)),
		bad("ack object", mpBuild(mpMapH(4), "type", 3, "data", mpMapH(0), "nsp", "/", "id", 1)),
		bad("ack absent", mpBuild(mpMapH(3), "type", 3, "nsp", "/", "id", 1)),
		ok("ack binary", mpBuild(mpMapH(4), "type", 3, "data", mpArrH(1), mpBinV([]byte{1}), "nsp", "/", "id", 1),
			mpPkt(PacketAck, "/", 1, true, `[`+mpPH0+`]`, []byte{1})),

		// Values.
		ok("ints", mpEvent(mpArrH(9), "n", mpRaw("cfffffffffffffffff"), mpRaw("d38000000000000000"), mpRaw("d0ff"), mpRaw("d000"), mpRaw("d17fff"), mpRaw("d2ffffffff"), mpRaw("ff"), mpRaw("cd0000")),
			ev(`["n",18446744073709551615,-9223372036854775808,-1,0,32767,-1,-1,0]`)),
		ok("floats", mpEvent(mpArrH(8), "f", mpRaw("ca3dcccccd"), mpRaw("ca00000000"), mpRaw("ca80000000"), math.Copysign(0, -1), 1e21, 1e20, 1e-7),
			ev(`["f",0.10000000149011612,0,0,0,1e+21,100000000000000000000,1e-7]`)),
		bad("float NaN", mpEvent(mpArrH(2), "f", math.NaN())),
		bad("float +Inf", mpEvent(mpArrH(2), "f", math.Inf(1))),
		bad("float -Inf", mpEvent(mpArrH(2), "f", math.Inf(-1))),
		bad("float32 Inf", mpEvent(mpArrH(2), "f", mpRaw("ca7f800000"))),
		ok("strings", mpEvent(mpArrH(4), "s", "q\"b\\s\x00\x1f\x7f\b\f\n\r\t</>&\u2028", mpRaw("d90161"), mpRaw("da000162")),
			ev("[\"s\",\"q\\\"b\\\\s\\u0000\\u001f\x7f\\b\\f\\n\\r\\t</>&\u2028\",\"a\",\"b\"]")),
		ok("str 300", mpEvent(mpArrH(2), "s", long), ev(`["s","`+long+`"]`)),
		bad("string invalid utf8", mpEvent(mpArrH(2), "s", "\xc3")),
		bad("string surrogate utf8", mpEvent(mpArrH(2), "s", "\xed\xa0\x80")),
		ok("map keys wire order", mpEvent(mpArrH(2), "m", mpMapH(3), "z", 1, "a", 2, "z", 3), ev(`["m",{"z":1,"a":2,"z":3}]`)),
		ok("map key escapes", mpEvent(mpArrH(2), "m", mpMapH(1), "a\"\n", 1), ev(`["m",{"a\"\n":1}]`)),
		bad("map key int", mpEvent(mpArrH(2), "m", mpMapH(1), 1, 1)),
		bad("map key nil", mpEvent(mpArrH(2), "m", mpMapH(1), nil, 1)),
		bad("map key bin", mpEvent(mpArrH(2), "m", mpMapH(1), mpBinV([]byte("k")), 1)),
		bad("map key array", mpEvent(mpArrH(2), "m", mpMapH(1), mpArrH(0), 1)),
		bad("map key invalid utf8", mpEvent(mpArrH(2), "m", mpMapH(1), "\xff", 1)),
		bad("map _placeholder true", mpEvent(mpArrH(2), "m", mpMapH(2), "_placeholder", true, "num", 0)),
		bad("map _placeholder true alone", mpEvent(mpArrH(2), "m", mpMapH(1), "_placeholder", true)),
		bad("map _placeholder true with binary", mpEvent(mpArrH(3), "m", mpBinV([]byte{1}), mpMapH(2), "_placeholder", true, "num", 0)),
		ok("map _placeholder false", mpEvent(mpArrH(2), "m", mpMapH(2), "_placeholder", false, "num", 0), ev(`["m",{"_placeholder":false,"num":0}]`)),
		ok("map _placeholder 1", mpEvent(mpArrH(2), "m", mpMapH(1), "_placeholder", 1), ev(`["m",{"_placeholder":1}]`)),
		ok("nil bool", mpEvent(mpArrH(4), "v", nil, true, false), ev(`["v",null,true,false]`)),
		ok("array16 array32 map32", mpEvent(mpArrH(4), "a", mpRaw("dc0001"), 1, mpRaw("dd00000001"), 2, mpRaw("df00000001"), "k", 3),
			ev(`["a",[1],[2],{"k":3}]`)),
		ok("nested empty", mpEvent(mpArrH(3), "e", mpArrH(1), mpArrH(0), mpMapH(1), "a", mpMapH(0)), ev(`["e",[[]],{"a":{}}]`)),

		// notepack.io extensions.
		ok("undefined in array", mpEvent(mpArrH(4), "u", mpRaw("d40000"), 1, mpRaw("d400ff")), ev(`["u",null,1,null]`)),
		ok("undefined members dropped", mpEvent(mpArrH(4), "u",
			mpMapH(3), "a", mpRaw("d40000"), "b", 1, "c", mpRaw("d40000"),
			mpMapH(3), "a", 1, "b", mpRaw("d40000"), "c", 2,
			mpMapH(1), "a", mpRaw("d40000")),
			ev(`["u",{"b":1},{"a":1,"c":2},{}]`)),
		ok("arraybuffer ext8", mpEvent(mpArrH(2), "b", mpRaw("c7020001ff")), ev(`["b",`+mpPH0+`]`, []byte{1, 0xff})),
		ok("arraybuffer ext16 ext32 empty", mpEvent(mpArrH(3), "b", mpRaw("c800010007"), mpRaw("c90000000000")), ev(`["b",`+mpPH0+`,`+mpPH1+`]`, []byte{7}, []byte{})),
		ok("dates", mpEvent(mpArrH(6), "d",
			mpRaw("d700ffffffffffffffff"), // -1 ms
			mpRaw("d700000000e8d4a51000"), // 1e12 ms
			mpRaw("d700001eb208c2dc0000"), // 8.64e15 ms: the last valid
			mpRaw("d700001eb208c2dc0001"), // invalid
			mpRaw("d700ffe14df73d240000"), // -8.64e15 ms
		), ev(`["d","1969-12-31T23:59:59.999Z","2001-09-09T01:46:40.000Z","+275760-09-13T00:00:00.000Z",null,"-271821-04-20T00:00:00.000Z"]`)),
		bad("ext type 1", mpEvent(mpArrH(2), "x", mpRaw("c7010100"))),
		bad("ext type -1", mpEvent(mpArrH(2), "x", mpRaw("c701ff00"))),
		bad("fixext1 type 1", mpEvent(mpArrH(2), "x", mpRaw("d40100"))),
		bad("fixext2 type 0", mpEvent(mpArrH(2), "x", mpRaw("d5000000"))),
		bad("fixext4 type 0", mpEvent(mpArrH(2), "x", mpRaw("d60000000000"))),
		bad("fixext8 type 1", mpEvent(mpArrH(2), "x", mpRaw("d7010000000000000000"))),
		bad("fixext16 type 0", mpEvent(mpArrH(2), "x", mpRaw("d800"+strings.Repeat("00", 16)))),
		bad("truncated fixext", mpEvent(mpArrH(2), "x", mpRaw("d700"))),

		// Binary and limits.
		ok("binary everywhere", mpEvent(mpArrH(4), "b", mpBinV([]byte{1}), mpMapH(1), "k", mpArrH(1), mpBinV(nil), mpBinV(make([]byte, 300))),
			ev(`["b",`+ph(0)+`,{"k":[`+ph(1)+`]},`+ph(2)+`]`, []byte{1}, []byte{}, make([]byte, 300))),
		ok("10 attachments", mpEvent(append([]any{mpArrH(11), "b"}, mpRepeat(mpBinV([]byte{1}), 10)...)...),
			ev(`["b",`+ph(0)+`,`+ph(1)+`,`+ph(2)+`,`+ph(3)+`,`+ph(4)+`,`+ph(5)+`,`+ph(6)+`,`+ph(7)+`,`+ph(8)+`,`+ph(9)+`]`, mpRepeatBytes([]byte{1}, 10)...)),
		bad("11 attachments", mpEvent(append([]any{mpArrH(12), "b"}, mpRepeat(mpBinV([]byte{1}), 11)...)...)),
		{name: "2 attachments limit 2", lim: Limits{MaxAttachments: 2}, in: mpEvent(mpArrH(3), "b", mpBinV(nil), mpBinV(nil)),
			want: ev(`["b",`+ph(0)+`,`+ph(1)+`]`, []byte{}, []byte{})},
		{name: "3 attachments limit 2", lim: Limits{MaxAttachments: 2}, in: mpEvent(mpArrH(4), "b", mpBinV(nil), mpBinV(nil), mpBinV(nil))},
		{name: "attachment bytes at limit", lim: Limits{MaxAttachmentBytes: 10}, in: mpEvent(mpArrH(3), "b", mpBinV(make([]byte, 4)), mpRaw("c70600000000000000")),
			want: ev(`["b",`+ph(0)+`,`+ph(1)+`]`, make([]byte, 4), make([]byte, 6))},
		{name: "attachment bytes over limit", lim: Limits{MaxAttachmentBytes: 10}, in: mpEvent(mpArrH(3), "b", mpBinV(make([]byte, 4)), mpBinV(make([]byte, 7)))},
		ok("attachment bytes default limit", mpEvent(mpArrH(2), "b", mpBinV(make([]byte, 1e6))), ev(`["b",`+ph(0)+`]`, make([]byte, 1e6))),
		bad("attachment bytes over default limit", mpEvent(mpArrH(2), "b", mpBinV(make([]byte, 1e6+1)))),
		bad("binary in unknown key counts nothing but must be valid", mpBuild(mpMapH(3), "type", 0, "x", mpRaw("c405"), "nsp", "/")),
		ok("binary in unknown key ignored", mpBuild(mpMapH(3), "type", 0, "x", mpBinV(make([]byte, 2e6)), "nsp", "/"), mpPkt(PacketConnect, "/", 0, false, "")),
		ok("depth 64", mpEvent(mpDeep(64, 1)...), ev(`["x",`+strings.Repeat("[", 63)+`1`+strings.Repeat("]", 64))),
		bad("depth 65", mpEvent(mpDeep(65, 1)...)),
		ok("depth 64 with map", mpEvent(mpDeep(63, mpMapH(0))...), ev(`["x",`+strings.Repeat("[", 62)+`{}`+strings.Repeat("]", 63))),
		bad("depth 65 with map", mpEvent(mpDeep(64, mpMapH(0))...)),
		ok("depth 64 with binary", mpEvent(mpDeep(63, mpBinV([]byte{1}))...), ev(`["x",`+strings.Repeat("[", 62)+ph(0)+strings.Repeat("]", 63), []byte{1})),
		bad("depth 65 with binary", mpEvent(mpDeep(64, mpBinV([]byte{1}))...)),
		{name: "depth 3 limit 3", lim: Limits{MaxDepth: 3}, in: mpEvent(mpDeep(3, 1)...), want: ev(`["x",[[1]]]`)},
		{name: "depth 4 limit 3", lim: Limits{MaxDepth: 3}, in: mpEvent(mpDeep(4, 1)...)},
		bad("100000 deep", mpEvent(append(mpRepeat(mpArrH(1), 100000), 1)...)),
		ok("100000 deep in unknown key", mpBuild(append(append([]any{mpMapH(3), "type", 0, "nsp", "/", "x"}, mpRepeat(mpArrH(1), 100000)...), 1)...),
			mpPkt(PacketConnect, "/", 0, false, "")),
		{name: "nsp len limit", lim: Limits{MaxNamespaceLen: 4}, in: mpBuild(mpMapH(2), "type", 0, "nsp", "/abc"), want: mpPkt(PacketConnect, "/abc", 0, false, "")},
		{name: "nsp over len limit", lim: Limits{MaxNamespaceLen: 4}, in: mpBuild(mpMapH(2), "type", 0, "nsp", "/abcd")},
	}
}

func (r mpRaw) bytes() []byte { return mpHex(string(r)) }

func mpRepeat(v any, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func mpRepeatBytes(b []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func TestMsgpackDecode(t *testing.T) {
	for _, c := range mpDecodeCases() {
		t.Run(c.name, func(t *testing.T) {
			got, err := MsgpackParser().NewDecoder(c.lim).Decode(engineio.Message{Binary: !c.text && c.in != nil, Data: c.in})
			if c.want == nil {
				if err == nil {
					t.Fatalf("decoded %s, want an error", mpFmt(got))
				}
				if !errors.Is(err, ErrInvalidPacket) {
					t.Fatalf("error %v does not wrap ErrInvalidPacket", err)
				}
				if got != nil {
					t.Fatalf("packet %s with error %v", mpFmt(got), err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v, want %s", err, mpFmt(c.want))
			}
			if !mpEqual(got, c.want) {
				t.Fatalf("\n got %s\nwant %s", mpFmt(got), mpFmt(c.want))
			}
			if !json.Valid(got.Data) && got.Data != nil {
				t.Fatalf("invalid JSON %s", got.Data)
			}
		})
	}
}

// A decoder is reused for every message of a connection: what a packet
// holds must not change when the next message is decoded.
func TestMsgpackDecoderReuse(t *testing.T) {
	d := MsgpackParser().NewDecoder(Limits{})
	in1 := mpEvent(mpArrH(3), "first", mpBinV([]byte{1, 2}), mpMapH(1), "k", "v")
	p1, err := d.Decode(engineio.Message{Binary: true, Data: in1})
	if err != nil {
		t.Fatal(err)
	}
	want := mpPkt(PacketEvent, "/", 0, false, `["first",`+mpPH0+`,{"k":"v"}]`, []byte{1, 2})
	for _, in := range [][]byte{
		mpEvent(mpArrH(2), "second", strings.Repeat("z", 200)),
		mpEvent(mpArrH(2), "third", mpRaw("c1")),
		mpEvent(mpArrH(2), "x", strings.Repeat("w", 100000)),
	} {
		d.Decode(engineio.Message{Binary: true, Data: in})
		if !mpEqual(p1, want) {
			t.Fatalf("first packet changed to %s", mpFmt(p1))
		}
	}
	if cap(p1.Data) != len(p1.Data) {
		t.Errorf("Data has cap %d for len %d", cap(p1.Data), len(p1.Data))
	}
	// Attachments alias the message.
	in1[bytes.Index(in1, []byte{0xc4, 2, 1, 2})+2] = 9
	if p1.Attachments[0][0] != 9 {
		t.Error("attachment does not alias the message")
	}
	if cap(p1.Attachments[0]) != 2 {
		t.Errorf("attachment cap %d", cap(p1.Attachments[0]))
	}
}

// Decoded events work with the rest of the package.
func TestMsgpackArgs(t *testing.T) {
	v := mpNodeVectors()
	var in []byte
	for _, c := range v {
		if c.name == "event binary" {
			in = mpHex(c.hex)
		}
	}
	p, err := mpDecode(Limits{}, in)
	if err != nil {
		t.Fatal(err)
	}
	name, args, err := argsOf(p, true)
	if err != nil || name != "bin" || args.Len() != 2 {
		t.Fatalf("argsOf: %q %d %v", name, args.Len(), err)
	}
	var (
		b   []byte
		obj struct {
			Name  string `json:"name"`
			Data  []byte `json:"data"`
			Empty []byte `json:"empty"`
		}
	)
	if err := args.Decode(&b, &obj); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, []byte{1, 2, 3}) || obj.Name != "obj" || !bytes.Equal(obj.Data, []byte{4, 5, 6}) || len(obj.Empty) != 0 {
		t.Fatalf("decoded %x %+v", b, obj)
	}
}

func TestMsgpackDate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(ms int64) {
		got, _ := mpAppendJSONDate(nil, ms)
		tm := time.UnixMilli(ms).UTC()
		var want string
		switch y := tm.Year(); {
		case y >= 0 && y <= 9999:
			want = fmt.Sprintf("%04d", y)
		case y < 0:
			want = fmt.Sprintf("-%06d", -y)
		default:
			want = fmt.Sprintf("+%06d", y)
		}
		want = `"` + want + tm.Format("-01-02T15:04:05.000") + `Z"`
		if string(got) != want {
			t.Fatalf("%d ms: %s, want %s", ms, got, want)
		}
	}
	for _, ms := range []int64{0, -1, 1, 86399999, 86400000, -86400000, -86400001, 951782400000, -62167219200000, -62167219200001, 253402300799999, 253402300800000, 8.64e15, -8.64e15} {
		check(ms)
	}
	for range 100000 {
		check(r.Int64N(2*8.64e15+1) - 8.64e15)
	}
}

// ---------------------------------------------------------------------------
// Encoding

func TestMsgpackEncode(t *testing.T) {
	head := func(typ int, nkeys int) string {
		return fmt.Sprintf("%02x a474797065 %02x", 0x80|nkeys, typ)
	}
	data := "a464617461"
	nspRoot := "a36e7370 a12f"
	cases := []struct {
		name string
		p    *Packet
		hex  string
	}{
		{"binary event is event", mpPkt(PacketBinaryEvent, "/", 0, false, `["e",`+mpPH0+`]`, []byte{1}),
			head(2, 3) + data + "92 a165 c40101" + nspRoot},
		{"binary ack is ack", mpPkt(PacketBinaryAck, "/", 2, true, `[`+mpPH0+`]`, []byte{1}),
			head(3, 4) + data + "91 c40101" + nspRoot + "a26964 02"},
		{"event without attachments", mpPkt(PacketEvent, "/", 0, false, `["e"]`), head(2, 3) + data + "91a165" + nspRoot},
		{"empty namespace is /", mpPkt(PacketDisconnect, "", 0, false, ``), head(1, 2) + nspRoot},
		{"no data", mpPkt(PacketConnect, "/", 0, false, ``), head(0, 2) + nspRoot},
		{"id 0", mpPkt(PacketEvent, "/", 0, true, `["e"]`), head(2, 4) + data + "91a165" + nspRoot + "a26964 00"},
		{"id 2^53-1", mpPkt(PacketAck, "/", 1<<53-1, true, `[]`), head(3, 4) + data + "90" + nspRoot + "a26964 cf001fffffffffffff"},
		{"invalid JSON is nil", mpPkt(PacketEvent, "/", 0, false, `["e",]`), head(2, 3) + data + "c0" + nspRoot},
		{"trailing data is nil", mpPkt(PacketEvent, "/", 0, false, `["e"]x`), head(2, 3) + data + "c0" + nspRoot},
		{"whitespace", mpPkt(PacketEvent, "/", 0, false, " [ \"e\" ,\n{ \"a\" : [ 1 , true ] , \"b\":null} ] \t"),
			head(2, 3) + data + "92a165 82 a161 9201c3 a162 c0" + nspRoot},
		{"placeholder out of range is a map", mpPkt(PacketEvent, "/", 0, false, `["e",`+mpPH1+`]`, []byte{1}),
			head(2, 3) + data + "92a165 82 ac5f706c616365686f6c646572 c3 a36e756d 01" + nspRoot},
		{"placeholder without attachments is a map", mpPkt(PacketEvent, "/", 0, false, `[`+mpPH0+`]`),
			head(2, 3) + data + "91 82 ac5f706c616365686f6c646572 c3 a36e756d 00" + nspRoot},
		{"non-canonical placeholder is a map", mpPkt(PacketEvent, "/", 0, false, `[{"num":0,"_placeholder":true}]`, []byte{1}),
			head(2, 3) + data + "91 82 a36e756d 00 ac5f706c616365686f6c646572 c3" + nspRoot},
		{"placeholder as object member", mpPkt(PacketEvent, "/", 0, false, `["e",{"a":`+mpPH0+`,"b":[`+mpPH1+`,`+mpPH0+`]}]`, []byte{1}, []byte{2, 3}),
			head(2, 3) + data + "92a165 82 a161 c40101 a162 92 c4020203 c40101" + nspRoot},
		{"placeholder in connect is a map", mpPkt(PacketConnect, "/", 0, false, `{"a":`+mpPH0+`}`, []byte{1}),
			head(0, 3) + data + "81 a161 82 ac5f706c616365686f6c646572 c3 a36e756d 00" + nspRoot},
		{"string escapes", mpPkt(PacketEvent, "/", 0, false, `["\"\\\/\b\f\n\r\t\u00e9\u2028\ud83d\ude00"]`),
			head(2, 3) + data + "91 b1 225c2f080c0a0d09 c3a9 e280a8 f09f9880" + nspRoot},
		{"lone surrogates", mpPkt(PacketEvent, "/", 0, false, `["\ud800x\udc00\ud800\u0041\ud83d"]`),
			head(2, 3) + data + "91 ae efbfbd 78 efbfbd efbfbd 41 efbfbd" + nspRoot},
		{"raw utf8 kept", mpPkt(PacketEvent, "/", 0, false, `["é😀"]`), head(2, 3) + data + "91 a6 c3a9f09f9880" + nspRoot},
		{"numbers", mpPkt(PacketEvent, "/", 0, false,
			`[1.0,-0,-0.0,1e2,1E+2,0.5e1,-1.5,9007199254740993,18446744073709551615,18446744073709551616,-9223372036854775808,-9223372036854775809,1e400,-1e400,1e-400,-128,-2147483648]`),
			head(2, 3) + data + "dc0011 01 00 00 64 64 05 cbbff8000000000000 cf0020000000000001 cfffffffffffffffff cb43f0000000000000 d38000000000000000 d38000000000000000 cb7ff0000000000000 cbfff0000000000000 00 d080 d280000000" + nspRoot},
		{"long namespace", mpPkt(PacketConnect, "/"+strings.Repeat("n", 40), 0, false, ``),
			head(0, 2) + "a36e7370 d929 2f" + strings.Repeat("6e", 40)},
		{"attachments of other types ignored", mpPkt(PacketConnectError, "/", 0, false, `"x"`, []byte{1}),
			head(4, 3) + data + "a178" + nspRoot},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := mpEncode(c.p)
			if want := mpHex(c.hex); !bytes.Equal(got, want) {
				t.Fatalf("\n got %x\nwant %x", got, want)
			}
		})
	}
	t.Run("depth 10000", func(t *testing.T) {
		p := mpPkt(PacketEvent, "/", 0, false, `["e",`+strings.Repeat("[", 9999)+strings.Repeat("]", 10000))
		got := mpEncode(p)
		want := mpHex(head(2, 3) + data + "92a165" + strings.Repeat("91", 9998) + "90" + nspRoot)
		if !bytes.Equal(got, want) {
			t.Fatalf("got %d bytes", len(got))
		}
		p = mpPkt(PacketEvent, "/", 0, false, `["e",`+strings.Repeat("[", 10000)+strings.Repeat("]", 10001))
		if got, want := mpEncode(p), mpHex(head(2, 3)+data+"c0"+nspRoot); !bytes.Equal(got, want) {
			t.Fatalf("depth 10001: %d bytes", len(got))
		}
	})
}

// Packets built by the package's emit path survive an encode/decode round
// trip unchanged.
func TestMsgpackRoundTrip(t *testing.T) {
	type inner struct {
		A int     `json:"a"`
		B float64 `json:"b"`
		C string  `json:"c"`
	}
	argLists := [][]any{
		{},
		{"s", 1, int64(-1) << 62, 1.5, -0.001, true, false, nil},
		{[]byte{1, 2, 3}, map[string]any{"bin": []byte{}, "list": []any{[]byte{9}, "x", map[string]any{}}}, []byte(nil)},
		{inner{A: 1, B: 2.25, C: "é\"\\\n\u2028"}, json.RawMessage(`{"z":1,"a":[true,null,{"k":"v"}],"n":-12.5e-3}`)},
		{make([]byte, 70000), strings.Repeat("s", 70000), uint64(math.MaxUint64), math.MaxInt64, math.MinInt64, 1e300, 5e-324},
		{map[string]any{"deep": []any{[]any{[]any{[]any{[]byte{4}}}}}}},
	}
	for i, args := range argLists {
		data, atts, err := encodeEvent("ev", args)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []*Packet{
			{Type: PacketEvent, Namespace: "/", Data: data, Attachments: atts},
			{Type: PacketEvent, Namespace: "/chat", ID: 12, HasID: true, Data: data, Attachments: atts},
		} {
			ack, ackAtts, err := encodeArray(args)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []*Packet{p, {Type: PacketAck, Namespace: p.Namespace, ID: 3, HasID: true, Data: ack, Attachments: ackAtts}} {
				enc := mpEncode(p)
				got, err := mpDecode(Limits{MaxAttachmentBytes: 1 << 20}, enc)
				if err != nil {
					t.Fatalf("%d: decode: %v", i, err)
				}
				// The decoded Data is compact JSON with the same value.
				var compact bytes.Buffer
				json.Compact(&compact, p.Data)
				want := *p
				want.Data = compact.Bytes()
				if want.Attachments == nil {
					want.Attachments = [][]byte{}
				}
				if !mpEqual(got, &want) && !mpSameNumbers(got.Data, want.Data) {
					t.Fatalf("%d:\n got %s\nwant %s", i, mpFmt(got), mpFmt(&want))
				}
				if again := mpEncode(got); !bytes.Equal(again, enc) {
					t.Fatalf("%d: re-encoding differs", i)
				}
			}
		}
	}
}

// mpSameNumbers reports whether a and b are the same JSON value, numbers
// compared as float64.
func mpSameNumbers(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return mpSameValue(va, vb)
}

func mpSameValue(a, b any) bool {
	switch a := a.(type) {
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !mpSameValue(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			if w, ok := b[k]; !ok || !mpSameValue(v, w) {
				return false
			}
		}
		return true
	}
	return a == b // float64 -0 == 0
}

// ---------------------------------------------------------------------------
// Fuzzing

var mpFuzzLimits = Limits{MaxAttachments: 3, MaxAttachmentBytes: 64, MaxDepth: 6, MaxNamespaceLen: 12}

func FuzzMsgpackDecoder(f *testing.F) {
	for _, v := range mpNodeVectors() {
		if len(v.hex) < 1000 {
			f.Add(mpHex(v.hex))
		}
	}
	for _, c := range mpDecodeCases() {
		if len(c.in) < 300 && !c.text {
			f.Add(c.in)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, lim := range []Limits{mpFuzzLimits, {}} {
			mpFuzzCheck(t, lim, in)
		}
	})
}

func mpFuzzCheck(t *testing.T, lim Limits, in []byte) {
	lim = lim.withDefaults()
	p, err := mpDecode(lim, in)
	if err != nil {
		if p != nil || !errors.Is(err, ErrInvalidPacket) {
			t.Fatalf("packet %v, error %v", p, err)
		}
		return
	}
	// The packet keeps the rules.
	if p.Type > PacketConnectError {
		t.Fatalf("type %v", p.Type)
	}
	if !strings.HasPrefix(p.Namespace, "/") || len(p.Namespace) > lim.MaxNamespaceLen || !pktValidNamespace([]byte(p.Namespace)) {
		t.Fatalf("namespace %q", p.Namespace)
	}
	if p.HasID && (p.ID < 0 || p.ID > pktMaxAckID || (p.Type != PacketEvent && p.Type != PacketAck)) {
		t.Fatalf("id %d on %v", p.ID, p.Type)
	}
	if len(p.Attachments) > lim.MaxAttachments {
		t.Fatalf("%d attachments", len(p.Attachments))
	}
	var total int64
	for _, a := range p.Attachments {
		total += int64(len(a))
	}
	if total > lim.MaxAttachmentBytes {
		t.Fatalf("%d attachment bytes", total)
	}
	if p.Data != nil {
		if !json.Valid(p.Data) {
			t.Fatalf("invalid JSON %q", p.Data)
		}
		var compact bytes.Buffer
		json.Compact(&compact, p.Data)
		if !bytes.Equal(compact.Bytes(), p.Data) {
			t.Fatalf("JSON not compact: %s", p.Data)
		}
		// Placeholders are canonical and numbered in order.
		for i := range p.Attachments {
			if bytes.Count(p.Data, appendPlaceholder(nil, i)) < 1 {
				t.Fatalf("no placeholder %d in %s", i, p.Data)
			}
		}
	}

	// The same packet in the JSON format is accepted by the JSON decoder
	// (a namespace with "," cannot be written there).
	if !strings.Contains(p.Namespace, ",") {
		jd := NewDecoder(lim)
		var jp *Packet
		for _, m := range appendEncode(nil, p) {
			if jp, err = jd.Decode(m); err != nil {
				t.Fatalf("JSON decoder refuses %s: %v", mpFmt(p), err)
			}
		}
		if jp == nil {
			t.Fatalf("JSON decoder incomplete for %s", mpFmt(p))
		}
		switch jp.Type {
		case PacketBinaryEvent:
			jp.Type = PacketEvent
		case PacketBinaryAck:
			jp.Type = PacketAck
		}
		if jp.Attachments == nil {
			jp.Attachments = [][]byte{}
		}
		q := *p
		if q.Attachments == nil {
			q.Attachments = [][]byte{}
		}
		if !mpEqual(jp, &q) {
			t.Fatalf("JSON decoder:\n got %s\nwant %s", mpFmt(jp), mpFmt(&q))
		}
	}

	// Round trip: encoding and decoding again gives the same packet and
	// the same bytes.
	enc := mpEncode(p)
	p2, err := mpDecode(lim, enc)
	if err != nil {
		t.Fatalf("re-decoding %x (%s): %v", enc, mpFmt(p), err)
	}
	if !mpEqual(p, p2) {
		t.Fatalf("round trip:\n got %s\nwant %s", mpFmt(p2), mpFmt(p))
	}
	if enc2 := mpEncode(p2); !bytes.Equal(enc, enc2) {
		t.Fatalf("re-encoding: %x, then %x", enc, enc2)
	}
}

// FuzzMsgpackEncode checks that any Data encodes to one well-formed
// MessagePack value and that valid JSON keeps its value.
func FuzzMsgpackEncode(f *testing.F) {
	f.Add([]byte(`["e",{"_placeholder":true,"num":0},{"a":[1,-2.5e3,"\u00e9\ud800"]}]`), uint8(1))
	f.Add([]byte(` [ "x" , { "k" : null } , 18446744073709551616, -0 ] `), uint8(0))
	f.Add([]byte(`["e",`), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, n uint8) {
		atts := make([][]byte, n%4)
		for i := range atts {
			atts[i] = []byte{byte(i)}
		}
		p := &Packet{Type: PacketEvent, Namespace: "/", Data: data, Attachments: atts}
		enc := mpEncode(p)
		if end, err := mpSkip(enc, 0); err != nil || end != len(enc) {
			t.Fatalf("malformed encoding %x: %v", enc, err)
		}
		if !json.Valid(data) || bytes.Contains(data, []byte("_placeholder")) {
			return
		}
		got, err := mpDecode(Limits{MaxDepth: 20000}, enc)
		if err != nil {
			return // e.g. not a valid EVENT payload
		}
		if !mpSameNumbers(got.Data, data) {
			t.Fatalf("%s encoded and decoded to %s", data, got.Data)
		}
	})
}

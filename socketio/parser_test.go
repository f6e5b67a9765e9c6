package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierhq/pier/engineio"
)

func parserT(s string) engineio.Message { return engineio.Message{Data: []byte(s)} }
func parserB(b ...byte) engineio.Message {
	if b == nil {
		b = []byte{}
	}
	return engineio.Message{Binary: true, Data: b}
}

const (
	parserPH0 = `{"_placeholder":true,"num":0}`
	parserPH1 = `{"_placeholder":true,"num":1}`
)

type parserDecodeCase struct {
	name    string
	lim     Limits
	in      []engineio.Message
	want    *Packet // expected outcome of the last message; nil and !wantErr: pending
	wantErr bool
}

func parserOK(name, text string, want *Packet) parserDecodeCase {
	return parserDecodeCase{name: name, in: []engineio.Message{parserT(text)}, want: want}
}

func parserBad(name, text string) parserDecodeCase {
	return parserDecodeCase{name: name, in: []engineio.Message{parserT(text)}, wantErr: true}
}

func parserPkt(t PacketType, nsp string, id int64, hasID bool, data string, atts ...[]byte) *Packet {
	p := &Packet{Type: t, Namespace: nsp, ID: id, HasID: hasID, Attachments: atts}
	if data != "" {
		p.Data = []byte(data)
	}
	return p
}

func parserDeep(n int) string {
	return `["message",` + strings.Repeat("[", n) + strings.Repeat("]", n) + `]`
}

func parserDecodeCases() []parserDecodeCase {
	big := strings.Repeat("a", 100*1024)
	cases := []parserDecodeCase{
		// CONNECT (fixture 4.3 items 1-5, protocol v4 query strings)
		parserOK("connect", `0`, parserPkt(PacketConnect, "/", 0, false, "")),
		parserOK("connect empty object", `0{}`, parserPkt(PacketConnect, "/", 0, false, `{}`)),
		parserOK("connect auth", `0{"token":"123"}`, parserPkt(PacketConnect, "/", 0, false, `{"token":"123"}`)),
		parserOK("connect nsp", `0/custom,`, parserPkt(PacketConnect, "/custom", 0, false, "")),
		parserOK("connect nsp auth", `0/custom,{"token":"abc"}`, parserPkt(PacketConnect, "/custom", 0, false, `{"token":"abc"}`)),
		parserOK("connect nsp no comma", `0/random`, parserPkt(PacketConnect, "/random", 0, false, "")),
		parserOK("connect v4 query", `0/custom?token=abc,`, parserPkt(PacketConnect, "/custom?token=abc", 0, false, "")),
		parserOK("connect explicit root", `0/,{}`, parserPkt(PacketConnect, "/", 0, false, `{}`)),
		parserOK("connect unicode nsp", `0/caf√©,`, parserPkt(PacketConnect, "/caf√©", 0, false, "")),
		parserBad("connect array", `0[]`),
		parserBad("connect null", `0null`),
		parserBad("connect string", `0"x"`),
		parserBad("connect nsp then digits", `0/a,1`),
		parserBad("connect bool", `0/a,true`),
		parserBad("connect with id", `01{}`),
		parserBad("connect leading space", `0 {}`),
		parserBad("connect nsp control char", "0/a\x01b,"),
		parserBad("connect nsp DEL", "0/a\x7fb,"),
		parserBad("connect nsp C1 control", "0/a\u0085b,"),
		parserBad("connect nsp invalid utf8", "0/a\xffb,"),
		parserBad("connect nsp 100KB", `0/`+big+`,`),
		parserBad("connect nsp 100KB no comma", `0/`+big),
		{name: "nsp at limit", lim: Limits{MaxNamespaceLen: 4}, in: []engineio.Message{parserT(`0/abc,`)}, want: parserPkt(PacketConnect, "/abc", 0, false, "")},
		{name: "nsp over limit", lim: Limits{MaxNamespaceLen: 4}, in: []engineio.Message{parserT(`0/abcd,`)}, wantErr: true},

		// DISCONNECT
		parserOK("disconnect", `1`, parserPkt(PacketDisconnect, "/", 0, false, "")),
		parserOK("disconnect nsp", `1/custom,`, parserPkt(PacketDisconnect, "/custom", 0, false, "")),
		parserBad("disconnect payload", `1{}`),
		parserBad("disconnect nsp payload", `1/custom,[]`),
		parserBad("disconnect id", `12`),

		// CONNECT_ERROR
		parserOK("connect_error object", `4{"message":"x"}`, parserPkt(PacketConnectError, "/", 0, false, `{"message":"x"}`)),
		parserOK("connect_error string", `4"x"`, parserPkt(PacketConnectError, "/", 0, false, `"x"`)),
		parserOK("connect_error nsp", `4/random,{"message":"Invalid namespace"}`, parserPkt(PacketConnectError, "/random", 0, false, `{"message":"Invalid namespace"}`)),
		parserBad("connect_error none", `4`),
		parserBad("connect_error array", `4[]`),
		parserBad("connect_error id", `41"x"`),

		// EVENT (fixture items 9, 10, 14; CVE-2023-32695)
		parserOK("event", `2["message","message to main namespace"]`, parserPkt(PacketEvent, "/", 0, false, `["message","message to main namespace"]`)),
		parserOK("event args", `2["message",1,"2",{"3":[true]}]`, parserPkt(PacketEvent, "/", 0, false, `["message",1,"2",{"3":[true]}]`)),
		parserOK("event ack id", `2456["message-with-ack",1,"2",{"3":[false]}]`, parserPkt(PacketEvent, "/", 456, true, `["message-with-ack",1,"2",{"3":[false]}]`)),
		parserOK("event ack id 0", `20["x"]`, parserPkt(PacketEvent, "/", 0, true, `["x"]`)),
		parserOK("event nsp id", `2/custom,7["x"]`, parserPkt(PacketEvent, "/custom", 7, true, `["x"]`)),
		parserOK("event numeric name", `2[1]`, parserPkt(PacketEvent, "/", 0, false, `[1]`)),
		parserOK("event float name", `2[-1.5e3,"a"]`, parserPkt(PacketEvent, "/", 0, false, `[-1.5e3,"a"]`)),
		parserOK("event error name", `2["error","x"]`, parserPkt(PacketEvent, "/", 0, false, `["error","x"]`)),
		parserOK("event escaped name", `2["a\"b\u00e9"]`, parserPkt(PacketEvent, "/", 0, false, `["a\"b\u00e9"]`)),
		parserOK("event compacted", "2[ \"x\" ,\t{ \"a b\" : [ 1 , 2 ] }\n]\r\n ", parserPkt(PacketEvent, "/", 0, false, `["x",{"a b":[1,2]}]`)),
		parserOK("event plain _placeholder false", `2["x",{"_placeholder":false,"num":"splice"}]`, parserPkt(PacketEvent, "/", 0, false, `["x",{"_placeholder":false,"num":"splice"}]`)),
		parserOK("event depth at limit", `2["x",[[[[[[[[]]]]]]]]]`, parserPkt(PacketEvent, "/", 0, false, `["x",[[[[[[[[]]]]]]]]]`)),
		{name: "depth limit 2 ok", lim: Limits{MaxDepth: 2}, in: []engineio.Message{parserT(`2["x",[]]`)}, want: parserPkt(PacketEvent, "/", 0, false, `["x",[]]`)},
		{name: "depth limit 2 exceeded", lim: Limits{MaxDepth: 2}, in: []engineio.Message{parserT(`2["x",[{}]]`)}, wantErr: true},
		parserBad("event depth 65", `2`+parserDeep(64)),
		parserOK("event depth 64", `2`+parserDeep(63), parserPkt(PacketEvent, "/", 0, false, parserDeep(63))),
		parserBad("event 100000 deep", `2`+parserDeep(100000)),
		parserBad("event 100000 deep objects", `2["x",`+strings.Repeat(`{"a":`, 100000)+`1`+strings.Repeat(`}`, 100000)+`]`),
		parserBad("event no payload", `2`),
		parserBad("event nsp no payload", `2/a,`),
		parserBad("event nsp no comma", `2/a["x"]`),
		parserBad("event empty array", `2[]`),
		parserBad("event object", `2{}`),
		parserBad("event string", `2"x"`),
		parserBad("event toString object", `2[{"toString":"foo"}]`),
		parserBad("event true name", `2[true,"foo"]`),
		parserBad("event null name", `2[null,"bar"]`),
		parserBad("event array name", `2[["x"]]`),
		parserBad("event abc id", `2abc["message-with-ack",1,"2",{"3":[false]}]`),
		parserBad("not a packet abc", `abc`),
		parserBad("event trailing garbage", `2["x"]x`),
		parserBad("event two values", `2["x"]["y"]`),
		parserBad("event leading space", `2 ["x"]`),
		parserBad("event space after id", `21 ["x"]`),
		parserBad("event invalid utf8", "2[\"\xff\"]"),
		parserBad("event truncated utf8", "2[\"\xe2\x82\"]"),
		parserBad("event surrogate utf8", "2[\"\xed\xa0\x80\"]"),
		parserBad("event control char in string", "2[\"a\nb\"]"),
		parserBad("event bad escape", `2["\x"]`),
		parserBad("event bad unicode escape", `2["\u12g4"]`),
		parserBad("event unterminated", `2["x"`),
		parserBad("event trailing comma", `2["x",]`),
		parserBad("event single quotes", `2['x']`),
		parserBad("event NaN", `2["x",NaN]`),
		parserBad("event leading zero number", `2["x",01]`),
		parserBad("event bare minus", `2["x",-]`),
		parserBad("event missing exponent", `2["x",1e]`),
		parserBad("event missing fraction", `2["x",1.]`),
		parserBad("event bad literal", `2["x",tru]`),
		parserBad("event missing colon", `2["x",{"a" 1}]`),
		parserBad("event numeric key", `2["x",{1:1}]`),
		parserBad("event mismatched brackets", `2["x",{"a":1]]`),
		parserBad("event extra close", `2["x"]]`),
		parserBad("event placeholder in text packet", `2["x",`+parserPH0+`]`),
		parserBad("json with count on non-binary", `21-["x"]`),
		parserBad("empty", ``),
		parserBad("space", ` `),
		parserBad("type 7", `7["x"]`),
		parserBad("type 9", `9`),
		parserBad("type letter", `a["x"]`),
		parserBad("type full-width digit", `Ôºí["x"]`),
	}
	for _, name := range pktReservedEvents {
		cases = append(cases, parserBad("reserved "+name, `2["`+name+`",1]`))
	}
	cases = append(cases,
		parserBad("reserved escaped", `2["\u0063onnect"]`),
		parserBad("reserved binary", `51-["disconnect",`+parserPH0+`]`),
		parserOK("reserved prefix ok", `2["connected"]`, parserPkt(PacketEvent, "/", 0, false, `["connected"]`)),
		parserOK("toString name ok", `2["toString"]`, parserPkt(PacketEvent, "/", 0, false, `["toString"]`)),

		// ACK (fixture item 12; ¬ß2.11 item 1)
		parserOK("ack", `3456[1,"2",{"3":[false]}]`, parserPkt(PacketAck, "/", 456, true, `[1,"2",{"3":[false]}]`)),
		parserOK("ack empty", `30[]`, parserPkt(PacketAck, "/", 0, true, `[]`)),
		parserOK("ack nsp", `3/custom,12[null]`, parserPkt(PacketAck, "/custom", 12, true, `[null]`)),
		parserOK("ack max id", `39007199254740991[]`, parserPkt(PacketAck, "/", 1<<53-1, true, `[]`)),
		parserOK("ack 16 digits leading zeros", `30000000000000001[]`, parserPkt(PacketAck, "/", 1, true, `[]`)),
		parserBad("ack id 2^53", `39007199254740992[]`),
		parserBad("ack id 17 digits", `300000000000000001[]`),
		parserBad("ack id overflow", `399999999999999999999[1]`),
		parserBad("ack id 400 digits", `3`+strings.Repeat("9", 400)+`[1]`),
		parserBad("event id 400 digits", `2`+strings.Repeat("9", 400)+`["x"]`),
		parserBad("ack Infinity", `3Infinity`),
		parserBad("ack Infinity array", `3Infinity[1]`),
		parserBad("ack negative id", `3-1[1]`),
		parserBad("ack no id", `3[1]`),
		parserBad("ack no payload", `3456`),
		parserBad("ack object", `3456{}`),
		parserBad("ack string", `3456"x"`),
		parserBad("ack placeholder in text packet", `31[`+parserPH0+`]`),
	)

	ph := func(text string, bins ...engineio.Message) []engineio.Message {
		return append([]engineio.Message{parserT(text)}, bins...)
	}
	cases = append(cases,
		// BINARY_EVENT / BINARY_ACK (fixture items 11 and 13; CVE-2022-2421, CVE-2026-33151)
		parserDecodeCase{name: "binary event", in: ph(`52-["message",`+parserPH0+`,`+parserPH1+`]`, parserB(1, 2, 3), parserB(4, 5, 6)),
			want: parserPkt(PacketBinaryEvent, "/", 0, false, `["message",`+parserPH0+`,`+parserPH1+`]`, []byte{1, 2, 3}, []byte{4, 5, 6})},
		parserDecodeCase{name: "binary event pending", in: ph(`52-["message",`+parserPH0+`,`+parserPH1+`]`, parserB(1, 2, 3))},
		parserDecodeCase{name: "binary event header pending", in: ph(`52-["message",` + parserPH0 + `,` + parserPH1 + `]`)},
		parserDecodeCase{name: "binary event with ack", in: ph(`52-789["message-with-ack",`+parserPH0+`,`+parserPH1+`]`, parserB(1), parserB(2)),
			want: parserPkt(PacketBinaryEvent, "/", 789, true, `["message-with-ack",`+parserPH0+`,`+parserPH1+`]`, []byte{1}, []byte{2})},
		parserDecodeCase{name: "binary ack", in: ph(`62-789[`+parserPH0+`,`+parserPH1+`]`, parserB(1), parserB()),
			want: parserPkt(PacketBinaryAck, "/", 789, true, `[`+parserPH0+`,`+parserPH1+`]`, []byte{1}, []byte{})},
		parserDecodeCase{name: "binary event nsp", in: ph(`51-/custom,["x",{"a":[`+parserPH0+`]}]`, parserB(9)),
			want: parserPkt(PacketBinaryEvent, "/custom", 0, false, `["x",{"a":[`+parserPH0+`]}]`, []byte{9})},
		parserDecodeCase{name: "binary placeholder reused", in: ph(`51-["x",`+parserPH0+`,`+parserPH0+`]`, parserB(9)),
			want: parserPkt(PacketBinaryEvent, "/", 0, false, `["x",`+parserPH0+`,`+parserPH0+`]`, []byte{9})},
		parserDecodeCase{name: "binary unreferenced attachment", in: ph(`52-["x",`+parserPH1+`]`, parserB(1), parserB(2)),
			want: parserPkt(PacketBinaryEvent, "/", 0, false, `["x",`+parserPH1+`]`, []byte{1}, []byte{2})},
		parserDecodeCase{name: "binary leading zero count", in: ph(`502-["x"]`, parserB(1), parserB(2)),
			want: parserPkt(PacketBinaryEvent, "/", 0, false, `["x"]`, []byte{1}, []byte{2})},
		parserDecodeCase{name: "binary placeholder reordered", in: ph(`51-["x",{"num":0,"_placeholder":true}]`, parserB(1)),
			want: parserPkt(PacketBinaryEvent, "/", 0, false, `["x",`+parserPH0+`]`, []byte{1})},
		parserDecodeCase{name: "binary placeholder spaced", in: ph(`51-["x", { "_placeholder" : true , "num" : 0 } ]`, parserB(1)),
			want: parserPkt(PacketBinaryEvent, "/", 0, false, `["x",`+parserPH0+`]`, []byte{1})},
		parserDecodeCase{name: "binary placeholder escaped key", in: ph(`51-["x",{"\u005fplaceholder":true,"n\u0075m":0}]`, parserB(1)),
			want: parserPkt(PacketBinaryEvent, "/", 0, false, `["x",`+parserPH0+`]`, []byte{1})},
		parserDecodeCase{name: "binary max attachments", in: ph(`510-["x"]`, parserB(0), parserB(1), parserB(2), parserB(3), parserB(4), parserB(5), parserB(6), parserB(7), parserB(8), parserB(9)),
			want: parserPkt(PacketBinaryEvent, "/", 0, false, `["x"]`, []byte{0}, []byte{1}, []byte{2}, []byte{3}, []byte{4}, []byte{5}, []byte{6}, []byte{7}, []byte{8}, []byte{9})},
		parserBad("binary 11 attachments", `511-["x"]`),
		parserDecodeCase{name: "binary too many (limit 2)", lim: Limits{MaxAttachments: 2}, in: ph(`53-["x"]`), wantErr: true},
		parserBad("binary huge count", `5`+strings.Repeat("9", 400)+`-["x"]`),
		parserBad("binary huge count no dash", `5`+strings.Repeat("9", 400)),
		parserBad("binary zero attachments", `50-["x"]`),
		parserBad("binary no count", `5-["x"]`),
		parserBad("binary no dash", `52["x"]`),
		parserBad("binary count not digits", `5x-["x"]`),
		parserBad("binary count space", `5 2-["x"]`),
		parserBad("binary count hex", `50x1-["x"]`),
		parserBad("binary type only", `5`),
		parserBad("binary ack no id", `61-[`+parserPH0+`]`),
		parserBad("binary no payload", `51-`),
		parserBad("placeholder num splice", `51-["x",{"_placeholder":true,"num":"splice"}]`),
		parserBad("placeholder num out of range", `51-["x",`+parserPH1+`]`),
		parserBad("placeholder num negative", `51-["x",{"_placeholder":true,"num":-1}]`),
		parserBad("placeholder num fraction", `51-["x",{"_placeholder":true,"num":0.5}]`),
		parserBad("placeholder num exponent", `51-["x",{"_placeholder":true,"num":0e0}]`),
		parserBad("placeholder num huge", `51-["x",{"_placeholder":true,"num":99999999999999999999}]`),
		parserBad("placeholder num missing", `51-["x",{"_placeholder":true}]`),
		parserBad("placeholder num null", `51-["x",{"_placeholder":true,"num":null}]`),
		parserBad("placeholder extra key", `51-["x",{"_placeholder":true,"num":0,"x":1}]`),
		parserBad("placeholder duplicate num", `51-["x",{"_placeholder":true,"num":0,"num":5}]`),
		parserBad("placeholder duplicate key", `51-["x",{"_placeholder":true,"_placeholder":false,"num":0}]`),
		parserBad("placeholder duplicate key false first", `51-["x",{"_placeholder":false,"_placeholder":true,"num":9}]`),
		parserBad("placeholder escaped key out of range", `51-["x",{"\u005fplaceholder":true,"num":5}]`),
		parserBad("placeholder in connect", `0{"a":`+parserPH0+`}`),
		parserDecodeCase{name: "text during reconstruction", in: ph(`52-["x",`+parserPH0+`]`, parserB(1), parserT(`2["y"]`)), wantErr: true},
		parserDecodeCase{name: "binary while idle", in: []engineio.Message{parserB(1, 2, 3)}, wantErr: true},
		parserDecodeCase{name: "binary after complete packet", in: ph(`51-["x",`+parserPH0+`]`, parserB(1), parserB(2)), wantErr: true},
		parserDecodeCase{name: "binary after text packet", in: []engineio.Message{parserT(`2["x"]`), parserB(1)}, wantErr: true},
		parserDecodeCase{name: "attachment bytes at limit", lim: Limits{MaxAttachmentBytes: 4}, in: ph(`52-["x"]`, parserB(1, 2), parserB(3, 4)),
			want: parserPkt(PacketBinaryEvent, "/", 0, false, `["x"]`, []byte{1, 2}, []byte{3, 4})},
		parserDecodeCase{name: "attachment bytes over limit", lim: Limits{MaxAttachmentBytes: 4}, in: ph(`52-["x"]`, parserB(1, 2), parserB(3, 4, 5)), wantErr: true},
		parserDecodeCase{name: "attachment bytes default limit", in: ph(`52-["x"]`, parserB(make([]byte, 600_000)...), parserB(make([]byte, 400_001)...)), wantErr: true},
	)
	return cases
}

func parserRun(t testing.TB, d *Decoder, in []engineio.Message) (*Packet, error) {
	t.Helper()
	for i, m := range in[:len(in)-1] {
		if _, err := d.Decode(m); err != nil {
			t.Fatalf("message %d: unexpected error %v", i, err)
		}
	}
	return d.Decode(in[len(in)-1])
}

func parserEqual(a, b *Packet) bool {
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

func parserFmt(p *Packet) string {
	if p == nil {
		return "<nil>"
	}
	b, _ := json.Marshal(struct {
		Type        string
		Namespace   string
		ID          int64
		HasID       bool
		Data        string
		Nil         bool
		Attachments [][]byte
	}{p.Type.String(), p.Namespace, p.ID, p.HasID, string(p.Data), p.Data == nil, p.Attachments})
	return string(b)
}

func TestParserDecode(t *testing.T) {
	for _, c := range parserDecodeCases() {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder(c.lim)
			p, err := parserRun(t, d, c.in)
			if c.wantErr {
				if err == nil {
					t.Fatalf("want error, got %s", parserFmt(p))
				}
				if !errors.Is(err, ErrInvalidPacket) {
					t.Fatalf("error %v does not wrap ErrInvalidPacket", err)
				}
				if len(err.Error()) > 200 {
					t.Fatalf("error message too long (%d bytes)", len(err.Error()))
				}
				if d.pending != nil || d.bytes != 0 {
					t.Fatal("decoder not reset after error")
				}
				// The decoder accepts a fresh valid packet after an error.
				if p, err := d.Decode(parserT(`2["x"]`)); err != nil || p == nil {
					t.Fatalf("after error: %v %v", p, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if !parserEqual(p, c.want) {
				t.Fatalf("got  %s\nwant %s", parserFmt(p), parserFmt(c.want))
			}
		})
	}
}

func TestParserPacketTypeString(t *testing.T) {
	want := []string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK", "PacketType(7)"}
	for i, w := range want {
		if got := PacketType(i).String(); got != w {
			t.Errorf("PacketType(%d) = %q, want %q", i, got, w)
		}
	}
}

func TestParserEncode(t *testing.T) {
	cases := []struct {
		p    *Packet
		text string
		bins [][]byte
	}{
		{&Packet{Type: PacketConnect, Namespace: "/"}, `0`, nil},
		{&Packet{Type: PacketConnect}, `0`, nil},
		{&Packet{Type: PacketConnect, Namespace: "/", Data: []byte(`{"sid":"x"}`)}, `0{"sid":"x"}`, nil},
		{&Packet{Type: PacketConnect, Namespace: "/custom", Data: []byte(`{"sid":"x"}`)}, `0/custom,{"sid":"x"}`, nil},
		{&Packet{Type: PacketConnectError, Namespace: "/random", Data: []byte(`{"message":"Invalid namespace"}`)}, `4/random,{"message":"Invalid namespace"}`, nil},
		{&Packet{Type: PacketDisconnect, Namespace: "/custom"}, `1/custom,`, nil},
		{&Packet{Type: PacketEvent, Namespace: "/", Data: []byte(`["auth",{}]`)}, `2["auth",{}]`, nil},
		{&Packet{Type: PacketEvent, Namespace: "/custom", Data: []byte(`["auth",{"token":"abc"}]`)}, `2/custom,["auth",{"token":"abc"}]`, nil},
		{&Packet{Type: PacketEvent, Namespace: "/", ID: 0, HasID: true, Data: []byte(`["x"]`)}, `20["x"]`, nil},
		{&Packet{Type: PacketEvent, Namespace: "/", ID: 12, HasID: false, Data: []byte(`["x"]`)}, `2["x"]`, nil},
		{&Packet{Type: PacketAck, Namespace: "/", ID: 456, HasID: true, Data: []byte(`[1,"2",{"3":[false]}]`)}, `3456[1,"2",{"3":[false]}]`, nil},
		{&Packet{Type: PacketEvent, Namespace: "/", Data: []byte(`["message-back",` + parserPH0 + `,` + parserPH1 + `]`), Attachments: [][]byte{{1, 2, 3}, {4, 5, 6}}},
			`52-["message-back",` + parserPH0 + `,` + parserPH1 + `]`, [][]byte{{1, 2, 3}, {4, 5, 6}}},
		{&Packet{Type: PacketAck, Namespace: "/", ID: 789, HasID: true, Data: []byte(`[` + parserPH0 + `,` + parserPH1 + `]`), Attachments: [][]byte{{1}, {2}}},
			`62-789[` + parserPH0 + `,` + parserPH1 + `]`, [][]byte{{1}, {2}}},
		{&Packet{Type: PacketBinaryEvent, Namespace: "/a", Data: []byte(`["x"]`)}, `2/a,["x"]`, nil},
		{&Packet{Type: PacketBinaryAck, Namespace: "/", ID: 1, HasID: true, Data: []byte(`[]`)}, `31[]`, nil},
		{&Packet{Type: PacketBinaryEvent, Namespace: "/", Data: []byte(`["x",` + parserPH0 + `]`), Attachments: [][]byte{{}}}, `51-["x",` + parserPH0 + `]`, [][]byte{{}}},
		{&Packet{Type: PacketConnect, Namespace: "/", Data: []byte(`{}`), Attachments: [][]byte{{1}}}, `0{}`, nil},
		{&Packet{Type: PacketEvent, Namespace: "/", Data: []byte(`["x"]`), Attachments: make([][]byte, 12)}, `512-["x"]`, make([][]byte, 12)},
	}
	for _, c := range cases {
		prefix := []engineio.Message{parserT("keep")}
		got := appendEncode(prefix, c.p)
		if len(got) != 2+len(c.bins) || string(got[0].Data) != "keep" {
			t.Fatalf("%s: got %d messages", c.text, len(got))
		}
		if got[1].Binary || string(got[1].Data) != c.text {
			t.Errorf("got %q (binary %v), want %q", got[1].Data, got[1].Binary, c.text)
		}
		for i, b := range c.bins {
			if m := got[2+i]; !m.Binary || !bytes.Equal(m.Data, b) {
				t.Errorf("%s: attachment %d = %v", c.text, i, m)
			}
		}
	}
}

func TestParserAppendPlaceholder(t *testing.T) {
	if got := string(appendPlaceholder([]byte("x"), 12)); got != `x{"_placeholder":true,"num":12}` {
		t.Fatal(got)
	}
}

func TestParserRoundTrip(t *testing.T) {
	pkts := []*Packet{
		{Type: PacketConnect, Namespace: "/"},
		{Type: PacketConnect, Namespace: "/custom?token=abc", Data: []byte(`{"token":"a,b"}`)},
		{Type: PacketDisconnect, Namespace: "/x"},
		{Type: PacketConnectError, Namespace: "/", Data: []byte(`"nope"`)},
		{Type: PacketEvent, Namespace: "/", Data: []byte(`["message",1,"2",{"3":[true]},null,-0.5e-3,"√©\u2028"]`)},
		{Type: PacketEvent, Namespace: "/chat", ID: 1<<53 - 1, HasID: true, Data: []byte(`[42]`)},
		{Type: PacketAck, Namespace: "/", ID: 0, HasID: true, Data: []byte(`[]`)},
		{Type: PacketBinaryEvent, Namespace: "/", ID: 3, HasID: true, Data: []byte(`["b",` + parserPH0 + `,{"k":[` + parserPH1 + `]}]`), Attachments: [][]byte{{1}, {2, 3}}},
		{Type: PacketBinaryAck, Namespace: "/n", ID: 9, HasID: true, Data: []byte(`[` + parserPH0 + `]`), Attachments: [][]byte{{}}},
	}
	d := NewDecoder(Limits{})
	for _, p := range pkts {
		msgs := appendEncode(nil, p)
		var got *Packet
		for i, m := range msgs {
			q, err := d.Decode(m)
			if err != nil {
				t.Fatalf("%s: %v", msgs[0].Data, err)
			}
			if (q != nil) != (i == len(msgs)-1) {
				t.Fatalf("%s: packet completed at message %d of %d", msgs[0].Data, i, len(msgs))
			}
			got = q
		}
		if !parserEqual(got, p) {
			t.Fatalf("got  %s\nwant %s", parserFmt(got), parserFmt(p))
		}
	}
}

func TestParserSplitArray(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  bool
	}{
		{`[]`, []string{}, false},
		{` [ ] `, []string{}, false},
		{`["a",1,{"b":[2,3]},[],null,true,"]"]`, []string{`"a"`, `1`, `{"b":[2,3]}`, `[]`, `null`, `true`, `"]"`}, false},
		{"[ 1 ,\n\"x\" ]", []string{`1`, `"x"`}, false},
		{`{}`, nil, true},
		{`"x"`, nil, true},
		{``, nil, true},
		{`[1,]`, nil, true},
		{`[1`, nil, true},
		{`[1]x`, nil, true},
		{`[{]}`, nil, true},
		{`[` + parserPH0 + `,{"_placeholder":true,"num":99}]`, []string{parserPH0, `{"_placeholder":true,"num":99}`}, false},
		{strings.Repeat("[", 20000) + strings.Repeat("]", 20000), nil, true},
	}
	for _, c := range cases {
		got, err := splitArray([]byte(c.in))
		if c.err {
			if err == nil {
				t.Errorf("splitArray(%.40q): want error", c.in)
			}
			continue
		}
		if err != nil || got == nil || len(got) != len(c.want) {
			t.Errorf("splitArray(%q) = %q, %v", c.in, got, err)
			continue
		}
		for i := range got {
			if string(got[i]) != c.want[i] {
				t.Errorf("splitArray(%q)[%d] = %q, want %q", c.in, i, got[i], c.want[i])
			}
			if cap(got[i]) != len(got[i]) {
				t.Errorf("SplitArray element %d has spare capacity", i)
			}
		}
	}
	// Elements alias the input.
	in := []byte(`["abc"]`)
	got, _ := splitArray(in)
	in[2] = 'X'
	if string(got[0]) != `"Xbc"` {
		t.Error("SplitArray copied its input")
	}
}

// Decoded data aliases the message unless it had to be rewritten.
func TestParserDataAliases(t *testing.T) {
	msg := []byte(`2["x"]`)
	p, err := NewDecoder(Limits{}).Decode(engineio.Message{Data: msg})
	if err != nil {
		t.Fatal(err)
	}
	if &p.Data[0] != &msg[1] {
		t.Error("Data was copied")
	}
}

// Rejecting hostile input costs no allocation; a valid packet costs the
// Packet, its non-root namespace and, when whitespace must go, a copy.
func TestParserAllocs(t *testing.T) {
	cases := []struct {
		name string
		in   string
		max  float64
	}{
		{"ack id 100k digits", `3` + strings.Repeat("9", 100000) + `[1]`, 0},
		{"attachments 100k", `5` + strings.Repeat("9", 100000) + `-[1]`, 0},
		{"namespace 100k", `0/` + strings.Repeat("a", 100000) + `,`, 0},
		{"depth 100k", `2` + parserDeep(100000), 0},
		{"nsp then bad payload", `2/custom,["connect"]`, 0},
		{"valid event", `2["message",1,"2",{"3":[true]}]`, 1},
		{"valid nsp event with id", `2/custom,12["message",{"a":[1,2,{"b":null}]}]`, 2},
		{"ws 100k", `2["x"` + strings.Repeat(" ", 100000) + `]`, 2},
		{"binary header", `5` + strings.Repeat("0", 100000) + `1-["x"]`, 2},
	}
	d := NewDecoder(Limits{})
	// The decoder's own allocations: with a scanner of its own rather
	// than the pool's, which the race detector makes drop some.
	d.own = new(pktScanner)
	d.Decode(parserT(`2` + parserDeep(60))) // warm up the scanner's stack
	for _, c := range cases {
		msg := parserT(c.in)
		allocs := testing.AllocsPerRun(20, func() {
			p, err := d.Decode(msg)
			if err != nil || p == nil {
				d.reset()
			}
		})
		if allocs > c.max {
			t.Errorf("%s: %.0f allocations, want <= %.0f", c.name, allocs, c.max)
		}
	}
}

// TestParserNodeDifferential compares accept/reject decisions with
// socket.io-parser 4.2.7 on the table's single-message inputs. It runs only
// when PIER_SIO_PARSER_DIR names a directory where
// require("socket.io-parser") resolves (npm install socket.io-parser@4.2.7).
func TestParserNodeDifferential(t *testing.T) {
	dir := os.Getenv("PIER_SIO_PARSER_DIR")
	if dir == "" {
		t.Skip("PIER_SIO_PARSER_DIR not set")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not on PATH")
	}
	// Deliberate divergences: Node accepts (or waits for binary data),
	// Pier rejects.
	divergent := map[string]string{
		"connect with id":                  "ack id on CONNECT",
		"connect nsp then digits":          "Node reads 1 as an ack id on CONNECT",
		"attachment bytes default limit":   "MaxAttachmentBytes",
		"disconnect id":                    "ack id on DISCONNECT",
		"connect_error id":                 "ack id on CONNECT_ERROR",
		"connect_error none":               "Node checks the payload only when present",
		"event no payload":                 "Node checks the payload only when present",
		"event nsp no payload":             "Node checks the payload only when present",
		"event nsp no comma":               "Node reads `/a[\"x\"]` as the namespace, no payload",
		"binary no payload":                "Node checks the payload only when present",
		"ack no payload":                   "Node checks the payload only when present",
		"ack no id":                        "Node accepts an ACK without id",
		"binary ack no id":                 "Node accepts an ACK without id",
		"connect leading space":            "Node reads a space as ack id 0",
		"event leading space":              "Node reads a space as ack id 0",
		"event space after id":             "Node reads a space in the id",
		"space":                            "Node reads \" \" as CONNECT",
		"empty":                            "Node reads \"\" as CONNECT",
		"ack id 2^53":                      "Node accepts unsafe integers",
		"ack id 17 digits":                 "Node accepts any digit count",
		"ack id overflow":                  "Node accepts unsafe integers",
		"ack id 400 digits":                "Node accepts Infinity",
		"event id 400 digits":              "Node accepts Infinity",
		"binary count space":               "Node's Number() trims spaces",
		"binary count hex":                 "Node's Number() reads 0x1",
		"event placeholder in text packet": "placeholders only in binary packets",
		"ack placeholder in text packet":   "placeholders only in binary packets",
		"placeholder in connect":           "placeholders only in binary packets",
		"placeholder num fraction":         "Node: typeof 0.5 === number",
		"placeholder num exponent":         "Node: 0e0 is 0",
		"placeholder extra key":            "Node drops the other keys",
		"placeholder duplicate key":        "Node: last key wins",
		"connect nsp control char":         "namespace rule",
		"connect nsp DEL":                  "namespace rule",
		"connect nsp C1 control":           "namespace rule",
		"connect nsp 100KB":                "namespace length limit",
		"connect nsp 100KB no comma":       "namespace length limit",
		"event depth 65":                   "depth limit",
		"event 100000 deep":                "depth limit",
		"event 100000 deep objects":        "depth limit",
		"event surrogate utf8":             "strings reach Node already decoded (U+FFFD)",
		"event truncated utf8":             "strings reach Node already decoded (U+FFFD)",
		"event invalid utf8":               "strings reach Node already decoded (U+FFFD)",
		"connect nsp invalid utf8":         "strings reach Node already decoded (U+FFFD)",
	}
	type frame struct {
		T *string `json:"t,omitempty"`
		B []byte  `json:"b,omitempty"`
	}
	var names []string
	var inputs [][]frame
	var ours []string
	for _, c := range parserDecodeCases() {
		if c.lim != (Limits{}) {
			continue
		}
		msgs := c.in
		if len(msgs) == 1 && !msgs[0].Binary {
			// Give a binary header the attachments it announces: Node
			// checks placeholders only when the last one arrives.
			if s := msgs[0].Data; len(s) > 1 && (s[0] == '5' || s[0] == '6') {
				n := 0
				for _, c := range s[1:] {
					if c < '0' || c > '9' || n > 10 {
						break
					}
					n = n*10 + int(c-'0')
				}
				for range min(n, 10) {
					msgs = append(msgs, parserB(0))
				}
			}
		}
		var fs []frame
		for _, m := range msgs {
			if m.Binary {
				fs = append(fs, frame{B: append([]byte{}, m.Data...)})
			} else {
				s := string(m.Data)
				fs = append(fs, frame{T: &s})
			}
		}
		names = append(names, c.name)
		inputs = append(inputs, fs)
		d := NewDecoder(Limits{})
		res := "pending"
		for _, m := range msgs {
			p, err := d.Decode(m)
			if err != nil {
				res = "err"
				break
			}
			if p != nil {
				res = "ok"
			} else {
				res = "pending"
			}
		}
		ours = append(ours, res)
	}
	script := `
const {Decoder} = require("socket.io-parser");
const inputs = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = inputs.map(frames => {
  const d = new Decoder(); let got = "pending";
  d.on("decoded", () => { got = "ok"; });
  try {
    for (const f of frames) {
      got = "pending";
      d.add(f.t !== undefined ? f.t : Buffer.from(f.b || "", "base64"));
    }
  } catch (e) { return "err"; }
  return got;
});
console.log(JSON.stringify(out));`
	in, _ := json.Marshal(inputs)
	cmd := exec.Command("node", "-e", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var node []string
	if err := json.Unmarshal(out, &node); err != nil || len(node) != len(inputs) {
		t.Fatalf("node output %.200s: %v", out, err)
	}
	for i := range inputs {
		_, expected := divergent[names[i]]
		if differs := node[i] != ours[i]; differs != expected {
			fs, _ := json.Marshal(inputs[i])
			t.Errorf("%s (%.80s): node %s, pier %s, listed divergence %v", names[i], fs, node[i], ours[i], expected)
		}
	}
}

package socketio

import (
	"testing"

	"github.com/pierhq/pier/engineio"
)

var benchArgs = []any{map[string]any{"user": "alice", "text": "hello there, how are you doing today?", "n": 42}}

// BenchmarkEncodeEvent is the per-broadcast work: encoding one event into
// the Engine.IO messages every recipient then shares.
func BenchmarkEncodeEvent(b *testing.B) {
	for _, p := range []struct {
		name   string
		parser Parser
	}{{"json", DefaultParser()}, {"msgpack", MsgpackParser()}} {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf [4]engineio.Message
			for b.Loop() {
				data, atts, err := encodeEvent("chat", benchArgs)
				if err != nil {
					b.Fatal(err)
				}
				p.parser.Encode(buf[:0], &Packet{Type: PacketEvent, Namespace: "/", Data: data, Attachments: atts})
			}
		})
	}
}

// BenchmarkDecodeEvent is the per-message work of receiving an event and
// decoding its argument.
func BenchmarkDecodeEvent(b *testing.B) {
	data, _, _ := encodeEvent("chat", benchArgs)
	for _, p := range []struct {
		name   string
		parser Parser
	}{{"json", DefaultParser()}, {"msgpack", MsgpackParser()}} {
		msgs := p.parser.Encode(nil, &Packet{Type: PacketEvent, Namespace: "/", ID: 7, HasID: true, Data: data})
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			dec := p.parser.NewDecoder(Limits{})
			var v struct {
				User, Text string
				N          int
			}
			for b.Loop() {
				pkt, err := dec.Decode(msgs[0])
				if err != nil || pkt == nil {
					b.Fatal(err)
				}
				_, args, err := argsOf(pkt, true)
				if err != nil {
					b.Fatal(err)
				}
				if err := args.Decode(&v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

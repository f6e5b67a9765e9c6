package engineio

import (
	"bytes"
	"testing"
)

func benchPackets() []packet {
	return []packet{
		text('4', `2["chat",{"user":"alice","text":"hello there, how are you doing today?"}]`),
		text('4', `2["typing",{"user":"bob"}]`),
		bin('4', bytes.Repeat([]byte{7}, 256)...),
		text('2', ""),
	}
}

func BenchmarkPayloadV4(b *testing.B) {
	ps := benchPackets()
	enc := appendPayloadV4(nil, ps)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(enc)))
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			buf = appendPayloadV4(buf[:0], ps)
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			if _, err := decodePayloadV4(nil, enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkPayloadV3(b *testing.B) {
	ps := benchPackets()
	text := appendPayloadV3Text(nil, ps)
	bin := appendPayloadV3Binary(nil, ps)
	b.Run("encode text", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			buf = appendPayloadV3Text(buf[:0], ps)
		}
	})
	b.Run("decode text", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodePayloadV3Text(text); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodePayloadV3Binary(bin); err != nil {
				b.Fatal(err)
			}
		}
	})
}

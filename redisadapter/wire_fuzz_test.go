package redisadapter

import (
	"encoding/hex"
	"testing"

	"github.com/pierhq/pier/internal/notepack"
)

// FuzzWire feeds arbitrary payloads to the decoding side of every message
// (requests, responses, broadcasts): nothing may panic.
func FuzzWire(f *testing.F) {
	for _, s := range []string{
		`{"uid":"ni71p9","requestId":"Dnq6s_","type":5,"opts":{"rooms":[],"except":[]}}`,
		`{"requestId":"x","sockets":[{"id":"a","handshake":{"headers":{"a":["b"]},"issued":1,"query":{"q":["1","2"]},"auth":{}},"rooms":["a",1],"data":{"k":{"type":"Buffer","data":[1]}}}]}`,
		`{"uid":"emitter","type":6,"data":["s2s",{"type":"Buffer","data":[10,11]}]}`,
		`{"type":2,"opts":{"rooms":[1],"except":[]},"rooms":["r"]}`,
	} {
		f.Add([]byte(s))
	}
	for _, h := range []string{
		"93a66e693731703983a47479706502a46461746193a362696ec40301020382a3627566c401ffa173a178a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380",
		"85a3756964a66e6937317039a9726571756573744964a6716b4c67355aa47479706507a67061636b657483a47479706502a46461746192a87175657374696f6ec402cafea36e7370a12fa46f70747383a5726f6f6d7391b4776b504757517a45614c42383034335a41414141a665786365707490a5666c61677381a774696d656f7574cd07d0",
	} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := decodeMessage(b); err == nil {
			headOf(m)
			if o, ok := getMap(m, keyOpts); ok {
				wireOptsOf(o).local()
			}
			if p, ok := getMap(m, keyPacket); ok {
				if wp, err := wirePacketOf(p); err == nil {
					wp.packet("/")
				}
			}
			for _, typ := range []int{reqRemoteJoin, reqRemoteLeave, reqRemoteDisconnect} {
				roomRequestOf(m, typ)
			}
			socketsResponseOf(m)
			allRoomsResponseOf(m)
			fetchSocketsResponseOf(m)
			serverSideEmitResponseOf(m)
			clientCountResponseOf(m)
			broadcastAckResponseOf(m)
			if d, ok := getArray(m, keyData); ok && len(d) > 0 {
				argsFromValues(d, true)
			}
			fromSharded(m)
		}
		if v, err := notepack.Decode(b); err == nil {
			if bm, err := broadcastMessageOf(v); err == nil {
				if p, err := bm.Packet.packet("/"); err == nil {
					if _, err := packetValue(p); err != nil {
						t.Fatalf("packet %q does not convert back: %v", p.Data, err)
					}
				}
			}
		}
	})
}

package socketio

import "github.com/pierhq/pier/engineio"

// Parser turns packets into Engine.IO messages and back. The default is
// the JSON parser of socket.io-parser (DefaultParser()); MsgpackParser() is
// wire-compatible with npm socket.io-msgpack-parser. Every client of a
// server uses the server's parser, as in Node.
//
// Whatever the wire format, a Packet's Data is JSON with binary
// placeholders and its Attachments hold the binary values, so the rest of
// the package does not depend on the parser.
type Parser interface {
	// NewDecoder returns the decoder of one connection.
	NewDecoder(l Limits) PacketDecoder
	// Encode appends the messages that carry p to dst. It is called once
	// per broadcast; the messages are shared by every recipient.
	Encode(dst []engineio.Message, p *Packet) []engineio.Message
}

// PacketDecoder decodes the messages of one connection; see Decoder.Decode.
type PacketDecoder interface {
	Decode(m engineio.Message) (*Packet, error)
}

// DefaultParser returns the JSON parser (socket.io-parser 4), the one every
// socket.io-client uses unless told otherwise.
func DefaultParser() Parser { return jsonParser{} }

type jsonParser struct{}

func (jsonParser) NewDecoder(l Limits) PacketDecoder { return NewDecoder(l) }
func (jsonParser) Encode(dst []engineio.Message, p *Packet) []engineio.Message {
	return appendEncode(dst, p)
}

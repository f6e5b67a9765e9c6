package engineio

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strconv"
	"unicode/utf8"
)

// Engine.IO packet types, as the ASCII digit that starts a text packet.
const (
	typeOpen    byte = '0'
	typeClose   byte = '1'
	typePing    byte = '2'
	typePong    byte = '3'
	typeMessage byte = '4'
	typeUpgrade byte = '5'
	typeNoop    byte = '6'
)

// recordSeparator joins packets in an Engine.IO v4 polling payload.
const recordSeparator = 0x1e

// maxLengthDigits bounds the decimal length prefixes of v3 payloads. Node's
// parser allows 310 digits (the length of Number.MAX_VALUE); nine digits
// already exceed any payload a server accepts.
const maxLengthDigits = 10

// errParse is returned by every decoder for input that is not a valid
// packet or payload. The session that sent it is closed with the reason
// "parse error".
var errParse = errors.New("engineio: parse error")

// packet is one Engine.IO packet. For a message, binary says whether data
// is binary; data is never modified once the packet is queued, so one
// slice may be shared by the outboxes of many sessions.
type packet struct {
	typ        byte
	binary     bool
	noCompress bool // Message.NoCompress
	data       []byte
}

func validType(t byte) bool { return t >= typeOpen && t <= typeNoop }

// decodeTextPacket decodes a text packet: a type digit and its data, or, for
// a binary message carried as text, "b" followed by base64 (v4) or "b" and a
// type digit followed by base64 (v3).
func decodeTextPacket(b []byte, protocol int) (packet, error) {
	if len(b) == 0 {
		return packet{}, errParse
	}
	if b[0] == 'b' {
		typ := typeMessage
		b = b[1:]
		if protocol == 3 {
			if len(b) == 0 || !validType(b[0]) {
				return packet{}, errParse
			}
			typ, b = b[0], b[1:]
		}
		data, err := decodeBase64(b)
		if err != nil {
			return packet{}, errParse
		}
		return packet{typ: typ, binary: true, data: data}, nil
	}
	if !validType(b[0]) || !utf8.Valid(b[1:]) {
		return packet{}, errParse
	}
	return packet{typ: b[0], data: b[1:]}, nil
}

// decodeBinaryPacket decodes a binary websocket frame or binary payload
// entry. In v4 the whole frame is a binary message; in v3 its first byte is
// the packet type as a number (0x04 for a message).
func decodeBinaryPacket(b []byte, protocol int) (packet, error) {
	if protocol == 4 {
		return packet{typ: typeMessage, binary: true, data: b}, nil
	}
	if len(b) == 0 || b[0] > 6 {
		return packet{}, errParse
	}
	return packet{typ: '0' + b[0], binary: true, data: b[1:]}, nil
}

func decodeBase64(b []byte) ([]byte, error) {
	enc := base64.StdEncoding
	if len(b)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	out := make([]byte, enc.DecodedLen(len(b)))
	n, err := enc.Decode(out, b)
	return out[:n], err
}

// decodePayloadV4 splits a v4 polling payload on the record separator. It
// returns the packets decoded before the first invalid one together with
// errParse, so that the caller can act on the good ones first, as Node does.
func decodePayloadV4(out []packet, b []byte) ([]packet, error) {
	for {
		i := bytes.IndexByte(b, recordSeparator)
		part := b
		if i >= 0 {
			part = b[:i]
		}
		p, err := decodeTextPacket(part, 4)
		if err != nil {
			return out, err
		}
		out = append(out, p)
		if i < 0 {
			return out, nil
		}
		b = b[i+1:]
	}
}

// decodePayloadV3Text decodes a v3 text payload: "<len>:<packet>" repeated,
// where len counts UTF-16 code units (JavaScript string length). An empty
// packet ("0:") is skipped, as Node does.
func decodePayloadV3Text(b []byte) ([]packet, error) {
	if len(b) == 0 {
		return nil, errParse
	}
	var out []packet
	for len(b) > 0 {
		colon := bytes.IndexByte(b, ':')
		if colon <= 0 || colon > maxLengthDigits {
			return out, errParse
		}
		n, err := strconv.Atoi(string(b[:colon]))
		if err != nil || n < 0 {
			return out, errParse
		}
		b = b[colon+1:]
		size, ok := utf16Prefix(b, n)
		if !ok {
			return out, errParse
		}
		if size > 0 {
			p, err := decodeTextPacket(b[:size], 3)
			if err != nil {
				return out, err
			}
			out = append(out, p)
		}
		b = b[size:]
	}
	return out, nil
}

// utf16Prefix returns the number of bytes of b that hold exactly n UTF-16
// code units. It fails when b is shorter, when the boundary would split a
// surrogate pair, or when b is not valid UTF-8 up to that boundary.
func utf16Prefix(b []byte, n int) (int, bool) {
	units, i := 0, 0
	for units < n {
		if i >= len(b) {
			return 0, false
		}
		if c := b[i]; c < utf8.RuneSelf {
			units++
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return 0, false
		}
		if r >= 0x10000 {
			units += 2
		} else {
			units++
		}
		i += size
	}
	if units != n {
		return 0, false
	}
	return i, true
}

// utf16Len is the JavaScript string length of valid UTF-8 text; each
// invalid byte counts as one unit (it becomes U+FFFD).
func utf16Len(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
		i += size
	}
	return n
}

// decodePayloadV3Binary decodes the v3 binary (XHR2) payload: per packet a
// 0x00 (string) or 0x01 (binary) marker, the length as one byte per decimal
// digit, 0xFF, then the packet. String lengths count UTF-8 bytes.
func decodePayloadV3Binary(b []byte) ([]packet, error) {
	var out []packet
	for len(b) > 0 {
		isString := b[0] == 0
		if b[0] > 1 {
			return out, errParse
		}
		n, i := 0, 1
		for ; i < len(b) && b[i] != 0xff; i++ {
			if b[i] > 9 || i > maxLengthDigits {
				return out, errParse
			}
			n = n*10 + int(b[i])
		}
		if i == 1 || i >= len(b) || n > len(b)-i-1 {
			return out, errParse
		}
		body := b[i+1 : i+1+n]
		b = b[i+1+n:]
		var p packet
		var err error
		if isString {
			p, err = decodeTextPacket(body, 3)
		} else {
			p, err = decodeBinaryPacket(body, 3)
		}
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

// appendPayloadV4 appends the v4 polling encoding of ps to dst.
func appendPayloadV4(dst []byte, ps []packet) []byte {
	for i, p := range ps {
		if i > 0 {
			dst = append(dst, recordSeparator)
		}
		if p.binary {
			dst = append(dst, 'b')
			dst = base64.StdEncoding.AppendEncode(dst, p.data)
			continue
		}
		dst = append(dst, p.typ)
		dst = append(dst, p.data...)
	}
	return dst
}

// appendPayloadV3Text appends the v3 text payload encoding of ps to dst,
// with binary packets as "b<type><base64>".
func appendPayloadV3Text(dst []byte, ps []packet) []byte {
	for _, p := range ps {
		if p.binary {
			n := 2 + base64.StdEncoding.EncodedLen(len(p.data))
			dst = strconv.AppendInt(dst, int64(n), 10)
			dst = append(dst, ':', 'b', p.typ)
			dst = base64.StdEncoding.AppendEncode(dst, p.data)
			continue
		}
		dst = strconv.AppendInt(dst, int64(1+utf16Len(p.data)), 10)
		dst = append(dst, ':', p.typ)
		dst = append(dst, p.data...)
	}
	return dst
}

// appendPayloadV3Binary appends the v3 binary payload encoding of ps.
func appendPayloadV3Binary(dst []byte, ps []packet) []byte {
	for _, p := range ps {
		marker := byte(0)
		if p.binary {
			marker = 1
		}
		dst = append(dst, marker)
		start := len(dst)
		dst = strconv.AppendInt(dst, int64(1+len(p.data)), 10)
		for i := start; i < len(dst); i++ {
			dst[i] -= '0'
		}
		dst = append(dst, 0xff)
		if p.binary {
			dst = append(dst, p.typ-'0')
		} else {
			dst = append(dst, p.typ)
		}
		dst = append(dst, p.data...)
	}
	return dst
}

func hasBinary(ps []packet) bool {
	for _, p := range ps {
		if p.binary {
			return true
		}
	}
	return false
}

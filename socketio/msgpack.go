package socketio

// MessagePack codec, wire-compatible with npm socket.io-msgpack-parser 3.0.2
// (notepack.io 2.2.0).
//
// Every packet is ONE binary Engine.IO message: the MessagePack encoding of
// the map {type, data, nsp, id}. There are no attachment messages and no
// BINARY_EVENT/BINARY_ACK types: binary values are MessagePack bin values
// inside data.
//
// Decoding turns data into the JSON (with placeholders and attachments)
// the rest of the package works with; encoding turns that JSON back into
// MessagePack. Both walk nested values on explicit, bounded stacks.

import (
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/notepack"
	"github.com/pierhq/pier/internal/placeholder"
)

// MsgpackParser returns a parser wire-compatible with npm
// socket.io-msgpack-parser 3.x, the parser a client selects with
// io(url, {parser: require("socket.io-msgpack-parser")}).
//
// Decoding: a packet's MessagePack data becomes compact JSON. Map keys stay
// in wire order; integers become integer literals (uint64 and int64 values
// kept exact), floats JSON numbers as JSON.stringify writes them (float 32
// widened to float 64; NaN and infinities are refused); bin
// values, and the ext type 0 values notepack.io writes for a Node
// ArrayBuffer or typed array, become placeholders with the bytes in
// Attachments (they alias the message). As Node's JSON.stringify would,
// notepack.io's undefined (fixext 1, type 0) becomes null in arrays and
// drops the member of a map (an undefined data or id is absent; the
// client sends data undefined when it has no auth), and its Date (fixext 8, type 0) becomes an ISO
// 8601 string. Other ext types, non-string map keys, invalid UTF-8, maps
// with a "_placeholder": true member (they would read as placeholders) and
// binary values outside EVENT and ACK are refused, as are text messages.
// Keys of the packet map other than type, data, nsp and id (the client
// sends "options") are skipped. The packet rules and Limits are those of
// the JSON Decoder: types 0 to 4, a namespace starting with "/", the
// payload shape per type, ack ids 0 to 2^53-1 on EVENT and ACK only, the
// nesting depth (a binary value counts as a level, as its placeholder
// does) and the attachment count and bytes. A decoded EVENT or ACK keeps
// its type when it carries binary values.
//
// Encoding: the map has the keys type, data (left out when Data is empty),
// nsp (always: the npm decoder requires it) and id (when HasID), in that
// order. BINARY_EVENT and BINARY_ACK are sent as EVENT and ACK. JSON
// numbers are written as notepack.io writes the JS number JSON.parse would
// give: integral values in the smallest int format (positive ones as
// uint), others as float64; integer literals that fit int64 or uint64 are
// written exactly, and integral values outside [-2^63, 2^64), which
// notepack.io would truncate, as float64. Placeholders
// {"_placeholder":true,"num":N} in EVENT and ACK data, with N <
// len(Attachments), become bin values. Data that is not valid JSON (or is
// nested more than 10000 deep) is written as nil, which the client
// refuses.
func MsgpackParser() Parser { return msgpackParser{} }

type msgpackParser struct{}

func (msgpackParser) NewDecoder(l Limits) PacketDecoder {
	return &msgpackDecoder{lim: l.withDefaults()}
}

func (msgpackParser) Encode(dst []engineio.Message, p *Packet) []engineio.Message {
	return append(dst, engineio.Message{Binary: true, Data: mpAppendPacket(nil, p)})
}

// Decode errors, allocated once.
var (
	mpErrText        = pktErr("text message with the msgpack parser")
	mpErrTruncated   = pktErr("msgpack: truncated")
	mpErrTrailing    = pktErr("msgpack: trailing bytes")
	mpErrBadByte     = pktErr("msgpack: invalid byte 0xc1")
	mpErrNotMap      = pktErr("msgpack: packet is not a map")
	mpErrKey         = pktErr("msgpack: map key is not a string")
	mpErrDupKey      = pktErr("msgpack: duplicate packet key")
	mpErrExt         = pktErr("msgpack: unsupported ext type")
	mpErrFloat       = pktErr("msgpack: NaN or infinite number")
	mpErrPlaceholder = pktErr("msgpack: map with a _placeholder key")
	mpErrNoNsp       = pktErr("missing or invalid namespace")
	mpErrAckID       = pktErr("invalid ack id")
)

// The MessagePack tokenizer and the primitive encoders are internal/notepack's,
// shared with the Redis adapter's codec; the names below keep this file's
// transcoder readable.
type mpTok = notepack.Token

const (
	mpNil   = notepack.KindNil
	mpFalse = notepack.KindFalse
	mpTrue  = notepack.KindTrue
	mpUint  = notepack.KindUint
	mpInt   = notepack.KindInt
	mpFloat = notepack.KindFloat
	mpStr   = notepack.KindStr
	mpBin   = notepack.KindBin
	mpArray = notepack.KindArray
	mpMap   = notepack.KindMap
	mpUndef = notepack.KindUndef
	mpDate  = notepack.KindDate
	mpExt   = notepack.KindExt
)

// mpNext is notepack.Next with the package's parse errors.
func mpNext(b []byte, i int) (mpTok, int, error) {
	t, next, err := notepack.Next(b, i)
	if err != nil {
		return t, 0, mpError(err)
	}
	return t, next, nil
}

// mpSkip is notepack.Skip with the package's parse errors.
func mpSkip(b []byte, i int) (int, error) {
	next, err := notepack.Skip(b, i)
	if err != nil {
		return 0, mpError(err)
	}
	return next, nil
}

func mpError(err error) error {
	if err == notepack.ErrInvalid {
		return mpErrBadByte
	}
	return mpErrTruncated
}

// ---------------------------------------------------------------------------
// Decoding

// mpScratchMax bounds the JSON buffer a decoder keeps between messages.
const mpScratchMax = 64 << 10

type msgpackDecoder struct {
	lim   Limits
	stack []mpFrame
	out   []byte // scratch for the JSON of data
}

// mpFrame is an open array or map while decoding data.
type mpFrame struct {
	left    int  // items (elements, or pairs) not read yet
	written int  // items written
	obj     bool // map
	wantKey bool // map: a key comes next
	mark    int  // map: length of the output before the current member
}

// mpPresent flags the packet keys seen.
const (
	mpHaveType = 1 << iota
	mpHaveData
	mpHaveNsp
	mpHaveID
)

func (d *msgpackDecoder) Decode(m engineio.Message) (*Packet, error) {
	if !m.Binary {
		return nil, mpErrText
	}
	b := m.Data
	t, i, err := mpNext(b, 0)
	if err != nil {
		return nil, err
	}
	if t.Kind != mpMap {
		return nil, mpErrNotMap
	}
	var (
		seen     int
		typ      mpTok
		hasType  bool
		nsp      []byte
		hasNsp   bool
		idTok    mpTok
		hasID    bool
		info     pktJSONInfo
		atts     [][]byte
		attBytes int64
	)
	for range t.N {
		k, next, err := mpNext(b, i)
		if err != nil {
			return nil, err
		}
		if k.Kind != mpStr {
			return nil, mpErrKey
		}
		key := b[k.Start:next]
		i = next
		flag := 0
		switch string(key) {
		case "type":
			flag = mpHaveType
		case "data":
			flag = mpHaveData
		case "nsp":
			flag = mpHaveNsp
		case "id":
			flag = mpHaveID
		default:
			if i, err = mpSkip(b, i); err != nil {
				return nil, err
			}
			continue
		}
		if seen&flag != 0 {
			return nil, mpErrDupKey
		}
		seen |= flag
		if flag == mpHaveData {
			if info, i, err = d.decodeData(b, i, &atts, &attBytes); err != nil {
				return nil, err
			}
			continue
		}
		v, next, err := mpNext(b, i)
		if err != nil {
			return nil, err
		}
		if v.Kind == mpArray || v.Kind == mpMap {
			// Not a valid type, namespace or id: only skip it to report
			// the right error below.
			if next, err = mpSkip(b, i); err != nil {
				return nil, err
			}
		}
		i = next
		if v.Kind == mpUndef {
			continue // undefined: absent
		}
		switch flag {
		case mpHaveType:
			typ, hasType = v, true
		case mpHaveNsp:
			if v.Kind != mpStr {
				return nil, mpErrNoNsp
			}
			nsp, hasNsp = b[v.Start:next], true
		case mpHaveID:
			idTok, hasID = v, true
		}
	}
	if i != len(b) {
		return nil, mpErrTrailing
	}

	if !hasType {
		return nil, pktErrType
	}
	tv, ok := mpIntegral(typ)
	if !ok || tv < int64(PacketConnect) || tv > int64(PacketConnectError) {
		return nil, pktErrType
	}
	p := &Packet{Type: PacketType(tv)}

	if !hasNsp {
		return nil, mpErrNoNsp
	}
	if len(nsp) > d.lim.MaxNamespaceLen {
		return nil, pktErrNamespaceLen
	}
	if len(nsp) == 0 || nsp[0] != '/' || !pktValidNamespace(nsp) {
		return nil, pktErrNamespace
	}

	if hasID {
		id, ok := mpIntegral(idTok)
		if !ok || id < 0 {
			return nil, mpErrAckID
		}
		if id > pktMaxAckID {
			return nil, pktErrAckIDTooLarge
		}
		switch p.Type {
		case PacketConnect, PacketDisconnect, PacketConnectError:
			return nil, pktErrUnexpectedID
		}
		p.ID, p.HasID = id, true
	} else if p.Type == PacketAck {
		return nil, pktErrAckWithoutID
	}

	if len(atts) > 0 && p.Type != PacketEvent && p.Type != PacketAck {
		return nil, pktErrIllegalAttachments
	}
	if !pktPayloadValid(p.Type, info) {
		return nil, pktErrPayload
	}
	p.Namespace = string(nsp)
	if info.data != nil {
		p.Data = append(make([]byte, 0, len(info.data)), info.data...)
	}
	p.Attachments = atts
	return p, nil
}

// mpIntegral returns the value of a number token that is an integer in the
// int64 range (a float with an integral value counts, as Number.isInteger
// has it).
func mpIntegral(t mpTok) (int64, bool) {
	switch t.Kind {
	case mpUint:
		if t.U > math.MaxInt64 {
			return 0, false
		}
		return int64(t.U), true
	case mpInt:
		return t.I, true
	case mpFloat:
		if t.F != math.Trunc(t.F) || t.F < -(1<<63) || t.F >= 1<<63 {
			return 0, false // also NaN and the infinities
		}
		return int64(t.F), true
	}
	return 0, false
}

// decodeData converts the data value at b[i] to JSON in d.out, appending
// its binary values to atts. The returned info describes it as the JSON
// scanner would; info.data is nil when data is undefined and otherwise
// aliases d.out, valid until the next call.
func (d *msgpackDecoder) decodeData(b []byte, i int, atts *[][]byte, attBytes *int64) (info pktJSONInfo, next int, err error) {
	out := d.out[:0]
	st := d.stack[:0]
	defer func() {
		if cap(out) <= mpScratchMax {
			d.out = out[:0]
		} else {
			d.out = nil
		}
		d.stack = st[:0]
	}()
	for {
		// Close the containers that are complete.
		for len(st) > 0 && st[len(st)-1].left == 0 {
			top := st[len(st)-1]
			if top.obj {
				out = append(out, '}')
			} else {
				out = append(out, ']')
			}
			st = st[:len(st)-1]
			if len(st) == 0 {
				info.elems = top.written
				info.data = out
				if info.kind != pktKindArray {
					info.elems = 0
				}
				return info, i, nil
			}
		}

		t, j, err := mpNext(b, i)
		if err != nil {
			return info, 0, err
		}
		var top *mpFrame
		if len(st) > 0 {
			top = &st[len(st)-1]
		}

		if top != nil && top.wantKey {
			if t.Kind != mpStr {
				return info, 0, mpErrKey
			}
			key := b[t.Start:j]
			if !utf8.Valid(key) {
				return info, 0, pktErrJSONUTF8
			}
			if string(key) == "_placeholder" && j < len(b) && b[j] == 0xc3 {
				return info, 0, mpErrPlaceholder
			}
			top.mark = len(out)
			if top.written > 0 {
				out = append(out, ',')
			}
			out = mpAppendJSONString(out, key)
			out = append(out, ':')
			top.wantKey = false
			i = j
			continue
		}

		if top == nil {
			if t.Kind == mpUndef {
				return info, j, nil // undefined data: absent
			}
		} else {
			top.left--
			if top.obj {
				top.wantKey = true
				if t.Kind == mpUndef {
					out = out[:top.mark] // JSON.stringify drops the member
					i = j
					continue
				}
			} else if top.written > 0 {
				out = append(out, ',')
			}
			top.written++
		}

		depth := len(st)
		start := len(out)
		var kind pktKind
		switch t.Kind {
		case mpNil, mpUndef:
			out, kind = append(out, "null"...), pktKindNull
		case mpFalse:
			out, kind = append(out, "false"...), pktKindFalse
		case mpTrue:
			out, kind = append(out, "true"...), pktKindTrue
		case mpUint:
			out, kind = strconv.AppendUint(out, t.U, 10), pktKindNumber
		case mpInt:
			out, kind = strconv.AppendInt(out, t.I, 10), pktKindNumber
		case mpFloat:
			if math.IsNaN(t.F) || math.IsInf(t.F, 0) {
				return info, 0, mpErrFloat
			}
			out, kind = mpAppendJSONFloat(out, t.F), pktKindNumber
		case mpStr:
			s := b[t.Start:j]
			if !utf8.Valid(s) {
				return info, 0, pktErrJSONUTF8
			}
			out, kind = mpAppendJSONString(out, s), pktKindString
		case mpDate:
			out, kind = mpAppendJSONDate(out, t.I)
		case mpBin:
			if len(st) >= d.lim.MaxDepth { // its placeholder is an object
				return info, 0, pktErrJSONDepth
			}
			n := int64(j - t.Start)
			if len(*atts) >= d.lim.MaxAttachments {
				return info, 0, pktErrTooManyAttachments
			}
			if *attBytes += n; *attBytes > d.lim.MaxAttachmentBytes {
				return info, 0, pktErrAttachmentBytes
			}
			out = appendPlaceholder(out, len(*atts))
			*atts = append(*atts, b[t.Start:j:j])
			kind = pktKindObject
		case mpArray, mpMap:
			if len(st) >= d.lim.MaxDepth {
				return info, 0, pktErrJSONDepth
			}
			obj := t.Kind == mpMap
			st = append(st, mpFrame{left: t.N, obj: obj, wantKey: obj})
			if obj {
				out, kind = append(out, '{'), pktKindObject
			} else {
				out, kind = append(out, '['), pktKindArray
			}
		default:
			return info, 0, mpErrExt
		}
		i = j

		switch {
		case depth == 0:
			info.kind = kind
			if len(st) == 0 { // a scalar
				info.data = out
				return info, i, nil
			}
		case depth == 1 && !st[0].obj && st[0].written == 1:
			info.firstKind = kind
			if kind == pktKindString || kind == pktKindNumber {
				info.first = out[start:]
			}
		}
	}
}

// mpAppendJSONString appends s, valid UTF-8, as a JSON string.
func mpAppendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	last := 0
	for i, c := range s {
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[last:i]...)
		last = i + 1
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
	}
	dst = append(dst, s[last:]...)
	return append(dst, '"')
}

// mpAppendJSONFloat appends a finite f as JSON.stringify does (-0 is 0).
func mpAppendJSONFloat(dst []byte, f float64) []byte {
	if f == 0 {
		return append(dst, '0')
	}
	format := byte('f')
	if abs := math.Abs(f); abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// mpMaxDateMs is the largest time value of a JS Date, in milliseconds.
const mpMaxDateMs = 8.64e15

// mpAppendJSONDate appends what JSON.stringify gives for the Date of ms
// milliseconds since the epoch: its toISOString, or null when invalid.
func mpAppendJSONDate(dst []byte, ms int64) ([]byte, pktKind) {
	if ms > mpMaxDateMs || ms < -mpMaxDateMs {
		return append(dst, "null"...), pktKindNull
	}
	// Days and milliseconds of the day, then the civil date (Howard
	// Hinnant's days_from_civil inverse).
	days := ms / 86400000
	rem := ms % 86400000
	if rem < 0 {
		rem += 86400000
		days--
	}
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day := doy - (153*mp+2)/5 + 1
	month := mp + 3
	if month > 12 {
		month -= 12
	}
	if month <= 2 {
		y++
	}
	dst = append(dst, '"')
	switch {
	case y >= 0 && y <= 9999:
		dst = mpAppendPad(dst, y, 4)
	case y < 0:
		dst = mpAppendPad(append(dst, '-'), -y, 6)
	default:
		dst = mpAppendPad(append(dst, '+'), y, 6)
	}
	dst = mpAppendPad(append(dst, '-'), month, 2)
	dst = mpAppendPad(append(dst, '-'), day, 2)
	dst = mpAppendPad(append(dst, 'T'), rem/3600000, 2)
	dst = mpAppendPad(append(dst, ':'), rem/60000%60, 2)
	dst = mpAppendPad(append(dst, ':'), rem/1000%60, 2)
	dst = mpAppendPad(append(dst, '.'), rem%1000, 3)
	return append(dst, 'Z', '"'), pktKindString
}

// mpAppendPad appends v >= 0 with at least width digits.
func mpAppendPad(dst []byte, v int64, width int) []byte {
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], v, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// ---------------------------------------------------------------------------
// Encoding

// mpEncodeMaxDepth bounds the nesting of the JSON Encode converts.
const mpEncodeMaxDepth = pktSplitMaxDepth

// mpAppendPacket appends the MessagePack encoding of p to dst.
func mpAppendPacket(dst []byte, p *Packet) []byte {
	t := p.Type
	switch t {
	case PacketBinaryEvent:
		t = PacketEvent
	case PacketBinaryAck:
		t = PacketAck
	}
	atts := p.Attachments
	if t != PacketEvent && t != PacketAck {
		atts = nil
	}
	nsp := p.Namespace
	if nsp == "" {
		nsp = "/"
	}
	if dst == nil {
		size := 32 + len(nsp) + len(p.Data)
		for _, a := range atts {
			size += len(a)
		}
		dst = make([]byte, 0, size)
	}
	n := byte(2)
	if len(p.Data) > 0 {
		n++
	}
	if p.HasID {
		n++
	}
	dst = append(dst, 0x80|n, 0xa4, 't', 'y', 'p', 'e')
	dst = notepack.AppendUint(dst, uint64(t))
	if len(p.Data) > 0 {
		dst = append(dst, 0xa4, 'd', 'a', 't', 'a')
		dst = mpAppendJSON(dst, p.Data, atts)
	}
	dst = append(dst, 0xa3, 'n', 's', 'p')
	dst = mpAppendStr(dst, nsp)
	if p.HasID {
		dst = append(dst, 0xa2, 'i', 'd')
		dst = notepack.AppendInt(dst, p.ID)
	}
	return dst
}

// mpAppendHeader appends the header of a str, bin, array or map of n
// items, in the smallest format notepack.io uses.
func mpAppendHeader(dst []byte, kind notepack.Kind, n int) []byte {
	switch kind {
	case mpStr:
		return notepack.AppendStringHeader(dst, n)
	case mpBin:
		return notepack.AppendBinaryHeader(dst, n)
	case mpArray:
		return notepack.AppendArrayHeader(dst, n)
	}
	return notepack.AppendMapHeader(dst, n)
}

func mpAppendStr(dst []byte, s string) []byte {
	return append(mpAppendHeader(dst, mpStr, len(s)), s...)
}

// mpAppendNumber appends the JSON number num as notepack.io would write the
// JS number JSON.parse gives for it (see MsgpackParser).
func mpAppendNumber(dst, num []byte) []byte {
	s := string(num)
	integer := true
	for _, c := range num {
		if c == '.' || c == 'e' || c == 'E' {
			integer = false
			break
		}
	}
	if integer {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return notepack.AppendInt(dst, v)
		}
		if v, err := strconv.ParseUint(s, 10, 64); err == nil {
			return notepack.AppendUint(dst, v)
		}
	}
	f, _ := strconv.ParseFloat(s, 64) // ±Inf when out of range, as in JS
	if f == math.Trunc(f) && !math.IsInf(f, 0) {
		switch {
		case f >= 0 && f < 1<<64: // -0 too: notepack.io writes 0
			return notepack.AppendUint(dst, uint64(f))
		case f < 0 && f >= -(1<<63):
			return notepack.AppendInt(dst, int64(f))
		}
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xcb), math.Float64bits(f))
}

// mpPlaceholderPrefix starts a canonical placeholder (see appendPlaceholder).
const mpPlaceholderPrefix = placeholder.Prefix

// mpPlaceholderAt reports whether a canonical placeholder for one of the n
// attachments starts at data[i], and returns its number and end.
func mpPlaceholderAt(data []byte, i, n int) (num, end int, ok bool) {
	if n == 0 || len(data)-i < len(mpPlaceholderPrefix)+2 || string(data[i:i+len(mpPlaceholderPrefix)]) != mpPlaceholderPrefix {
		return 0, 0, false
	}
	j := i + len(mpPlaceholderPrefix)
	start := j
	for j < len(data) && pktIsDigit(data[j]) && j-start < 10 {
		num = num*10 + int(data[j]-'0')
		j++
	}
	if j == start || j >= len(data) || data[j] != '}' || num >= n {
		return 0, 0, false
	}
	return num, j + 1, true
}

// mpJSONScalarEnd returns the end of the string, number or literal, valid
// JSON, at data[i].
func mpJSONScalarEnd(data []byte, i int) int {
	if data[i] == '"' {
		for i++; data[i] != '"'; i++ {
			if data[i] == '\\' {
				i++
			}
		}
		return i + 1
	}
	for i < len(data) {
		switch data[i] {
		case ',', ']', '}', ' ', '\t', '\n', '\r', ':':
			return i
		}
		i++
	}
	return i
}

// mpAppendJSON appends the MessagePack encoding of the JSON value data,
// with the placeholders for atts replaced by bin values, or nil when data
// is not valid JSON.
func mpAppendJSON(dst, data []byte, atts [][]byte) []byte {
	var sc pktScanner
	if _, err := sc.scan(data, mpEncodeMaxDepth, -1, true); err != nil {
		return append(dst, 0xc0)
	}

	// Pass 1: the item count of every array and map, in the order they
	// open.
	type open struct {
		count    int  // index in counts
		obj      bool // map
		afterKey bool // map: its value comes next
	}
	var (
		counts []int
		stack  []open
	)
	for i := 0; i < len(data); {
		switch c := data[i]; c {
		case ' ', '\t', '\n', '\r', ',', ':':
			i++
			continue
		case ']', '}':
			stack = stack[:len(stack)-1]
			i++
			continue
		}
		// A value, or a key.
		if n := len(stack); n > 0 {
			top := &stack[n-1]
			if !top.obj || !top.afterKey {
				counts[top.count]++
			}
			if top.obj {
				top.afterKey = !top.afterKey
			}
		}
		if _, end, ok := mpPlaceholderAt(data, i, len(atts)); ok {
			i = end
			continue
		}
		switch data[i] {
		case '[', '{':
			stack = append(stack, open{count: len(counts), obj: data[i] == '{'})
			counts = append(counts, 0)
			i++
		default:
			i = mpJSONScalarEnd(data, i)
		}
	}

	// Pass 2: write.
	k := 0
	var str []byte
	for i := 0; i < len(data); {
		switch c := data[i]; c {
		case ' ', '\t', '\n', '\r', ',', ':', ']', '}':
			i++
			continue
		case '[', '{':
			if num, end, ok := mpPlaceholderAt(data, i, len(atts)); ok {
				dst = append(mpAppendHeader(dst, mpBin, len(atts[num])), atts[num]...)
				i = end
				continue
			}
			kind := mpArray
			if c == '{' {
				kind = mpMap
			}
			dst = mpAppendHeader(dst, kind, counts[k])
			k++
			i++
		case '"':
			end := mpJSONScalarEnd(data, i)
			str = mpUnquote(str[:0], data[i+1:end-1])
			dst = append(mpAppendHeader(dst, mpStr, len(str)), str...)
			i = end
		case 't':
			dst = append(dst, 0xc3)
			i += 4
		case 'f':
			dst = append(dst, 0xc2)
			i += 5
		case 'n':
			dst = append(dst, 0xc0)
			i += 4
		default:
			end := mpJSONScalarEnd(data, i)
			dst = mpAppendNumber(dst, data[i:end])
			i = end
		}
	}
	return dst
}

// mpUnquote appends the contents of a valid JSON string, without its
// quotes, unescaped. Invalid surrogates become U+FFFD, as in encoding/json.
func mpUnquote(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		switch e := s[i+1]; e {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := mpHex4(s[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2 = mpHex4(s[i+2:])
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, e)
		}
		i += 2
	}
	return dst
}

func mpHex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

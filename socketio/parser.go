package socketio

// Socket.IO packet codec (protocol v5, socket.io-parser 4.2.7; protocol v4
// clients use the same wire format).
//
// Wire format of the text part:
//
//	<type digit>[<attachments>-][<namespace>,][<ack id>][<json>]
//
// Every walker here is iterative: a Go stack overflow is fatal, so nesting
// is tracked on an explicit, bounded stack.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/internal/placeholder"
)

// PacketType is the type of a Socket.IO packet.
type PacketType byte

// Packet types, as numbered on the wire.
const (
	PacketConnect      PacketType = iota // 0
	PacketDisconnect                     // 1
	PacketEvent                          // 2
	PacketAck                            // 3
	PacketConnectError                   // 4
	PacketBinaryEvent                    // 5
	PacketBinaryAck                      // 6
)

var pktTypeNames = [...]string{
	"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK",
}

func (t PacketType) String() string {
	if int(t) < len(pktTypeNames) {
		return pktTypeNames[t]
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// Packet is a decoded or to-be-encoded Socket.IO packet.
//
// A decoded packet keeps its wire type (BINARY_EVENT and BINARY_ACK are not
// turned into EVENT and ACK). Its Data and Attachments may alias the
// Engine.IO message data given to Decode. Decoded Data is compact JSON
// (insignificant whitespace removed) whose placeholders all have the exact
// form {"_placeholder":true,"num":N} with 0 <= N < len(Attachments).
type Packet struct {
	Type        PacketType
	Namespace   string   // always starts with "/"; "/" when absent on the wire
	ID          int64    // ack id; meaningful only when HasID
	HasID       bool     // ack id present
	Data        []byte   // raw JSON payload (nil when absent), placeholders left in place
	Attachments [][]byte // binary attachments, in order (BINARY_EVENT / BINARY_ACK)
}

// ErrInvalidPacket is wrapped by every error Decode returns: the message is a
// protocol violation and the caller should close the connection.
var ErrInvalidPacket = errors.New("socketio: invalid packet")

// Limits bound what a Decoder accepts. Zero (or negative) fields mean
// defaults.
type Limits struct {
	MaxAttachments     int   // default 10
	MaxAttachmentBytes int64 // total bytes of pending attachments; default 1e6
	MaxDepth           int   // nesting depth of a payload (its argument list is level 1); default MaxDepth
	MaxNamespaceLen    int   // default 256
}

const (
	pktDefaultMaxAttachments     = 10
	pktDefaultMaxAttachmentBytes = 1e6
	pktDefaultMaxDepth           = MaxDepth
	pktDefaultMaxNamespaceLen    = 256

	// pktMaxAckID is the largest ack id accepted (Number.MAX_SAFE_INTEGER),
	// pktMaxAckDigits the longest digit run.
	pktMaxAckID     = 1<<53 - 1
	pktMaxAckDigits = 16

	// pktSplitMaxDepth bounds the nesting SplitArray accepts (the limit of
	// encoding/json).
	pktSplitMaxDepth = 10000
)

func (l Limits) withDefaults() Limits {
	if l.MaxAttachments <= 0 {
		l.MaxAttachments = pktDefaultMaxAttachments
	}
	if l.MaxAttachmentBytes <= 0 {
		l.MaxAttachmentBytes = pktDefaultMaxAttachmentBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = pktDefaultMaxDepth
	}
	if l.MaxNamespaceLen <= 0 {
		l.MaxNamespaceLen = pktDefaultMaxNamespaceLen
	}
	// Keep the arithmetic on these far from overflowing.
	l.MaxAttachments = min(l.MaxAttachments, 1<<24)
	l.MaxNamespaceLen = min(l.MaxNamespaceLen, 1<<30)
	return l
}

// Decoder reassembles packets from Engine.IO messages of one connection. Not
// safe for concurrent use.
type Decoder struct {
	lim     Limits
	pending *Packet     // binary packet waiting for attachments
	want    int         // attachments announced by pending
	bytes   int64       // attachment bytes received for pending
	own     *pktScanner // when set (by tests), used instead of the pool's
}

// scanners holds the JSON scanners of the decoders: a decoder borrows one
// for each packet, so that an idle connection keeps none (nor the stack
// its last packet grew).
var scanners = sync.Pool{New: func() any { return new(pktScanner) }}

// NewDecoder returns a Decoder enforcing l.
func NewDecoder(l Limits) *Decoder {
	return &Decoder{lim: l.withDefaults()}
}

func (d *Decoder) reset() {
	d.pending = nil
	d.want = 0
	d.bytes = 0
}

func pktErr(detail string) error { return fmt.Errorf("%w: %s", ErrInvalidPacket, detail) }

// Decode errors, allocated once: rejecting hostile input costs no
// allocation.
var (
	pktErrAckIDTooLarge      = pktErr("ack id too large")
	pktErrAckIDTooLong       = pktErr("ack id too long")
	pktErrAckWithoutID       = pktErr("ack without id")
	pktErrAttachmentBytes    = pktErr("attachments too large")
	pktErrDupPlaceholder     = pktErr("duplicate _placeholder key")
	pktErrEmpty              = pktErr("empty packet")
	pktErrBinaryIdle         = pktErr("got binary data when not reconstructing a packet")
	pktErrTextPending        = pktErr("got plaintext data when reconstructing a packet")
	pktErrIllegalAttachments = pktErr("illegal attachments")
	pktErrNamespace          = pktErr("invalid namespace")
	pktErrPayload            = pktErr("invalid payload")
	pktErrJSONLiteral        = pktErr("invalid payload: bad literal")
	pktErrJSONKey            = pktErr("invalid payload: bad object key")
	pktErrJSONString         = pktErr("invalid payload: bad string")
	pktErrJSONControl        = pktErr("invalid payload: control character in string")
	pktErrJSONUTF8           = pktErr("invalid payload: invalid UTF-8")
	pktErrJSONColon          = pktErr("invalid payload: missing colon")
	pktErrJSONDepth          = pktErr("invalid payload: nesting too deep")
	pktErrJSONSyntax         = pktErr("invalid payload: not JSON")
	pktErrJSONTrailing       = pktErr("invalid payload: trailing data")
	pktErrJSONEnd            = pktErr("invalid payload: unexpected end of JSON")
	pktErrJSONUnterminated   = pktErr("invalid payload: unterminated string")
	pktErrNamespaceLen       = pktErr("namespace too long")
	pktErrNotArray           = pktErr("not a JSON array")
	pktErrTooManyAttachments = pktErr("too many attachments")
	pktErrUnexpectedID       = pktErr("unexpected ack id")
	pktErrType               = pktErr("unknown packet type")
)

// Decode consumes one Engine.IO message. It returns a complete packet, or nil
// while attachments are pending, or an error (a protocol violation: the
// caller closes the connection). After an error the decoder is reset.
func (d *Decoder) Decode(m engineio.Message) (*Packet, error) {
	if m.Binary {
		p := d.pending
		if p == nil {
			return nil, pktErrBinaryIdle
		}
		d.bytes += int64(len(m.Data))
		if d.bytes > d.lim.MaxAttachmentBytes {
			d.reset()
			return nil, pktErrAttachmentBytes
		}
		p.Attachments = append(p.Attachments, m.Data)
		if len(p.Attachments) < d.want {
			return nil, nil
		}
		d.reset()
		return p, nil
	}
	if d.pending != nil {
		d.reset()
		return nil, pktErrTextPending
	}
	p, n, err := d.decodeText(m.Data)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		p.Attachments = make([][]byte, 0, n)
		d.pending, d.want, d.bytes = p, n, 0
		return nil, nil
	}
	return p, nil
}

func pktIsDigit(c byte) bool { return c >= '0' && c <= '9' }

// decodeText decodes the text part of a packet and returns it with its
// announced attachment count.
func (d *Decoder) decodeText(b []byte) (*Packet, int, error) {
	if len(b) == 0 {
		return nil, 0, pktErrEmpty
	}
	if b[0] < '0' || b[0] > '6' {
		return nil, 0, pktErrType
	}
	p := Packet{Type: PacketType(b[0] - '0'), Namespace: "/"}
	binary := p.Type == PacketBinaryEvent || p.Type == PacketBinaryAck
	i := 1

	// Attachment count: digits then "-", 1..MaxAttachments.
	n := 0
	if binary {
		start := i
		for i < len(b) && pktIsDigit(b[i]) {
			n = n*10 + int(b[i]-'0')
			if n > d.lim.MaxAttachments {
				return nil, 0, pktErrTooManyAttachments
			}
			i++
		}
		if i == start || i == len(b) || b[i] != '-' || n < 1 {
			return nil, 0, pktErrIllegalAttachments
		}
		i++
	}

	// Namespace: from "/" up to "," or the end.
	var nspBytes []byte
	if i < len(b) && b[i] == '/' {
		start := i
		limit := min(len(b), start+d.lim.MaxNamespaceLen+1)
		j := start
		for j < limit && b[j] != ',' {
			j++
		}
		if j-start > d.lim.MaxNamespaceLen {
			return nil, 0, pktErrNamespaceLen
		}
		nsp := b[start:j]
		if !pktValidNamespace(nsp) {
			return nil, 0, pktErrNamespace
		}
		nspBytes = nsp
		i = j
		if i < len(b) { // skip ","
			i++
		}
	}

	// Ack id: 1..16 digits, at most 2^53-1.
	if i < len(b) && pktIsDigit(b[i]) {
		start := i
		var id int64
		for i < len(b) && pktIsDigit(b[i]) {
			if i-start == pktMaxAckDigits {
				return nil, 0, pktErrAckIDTooLong
			}
			id = id*10 + int64(b[i]-'0')
			i++
		}
		if id > pktMaxAckID {
			return nil, 0, pktErrAckIDTooLarge
		}
		switch p.Type {
		case PacketConnect, PacketDisconnect, PacketConnectError:
			return nil, 0, pktErrUnexpectedID
		}
		p.ID, p.HasID = id, true
	} else if p.Type == PacketAck || p.Type == PacketBinaryAck {
		return nil, 0, pktErrAckWithoutID
	}

	// Payload.
	var info pktJSONInfo
	if i < len(b) {
		if pktIsSpace(b[i]) {
			return nil, 0, pktErrPayload
		}
		var err error
		sc := d.own
		if sc == nil {
			sc = scanners.Get().(*pktScanner)
		}
		info, err = sc.scan(b[i:], d.lim.MaxDepth, n, false)
		if sc != d.own {
			scanners.Put(sc)
		}
		if err != nil {
			return nil, 0, err
		}
		p.Data = info.data
	}
	if !pktPayloadValid(p.Type, info) {
		return nil, 0, pktErrPayload
	}
	if nspBytes != nil {
		p.Namespace = string(nspBytes)
	}
	pp := new(Packet)
	*pp = p
	return pp, n, nil
}

// pktValidNamespace reports whether nsp is valid UTF-8 without control
// characters.
func pktValidNamespace(nsp []byte) bool {
	for i := 0; i < len(nsp); {
		c := nsp[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(nsp[i:])
		if r == utf8.RuneError && size == 1 || unicode.IsControl(r) {
			return false
		}
		i += size
	}
	return true
}

var pktReservedEvents = [...]string{
	"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
}

// pktPayloadValid applies socket.io-parser's isPayloadValid, with a payload
// required where Node only checks one when present.
func pktPayloadValid(t PacketType, info pktJSONInfo) bool {
	switch t {
	case PacketConnect:
		return info.data == nil || info.kind == pktKindObject
	case PacketDisconnect:
		return info.data == nil
	case PacketConnectError:
		return info.kind == pktKindString || info.kind == pktKindObject
	case PacketEvent, PacketBinaryEvent:
		if info.kind != pktKindArray || info.elems == 0 {
			return false
		}
		switch info.firstKind {
		case pktKindNumber:
			return true
		case pktKindString:
			return !pktReservedName(info.first)
		}
		return false
	case PacketAck, PacketBinaryAck:
		return info.kind == pktKindArray
	}
	return false
}

// pktReservedName reports whether the JSON string s is a reserved event name.
func pktReservedName(s []byte) bool {
	inner := s[1 : len(s)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		var name string
		if json.Unmarshal(s, &name) != nil {
			return true
		}
		inner = []byte(name)
	}
	for _, r := range pktReservedEvents {
		if string(inner) == r {
			return true
		}
	}
	return false
}

// appendEncode encodes p: it returns the text Engine.IO message and, for
// binary packets, the attachment messages, appended to dst. The attachment
// count written in the header is len(p.Attachments); the type is turned into
// BINARY_EVENT/BINARY_ACK when there are attachments and back to EVENT/ACK
// when there are none. Attachments of other packet types are not written.
// p.Data is written as is (it must be valid, compact JSON); the messages
// alias p.Attachments.
func appendEncode(dst []engineio.Message, p *Packet) []engineio.Message {
	t := p.Type
	n := len(p.Attachments)
	switch t {
	case PacketEvent, PacketBinaryEvent:
		t = PacketEvent
		if n > 0 {
			t = PacketBinaryEvent
		}
	case PacketAck, PacketBinaryAck:
		t = PacketAck
		if n > 0 {
			t = PacketBinaryAck
		}
	default:
		n = 0
	}
	nsp := p.Namespace
	if nsp == "/" {
		nsp = ""
	}
	buf := make([]byte, 0, 1+4+len(nsp)+1+16+len(p.Data))
	buf = append(buf, '0'+byte(t))
	if n > 0 {
		buf = strconv.AppendInt(buf, int64(n), 10)
		buf = append(buf, '-')
	}
	if nsp != "" {
		buf = append(buf, nsp...)
		buf = append(buf, ',')
	}
	if p.HasID {
		buf = strconv.AppendInt(buf, p.ID, 10)
	}
	buf = append(buf, p.Data...)
	dst = append(dst, engineio.Message{Data: buf})
	for _, a := range p.Attachments[:n] {
		dst = append(dst, engineio.Message{Binary: true, Data: a})
	}
	return dst
}

// appendPlaceholder appends {"_placeholder":true,"num":n} to dst.
func appendPlaceholder(dst []byte, n int) []byte { return placeholder.Append(dst, n) }

// splitArray returns the raw JSON elements of a JSON array (no copy; slices
// of data). Errors on non-arrays and on invalid JSON. Whitespace around the
// elements is not included.
func splitArray(data []byte) ([][]byte, error) {
	var s pktScanner
	s.collect = true
	i := 0
	for i < len(data) && pktIsSpace(data[i]) {
		i++
	}
	info, err := s.scan(data[i:], pktSplitMaxDepth, -1, true)
	if err != nil {
		return nil, err
	}
	if info.kind != pktKindArray {
		return nil, pktErrNotArray
	}
	if s.elemList == nil {
		return [][]byte{}, nil
	}
	return s.elemList, nil
}

// ---------------------------------------------------------------------------
// JSON scanner

type pktKind uint8

const (
	pktKindNone pktKind = iota
	pktKindObject
	pktKindArray
	pktKindString
	pktKindNumber
	pktKindTrue
	pktKindFalse
	pktKindNull
)

// pktJSONInfo describes a scanned JSON value.
type pktJSONInfo struct {
	data      []byte // the value, compacted when it had whitespace or non-canonical placeholders
	kind      pktKind
	elems     int     // for arrays: element count
	first     []byte  // for arrays: first element
	firstKind pktKind // for arrays: kind of the first element
}

// Member key classes, for placeholder detection.
const (
	pktKeyOther uint8 = iota
	pktKeyPlaceholder
	pktKeyNum
)

// pktFrame is one open container on the scanner's stack.
type pktFrame struct {
	start   int  // offset of "{" or "["
	members int  // members or elements so far
	obj     bool // object (else array)
	key     uint8
	phCount uint8 // "_placeholder" keys seen (capped at 2)
	phTrue  bool  // last "_placeholder" value was true
	numSeen uint8 // "num" keys seen (capped at 2)
	num     int   // value of "num" when a plain non-negative integer, else -1
}

type pktEdit struct{ start, end, num int }

// pktScanner validates JSON iteratively. Its buffers are reused between
// calls.
type pktScanner struct {
	stack    []pktFrame
	edits    []pktEdit // non-canonical placeholders to rewrite
	ws       bool      // insignificant whitespace seen
	collect  bool      // collect the top-level array elements into elemList
	elemList [][]byte
}

func pktIsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

const (
	pktStateValue = iota // expecting a value
	pktStateAfter        // after a value
	pktStateKey          // expecting an object key
)

// scan validates data as exactly one JSON value (trailing whitespace
// allowed) nested at most maxDepth deep and valid UTF-8. With attachments
// >= 0 it validates placeholders against that count; -1 skips them. When
// noRewrite is false, the returned data is compacted and its placeholders
// made canonical.
func (s *pktScanner) scan(data []byte, maxDepth, attachments int, noRewrite bool) (pktJSONInfo, error) {
	var info pktJSONInfo
	s.stack = s.stack[:0]
	s.edits = s.edits[:0]
	s.ws = false
	s.elemList = nil

	var (
		i     int
		state = pktStateValue
		vKind pktKind // kind of the value just completed
		vs    int     // start of the value just completed
	)
	for {
		switch state {
		case pktStateValue:
			i = s.skipSpace(data, i)
			if i >= len(data) {
				return info, pktErrJSONEnd
			}
			vs = i
			switch c := data[i]; c {
			case '{', '[':
				if len(s.stack) >= maxDepth {
					return info, pktErrJSONDepth
				}
				s.stack = append(s.stack, pktFrame{start: i, obj: c == '{', num: -1})
				i = s.skipSpace(data, i+1)
				if i < len(data) && data[i] == c+2 { // "}" or "]": empty container
					i++
					vKind = pktKindArray
					if c == '{' {
						vKind = pktKindObject
					}
					s.stack = s.stack[:len(s.stack)-1]
					state = pktStateAfter
				} else if c == '{' {
					state = pktStateKey
				}
				continue
			case '"':
				end, _, err := pktScanString(data, i)
				if err != nil {
					return info, err
				}
				i, vKind = end, pktKindString
			case 't':
				if !bytes.HasPrefix(data[i:], []byte("true")) {
					return info, pktErrJSONLiteral
				}
				i, vKind = i+4, pktKindTrue
			case 'f':
				if !bytes.HasPrefix(data[i:], []byte("false")) {
					return info, pktErrJSONLiteral
				}
				i, vKind = i+5, pktKindFalse
			case 'n':
				if !bytes.HasPrefix(data[i:], []byte("null")) {
					return info, pktErrJSONLiteral
				}
				i, vKind = i+4, pktKindNull
			default:
				end, ok := pktScanNumber(data, i)
				if !ok {
					return info, pktErrJSONSyntax
				}
				i, vKind = end, pktKindNumber
			}
			state = pktStateAfter

		case pktStateAfter:
			// A value [vs, i) of kind vKind is complete.
			if len(s.stack) == 0 {
				info.kind = vKind
				i = s.skipSpace(data, i)
				if i != len(data) {
					return info, pktErrJSONTrailing
				}
				goto done
			}
			top := &s.stack[len(s.stack)-1]
			if top.obj {
				switch top.key {
				case pktKeyPlaceholder:
					top.phTrue = vKind == pktKindTrue
				case pktKeyNum:
					top.num = -1
					if vKind == pktKindNumber {
						top.num = pktSmallUint(data[vs:i])
					}
				}
			} else if len(s.stack) == 1 {
				if top.members == 0 {
					info.first, info.firstKind = data[vs:i], vKind
				}
				if s.collect {
					s.elemList = append(s.elemList, data[vs:i:i])
				}
			}
			top.members++
			i = s.skipSpace(data, i)
			if i >= len(data) {
				return info, pktErrJSONEnd
			}
			c := data[i]
			i++
			switch {
			case c == ',' && top.obj:
				state = pktStateKey
			case c == ',':
				state = pktStateValue
			case c == '}' && top.obj:
				if err := s.closeObject(top, data, i, attachments); err != nil {
					return info, err
				}
				vs, vKind = top.start, pktKindObject
				if len(s.stack) == 1 {
					info.elems = top.members
				}
				s.stack = s.stack[:len(s.stack)-1]
			case c == ']' && !top.obj:
				if len(s.stack) == 1 {
					info.elems = top.members
				}
				vs, vKind = top.start, pktKindArray
				s.stack = s.stack[:len(s.stack)-1]
			default:
				return info, pktErrJSONSyntax
			}

		case pktStateKey:
			i = s.skipSpace(data, i)
			if i >= len(data) || data[i] != '"' {
				return info, pktErrJSONKey
			}
			end, escaped, err := pktScanString(data, i)
			if err != nil {
				return info, err
			}
			top := &s.stack[len(s.stack)-1]
			top.key = pktClassifyKey(data[i:end], escaped)
			switch top.key {
			case pktKeyPlaceholder:
				if top.phCount < 2 {
					top.phCount++
				}
			case pktKeyNum:
				if top.numSeen < 2 {
					top.numSeen++
				}
			}
			i = s.skipSpace(data, end)
			if i >= len(data) || data[i] != ':' {
				return info, pktErrJSONColon
			}
			i++
			state = pktStateValue
		}
	}
done:
	if info.kind != pktKindArray {
		info.elems = 0
	}
	info.data = data
	if !noRewrite && (s.ws || len(s.edits) > 0) {
		// info.first keeps pointing into data: the rewrite copies strings
		// and numbers verbatim, and only they are inspected.
		info.data = s.rewrite(data)
	}
	return info, nil
}

// closeObject applies the placeholder rules to the object top, which ends
// just before end.
func (s *pktScanner) closeObject(top *pktFrame, data []byte, end, attachments int) error {
	if attachments < 0 || top.phCount == 0 {
		return nil
	}
	if top.phCount > 1 {
		return pktErrDupPlaceholder
	}
	if !top.phTrue {
		return nil // a plain object, as in Node
	}
	if top.members != 2 || top.numSeen != 1 || top.num < 0 || top.num >= attachments {
		return pktErrIllegalAttachments
	}
	var canon [40]byte
	if !bytes.Equal(data[top.start:end], appendPlaceholder(canon[:0], top.num)) {
		s.edits = append(s.edits, pktEdit{start: top.start, end: end, num: top.num})
	}
	return nil
}

// rewrite returns data without insignificant whitespace and with the
// recorded placeholders in canonical form. data is valid JSON.
func (s *pktScanner) rewrite(data []byte) []byte {
	out := make([]byte, 0, len(data))
	e := 0
	inStr := false
	for i := 0; i < len(data); {
		c := data[i]
		if inStr {
			out = append(out, c)
			switch c {
			case '\\':
				out = append(out, data[i+1])
				i += 2
				continue
			case '"':
				inStr = false
			}
			i++
			continue
		}
		if e < len(s.edits) && i == s.edits[e].start {
			out = appendPlaceholder(out, s.edits[e].num)
			i = s.edits[e].end
			e++
			continue
		}
		if pktIsSpace(c) {
			i++
			continue
		}
		if c == '"' {
			inStr = true
		}
		out = append(out, c)
		i++
	}
	return out
}

func (s *pktScanner) skipSpace(data []byte, i int) int {
	for i < len(data) && pktIsSpace(data[i]) {
		i++
		s.ws = true
	}
	return i
}

// pktScanString scans the JSON string starting at data[i] == '"'. It returns
// the offset after the closing quote and whether it has escapes.
func pktScanString(data []byte, i int) (end int, escaped bool, err error) {
	i++
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(data) {
				return 0, false, pktErrJSONString
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) {
					return 0, false, pktErrJSONString
				}
				for _, h := range data[i+2 : i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return 0, false, pktErrJSONString
					}
				}
				i += 6
			default:
				return 0, false, pktErrJSONString
			}
		case c < 0x20:
			return 0, false, pktErrJSONControl
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, false, pktErrJSONUTF8
			}
			i += size
		}
	}
	return 0, false, pktErrJSONUnterminated
}

// pktScanNumber scans a JSON number at data[i].
func pktScanNumber(data []byte, i int) (int, bool) {
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		for i < len(data) && pktIsDigit(data[i]) {
			i++
		}
	default:
		return 0, false
	}
	if i < len(data) && data[i] == '.' {
		i++
		start := i
		for i < len(data) && pktIsDigit(data[i]) {
			i++
		}
		if i == start {
			return 0, false
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		start := i
		for i < len(data) && pktIsDigit(data[i]) {
			i++
		}
		if i == start {
			return 0, false
		}
	}
	return i, true
}

// pktSmallUint returns the value of a JSON number made only of digits (at
// most 9), else -1.
func pktSmallUint(b []byte) int {
	if len(b) == 0 || len(b) > 9 {
		return -1
	}
	n := 0
	for _, c := range b {
		if !pktIsDigit(c) {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// pktClassifyKey classifies the JSON string key (quotes included).
func pktClassifyKey(key []byte, escaped bool) uint8 {
	if escaped {
		var k string
		if json.Unmarshal(key, &k) != nil {
			return pktKeyOther
		}
		key = []byte(k)
	} else {
		key = key[1 : len(key)-1]
	}
	switch string(key) {
	case "_placeholder":
		return pktKeyPlaceholder
	case "num":
		return pktKeyNum
	}
	return pktKeyOther
}

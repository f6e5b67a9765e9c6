package socketio

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/pierhq/pier/engineio"
)

// Fuzz input framing: a sequence of frames, each a header byte h (bit 0:
// binary; h>>1: length, 127 meaning a 2-byte big-endian length follows)
// and the frame's bytes (truncated at the end of the input).

func parserFuzzFrames(b []byte) []engineio.Message {
	var out []engineio.Message
	for len(b) > 0 {
		h := b[0]
		b = b[1:]
		n := int(h >> 1)
		if n == 127 {
			if len(b) < 2 {
				n = len(b)
			} else {
				n = int(binary.BigEndian.Uint16(b))
				b = b[2:]
			}
		}
		n = min(n, len(b))
		out = append(out, engineio.Message{Binary: h&1 == 1, Data: b[:n:n]})
		b = b[n:]
	}
	return out
}

func parserFuzzEncode(msgs ...engineio.Message) []byte {
	var out []byte
	for _, m := range msgs {
		bin := byte(0)
		if m.Binary {
			bin = 1
		}
		if n := len(m.Data); n < 127 {
			out = append(out, byte(n)<<1|bin)
		} else {
			out = append(out, 127<<1|bin)
			out = binary.BigEndian.AppendUint16(out, uint16(min(n, 0xffff)))
		}
		out = append(out, m.Data...)
	}
	return out
}

// parserFuzzLimits are small so that the fuzzer reaches every limit.
var parserFuzzLimits = Limits{MaxAttachments: 3, MaxAttachmentBytes: 64, MaxDepth: 6, MaxNamespaceLen: 12}

func FuzzDecoder(f *testing.F) {
	for _, c := range parserDecodeCases() {
		if len(c.in) < 8 {
			var total int
			for _, m := range c.in {
				total += len(m.Data)
			}
			if total < 2000 {
				f.Add(parserFuzzEncode(c.in...))
			}
		}
	}
	f.Add(parserFuzzEncode(parserT(`53-["x",`+parserPH0+`]`), parserB(1), parserT(`2["y"]`), parserB(2)))
	f.Add(parserFuzzEncode(parserT(`2`+parserDeep(10)), parserT(`0/namespace-too-long,`)))
	f.Add(parserFuzzEncode(parserT(`51-["x",{"num":0,"_placeholder":true}]`), parserB(make([]byte, 70)...)))
	f.Fuzz(parserFuzzBody)
}

func parserFuzzBody(t *testing.T, in []byte) {
	{
		lim := parserFuzzLimits
		d := NewDecoder(lim)
		var o parserOracle
		o.lim = lim.withDefaults()
		for i, m := range parserFuzzFrames(in) {
			p, err := d.Decode(m)
			op, oerr := o.decode(m)
			if (err != nil) != (oerr != nil) {
				t.Fatalf("frame %d %q (binary %v): decoder error %v, oracle error %v", i, m.Data, m.Binary, err, oerr)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidPacket) {
					t.Fatalf("error %v does not wrap ErrInvalidPacket", err)
				}
				if d.pending != nil || d.want != 0 || d.bytes != 0 {
					t.Fatal("decoder not reset after error")
				}
				// A fresh valid packet is accepted after an error.
				if q, err := d.Decode(parserT(`2["x"]`)); err != nil || q == nil {
					t.Fatalf("after error: %v, %v", q, err)
				}
				continue
			}
			if d.pending != nil && (len(d.pending.Attachments) >= d.want || d.want > lim.MaxAttachments) {
				t.Fatalf("pending %d of %d attachments", len(d.pending.Attachments), d.want)
			}
			if d.bytes > lim.MaxAttachmentBytes {
				t.Fatalf("pending bytes %d", d.bytes)
			}
			if (p == nil) != (op == nil) {
				t.Fatalf("frame %d %q: decoder %s, oracle %s", i, m.Data, parserFmt(p), parserFmt(op))
			}
			if p == nil {
				continue
			}
			parserCheckPacket(t, p, op, lim)
		}
	}
}

// parserCheckPacket checks a decoded packet against the oracle's and
// checks that it survives an encode/decode round trip.
func parserCheckPacket(t *testing.T, p, op *Packet, lim Limits) {
	t.Helper()
	if p.Type != op.Type || p.Namespace != op.Namespace || p.HasID != op.HasID || p.ID != op.ID ||
		(p.Data == nil) != (op.Data == nil) || len(p.Attachments) != len(op.Attachments) {
		t.Fatalf("decoder %s\noracle  %s", parserFmt(p), parserFmt(op))
	}
	for i := range p.Attachments {
		if !bytes.Equal(p.Attachments[i], op.Attachments[i]) {
			t.Fatalf("attachment %d differs", i)
		}
	}
	if len(p.Attachments) > lim.MaxAttachments || !strings.HasPrefix(p.Namespace, "/") || len(p.Namespace) > lim.MaxNamespaceLen {
		t.Fatalf("limits broken: %s", parserFmt(p))
	}
	if p.HasID && (p.ID < 0 || p.ID > 1<<53-1) {
		t.Fatalf("ack id %d", p.ID)
	}
	if p.Data != nil {
		// Data means the same as the oracle's payload, and is compact
		// with canonical placeholders.
		got, err := parserOracleParse(p.Data, lim.MaxDepth)
		if err != nil {
			t.Fatalf("decoded data %q: %v", p.Data, err)
		}
		want, _ := parserOracleParse(op.Data, lim.MaxDepth)
		if !parserOracleEqual(got, want) {
			t.Fatalf("data %q differs from oracle %q", p.Data, op.Data)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, p.Data); err != nil || !bytes.Equal(compact.Bytes(), p.Data) {
			t.Fatalf("data not compact: %q", p.Data)
		}
		if n := bytes.Count(p.Data, []byte(`{"_placeholder":true,"num":`)); n != parserOracleCountPlaceholders(got) {
			t.Fatalf("non-canonical placeholders in %q", p.Data)
		}
	}
	// Round trip.
	d := NewDecoder(lim)
	msgs := appendEncode(nil, p)
	var q *Packet
	for i, m := range msgs {
		r, err := d.Decode(m)
		if err != nil {
			t.Fatalf("re-decoding %q: %v", msgs[0].Data, err)
		}
		if (r != nil) != (i == len(msgs)-1) {
			t.Fatalf("re-decoding %q: packet at message %d of %d", msgs[0].Data, i, len(msgs))
		}
		q = r
	}
	if !parserEqual(p, q) {
		t.Fatalf("round trip: %s\n         -> %s", parserFmt(p), parserFmt(q))
	}
}

func FuzzAckID(f *testing.F) {
	for _, s := range []string{"", "0", "1", "456", "007", "9007199254740991", "9007199254740992",
		"0000000000000001", "00000000000000001", "99999999999999999999", strings.Repeat("9", 400),
		"Infinity", "-1", "1e3", "0x10", " 1", "1 ", "1.5", "١", "12abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		valid := len(s) >= 1 && len(s) <= 16 && strings.Trim(s, "0123456789") == ""
		var want int64
		if valid {
			v, err := strconv.ParseInt(s, 10, 64)
			valid = err == nil && v <= 1<<53-1
			want = v
		}
		// A namespace before the id keeps s from being read as one.
		for _, prefix := range []string{"3/n,", "61-/n,"} {
			text := prefix + s + "[1]"
			if prefix == "61-/n," {
				text = prefix + s + "[" + parserPH0 + "]"
			}
			d := NewDecoder(Limits{})
			p, err := d.Decode(parserT(text))
			if err == nil && p == nil {
				p, err = d.Decode(parserB(1))
			}
			if (err == nil) != valid {
				t.Fatalf("%q: error %v, want valid %v", text, err, valid)
			}
			if valid && (!p.HasID || p.ID != want) {
				t.Fatalf("%q: id %d (has %v), want %d", text, p.ID, p.HasID, want)
			}
		}
		// In an EVENT the id is optional.
		text := "2/n," + s + `["x"]`
		p, err := NewDecoder(Limits{}).Decode(parserT(text))
		if ok := valid || s == ""; (err == nil) != ok {
			t.Fatalf("%q: error %v, want valid %v", text, err, ok)
		}
		if err == nil && (p.HasID != (s != "") || p.ID != want) {
			t.Fatalf("%q: id %d (has %v), want %d", text, p.ID, p.HasID, want)
		}
	})
}

// ---------------------------------------------------------------------------
// Oracle: a straightforward second implementation of the rules, built on
// regexp and encoding/json's tokenizer (iterative, no recursion).

type parserOracle struct {
	lim     Limits
	pending *Packet
	want    int
	bytes   int64
}

var errParserOracle = errors.New("oracle: invalid")

func (o *parserOracle) decode(m engineio.Message) (*Packet, error) {
	if m.Binary {
		if o.pending == nil {
			return nil, errParserOracle
		}
		o.bytes += int64(len(m.Data))
		if o.bytes > o.lim.MaxAttachmentBytes {
			o.pending = nil
			return nil, errParserOracle
		}
		o.pending.Attachments = append(o.pending.Attachments, m.Data)
		if len(o.pending.Attachments) == o.want {
			p := o.pending
			o.pending = nil
			return p, nil
		}
		return nil, nil
	}
	if o.pending != nil {
		o.pending = nil
		return nil, errParserOracle
	}
	p, n, ok := o.decodeText(m.Data)
	if !ok {
		return nil, errParserOracle
	}
	if n > 0 {
		o.pending, o.want, o.bytes = p, n, 0
		return nil, nil
	}
	return p, nil
}

var parserOracleHeader = regexp.MustCompile(`(?s)\A(?:([56])([0-9]*)(-?)|([0-4]))(/[^,]*,?)?([0-9]*)(.*)\z`)

func (o *parserOracle) decodeText(b []byte) (*Packet, int, bool) {
	m := parserOracleHeader.FindSubmatch(b)
	if m == nil {
		return nil, 0, false
	}
	p := &Packet{Namespace: "/"}
	n := 0
	if len(m[1]) > 0 {
		p.Type = PacketType(m[1][0] - '0')
		digits := strings.TrimLeft(string(m[2]), "0")
		if len(m[2]) == 0 || len(m[3]) == 0 || len(digits) > 9 {
			return nil, 0, false
		}
		n, _ = strconv.Atoi("0" + digits)
		if n < 1 || n > o.lim.MaxAttachments {
			return nil, 0, false
		}
	} else {
		p.Type = PacketType(m[4][0] - '0')
	}
	if nsp := strings.TrimSuffix(string(m[5]), ","); nsp != "" {
		if len(nsp) > o.lim.MaxNamespaceLen || !utf8.ValidString(nsp) || strings.IndexFunc(nsp, unicode.IsControl) >= 0 {
			return nil, 0, false
		}
		p.Namespace = nsp
	}
	if id := string(m[6]); id != "" {
		v, err := strconv.ParseInt(id, 10, 64)
		if len(id) > 16 || err != nil || v > 1<<53-1 {
			return nil, 0, false
		}
		if p.Type == PacketConnect || p.Type == PacketDisconnect || p.Type == PacketConnectError {
			return nil, 0, false
		}
		p.ID, p.HasID = v, true
	} else if p.Type == PacketAck || p.Type == PacketBinaryAck {
		return nil, 0, false
	}
	var root *parserOracleVal
	if rest := m[7]; len(rest) > 0 {
		if strings.ContainsRune(" \t\r\n", rune(rest[0])) || !utf8.Valid(rest) {
			return nil, 0, false
		}
		var err error
		if root, err = parserOracleParse(rest, o.lim.MaxDepth); err != nil {
			return nil, 0, false
		}
		if !parserOracleCheckPlaceholders(root, n) {
			return nil, 0, false
		}
		p.Data = rest
	}
	kind := byte(0)
	if root != nil {
		kind = root.kind
	}
	switch p.Type {
	case PacketConnect:
		if root != nil && kind != '{' {
			return nil, 0, false
		}
	case PacketDisconnect:
		if root != nil {
			return nil, 0, false
		}
	case PacketConnectError:
		if kind != '{' && kind != 's' {
			return nil, 0, false
		}
	case PacketEvent, PacketBinaryEvent:
		if kind != '[' || len(root.vals) == 0 {
			return nil, 0, false
		}
		first := root.vals[0]
		switch first.kind {
		case 'n':
		case 's':
			for _, r := range pktReservedEvents {
				if first.s == r {
					return nil, 0, false
				}
			}
		default:
			return nil, 0, false
		}
	case PacketAck, PacketBinaryAck:
		if kind != '[' {
			return nil, 0, false
		}
	}
	return p, n, true
}

// parserOracleVal is a JSON value: kind '{', '[', 's' (string), 'n'
// (number, s holds the literal), 't', 'f', '0' (null). Objects keep every
// key, duplicates included.
type parserOracleVal struct {
	kind byte
	s    string
	keys []string
	vals []*parserOracleVal
}

func parserOracleParse(data []byte, maxDepth int) (*parserOracleVal, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		v      *parserOracleVal
		key    string
		hasKey bool
	}
	var stack []*frame
	var root *parserOracleVal
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v *parserOracleVal
		closed := false
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{', '[':
				if len(stack) >= maxDepth {
					return nil, errParserOracle
				}
				v = &parserOracleVal{kind: byte(tok)}
			default:
				v = stack[len(stack)-1].v
				stack = stack[:len(stack)-1]
				closed = true
			}
		case string:
			if len(stack) > 0 && stack[len(stack)-1].v.kind == '{' && !stack[len(stack)-1].hasKey {
				stack[len(stack)-1].key, stack[len(stack)-1].hasKey = tok, true
				continue
			}
			v = &parserOracleVal{kind: 's', s: tok}
		case json.Number:
			v = &parserOracleVal{kind: 'n', s: string(tok)}
		case bool:
			v = &parserOracleVal{kind: 'f'}
			if tok {
				v.kind = 't'
			}
		case nil:
			v = &parserOracleVal{kind: '0'}
		}
		if !closed && (v.kind == '{' || v.kind == '[') {
			// Attach when closed; remember it now.
			stack = append(stack, &frame{v: v})
			continue
		}
		if len(stack) == 0 {
			root = v
			break
		}
		top := stack[len(stack)-1]
		if top.v.kind == '{' {
			top.v.keys = append(top.v.keys, top.key)
			top.hasKey = false
		}
		top.v.vals = append(top.v.vals, v)
	}
	// Only whitespace may follow.
	if off := dec.InputOffset(); len(bytes.Trim(data[off:], " \t\r\n")) != 0 {
		return nil, errParserOracle
	}
	return root, nil
}

// parserOracleWalk visits every value without recursion.
func parserOracleWalk(root *parserOracleVal, visit func(*parserOracleVal) bool) bool {
	stack := []*parserOracleVal{root}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !visit(v) {
			return false
		}
		stack = append(stack, v.vals...)
	}
	return true
}

// parserOraclePlaceholder reports whether v is a placeholder object, and
// whether it is a valid one for n attachments.
func parserOraclePlaceholder(v *parserOracleVal, n int) (is, valid bool) {
	if v.kind != '{' {
		return false, true
	}
	count, last := 0, -1
	for i, k := range v.keys {
		if k == "_placeholder" {
			count++
			last = i
		}
	}
	if count == 0 {
		return false, true
	}
	if count > 1 {
		return true, false
	}
	if v.vals[last].kind != 't' {
		return false, true
	}
	if len(v.keys) != 2 {
		return true, false
	}
	num := v.vals[1-last]
	if v.keys[1-last] != "num" || num.kind != 'n' || strings.Trim(num.s, "0123456789") != "" || len(num.s) > 9 {
		return true, false
	}
	x, _ := strconv.Atoi(num.s)
	return true, x < n
}

func parserOracleCheckPlaceholders(root *parserOracleVal, n int) bool {
	return parserOracleWalk(root, func(v *parserOracleVal) bool {
		_, valid := parserOraclePlaceholder(v, n)
		return valid
	})
}

func parserOracleCountPlaceholders(root *parserOracleVal) int {
	count := 0
	parserOracleWalk(root, func(v *parserOracleVal) bool {
		if is, _ := parserOraclePlaceholder(v, 1<<30); is {
			count++
		}
		return true
	})
	return count
}

func parserOracleEqual(a, b *parserOracleVal) bool {
	type pair struct{ a, b *parserOracleVal }
	stack := []pair{{a, b}}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if p.a.kind != p.b.kind || len(p.a.vals) != len(p.b.vals) || len(p.a.keys) != len(p.b.keys) {
			return false
		}
		if p.a.kind == 's' && p.a.s != p.b.s {
			return false
		}
		if p.a.kind == 'n' {
			if p.a.s != p.b.s {
				return false
			}
		}
		for i := range p.a.keys {
			if p.a.keys[i] != p.b.keys[i] {
				return false
			}
		}
		for i := range p.a.vals {
			// A placeholder may have been rewritten in canonical form.
			if is, _ := parserOraclePlaceholder(p.a.vals[i], 1<<30); is {
				if is2, _ := parserOraclePlaceholder(p.b.vals[i], 1<<30); !is2 || parserOraclePHNum(p.a.vals[i]) != parserOraclePHNum(p.b.vals[i]) {
					return false
				}
				continue
			}
			stack = append(stack, pair{p.a.vals[i], p.b.vals[i]})
		}
	}
	return true
}

func parserOraclePHNum(v *parserOracleVal) string {
	for i, k := range v.keys {
		if k == "num" {
			return v.vals[i].s
		}
	}
	return ""
}

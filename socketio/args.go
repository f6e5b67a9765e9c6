package socketio

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/pierhq/pier/internal/jsonstr"
	"github.com/pierhq/pier/internal/nesting"
)

// MaxDepth is the one nesting limit of Pier's payloads: the deepest
// nesting of arrays and objects in an event or acknowledgement, its
// argument list being level 1 (so an argument may nest MaxDepth-1 levels).
// Emit and Ack refuse deeper arguments (ErrTooDeep); the packet decoders
// refuse deeper packets from clients (Limits.MaxDepth, whose default this
// is, may lower or raise that); and the cluster adapters accept messages
// whose packets nest this deep inside their own envelope, dropping deeper
// ones. Node has no such limit.
const MaxDepth = nesting.MaxDepth

// ErrTooDeep is returned by Emit, EmitWithAck and Ack when an argument
// nests deeper than MaxDepth allows.
var ErrTooDeep = errors.New("socketio: value nested too deeply")

// appendArgs appends the JSON encoding of v to dst. Binary data ([]byte) in
// v, at the top level or inside []any and map[string]any values, becomes a
// placeholder and is appended to atts. json.RawMessage is written as is
// (it must be valid JSON). Any other value goes through encoding/json, so a
// []byte field of a struct is base64 text, not an attachment. level is the
// nesting of the array or object v sits in (1 for an argument); a value
// that would nest past MaxDepth is refused.
func appendArgs(dst []byte, atts *[][]byte, v any, level int) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendJSONString(dst, v), nil
	case []byte:
		dst = appendPlaceholder(dst, len(*atts))
		*atts = append(*atts, v)
		return dst, nil
	case json.RawMessage:
		if len(v) == 0 {
			return append(dst, "null"...), nil
		}
		if level+nesting.Of(v) > MaxDepth {
			return dst, ErrTooDeep
		}
		return append(dst, v...), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case []any:
		if level >= MaxDepth {
			return dst, ErrTooDeep
		}
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendArgs(dst, atts, e, level+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		if level >= MaxDepth {
			return dst, ErrTooDeep
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendArgs(dst, atts, v[k], level+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("socketio: encoding argument: %w", err)
	}
	if level+nesting.Of(b) > MaxDepth {
		return dst, ErrTooDeep
	}
	return append(dst, b...), nil
}

func appendJSONString(dst []byte, s string) []byte { return jsonstr.Append(dst, s) }

// encodeEvent builds the payload of an EVENT: ["name", args...].
func encodeEvent(event string, args []any) (data []byte, atts [][]byte, err error) {
	data = make([]byte, 0, 32+len(event))
	data = append(data, '[')
	data = appendJSONString(data, event)
	for _, a := range args {
		data = append(data, ',')
		if data, err = appendArgs(data, &atts, a, 1); err != nil {
			return nil, nil, err
		}
	}
	return append(data, ']'), atts, nil
}

// encodeArray builds the payload of an ACK: [args...].
func encodeArray(args []any) (data []byte, atts [][]byte, err error) {
	data = append(make([]byte, 0, 32), '[')
	for i, a := range args {
		if i > 0 {
			data = append(data, ',')
		}
		if data, err = appendArgs(data, &atts, a, 1); err != nil {
			return nil, nil, err
		}
	}
	return append(data, ']'), atts, nil
}

// Args are the arguments of a received event or acknowledgement: raw JSON
// values whose binary placeholders refer to the attachments.
//
// Args are immutable and may be shared between goroutines.
type Args struct {
	raw  [][]byte
	atts [][]byte
}

// Len returns the number of arguments.
func (a Args) Len() int { return len(a.raw) }

// Raw returns argument i as JSON, with binary placeholders left in place.
func (a Args) Raw(i int) json.RawMessage { return a.raw[i] }

// Attachments returns the binary attachments the placeholders refer to.
func (a Args) Attachments() [][]byte { return a.atts }

// Decode decodes the arguments into dst, in order, as json.Unmarshal
// would; extra arguments are ignored and missing ones leave dst untouched.
// Binary attachments decode into *[]byte and into []byte fields (their
// placeholders stand for the bytes), and into *any as []byte values.
func (a Args) Decode(dst ...any) error {
	for i, d := range dst {
		if i >= len(a.raw) {
			break
		}
		if err := a.decode(i, d); err != nil {
			return fmt.Errorf("socketio: argument %d: %w", i, err)
		}
	}
	return nil
}

func (a Args) decode(i int, dst any) error {
	raw := a.raw[i]
	if len(a.atts) == 0 || !bytes.Contains(raw, placeholderKey) {
		return json.Unmarshal(raw, dst)
	}
	if p, ok := dst.(*[]byte); ok {
		if n, ok := placeholderNum(raw); ok && n < len(a.atts) {
			*p = a.atts[n]
			return nil
		}
	}
	if p, ok := dst.(*any); ok {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		*p = a.substitute(v, 0)
		return nil
	}
	// Typed targets: turn placeholders into base64 strings, which
	// encoding/json decodes into []byte.
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	b, err := json.Marshal(a.substituteBase64(v, 0))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, dst)
}

// Values returns the arguments as Go values: a placeholder-free argument
// as its json.RawMessage (re-emitting it keeps its exact bytes), one with
// binary data decoded, with []byte where the placeholders were.
func (a Args) Values() []any {
	out := make([]any, len(a.raw))
	for i, raw := range a.raw {
		if len(a.atts) == 0 || !bytes.Contains(raw, placeholderKey) {
			out[i] = json.RawMessage(raw)
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			out[i] = json.RawMessage(raw)
			continue
		}
		out[i] = a.substitute(v, 0)
	}
	return out
}

var placeholderKey = []byte(`"_placeholder"`)

func placeholderNum(raw []byte) (int, bool) {
	var ph struct {
		Placeholder bool `json:"_placeholder"`
		Num         *int `json:"num"`
	}
	if json.Unmarshal(raw, &ph) != nil || !ph.Placeholder || ph.Num == nil || *ph.Num < 0 {
		return 0, false
	}
	return *ph.Num, true
}

// placeholderOf reports whether v is a placeholder object and its index.
func (a Args) placeholderOf(v map[string]any) (int, bool) {
	if len(v) != 2 || v["_placeholder"] != true {
		return 0, false
	}
	f, ok := v["num"].(float64)
	if !ok || f < 0 || f != float64(int(f)) || int(f) >= len(a.atts) {
		return 0, false
	}
	return int(f), true
}

// substitute replaces placeholders in v by their attachments, as []byte.
func (a Args) substitute(v any, depth int) any {
	return a.walk(v, depth, func(b []byte) any { return b })
}

// substituteBase64 replaces placeholders in v by their attachments as
// base64 text, which encoding/json decodes into []byte fields.
func (a Args) substituteBase64(v any, depth int) any {
	return a.walk(v, depth, func(b []byte) any { return base64.StdEncoding.EncodeToString(b) })
}

// walk replaces each placeholder in v by leaf(attachment). The depth is
// bounded by the decoder's nesting limit; MaxDepth guards it again.
func (a Args) walk(v any, depth int, leaf func([]byte) any) any {
	if depth > MaxDepth {
		return v
	}
	switch t := v.(type) {
	case map[string]any:
		if n, ok := a.placeholderOf(t); ok {
			return leaf(a.atts[n])
		}
		for k, e := range t {
			t[k] = a.walk(e, depth+1, leaf)
		}
	case []any:
		for i, e := range t {
			t[i] = a.walk(e, depth+1, leaf)
		}
	}
	return v
}

// NewArgs splits the payload of an EVENT (event true: the event name
// comes first and is returned) or of an ACK into Args. Adapters use it for
// the events and acknowledgements they receive from other servers.
func NewArgs(p *Packet, event bool) (name string, args Args, err error) { return argsOf(p, event) }

// argsOf splits an EVENT or ACK payload. For events it also returns the
// event name; numeric event names are turned into their decimal text.
func argsOf(p *Packet, event bool) (name string, args Args, err error) {
	elems, err := splitArray(p.Data)
	if err != nil {
		return "", Args{}, err
	}
	if event {
		if len(elems) == 0 {
			return "", Args{}, fmt.Errorf("%w: empty event", ErrInvalidPacket)
		}
		if elems[0][0] == '"' {
			if err := json.Unmarshal(elems[0], &name); err != nil {
				return "", Args{}, err
			}
		} else {
			name = string(elems[0])
		}
		elems = elems[1:]
	}
	return name, Args{raw: elems, atts: p.Attachments}, nil
}

package notepack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/pierhq/pier/internal/jsonstr"
)

// ParseJSON parses JSON as JSON.parse does: numbers become float64, objects
// Map (key order kept, a repeated key keeps its first position and its last
// value), arrays []any. Nesting deeper than DefaultMaxDepth is refused.
func ParseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseJSONValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("notepack: trailing data after JSON value")
	}
	return v, nil
}

func parseJSONValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	return parseJSONToken(dec, tok, depth)
}

func parseJSONToken(dec *json.Decoder, tok json.Token, depth int) (any, error) {
	switch t := tok.(type) {
	case json.Delim:
		if depth >= DefaultMaxDepth {
			return nil, ErrTooDeep
		}
		switch t {
		case '[':
			out := []any{}
			for dec.More() {
				v, err := parseJSONValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return out, nil
		case '{':
			out := Map{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errors.New("notepack: bad JSON object key")
				}
				v, err := parseJSONValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if i := out.indexOf(k); i >= 0 {
					out[i].Value = v
				} else {
					out = append(out, Entry{k, v})
				}
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return out, nil
		}
		return nil, fmt.Errorf("notepack: unexpected JSON delimiter %v", t)
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			// Out of range: JSON.parse gives ±Infinity.
			var ne *strconv.NumError
			if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
				return f, nil
			}
			return nil, err
		}
		return f, nil
	case string, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("notepack: unexpected JSON token %T", tok)
}

// BinaryFunc writes a binary value into JSON being built.
type BinaryFunc func(dst []byte, b []byte) []byte

// BufferJSON writes binary data as JSON.stringify writes a Node Buffer:
// {"type":"Buffer","data":[1,2,3]}.
func BufferJSON(dst []byte, b []byte) []byte {
	dst = append(dst, `{"type":"Buffer","data":[`...)
	for i, c := range b {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, uint64(c), 10)
	}
	return append(dst, "]}"...)
}

// AppendJSON appends v as JSON.stringify would write the JavaScript value
// it stands for: undefined entries of objects are left out and undefined
// array elements become null, NaN and ±Infinity become null, a Date its ISO
// string. Binary values are written by bin (BufferJSON when nil). Values
// of other Go types go through encoding/json.
func AppendJSON(dst []byte, v any, bin BinaryFunc) ([]byte, error) {
	if bin == nil {
		bin = BufferJSON
	}
	return appendJSON(dst, v, bin, 0)
}

func appendJSON(dst []byte, v any, bin BinaryFunc, depth int) ([]byte, error) {
	if depth > DefaultMaxDepth {
		return dst, ErrTooDeep
	}
	switch v := v.(type) {
	case nil, Undefined:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case string:
		return AppendJSONString(dst, v), nil
	case json.RawMessage:
		if len(v) == 0 {
			return append(dst, "null"...), nil
		}
		return append(dst, v...), nil
	case []byte:
		return bin(dst, v), nil
	case float64:
		return appendJSONNumber(dst, v), nil
	case float32:
		return appendJSONNumber(dst, float64(v)), nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case uint64:
		return strconv.AppendUint(dst, v, 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case time.Time:
		if y := v.UTC().Year(); y < -271821 || y > 275760 {
			return append(dst, "null"...), nil
		}
		return AppendJSONString(dst, v.UTC().Format("2006-01-02T15:04:05.000Z")), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSON(dst, e, bin, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []string:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONString(dst, e)
		}
		return append(dst, ']'), nil
	case Map:
		dst = append(dst, '{')
		first := true
		for _, e := range v {
			if _, u := e.Value.(Undefined); u {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = AppendJSONString(dst, e.Key)
			dst = append(dst, ':')
			var err error
			if dst, err = appendJSON(dst, e.Value, bin, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k, e := range v {
			if _, u := e.(Undefined); !u {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendJSON(dst, v[k], bin, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return append(dst, b...), nil
}

func appendJSONNumber(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	return FormatNumber(dst, f)
}

// AppendJSONString appends s quoted as JSON.stringify quotes strings
// (invalid UTF-8 bytes become U+FFFD).
func AppendJSONString(dst []byte, s string) []byte { return jsonstr.Append(dst, s) }

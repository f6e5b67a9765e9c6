package kit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pierhq/pier/sailsbridge"
)

// MaxBodyBytes bounds the body AllParams and Body read (1 MiB, Sails'
// body parser default is 100 KB for JSON; sails.io.js virtual requests
// are already bounded by the socket's message size).
const MaxBodyBytes = 1 << 20

// ErrBodyTooLarge is returned by Body and AllParams past MaxBodyBytes.
var ErrBodyTooLarge = errors.New("kit: request body too large")

type paramsKey struct{}

// pathParams are the path parameters of the matched route, in the order
// of the route address.
type pathParams struct {
	names, values []string
}

func withParams(r *http.Request, p *pathParams) *http.Request {
	r = r.WithContext(context.WithValue(r.Context(), paramsKey{}, p))
	for i, n := range p.names {
		r.SetPathValue(n, p.values[i])
	}
	return r
}

// PathParam returns the path parameter name of the route Router matched
// ("" when absent). r.PathValue(name) gives the same.
func PathParam(r *http.Request, name string) string {
	if p, ok := r.Context().Value(paramsKey{}).(*pathParams); ok {
		for i, n := range p.names {
			if n == name {
				return p.values[i]
			}
		}
	}
	return ""
}

type bodyKey struct{}

type cachedBody struct {
	done  bool
	value any
	err   error
}

// Body returns the request body parsed as Sails' body parser does: a JSON
// body (any Content-Type naming json, and every virtual request) as its
// value, a urlencoded form as an object of strings, anything else as nil.
// Over HTTP a GET or HEAD body is ignored, as Sails does; over a socket
// every method's data counts (sails.io.js sends GET params there). The
// body is read once, at most MaxBodyBytes; later calls on requests of
// the same Router dispatch return the same value (do not modify it), and
// r.Body is replaced with a copy of what was read. Like r.Body, it is for
// the request's handler goroutine.
func Body(r *http.Request) (any, error) {
	c, _ := r.Context().Value(bodyKey{}).(*cachedBody)
	if c != nil && c.done {
		return c.value, c.err
	}
	v, err := readBody(r)
	if c != nil {
		c.done, c.value, c.err = true, v, err
	}
	return v, err
}

// withBodyCache makes later Body calls on derived requests reuse the
// parse.
func withBodyCache(r *http.Request) *http.Request {
	if _, ok := r.Context().Value(bodyKey{}).(*cachedBody); ok {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), bodyKey{}, &cachedBody{}))
}

func readBody(r *http.Request) (any, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	socket := sailsbridge.IsSocket(r)
	if !socket && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		return nil, nil
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxBodyBytes {
		return nil, ErrBodyTooLarge
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case socket || strings.Contains(mt, "json"):
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		return normalizeNumbers(v), nil
	case mt == "application/x-www-form-urlencoded":
		q, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, err
		}
		return flatten(q), nil
	}
	return nil, nil
}

// normalizeNumbers turns json.Number into int64 when integral, else
// float64.
func normalizeNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, x := range t {
			t[k] = normalizeNumbers(x)
		}
	case []any:
		for i, x := range t {
			t[i] = normalizeNumbers(x)
		}
	}
	return v
}

func flatten(q url.Values) map[string]any {
	out := make(map[string]any, len(q))
	for k, vs := range q {
		if strings.HasSuffix(k, "[]") {
			arr := make([]any, len(vs))
			for i, v := range vs {
				arr[i] = v
			}
			out[strings.TrimSuffix(k, "[]")] = arr
			continue
		}
		out[k] = vs[0]
	}
	return out
}

// AllParams is Sails' req.allParams(): the query parameters (strings; the
// first value of a repeated key, "k[]" keys as arrays), overwritten key by
// key by the body (see Body; an array body counts as keys "0", "1", …),
// then by each path parameter of the matched route. So path > body >
// query, as in Sails. The map is the caller's to modify.
func AllParams(r *http.Request) (map[string]any, error) {
	out := flatten(r.URL.Query())
	body, err := Body(r)
	if err != nil {
		return nil, err
	}
	switch b := body.(type) {
	case map[string]any:
		for k, v := range b {
			out[k] = v
		}
	case []any:
		for i, v := range b {
			out[itoa(i)] = v
		}
	}
	if p, ok := r.Context().Value(paramsKey{}).(*pathParams); ok {
		for i, n := range p.names {
			if p.values[i] != "" {
				out[n] = p.values[i]
			}
		}
	}
	return out, nil
}

// Param is Sails' req.param(name): the path parameter if the route has
// it, else the body value if present (even "", 0, false or null), else
// the query value, else nil.
func Param(r *http.Request, name string) any {
	if v := PathParam(r, name); v != "" {
		return v
	}
	if b, err := Body(r); err == nil {
		if m, ok := b.(map[string]any); ok {
			if v, ok := m[name]; ok {
				return v
			}
		}
	}
	if q := r.URL.Query(); q.Has(name) {
		return q.Get(name)
	}
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }

package sailsbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// message is a parsed virtual request payload
// {method, url, headers, data|params}. The method field is not used: the
// event name is the method, as in Sails.
type message struct {
	url     string
	headers []member        // members of the headers object, in order
	data    json.RawMessage // nil when absent
	params  json.RawMessage
}

// member is a member of a JSON object.
type member struct {
	key   string
	value json.RawMessage
}

// objectMembers returns the members of a JSON object in order, their
// values slices of raw. As with JSON.parse, a repeated key keeps its
// first position and its last value.
// ok is false when raw is not a JSON object.
func objectMembers(raw json.RawMessage) (members []member, ok bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	index := make(map[string]int)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, isKey := t.(string)
		if !isKey {
			return nil, false
		}
		start := dec.InputOffset()
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, false
		}
		// The value as a slice of raw (after the colon and spaces), not
		// the decoder's copy: a request holds its payload once.
		v := json.RawMessage(bytes.TrimLeft(raw[start:dec.InputOffset()], " \t\r\n:"))
		if i, dup := index[key]; dup {
			members[i].value = v
			continue
		}
		index[key] = len(members)
		members = append(members, member{key, v})
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, false
	}
	if _, err := dec.Token(); err == nil {
		return nil, false // trailing data
	}
	return members, true
}

// parsePayload reads a virtual request payload (nil when the event had no
// argument). It returns the details of Sails' parse error when the payload
// has no usable url.
func parsePayload(payload json.RawMessage) (msg message, details string) {
	members, ok := objectMembers(payload)
	if !ok {
		return msg, "No url provided in request: " + formatS(payload)
	}
	var rawURL json.RawMessage
	for _, m := range members {
		switch m.key {
		case "url":
			rawURL = m.value
		case "headers":
			msg.headers, _ = objectMembers(m.value)
		case "data":
			msg.data = nullToNil(m.value)
		case "params":
			msg.params = nullToNil(m.value)
		}
	}
	if falsy(rawURL) {
		return msg, "No url provided in request: " + formatS(payload)
	}
	if err := json.Unmarshal(rawURL, &msg.url); err != nil || rawURL[0] != '"' {
		return msg, "Invalid url provided: " + formatS(rawURL)
	}
	return msg, ""
}

func nullToNil(v json.RawMessage) json.RawMessage {
	if string(v) == "null" {
		return nil
	}
	return v
}

// falsy reports whether a JSON value is falsy in JavaScript (absent
// counts as undefined).
func falsy(v json.RawMessage) bool {
	switch s := string(bytes.TrimSpace(v)); s {
	case "", "null", "false", `""`:
		return true
	default:
		if s[0] == '-' || (s[0] >= '0' && s[0] <= '9') {
			var f float64
			return json.Unmarshal(v, &f) == nil && f == 0
		}
		return false
	}
}

// parseURL turns the url of a virtual request into the URL of an
// *http.Request: an absolute path with its query ("/a?b=c"), or an absolute
// URL whose path and query are kept (Sails routes on the pathname). A
// fragment is dropped. Anything else never matches a route: the client gets
// a 404, as from Sails. An unparsable URL gets a 400, as from net/http.
func parseURL(raw string) (*url.URL, *reply) {
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		raw = raw[:i]
	}
	if !strings.HasPrefix(raw, "/") && !hasScheme(raw) {
		return nil, statusReply(http.StatusNotFound)
	}
	u, err := url.ParseRequestURI(raw)
	if err != nil {
		return nil, statusReply(http.StatusBadRequest)
	}
	if u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		if u.Opaque != "" {
			return nil, statusReply(http.StatusNotFound)
		}
		u = &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery, ForceQuery: u.ForceQuery}
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}

// hasScheme reports whether s starts with "scheme://".
func hasScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return strings.HasPrefix(s[i:], "://")
		default:
			return false
		}
	}
	return false
}

// requestEnv is what a virtual request takes from its socket.
type requestEnv struct {
	handshake       *http.Request // the handshake request; read only
	host            string        // the request's Host
	cookie          string        // the Cookie header ("" for none)
	noSessionHeader bool          // the handshake carried a nosession header
}

// Headers a client may not set on a virtual request: they describe the
// connection, which the handshake alone does, or the body, which the
// bridge writes. The forwarding headers are the handshake's, so that a
// client cannot forge its address (Sails ignores them per request too).
var handshakeOnly = map[string]bool{
	"Host":              true,
	"Cookie":            true,
	"Origin":            true,
	"Content-Length":    true,
	"Content-Type":      true,
	"Transfer-Encoding": true,
	"Connection":        true,
	"Upgrade":           true,
	"Te":                true,
	"Trailer":           true,
	"Keep-Alive":        true,
	"Proxy-Connection":  true,
	"X-Forwarded-For":   true,
	"X-Forwarded-Host":  true,
	"X-Forwarded-Proto": true,
	"Forwarded":         true,
	"X-Real-Ip":         true,
}

// Headers copied from the handshake: always (they cannot be set per
// request), and as defaults.
var (
	fromHandshake     = []string{"Origin", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "X-Real-Ip"}
	defaultsHandshake = []string{"User-Agent", "Accept-Language"}
)

// buildRequest makes the *http.Request of a virtual request. It copies
// what it needs from the handshake and never modifies it.
func buildRequest(ctx context.Context, method string, u *url.URL, msg *message, env requestEnv) *http.Request {
	body := mergeBody(msg.params, msg.data)
	r, err := http.NewRequestWithContext(ctx, method, "/", bytes.NewReader(body))
	if err != nil {
		panic("sailsbridge: " + err.Error()) // method and URL are ours
	}
	r.URL = u
	r.RequestURI = u.RequestURI()
	r.Host = env.host
	h := make(http.Header, len(msg.headers)+4)
	for _, m := range msg.headers {
		if !validHeaderName(m.key) {
			continue
		}
		key := http.CanonicalHeaderKey(m.key)
		if handshakeOnly[key] || (key == "Nosession" && env.noSessionHeader) {
			continue
		}
		for _, v := range headerValues(m.value) {
			if validHeaderValue(v) {
				h[key] = append(h[key], v)
			}
		}
	}
	if hs := env.handshake; hs != nil {
		for _, k := range fromHandshake {
			if vs := hs.Header.Values(k); len(vs) > 0 {
				h[k] = append([]string(nil), vs...)
			}
		}
		for _, k := range defaultsHandshake {
			if _, set := h[k]; !set {
				if vs := hs.Header.Values(k); len(vs) > 0 {
					h[k] = append([]string(nil), vs...)
				}
			}
		}
		r.RemoteAddr = hs.RemoteAddr
		r.TLS = hs.TLS
	}
	if env.cookie != "" {
		h.Set("Cookie", env.cookie)
	}
	if env.noSessionHeader {
		h.Set("Nosession", "true")
	}
	h.Set("Content-Type", "application/json")
	r.Header = h
	return r
}

// mergeBody builds the JSON body of a virtual request, which Sails makes
// req.body for every method: an array data as is; otherwise the members of
// params then of data (data winning), as _.extend({}, params, data). A
// scalar data (Sails spreads a string into {"0":…}) is sent as is.
func mergeBody(params, data json.RawMessage) []byte {
	data, params = bytes.TrimSpace(data), bytes.TrimSpace(params)
	if len(data) > 0 && data[0] != '{' {
		return data
	}
	pm, pok := objectMembers(params)
	if len(data) == 0 {
		if pok {
			return params
		}
		return []byte("{}")
	}
	if !pok || len(pm) == 0 {
		if !json.Valid(data) {
			return []byte("{}")
		}
		return data // no copy and no second parse of a large body
	}
	dm, dok := objectMembers(data)
	if !dok {
		return []byte("{}")
	}
	index := make(map[string]int, len(pm))
	for i, m := range pm {
		index[m.key] = i
	}
	for _, m := range dm {
		if i, ok := index[m.key]; ok {
			pm[i].value = m.value
		} else {
			index[m.key] = len(pm)
			pm = append(pm, m)
		}
	}
	out := []byte{'{'}
	for i, m := range pm {
		if i > 0 {
			out = append(out, ',')
		}
		k, _ := json.Marshal(m.key)
		out = append(out, k...)
		out = append(out, ':')
		out = append(out, m.value...)
	}
	return append(out, '}')
}

// headerValues turns a JSON header value into header values: a string as
// is, a number or boolean as its text, an array as one value per element;
// null and objects give none.
func headerValues(v json.RawMessage) []string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil
	}
	switch v[0] {
	case '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil
		}
		return []string{s}
	case '[':
		var elems []json.RawMessage
		if json.Unmarshal(v, &elems) != nil {
			return nil
		}
		var out []string
		for _, e := range elems {
			if e = bytes.TrimSpace(e); len(e) > 0 && e[0] != '[' {
				out = append(out, headerValues(e)...)
			}
		}
		return out
	case '{', 'n':
		return nil
	default: // number, true, false
		return []string{string(v)}
	}
}

// headerSize is the length of a header value as Node would count it: a
// string's decoded length, the JSON text of anything else (what the
// client sent, even when the bridge drops it).
func headerSize(v json.RawMessage) int {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return len(s)
		}
	}
	return len(v)
}

// validHeaderName reports whether s is an HTTP token (RFC 9110).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || !tokenChar[c] {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// validHeaderValue reports whether s can be a header value: no CR, LF,
// NUL or other control characters but tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

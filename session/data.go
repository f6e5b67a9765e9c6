package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pierhq/pier/internal/jsonstr"
)

// Cookie is the session cookie's settings as express-session keeps them in
// the session (the "cookie" object of the stored JSON). A loaded session
// keeps the settings it was created with, whatever the Manager's options are
// now, as express-session does.
type Cookie struct {
	// MaxAge is originalMaxAge: the lifetime given to the cookie on every
	// touch (each request the session is saved or touched, Expires becomes
	// now + MaxAge). 0 means none (JSON null): a browser-session cookie, and
	// the store's default TTL.
	MaxAge time.Duration
	// Expires is when the cookie and the stored session expire; zero means
	// none (JSON null).
	Expires     time.Time
	Path        string
	Domain      string
	Secure      bool
	HTTPOnly    bool
	SameSite    http.SameSite // 0 or http.SameSiteDefaultMode: not sent
	Partitioned bool
}

// expiresLayout is JavaScript's Date.prototype.toISOString.
const expiresLayout = "2006-01-02T15:04:05.000Z"

// appendJSON appends c as express-session's Cookie.data serializes it, keys
// in its order (originalMaxAge, partitioned, expires, secure, httpOnly,
// domain, path, sameSite), unset optional keys left out.
func (c *Cookie) appendJSON(b []byte) []byte {
	b = append(b, `{"originalMaxAge":`...)
	if c.MaxAge != 0 {
		b = strconv.AppendInt(b, c.MaxAge.Milliseconds(), 10)
	} else {
		b = append(b, "null"...)
	}
	if c.Partitioned {
		b = append(b, `,"partitioned":true`...)
	}
	b = append(b, `,"expires":`...)
	if c.Expires.IsZero() {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = c.Expires.UTC().AppendFormat(b, expiresLayout)
		b = append(b, '"')
	}
	if c.Secure {
		b = append(b, `,"secure":true`...)
	}
	b = append(b, `,"httpOnly":`...)
	b = strconv.AppendBool(b, c.HTTPOnly)
	if c.Domain != "" {
		b = append(b, `,"domain":`...)
		b = appendJSONString(b, c.Domain)
	}
	if c.Path != "" {
		b = append(b, `,"path":`...)
		b = appendJSONString(b, c.Path)
	}
	switch c.SameSite {
	case http.SameSiteLaxMode:
		b = append(b, `,"sameSite":"lax"`...)
	case http.SameSiteStrictMode:
		b = append(b, `,"sameSite":"strict"`...)
	case http.SameSiteNoneMode:
		b = append(b, `,"sameSite":"none"`...)
	}
	return append(b, '}')
}

// decodeCookie reads a stored "cookie" object as express-session's Cookie
// constructor does: path "/" and httpOnly true unless stored otherwise,
// unknown keys ignored. Keys match exactly (encoding/json's struct decoding
// would match "HttpOnly" too).
func decodeCookie(raw json.RawMessage) (Cookie, error) {
	c := Cookie{Path: "/", HTTPOnly: true}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return c, err
	}
	if m == nil {
		return c, errors.New("cookie is not an object")
	}
	if ms, ok := number(m["originalMaxAge"]); ok && ms != 0 {
		const limit = float64(math.MaxInt64/int64(time.Millisecond)) / 2 // ~146 years
		c.MaxAge = time.Duration(math.Round(max(-limit, min(limit, ms)))) * time.Millisecond
	}
	if s, ok := str(m["expires"]); ok && s != "" {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			c.Expires = t
		}
	}
	// Booleans are JavaScript truthiness of what is stored.
	if v, ok := m["secure"]; ok {
		c.Secure = truthy(v)
	}
	if v, ok := m["httpOnly"]; ok {
		c.HTTPOnly = truthy(v)
	}
	if v, ok := m["partitioned"]; ok {
		c.Partitioned = truthy(v)
	}
	if s, ok := str(m["path"]); ok && s != "" {
		c.Path = s
	}
	if s, ok := str(m["domain"]); ok {
		c.Domain = s
	}
	if v := m["sameSite"]; v != nil {
		// The cookie module's rules: true is Strict, strings are
		// case-insensitive, false or absent is none.
		if string(v) == "true" {
			c.SameSite = http.SameSiteStrictMode
		} else if s, ok := str(v); ok {
			switch strings.ToLower(s) {
			case "lax":
				c.SameSite = http.SameSiteLaxMode
			case "strict":
				c.SameSite = http.SameSiteStrictMode
			case "none":
				c.SameSite = http.SameSiteNoneMode
			}
		}
	}
	return c, nil
}

func number(raw json.RawMessage) (float64, bool) {
	var f float64
	if raw == nil || json.Unmarshal(raw, &f) != nil {
		return 0, false
	}
	return f, true
}

func str(raw json.RawMessage) (string, bool) {
	var s string
	if raw == nil || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// truthy is JavaScript's Boolean(v) for a JSON value.
func truthy(raw json.RawMessage) bool {
	switch string(raw) {
	case "false", "null", "0", `""`, "-0":
		return false
	}
	if f, ok := number(raw); ok {
		return f != 0
	}
	return len(raw) > 0
}

// reservedKey reports whether express-session's Session ignores a stored
// key because the object already has a property of that name (its own id and
// req, its methods, Object.prototype's members): such keys do not survive
// a load by Node, so Pier neither loads nor sets them. "cookie" is handled
// apart.
func reservedKey(k string) bool {
	switch k {
	case "id", "req", "constructor", "touch", "resetMaxAge", "save", "reload", "destroy", "regenerate",
		"__defineGetter__", "__defineSetter__", "hasOwnProperty", "__lookupGetter__", "__lookupSetter__",
		"isPrototypeOf", "propertyIsEnumerable", "toString", "valueOf", "__proto__", "toLocaleString":
		return true
	}
	return false
}

// errCorrupt marks stored data that is not a session.
var errCorrupt = errors.New("session: stored data is not a session object")

// decodeData parses a stored session: a JSON object whose "cookie" member
// is the cookie. Keys keep the order of the data (JSON.parse's: a duplicate
// key keeps its first position and its last value), reserved keys are
// dropped, values are kept as compact raw JSON. keys includes "cookie" at
// its position when present.
func decodeData(data []byte) (keys []string, values map[string]json.RawMessage, c Cookie, hasCookie bool, err error) {
	if !utf8.Valid(data) {
		return nil, nil, c, false, errCorrupt
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, c, false, errCorrupt
	}
	values = make(map[string]json.RawMessage)
	var cookieRaw json.RawMessage
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, c, false, errCorrupt
		}
		k := t.(string) // a key, as dec.More() said so
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, c, false, errCorrupt
		}
		if reservedKey(k) {
			continue
		}
		if k == "cookie" {
			if !hasCookie {
				keys = append(keys, k)
			}
			hasCookie, cookieRaw = true, raw
			continue
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, nil, c, false, errCorrupt
		}
		if _, dup := values[k]; !dup {
			keys = append(keys, k)
		}
		values[k] = buf.Bytes()
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, nil, c, false, errCorrupt
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, c, false, errCorrupt
	}
	c = Cookie{Path: "/", HTTPOnly: true}
	if hasCookie {
		if c, err = decodeCookie(cookieRaw); err != nil {
			return nil, nil, c, false, errCorrupt
		}
	}
	return keys, values, c, hasCookie, nil
}

// appendData appends the session as express-session's stores see it:
// JSON.stringify of the session, "cookie" at its place in keys.
func appendData(b []byte, keys []string, values map[string]json.RawMessage, c *Cookie) []byte {
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		if k == "cookie" {
			b = c.appendJSON(b)
		} else {
			b = append(b, values[k]...)
		}
	}
	return append(b, '}')
}

// marshal encodes v as compact JSON without HTML escaping (JSON.stringify
// does not escape <, > and &).
func marshal(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func appendJSONString(b []byte, s string) []byte { return jsonstr.Append(b, s) }

package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Codec turns a session ID into a cookie value and back. It has the method
// set of github.com/gorilla/securecookie's Codec, so a
// *securecookie.SecureCookie is a Codec; the Manager passes the cookie name
// as name and the session ID (a string) as value, and decodes into a
// *string.
//
// Encode returns the value exactly as it goes into the Cookie header, and
// Decode receives it exactly as it came (surrounding double quotes removed).
// A Decode error means "no valid session ID": the request gets a new session.
type Codec interface {
	Encode(name string, value any) (string, error)
	Decode(name, value string, dst any) error
}

// ErrInvalidCookie is the cause of every ExpressCodec.Decode failure (with
// the details wrapped around it).
var ErrInvalidCookie = errors.New("session: invalid cookie")

// ExpressCodec is the cookie format of express-session and Sails
// (cookie-signature): "s:" + id + "." + base64(HMAC-SHA256(secret, id))
// with the standard alphabet and the "=" padding removed, the whole
// URL-encoded as encodeURIComponent does ("s%3A…", "+" as "%2B", "/" as
// "%2F").
//
// Encode signs with the first secret; Decode accepts a signature made with
// any of them, so secrets rotate by putting the new one first. Decode
// unescapes with decodeURIComponent semantics (url.PathUnescape: "+" stays
// "+"), splits at the last ".", and compares the signature in constant time
// (hmac.Equal); padding, trailing bytes, the base64url alphabet and invalid
// UTF-8 are all rejected. The cookie name plays no part in the signature
// (as in express-session): a value signed for one cookie name is valid
// under another that shares the secret.
//
// An ExpressCodec is immutable and safe for concurrent use.
type ExpressCodec struct {
	keys [][]byte
}

var _ Codec = (*ExpressCodec)(nil)

// NewExpressCodec returns the codec for secrets, which must hold at least
// one non-empty secret (express-session refuses to run without one). The
// first secret signs.
func NewExpressCodec(secrets ...string) (*ExpressCodec, error) {
	if len(secrets) == 0 {
		return nil, errors.New("session: at least one secret is required")
	}
	c := &ExpressCodec{keys: make([][]byte, len(secrets))}
	for i, s := range secrets {
		if s == "" {
			return nil, fmt.Errorf("session: secret %d is empty", i)
		}
		c.keys[i] = []byte(s)
	}
	return c, nil
}

// Encode returns the URL-encoded signed form of value, which must be a
// string (the session ID). name is ignored.
func (c *ExpressCodec) Encode(name string, value any) (string, error) {
	id, ok := value.(string)
	if !ok {
		return "", fmt.Errorf("session: ExpressCodec encodes strings, not %T", value)
	}
	return encodeURIComponent("s:" + id + "." + sign(c.keys[0], id)), nil
}

// Decode verifies value and stores the session ID it carries into dst,
// which must be a *string. name is ignored. Every failure wraps
// ErrInvalidCookie.
func (c *ExpressCodec) Decode(name, value string, dst any) error {
	p, ok := dst.(*string)
	if !ok {
		return fmt.Errorf("session: ExpressCodec decodes into *string, not %T", dst)
	}
	id, err := c.unsign(value)
	if err != nil {
		return err
	}
	*p = id
	return nil
}

func (c *ExpressCodec) unsign(value string) (string, error) {
	v := value
	if strings.IndexByte(v, '%') >= 0 {
		var err error
		// decodeURIComponent, not QueryUnescape: a "+" is a plus sign.
		if v, err = url.PathUnescape(v); err != nil {
			return "", fmt.Errorf("%w: bad escape", ErrInvalidCookie)
		}
	}
	// decodeURIComponent throws on escapes that are not UTF-8; be strict.
	if !utf8.ValidString(v) {
		return "", fmt.Errorf("%w: not UTF-8", ErrInvalidCookie)
	}
	if !strings.HasPrefix(v, "s:") {
		return "", fmt.Errorf("%w: unsigned", ErrInvalidCookie)
	}
	v = v[2:]
	dot := strings.LastIndexByte(v, '.')
	if dot < 0 {
		return "", fmt.Errorf("%w: no signature", ErrInvalidCookie)
	}
	id, mac := v[:dot], []byte(v[dot+1:])
	for _, k := range c.keys {
		if hmac.Equal(mac, []byte(sign(k, id))) {
			return id, nil
		}
	}
	return "", fmt.Errorf("%w: bad signature", ErrInvalidCookie)
}

// sign returns the unpadded standard base64 of HMAC-SHA256(key, id), as
// cookie-signature's sign without the "id." prefix.
func sign(key []byte, id string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	return base64.RawStdEncoding.EncodeToString(h.Sum(nil))
}

// encodeURIComponent escapes s as JavaScript's encodeURIComponent does:
// every byte except A-Z a-z 0-9 - _ . ! ~ * ' ( ) becomes %XX (upper case).
func encodeURIComponent(s string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !uriUnreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if uriUnreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

func uriUnreserved(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '!', '~', '*', '\'', '(', ')':
		return true
	}
	return false
}

// cookieValue returns the value of the first cookie called name in the
// request's Cookie headers, parsed as the npm "cookie" module (0.7, used by
// express-session and Sails) parses them, so that Pier and Node always pick
// the same cookie: several Cookie header lines are joined with "; " (as
// Node's http module does), the first occurrence of a name wins even when
// its value is malformed (net/http's Request.Cookie skips malformed values
// and would take a later duplicate), spaces and tabs around names and
// values are trimmed, and one pair of surrounding double quotes is removed.
// The value is not unescaped.
func cookieValue(headers []string, name string) (string, bool) {
	str := strings.Join(headers, "; ")
	n := len(str)
	if n < 2 {
		return "", false
	}
	index := 0
	for index < n {
		eq := strings.IndexByte(str[index:], '=')
		if eq < 0 {
			break
		}
		eq += index
		end := strings.IndexByte(str[index:], ';')
		if end < 0 {
			end = n
		} else {
			end += index
			if eq > end {
				// "a; b=c": the pair before the "=" has no value; restart
				// after the last ";" before the "=".
				index = strings.LastIndexByte(str[:eq], ';') + 1
				continue
			}
		}
		ks := startIndex(str, index, eq)
		key := str[ks:endIndex(str, eq, ks)]
		if key == name {
			vs := startIndex(str, eq+1, end)
			ve := endIndex(str, end, vs)
			if ve > vs && str[vs] == '"' && str[ve-1] == '"' {
				vs++
				ve--
			}
			if ve < vs { // a lone `"`: JavaScript's slice gives ""
				return "", true
			}
			return str[vs:ve], true
		}
		index = end + 1
	}
	return "", false
}

func startIndex(s string, i, max int) int {
	for ; i < max; i++ {
		if s[i] != ' ' && s[i] != '\t' {
			return i
		}
	}
	return max
}

func endIndex(s string, i, min int) int {
	for i > min {
		i--
		if s[i] != ' ' && s[i] != '\t' {
			return i + 1
		}
	}
	return min
}

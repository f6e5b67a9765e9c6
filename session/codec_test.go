package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gorilla/securecookie"
)

var _ Codec = (*securecookie.SecureCookie)(nil)

func mustCodec(t testing.TB, secrets ...string) *ExpressCodec {
	t.Helper()
	c, err := NewExpressCodec(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Vectors computed by cookie-signature.
func TestExpressCodecVectors(t *testing.T) {
	t.Parallel()
	for _, v := range []struct{ secret, id, cookie string }{
		{"keyboard cat", "abc123XYZ", "s%3Aabc123XYZ.Hu%2B%2FQcWB2sbFKm1BJ0spZRaNyi%2BHb4YSoHWoi6o1Zbg"},
		{"test-secret-123", "6lKsrdEzX8KymTTR31NUbiwzOODYtepi", "s%3A6lKsrdEzX8KymTTR31NUbiwzOODYtepi.ky4Aw8HVhQntfhQ5tExTzN2rwBPAPdDrGMgZy8h3XSM"},
	} {
		c := mustCodec(t, v.secret)
		got, err := c.Encode("connect.sid", v.id)
		if err != nil || got != v.cookie {
			t.Errorf("Encode(%q) = %q, %v; want %q", v.id, got, err, v.cookie)
		}
		var id string
		if err := c.Decode("connect.sid", v.cookie, &id); err != nil || id != v.id {
			t.Errorf("Decode(%q) = %q, %v; want %q", v.cookie, id, err, v.id)
		}
	}
}

func TestExpressCodecDecode(t *testing.T) {
	t.Parallel()
	const id = "abc123XYZ"
	sig := "Hu+/QcWB2sbFKm1BJ0spZRaNyi+Hb4YSoHWoi6o1Zbg" // "keyboard cat"
	dotSig := sign([]byte("keyboard cat"), "a.b")
	cases := []struct {
		name   string
		value  string
		secret []string
		want   string // "" means rejected
	}{
		{"encoded", "s%3A" + id + "." + url.PathEscape(sig), nil, id},
		{"fully encoded", encodeURIComponent("s:" + id + "." + sig), nil, id},
		{"raw, not encoded", "s:" + id + "." + sig, nil, id},
		{"lower-case escapes", "s%3a" + id + "." + strings.ReplaceAll(strings.ReplaceAll(sig, "+", "%2b"), "/", "%2f"), nil, id},
		{"+ literal is a plus", "s%3A" + id + "." + sig, nil, id},
		{"+ as space (QueryUnescape's reading) is wrong", "s%3A" + id + "." + strings.ReplaceAll(sig, "+", " "), nil, ""},
		{"%20 for +", "s%3A" + id + "." + strings.ReplaceAll(sig, "+", "%20"), nil, ""},
		{"dots in the id", encodeURIComponent("s:a.b." + dotSig), nil, "a.b"},
		{"rotation: old secret", encodeURIComponent("s:" + id + "." + sig), []string{"new secret", "keyboard cat"}, id},
		{"other secret", encodeURIComponent("s:" + id + "." + sig), []string{"another secret"}, ""},
		{"unsigned", id, nil, ""},
		{"no s: prefix", id + "." + sig, nil, ""},
		{"j: prefix", "j:" + id + "." + sig, nil, ""},
		{"no dot", "s:" + id + sig, nil, ""},
		{"padding", encodeURIComponent("s:" + id + "." + sig + "="), nil, ""},
		{"trailing bytes (cookie-signature 1.1.0 accepts)", encodeURIComponent("s:" + id + "." + sig + "XYZ"), nil, ""},
		{"truncated", encodeURIComponent("s:" + id + "." + sig[:len(sig)-1]), nil, ""},
		{"base64url alphabet", encodeURIComponent("s:" + id + "." + strings.NewReplacer("+", "-", "/", "_").Replace(sig)), nil, ""},
		{"empty signature", "s:" + id + ".", nil, ""},
		{"bad escape", "s%3A" + id + "%zz." + sig, nil, ""},
		{"escape of invalid UTF-8", "s%3A" + id + "%FF." + sig, nil, ""},
		{"empty", "", nil, ""},
		{"signed empty id", "s:." + sign([]byte("keyboard cat"), ""), nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			secrets := c.secret
			if secrets == nil {
				secrets = []string{"keyboard cat"}
			}
			codec := mustCodec(t, secrets...)
			var got string
			err := codec.Decode("connect.sid", c.value, &got)
			if c.want == "" {
				// The signed empty ID verifies; the Manager treats "" as no ID.
				if err == nil && got != "" {
					t.Fatalf("Decode(%q) = %q, want an error", c.value, got)
				}
				if err != nil && !errors.Is(err, ErrInvalidCookie) {
					t.Fatalf("error %v does not wrap ErrInvalidCookie", err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Decode(%q) = %q, %v; want %q", c.value, got, err, c.want)
			}
		})
	}
}

// TestQueryUnescapeBreaksSignatures documents the trap the codec avoids.
func TestQueryUnescapeBreaksSignatures(t *testing.T) {
	t.Parallel()
	v := "s:abc123XYZ.Hu+/QcWB2sbFKm1BJ0spZRaNyi+Hb4YSoHWoi6o1Zbg" // "+" left raw by a client
	q, _ := url.QueryUnescape(v)
	p, _ := url.PathUnescape(v)
	if q == v || p != v {
		t.Fatalf("QueryUnescape = %q, PathUnescape = %q", q, p)
	}
}

func TestExpressCodecRotationSignsWithFirst(t *testing.T) {
	t.Parallel()
	rotated := mustCodec(t, "new", "old")
	enc, _ := rotated.Encode("x", "id1")
	var id string
	if err := mustCodec(t, "new").Decode("x", enc, &id); err != nil || id != "id1" {
		t.Fatalf("the first secret does not sign: %v", err)
	}
	if err := mustCodec(t, "old").Decode("x", enc, &id); err == nil {
		t.Fatal("the second secret signs")
	}
	old, _ := mustCodec(t, "old").Encode("x", "id2")
	if err := rotated.Decode("x", old, &id); err != nil || id != "id2" {
		t.Fatalf("a cookie of the old secret is refused: %v", err)
	}
}

// TestExpressCodecTamper: every single-byte change of the signed value,
// re-encoded, is refused.
func TestExpressCodecTamper(t *testing.T) {
	t.Parallel()
	c := mustCodec(t, "keyboard cat")
	id := newID()
	signed := "s:" + id + "." + sign([]byte("keyboard cat"), id)
	for i := 0; i < len(signed); i++ {
		for _, b := range []byte{0, '.', ':', '+', '/', '=', 'A', 'a', '0', '-', '_', signed[i] ^ 1, signed[i] + 1} {
			if b == signed[i] {
				continue
			}
			m := []byte(signed)
			m[i] = b
			var got string
			if err := c.Decode("n", encodeURIComponent(string(m)), &got); err == nil {
				t.Fatalf("mutation %q (byte %d → %q) accepted as %q", m, i, b, got)
			}
		}
	}
}

func TestNewExpressCodecErrors(t *testing.T) {
	t.Parallel()
	if _, err := NewExpressCodec(); err == nil {
		t.Error("no secret accepted")
	}
	if _, err := NewExpressCodec("a", ""); err == nil {
		t.Error("empty secret accepted")
	}
	c := mustCodec(t, "a")
	if _, err := c.Encode("n", 42); err == nil {
		t.Error("Encode(int) accepted")
	}
	var n int
	if err := c.Decode("n", "s:x.y", &n); err == nil {
		t.Error("Decode into *int accepted")
	}
}

func TestEncodeURIComponent(t *testing.T) {
	t.Parallel()
	// JavaScript: encodeURIComponent("s:a+b/c=d.e f!~*'()-_é")
	got := encodeURIComponent("s:a+b/c=d.e f!~*'()-_é")
	want := "s%3Aa%2Bb%2Fc%3Dd.e%20f!~*'()-_%C3%A9"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestCookieValue(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		headers []string
		want    string
		found   bool
	}{
		{"single", []string{"connect.sid=abc"}, "abc", true},
		{"among others", []string{"a=1; connect.sid=abc; b=2"}, "abc", true},
		{"duplicate: first wins", []string{"connect.sid=first; connect.sid=second"}, "first", true},
		{"duplicate: first wins even when malformed", []string{`connect.sid=bad"va\lue; connect.sid=good`}, `bad"va\lue`, true},
		{"two header lines", []string{"connect.sid=first", "connect.sid=second"}, "first", true},
		{"second header line", []string{"a=1", "connect.sid=abc"}, "abc", true},
		{"spaces and tabs", []string{"a=1;  \tconnect.sid \t=\t abc \t; b=2"}, "abc", true},
		{"quoted", []string{`connect.sid="abc"`}, "abc", true},
		{"lone quote", []string{`connect.sid="`}, "", true},
		{"empty value", []string{"connect.sid=; b=2"}, "", true},
		{"pair without =", []string{"junk; connect.sid=abc"}, "abc", true},
		{"name is a prefix", []string{"connect.sidx=1; xconnect.sid=2"}, "", false},
		{"value keeps =", []string{"connect.sid=a=b"}, "a=b", true},
		{"absent", []string{"a=1"}, "", false},
		{"no header", nil, "", false},
	}
	for _, c := range cases {
		got, found := cookieValue(c.headers, "connect.sid")
		if got != c.want || found != c.found {
			t.Errorf("%s: cookieValue(%q) = %q, %v; want %q, %v", c.name, c.headers, got, found, c.want, c.found)
		}
	}
	// net/http skips the malformed first value and takes the second: the
	// reason Pier parses the header itself.
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", `connect.sid=bad"va\lue; connect.sid=good`)
	if c, err := r.Cookie("connect.sid"); err != nil || c.Value != "good" {
		t.Logf("net/http's Request.Cookie changed: %v, %v", c, err)
	}
}

// oracleUnsign is express-session's unsigncookie written plainly, for the
// differential fuzz target.
func oracleUnsign(value string, secrets []string) (string, bool) {
	v := value
	if strings.Contains(v, "%") {
		d, err := url.PathUnescape(v)
		if err != nil {
			return "", false
		}
		v = d
	}
	if !utf8.ValidString(v) || !strings.HasPrefix(v, "s:") {
		return "", false
	}
	v = v[2:]
	i := strings.LastIndex(v, ".")
	if i < 0 {
		return "", false
	}
	for _, s := range secrets {
		mac := hmac.New(sha256.New, []byte(s))
		mac.Write([]byte(v[:i]))
		if v[:i]+"."+strings.TrimRight(base64.StdEncoding.EncodeToString(mac.Sum(nil)), "=") == v {
			return v[:i], true
		}
	}
	return "", false
}

// FuzzExpressUnsign checks ExpressCodec.Decode against oracleUnsign on
// arbitrary cookie values, that Encode round-trips arbitrary IDs, that any
// single-byte change of a signed value is refused, and that a change of the
// encoded form is accepted only if it decodes to the same value (%3A vs
// %3a).
func FuzzExpressUnsign(f *testing.F) {
	secrets := []string{"keyboard cat", "old secret"}
	c := mustCodec(f, secrets...)
	f.Add("s%3Aabc123XYZ.Hu%2B%2FQcWB2sbFKm1BJ0spZRaNyi%2BHb4YSoHWoi6o1Zbg", uint(5), byte('x'))
	f.Add("s:abc123XYZ.Hu+/QcWB2sbFKm1BJ0spZRaNyi+Hb4YSoHWoi6o1Zbg", uint(0), byte('%'))
	f.Add("s:a.b.c", uint(3), byte('.'))
	f.Add("%", uint(1), byte(0))
	f.Fuzz(func(t *testing.T, value string, pos uint, b byte) {
		var got string
		err := c.Decode("n", value, &got)
		want, ok := oracleUnsign(value, secrets)
		if ok != (err == nil) || got != want {
			t.Fatalf("Decode(%q) = %q, %v; oracle %q, %v", value, got, err, want, ok)
		}

		// value as an ID.
		if !utf8.ValidString(value) {
			return
		}
		enc, err := c.Encode("n", value)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Decode("n", enc, &got); err != nil || got != value {
			t.Fatalf("round trip of %q: %q, %v", value, got, err)
		}
		signed := "s:" + value + "." + sign([]byte(secrets[0]), value)
		i := int(pos % uint(len(signed)))
		if signed[i] != b {
			m := []byte(signed)
			m[i] = b
			if err := c.Decode("n", encodeURIComponent(string(m)), &got); err == nil {
				t.Fatalf("single-byte change %q of %q accepted as %q", m, signed, got)
			}
		}
		i = int(pos % uint(len(enc)))
		if enc[i] != b {
			m := []byte(enc)
			m[i] = b
			if c.Decode("n", string(m), &got) == nil {
				d1, _ := url.PathUnescape(string(m))
				d2, _ := url.PathUnescape(enc)
				if d1 != d2 {
					t.Fatalf("changed encoding %q of %q accepted as %q", m, enc, got)
				}
			}
		}
	})
}

package session

import (
	"bytes"
	"net/http"
	"testing"
	"time"
)

// Stored sessions as express-session 1.19 writes them.
func TestDecodeDataNodeShapes(t *testing.T) {
	t.Parallel()
	for _, data := range []string{
		`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"count":1}`,
		`{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-22T03:49:51.372Z","httpOnly":true,"path":"/"},"count":2}`,
		`{"cookie":{"originalMaxAge":null,"expires":null,"secure":true,"httpOnly":false,"domain":"example.com","path":"/app","sameSite":"strict"},"b":{"x":[1,2,{"y":null}]},"a":"é<>&"}`,
		`{"count":1,"cookie":{"originalMaxAge":null,"partitioned":true,"expires":null,"httpOnly":true,"path":"/","sameSite":"none"}}`,
		`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"big":99999999999999999999,"passport":{"user":"abc123"}}`,
	} {
		keys, values, c, has, err := decodeData([]byte(data))
		if err != nil || !has {
			t.Fatalf("decodeData(%s): %v, cookie %v", data, err, has)
		}
		if got := appendData(nil, keys, values, &c); string(got) != data {
			t.Errorf("round trip:\n got %s\nwant %s", got, data)
		}
	}
}

func TestDecodeDataVariants(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, out string }{
		// A socket-connect-created Sails session: express adds the nulls.
		{`{"cookie":{"httpOnly":true,"path":"/"}}`, `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}}`},
		// Defaults of express's Cookie constructor; unknown keys dropped.
		{`{"cookie":{"foo":1}}`, `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}}`},
		// Explicit false is dropped (same meaning); sameSite true is strict.
		{`{"cookie":{"secure":false,"httpOnly":true,"path":"/","sameSite":true}}`, `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/","sameSite":"strict"}}`},
		{`{"cookie":{"httpOnly":null,"sameSite":"LAX"}}`, `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":false,"path":"/","sameSite":"lax"}}`},
		// JSON.parse: a duplicate keeps its first place and its last value.
		{`{"a":1,"cookie":{},"b":2,"a":3}`, `{"a":3,"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"b":2}`},
		// Keys Node's Session drops; whitespace compacted.
		{`{ "cookie" : {}, "id":"x", "__proto__":{}, "save":1, "toString":2, "ok" : [ 1 , 2 ] }`, `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"ok":[1,2]}`},
		// Case matters: "HttpOnly" is not "httpOnly".
		{`{"cookie":{"HttpOnly":false,"Path":"/x"}}`, `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}}`},
	}
	for _, c := range cases {
		keys, values, ck, _, err := decodeData([]byte(c.in))
		if err != nil {
			t.Fatalf("decodeData(%s): %v", c.in, err)
		}
		if got := appendData(nil, keys, values, &ck); string(got) != c.out {
			t.Errorf("decodeData(%s):\n got %s\nwant %s", c.in, got, c.out)
		}
	}
}

func TestDecodeDataCorrupt(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `null`, `[]`, `"x"`, `{`, `{"a":}`, `{"a":1} x`, `{"a":1}{}`, `{"cookie":null}`, `{"cookie":[]}`, "{\"a\":\"\xff\"}"} {
		if _, _, _, _, err := decodeData([]byte(in)); err == nil {
			t.Errorf("decodeData(%q) accepted", in)
		}
	}
	if _, _, _, has, err := decodeData([]byte(`{"a":1}`)); err != nil || has {
		t.Errorf("no cookie: %v, %v", has, err)
	}
}

func TestCookieJSON(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 11, 22, 3, 49, 51, 372_400_000, time.FixedZone("x", 3600))
	c := Cookie{MaxAge: time.Hour, Expires: exp, Path: "/", HTTPOnly: true, SameSite: http.SameSiteLaxMode}
	want := `{"originalMaxAge":3600000,"expires":"2026-11-22T02:49:51.372Z","httpOnly":true,"path":"/","sameSite":"lax"}`
	if got := c.appendJSON(nil); string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	back, err := decodeCookie([]byte(want))
	if err != nil || back.MaxAge != time.Hour || !back.Expires.Equal(exp.Truncate(time.Millisecond)) || back.SameSite != http.SameSiteLaxMode {
		t.Fatalf("decodeCookie: %+v, %v", back, err)
	}
}

// FuzzDecodeData: stored data never panics the decoder, and what it
// accepts re-encodes to a fixed point.
func FuzzDecodeData(f *testing.F) {
	f.Add([]byte(`{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-22T03:49:51.372Z","httpOnly":true,"path":"/"},"count":2}`))
	f.Add([]byte(`{"a":1,"cookie":{"sameSite":true,"originalMaxAge":1e300},"a":[{}]}`))
	f.Add([]byte(`{"cookie":{"expires":"garbage","httpOnly":0}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, values, c, _, err := decodeData(data)
		if err != nil {
			return
		}
		if c.Path == "" {
			c.Path = "/"
		}
		once := appendData(nil, keys, values, &c)
		keys2, values2, c2, _, err := decodeData(once)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", once, err)
		}
		if twice := appendData(nil, keys2, values2, &c2); !bytes.Equal(once, twice) {
			t.Fatalf("not a fixed point:\n%s\n%s", once, twice)
		}
	})
}

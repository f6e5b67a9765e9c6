package redisstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/session"
	"github.com/pierhq/pier/session/redisstore"
)

// The session interop test: a real Node server (express 4 + express-session
// 1.19.0 + connect-redis 9.0.0 on node-redis 5, or @sailshq/connect-redis
// 6.1.3 on node-redis 3 as Sails uses) and Pier share one redis-server.
// testdata/session/server.js is the Node side.

const (
	secretA = "interop secret A +/="
	secretB = "interop secret B"
	secretC = "interop secret C"
)

// startNode starts testdata/session/server.js and returns its base URL. It
// stops when the test ends (its stdin closes).
func startNode(t *testing.T, redisURL string, args ...string) string {
	t.Helper()
	return jstest.Serve(t, filepath.Join("..", "..", "testdata", "session"), 30*time.Second,
		append([]string{"server.js", "--redis", redisURL}, args...)...)
}

// reply is what both servers answer: {id, session}, plus Pier's user.
type reply struct {
	ID      string                     `json:"id"`
	Session map[string]json.RawMessage `json:"session"`
	User    *string                    `json:"user"`
	cookie  string                     // name=value of the Set-Cookie header, if any
}

func get(t *testing.T, base, path, cookie string) reply {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s%s: %d %s", base, path, resp.StatusCode, body)
	}
	var r reply
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("GET %s%s: %v: %s", base, path, err, body)
	}
	if cs := resp.Header.Values("Set-Cookie"); len(cs) > 0 {
		r.cookie, _, _ = strings.Cut(cs[0], ";")
	}
	return r
}

func setPath(data string) string { return "/set?data=" + url.QueryEscape(data) }

// pierApp serves the same routes as server.js.
func pierApp(t *testing.T, m *session.Manager) *httptest.Server {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, s *session.Session) {
		data, _ := s.MarshalJSON()
		var user string
		userJSON := "null"
		if ok, err := s.PassportUser(&user); err != nil {
			t.Errorf("PassportUser: %v", err)
		} else if ok {
			b, _ := json.Marshal(user)
			userJSON = string(b)
		}
		fmt.Fprintf(w, `{"id":%q,"session":%s,"user":%s}`, s.ID(), data, userJSON)
	}
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		reply(w, session.FromContext(r.Context()))
	})
	mux.HandleFunc("GET /set", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		dec := json.NewDecoder(strings.NewReader(r.URL.Query().Get("data")))
		dec.Token() // {
		for dec.More() {
			k, _ := dec.Token()
			var v json.RawMessage
			dec.Decode(&v)
			if err := s.SetRaw(k.(string), v); err != nil {
				t.Errorf("SetRaw: %v", err)
			}
		}
		reply(w, s)
	})
	srv := httptest.NewServer(m.Middleware(mux))
	t.Cleanup(srv.Close)
	return srv
}

func newPier(t *testing.T, st *redisstore.Store, maxAge time.Duration, secrets ...string) (*session.Manager, string) {
	t.Helper()
	m, err := session.New(st, &session.Options{Secrets: secrets, Cookie: session.CookieOptions{MaxAge: maxAge}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return m, pierApp(t, m).URL
}

var (
	expiresRE        = regexp.MustCompile(`"expires":"[^"]*"`)
	originalMaxAgeRE = regexp.MustCompile(`"originalMaxAge":(\d+)`)
)

// maskStored masks expires as "X" and rounds originalMaxAge up to the whole
// second when it is a few milliseconds under it: express-session computes
// it as expires - Date.now() a moment after setting expires, so Node
// stores 3599999 for a maxAge of an hour when the clock ticks in between.
func maskStored(v string) string {
	v = expiresRE.ReplaceAllString(v, `"expires":"X"`)
	return originalMaxAgeRE.ReplaceAllStringFunc(v, func(m string) string {
		n, _ := strconv.ParseInt(originalMaxAgeRE.FindStringSubmatch(m)[1], 10, 64)
		if r := (n + 999) / 1000 * 1000; r-n <= 10 {
			n = r
		}
		return `"originalMaxAge":` + strconv.FormatInt(n, 10)
	})
}

// checkStored checks the Redis value of id against want (with any expires
// masked as "X" when maxAge is set) and that its TTL is what connect-redis
// sets.
func checkStored(t *testing.T, rdb *redis.Client, key, want string, wantTTL time.Duration) string {
	t.Helper()
	ctx := context.Background()
	got, err := rdb.Get(ctx, key).Result()
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	if masked := maskStored(got); want != "" && masked != want {
		t.Errorf("stored %s\n  want %s", got, want)
	}
	ttl, err := rdb.TTL(ctx, key).Result()
	if err != nil || ttl > wantTTL || ttl < wantTTL-2*time.Second {
		t.Errorf("TTL %s = %v, %v; want %v", key, ttl, err, wantTTL)
	}
	return got
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestInteropNode(t *testing.T) {
	srv := redistest.Shared(t)
	rdb, _ := newClient(t)
	for _, store := range []string{"connect-redis", "sailshq"} {
		for _, maxAge := range []time.Duration{0, time.Hour} {
			t.Run(fmt.Sprintf("%s/maxAge=%v", store, maxAge), func(t *testing.T) {
				prefix := uniquePrefix(t)
				args := []string{"--store", store, "--prefix", prefix, "--secret", secretA + "," + secretB}
				wantTTL := 86400 * time.Second
				cookieJSON := `{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}`
				if maxAge != 0 {
					args = append(args, "--max-age", fmt.Sprint(maxAge.Milliseconds()))
					wantTTL = maxAge
					cookieJSON = fmt.Sprintf(`{"originalMaxAge":%d,"expires":"X","httpOnly":true,"path":"/"}`, maxAge.Milliseconds())
				}
				node := startNode(t, srv.URL(), args...)
				st := redisstore.New(rdb, &redisstore.Options{Prefix: prefix})
				m, pier := newPier(t, st, maxAge, secretA)
				ctx := context.Background()

				// Node creates, Pier reads through Node's cookie.
				n1 := get(t, node, setPath(`{"count":1,"name":"node"}`), "")
				if !strings.HasPrefix(n1.cookie, "connect.sid=s%3A"+n1.ID+".") {
					t.Fatalf("node cookie %q", n1.cookie)
				}
				key := prefix + n1.ID
				stored := checkStored(t, rdb, key, `{"cookie":`+cookieJSON+`,"count":1,"name":"node"}`, wantTTL)
				p1 := get(t, pier, "/get", n1.cookie)
				if p1.ID != n1.ID || string(p1.Session["count"]) != "1" || string(p1.Session["name"]) != `"node"` {
					t.Fatalf("pier read %+v", p1)
				}
				if again := checkStored(t, rdb, key, "", wantTTL); again != stored {
					t.Errorf("an unmodified session was rewritten:\n%s\n%s", stored, again)
				}

				// Pier modifies, Node reads back.
				p2 := get(t, pier, setPath(`{"count":2,"fromGo":{"ok":true,"big":12345678901234567890}}`), n1.cookie)
				if p2.ID != n1.ID {
					t.Fatalf("pier changed the id: %+v", p2)
				}
				checkStored(t, rdb, key, `{"cookie":`+cookieJSON+`,"count":2,"name":"node","fromGo":{"ok":true,"big":12345678901234567890}}`, wantTTL)
				n2 := get(t, node, "/get", n1.cookie)
				if n2.ID != n1.ID || string(n2.Session["count"]) != "2" || !strings.HasPrefix(string(n2.Session["fromGo"]), `{"ok":true`) {
					t.Fatalf("node read back %+v", n2)
				}

				// Pier creates; the stored bytes equal those of the same
				// session created by Node (expires aside); Node reads it.
				p3 := get(t, pier, setPath(`{"count":1}`), "")
				n3 := get(t, node, setPath(`{"count":1}`), "")
				want := `{"cookie":` + cookieJSON + `,"count":1}`
				if a, b := checkStored(t, rdb, prefix+p3.ID, want, wantTTL), checkStored(t, rdb, prefix+n3.ID, want, wantTTL); maxAge == 0 && a != b {
					t.Errorf("pier stored %s, node %s", a, b)
				}
				if !strings.HasPrefix(p3.cookie, "connect.sid=s%3A"+p3.ID+".") {
					t.Fatalf("pier cookie %q", p3.cookie)
				}
				n4 := get(t, node, "/get", p3.cookie)
				if n4.ID != p3.ID || string(n4.Session["count"]) != "1" {
					t.Fatalf("node read pier's session: %+v", n4)
				}
				get(t, node, setPath(`{"count":5}`), p3.cookie)
				if p4 := get(t, pier, "/get", p3.cookie); p4.ID != p3.ID || string(p4.Session["count"]) != "5" {
					t.Fatalf("pier read node's change: %+v", p4)
				}

				// Passport's layout.
				get(t, node, "/passport?user=abc123", n1.cookie)
				if p5 := get(t, pier, "/get", n1.cookie); p5.User == nil || *p5.User != "abc123" {
					t.Fatalf("passport user: %+v", p5)
				}

				// Touch: an unmodified session's TTL is renewed with EXPIRE by
				// both, from the cookie's expiry or the default.
				for name, base := range map[string]string{"node": node, "pier": pier} {
					rdb.Expire(ctx, key, 100*time.Second)
					get(t, base, "/get", n1.cookie)
					if ttl, _ := rdb.TTL(ctx, key).Result(); ttl < wantTTL-2*time.Second {
						t.Errorf("%s did not renew the TTL: %v", name, ttl)
					}
				}

				// Secrets: Node signs with A and accepts A and B.
				_, pierB := newPier(t, st, maxAge, secretB)
				_, pierC := newPier(t, st, maxAge, secretC)
				_, pierBA := newPier(t, st, maxAge, secretB, secretA)
				if r := get(t, pierC, "/get", n1.cookie); r.ID == n1.ID {
					t.Error("pier accepted a cookie of another secret")
				}
				if r := get(t, pierB, "/get", n1.cookie); r.ID == n1.ID {
					t.Error("pier with secret B accepted a cookie signed with A")
				}
				if r := get(t, pierBA, "/get", n1.cookie); r.ID != n1.ID {
					t.Error("pier with rotated secrets refused the old secret's cookie")
				}
				pc := get(t, pierC, setPath(`{"c":1}`), "")
				if r := get(t, node, "/get", pc.cookie); r.ID == pc.ID || r.Session["c"] != nil {
					t.Error("node accepted a cookie of another secret")
				}
				pb := get(t, pierB, setPath(`{"b":1}`), "")
				if r := get(t, node, "/get", pb.cookie); r.ID != pb.ID || string(r.Session["b"]) != "1" {
					t.Error("node refused a cookie of its second secret")
				}

				// A socket's handshake: Pier creates and saves
				// a session for a cookieless handshake; the cookie it would put
				// in the handshake names it for Node too.
				hs, err := m.FromRequest(httptest.NewRequest("GET", "/socket.io/", nil))
				if err != nil || !hs.IsNew() {
					t.Fatalf("FromRequest: %v", err)
				}
				if err := hs.Save(ctx); err != nil {
					t.Fatal(err)
				}
				checkStored(t, rdb, prefix+hs.ID(), `{"cookie":`+cookieJSON+`}`, wantTTL)
				c, _ := m.Cookie(hs)
				get(t, node, setPath(`{"fromNode":true}`), c.Name+"="+c.Value)
				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Set("Cookie", c.Name+"="+c.Value)
				hs2, err := m.FromRequest(r)
				if err != nil || hs2.ID() != hs.ID() || string(hs2.Raw("fromNode")) != "true" {
					t.Fatalf("handshake session after node's change: %v %v", err, hs2)
				}

				// Node destroys; Pier then gives the cookie a new session.
				get(t, node, "/destroy", n1.cookie)
				if r := get(t, pier, "/get", n1.cookie); r.ID == n1.ID {
					t.Error("pier loaded a destroyed session")
				}
			})
		}
	}
}

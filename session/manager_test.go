package session

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
)

const testSecret = "keyboard cat"

// recStore wraps a MemoryStore and records the calls made to it.
type recStore struct {
	*MemoryStore
	mu      sync.Mutex
	calls   []string
	failOn  string // "Load", "Save", ...: that method fails
	lastTTL time.Duration
}

func newRecStore(t *testing.T) *recStore {
	m := NewMemoryStore(nil)
	t.Cleanup(func() { m.Close() })
	return &recStore{MemoryStore: m}
}

func (s *recStore) rec(op string, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, op)
	s.lastTTL = ttl
	if s.failOn == op {
		return errors.New("store down")
	}
	return nil
}

func (s *recStore) Load(ctx context.Context, id string) ([]byte, error) {
	if err := s.rec("Load", 0); err != nil {
		return nil, err
	}
	return s.MemoryStore.Load(ctx, id)
}

func (s *recStore) Save(ctx context.Context, id string, data []byte, ttl time.Duration) error {
	if err := s.rec("Save", ttl); err != nil {
		return err
	}
	return s.MemoryStore.Save(ctx, id, data, ttl)
}

func (s *recStore) Touch(ctx context.Context, id string, ttl time.Duration) error {
	if err := s.rec("Touch", ttl); err != nil {
		return err
	}
	return s.MemoryStore.Touch(ctx, id, ttl)
}

func (s *recStore) Delete(ctx context.Context, id string) error {
	if err := s.rec("Delete", 0); err != nil {
		return err
	}
	return s.MemoryStore.Delete(ctx, id)
}

// take returns and clears the recorded calls.
func (s *recStore) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := strings.Join(s.calls, ",")
	s.calls = nil
	return c
}

func (s *recStore) fail(op string) {
	s.mu.Lock()
	s.failOn = op
	s.mu.Unlock()
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newManager(t *testing.T, store Store, opts *Options) *Manager {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	if opts.Secrets == nil && opts.Codec == nil {
		opts.Secrets = []string{testSecret}
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	m, err := New(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// app is a small handler: ?set=k:v sets, ?del=k deletes, ?op=... does more;
// it answers with the session's ID, newness and JSON.
func app(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		if s == nil {
			io.WriteString(w, "no session")
			return
		}
		q := r.URL.Query()
		if kv := q.Get("set"); kv != "" {
			k, v, _ := strings.Cut(kv, ":")
			if err := s.SetRaw(k, []byte(v)); err != nil {
				t.Errorf("SetRaw: %v", err)
			}
		}
		if k := q.Get("del"); k != "" {
			s.Delete(k)
		}
		switch q.Get("op") {
		case "regenerate":
			if err := s.Regenerate(r.Context()); err != nil {
				t.Errorf("Regenerate: %v", err)
			}
			s.Set("fresh", true)
		case "destroy":
			if err := s.Destroy(r.Context()); err != nil {
				t.Errorf("Destroy: %v", err)
			}
		case "late":
			w.WriteHeader(201)
			s.Set("late", true)
			return
		case "flush":
			http.NewResponseController(w).Flush()
			s.Set("afterFlush", true)
		case "maxage":
			s.SetMaxAge(2 * time.Hour)
		}
		data, _ := s.MarshalJSON()
		fmt.Fprintf(w, "%s %v %s", s.ID(), s.IsNew(), data)
	})
}

type result struct {
	id, data  string
	isNew     bool
	setCookie string // the whole Set-Cookie header, "" if none
	cookie    string // name=value of it
	status    int
}

func do(t *testing.T, h http.Handler, target, cookie string, mod ...func(*http.Request)) result {
	t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	for _, f := range mod {
		f(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := result{status: w.Code, setCookie: w.Header().Get("Set-Cookie")}
	if vals := w.Header().Values("Set-Cookie"); len(vals) > 1 {
		t.Fatalf("%d Set-Cookie headers: %q", len(vals), vals)
	}
	if res.setCookie != "" {
		res.cookie, _, _ = strings.Cut(res.setCookie, ";")
	}
	parts := strings.SplitN(w.Body.String(), " ", 3)
	if len(parts) == 3 {
		res.id, res.isNew, res.data = parts[0], parts[1] == "true", parts[2]
	}
	return res
}

var signedCookie = regexp.MustCompile(`^connect\.sid=s%3A[A-Za-z0-9_-]{32}\.[A-Za-z0-9%]+$`)

func TestMiddlewareNewSession(t *testing.T) {
	t.Parallel()
	st := newRecStore(t)
	h := newManager(t, st, nil).Middleware(app(t))

	// Unmodified new session: nothing stored, no cookie (saveUninitialized false).
	r := do(t, h, "/", "")
	if !r.isNew || r.setCookie != "" || len(r.id) != 32 || st.Len() != 0 {
		t.Fatalf("unmodified new session: %+v, %d stored", r, st.Len())
	}
	if got := st.take(); got != "" {
		t.Fatalf("store calls %q", got)
	}

	// Modified: saved, cookie sent, exactly what express-session stores.
	r = do(t, h, "/?set=count:1", "")
	if !signedCookie.MatchString(r.cookie) || r.setCookie != r.cookie+"; Path=/; HttpOnly" {
		t.Fatalf("Set-Cookie %q", r.setCookie)
	}
	if got := st.take(); got != "Save" || st.lastTTL != 0 {
		t.Fatalf("store calls %q ttl %v", got, st.lastTTL)
	}
	data, _ := st.MemoryStore.Load(context.Background(), r.id)
	if want := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"count":1}`; string(data) != want {
		t.Fatalf("stored %s, want %s", data, want)
	}

	// Loaded, modified: saved, no cookie (no expiry, not rolling).
	r2 := do(t, h, "/?set=count:2", r.cookie)
	if r2.id != r.id || r2.isNew || r2.setCookie != "" {
		t.Fatalf("second request: %+v", r2)
	}
	if got := st.take(); got != "Load,Save" {
		t.Fatalf("store calls %q", got)
	}
	// Loaded, unmodified: touched.
	r3 := do(t, h, "/", r.cookie)
	if r3.id != r.id || !strings.Contains(r3.data, `"count":2`) || r3.setCookie != "" {
		t.Fatalf("third request: %+v", r3)
	}
	if got := st.take(); got != "Load,Touch" {
		t.Fatalf("store calls %q", got)
	}
}

func TestMiddlewareMaxAge(t *testing.T) {
	t.Parallel()
	st := newRecStore(t)
	m := newManager(t, st, &Options{Cookie: CookieOptions{MaxAge: time.Hour, SameSite: http.SameSiteLaxMode, Domain: "example.com"}})
	h := m.Middleware(app(t))
	r := do(t, h, "/?set=a:1", "")
	if !strings.Contains(r.setCookie, "; Expires=") || strings.Contains(r.setCookie, "Max-Age") ||
		!strings.Contains(r.setCookie, "; SameSite=Lax") || !strings.Contains(r.setCookie, "; Domain=example.com") {
		t.Fatalf("Set-Cookie %q", r.setCookie)
	}
	if ttl := st.lastTTL; ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("ttl %v", ttl)
	}
	if !regexp.MustCompile(`"originalMaxAge":3600000,"expires":"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\d\dZ","httpOnly":true,"domain":"example.com","path":"/","sameSite":"lax"`).MatchString(r.data) {
		t.Fatalf("data %s", r.data)
	}
	st.take()
	// Modified with an expiry: cookie re-sent. Unmodified: touched, no cookie.
	if r := do(t, h, "/?set=a:2", r.cookie); r.setCookie == "" {
		t.Fatal("modified session with expiry: no cookie")
	}
	if r := do(t, h, "/", r.cookie); r.setCookie != "" {
		t.Fatal("unmodified session: cookie sent")
	}
	if got := st.take(); got != "Load,Save,Load,Touch" {
		t.Fatalf("store calls %q", got)
	}
	if ttl := st.lastTTL; ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("touch ttl %v", ttl)
	}
	// SetMaxAge: saved and re-sent with the new expiry.
	r4 := do(t, h, "/?op=maxage", r.cookie)
	if r4.setCookie == "" || !strings.Contains(r4.data, `"originalMaxAge":7200000`) || st.lastTTL <= time.Hour {
		t.Fatalf("SetMaxAge: %+v ttl %v", r4, st.lastTTL)
	}
}

func TestMiddlewareRollingResaveSaveUninitialized(t *testing.T) {
	t.Parallel()
	st := newRecStore(t)
	h := newManager(t, st, &Options{Rolling: true, Resave: true, SaveUninitialized: true}).Middleware(app(t))
	r := do(t, h, "/", "")
	if r.setCookie == "" || st.take() != "Save" {
		t.Fatalf("saveUninitialized: %+v", r)
	}
	r2 := do(t, h, "/", r.cookie)
	if r2.setCookie == "" || r2.id != r.id {
		t.Fatalf("rolling: %+v", r2)
	}
	if got := st.take(); got != "Load,Save" {
		t.Fatalf("resave: store calls %q", got)
	}
}

// WithSaveRules gives a Manager saving as Sails does (resave and
// saveUninitialized) over the same store, leaving the original as it was.
func TestWithSaveRules(t *testing.T) {
	t.Parallel()
	st := newRecStore(t)
	m := newManager(t, st, nil)
	sails := m.WithSaveRules(true, true).Middleware(app(t))
	r := do(t, sails, "/", "")
	if !signedCookie.MatchString(r.cookie) || st.take() != "Save" {
		t.Fatalf("uninitialized session: %+v", r)
	}
	r2 := do(t, sails, "/", r.cookie)
	if r2.id != r.id || r2.isNew {
		t.Fatalf("second request: %+v", r2)
	}
	if got := st.take(); got != "Load,Save" {
		t.Fatalf("resave: store calls %q", got)
	}
	// m itself keeps express-session's defaults.
	plain := m.Middleware(app(t))
	if r := do(t, plain, "/", ""); r.setCookie != "" || st.take() != "" {
		t.Fatalf("original manager: %+v", r)
	}
	if r := do(t, plain, "/", r.cookie); r.setCookie != "" || st.take() != "Load,Touch" {
		t.Fatalf("original manager, stored session: %+v", r)
	}
}

func TestMiddlewareBadCookies(t *testing.T) {
	t.Parallel()
	st := newRecStore(t)
	m := newManager(t, st, nil)
	h := m.Middleware(app(t))
	good := do(t, h, "/?set=a:1", "")
	other := newManager(t, st, &Options{Secrets: []string{"another secret"}})
	foreign := do(t, other.Middleware(app(t)), "/?set=a:1", "")
	st.take()

	for _, c := range []struct{ name, cookie, calls string }{
		{"other secret", foreign.cookie, ""},
		{"unsigned", "connect.sid=" + good.id, ""},
		{"garbage", "connect.sid=%zz", ""},
		{"other name", "sails.sid" + strings.TrimPrefix(good.cookie, "connect.sid"), ""},
		{"malformed first duplicate wins", `connect.sid=x"y; ` + good.cookie, ""},
		{"signed, not in store", "connect.sid=" + mustEncode(t, m, "not-stored"), "Load"},
	} {
		r := do(t, h, "/", c.cookie)
		if !r.isNew || r.id == good.id || r.id == foreign.id {
			t.Errorf("%s: %+v", c.name, r)
		}
		if got := st.take(); got != c.calls {
			t.Errorf("%s: store calls %q, want %q", c.name, got, c.calls)
		}
	}
	// The first of duplicates wins when valid too.
	if r := do(t, h, "/", good.cookie+"; "+foreign.cookie); r.id != good.id {
		t.Errorf("first duplicate: %+v", r)
	}
	// A signed ID not in the store, modified: a new ID, and the cookie is sent.
	r := do(t, h, "/?set=b:1", "connect.sid="+mustEncode(t, m, "not-stored"))
	if r.id == "not-stored" || r.setCookie == "" {
		t.Errorf("unknown id: %+v", r)
	}
}

func mustEncode(t *testing.T, m *Manager, id string) string {
	v, err := m.codec.Encode(m.name, id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMiddlewareRegenerateDestroy(t *testing.T) {
	t.Parallel()
	st := newRecStore(t)
	h := newManager(t, st, nil).Middleware(app(t))
	first := do(t, h, "/?set=user:1", "")
	st.take()

	r := do(t, h, "/?op=regenerate", first.cookie)
	if r.id == first.id || !r.isNew || r.setCookie == "" || strings.Contains(r.data, "user") || !strings.Contains(r.data, `"fresh":true`) {
		t.Fatalf("regenerate: %+v", r)
	}
	if got := st.take(); got != "Load,Delete,Save" {
		t.Fatalf("store calls %q", got)
	}
	if _, err := st.MemoryStore.Load(context.Background(), first.id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old session still stored: %v", err)
	}

	r = do(t, h, "/?op=destroy", r.cookie)
	if r.setCookie != "" || r.data != `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}}` {
		t.Fatalf("destroy: %+v", r)
	}
	if got := st.take(); got != "Load,Delete" || st.Len() != 0 {
		t.Fatalf("store calls %q, %d stored", got, st.Len())
	}
}

func TestMiddlewareStoreFailures(t *testing.T) {
	t.Parallel()
	st := newRecStore(t)
	m := newManager(t, st, nil)
	called := false
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = true
		FromContext(r.Context()).Set("a", 2)
		w.WriteHeader(200)
		w.Write([]byte("secret page"))
	}))
	good := do(t, m.Middleware(app(t)), "/?set=a:1", "")

	st.fail("Load")
	r := do(t, h, "/", good.cookie)
	if r.status != 500 || called {
		t.Fatalf("load failure: status %d, handler called %v", r.status, called)
	}
	st.fail("Save")
	w := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", good.cookie)
	h.ServeHTTP(w, req)
	if w.Code != 500 || strings.Contains(w.Body.String(), "secret") || w.Header().Get("Set-Cookie") != "" {
		t.Fatalf("save failure: %d %q %q", w.Code, w.Body, w.Header())
	}
}

func TestMiddlewareLateChangesAndFlush(t *testing.T) {
	t.Parallel()
	st := newRecStore(t)
	m := newManager(t, st, nil)
	h := m.Middleware(app(t))
	r := do(t, h, "/?op=late&set=a:1", "")
	if r.status != 201 || r.setCookie == "" {
		t.Fatalf("late: %+v", r)
	}
	id := strings.TrimPrefix(r.cookie, "connect.sid=")
	var sid string
	if err := m.codec.Decode(m.name, id, &sid); err != nil {
		t.Fatal(err)
	}
	data, _ := st.MemoryStore.Load(context.Background(), sid)
	if !strings.Contains(string(data), `"a":1,"late":true`) {
		t.Fatalf("late change not saved: %s", data)
	}
	if got := st.take(); got != "Save,Save" {
		t.Fatalf("store calls %q", got)
	}

	// Flush through http.ResponseController commits first.
	r = do(t, h, "/?op=flush&set=b:1", "")
	if r.setCookie == "" || !strings.Contains(r.data, `"afterFlush":true`) {
		t.Fatalf("flush: %+v", r)
	}
}

func TestMiddlewareSecureCookie(t *testing.T) {
	t.Parallel()
	st := newRecStore(t)
	for _, c := range []struct {
		trust bool
		proto string
		sent  bool
	}{{false, "", false}, {false, "https", false}, {true, "https", true}, {true, "HTTPS, http", true}, {true, "http", false}} {
		h := newManager(t, st, &Options{TrustProxy: c.trust, Cookie: CookieOptions{Secure: true}}).Middleware(app(t))
		r := do(t, h, "/?set=a:1", "", func(r *http.Request) {
			if c.proto != "" {
				r.Header.Set("X-Forwarded-Proto", c.proto)
			}
		})
		if (r.setCookie != "") != c.sent || c.sent && !strings.HasSuffix(r.setCookie, "; HttpOnly; Secure") {
			t.Errorf("%+v: Set-Cookie %q", c, r.setCookie)
		}
	}
	// Over TLS.
	h := newManager(t, st, &Options{Cookie: CookieOptions{Secure: true}}).Middleware(app(t))
	r := do(t, h, "/?set=a:1", "", func(r *http.Request) { r.TLS = &tls.ConnectionState{} })
	if r.setCookie == "" {
		t.Error("TLS: no cookie")
	}
}

func TestMiddlewareWithoutSessionAndNesting(t *testing.T) {
	t.Parallel()
	st := newRecStore(t)
	m := newManager(t, st, nil)
	r := do(t, m.Middleware(app(t)), "/?set=a:1", "", func(r *http.Request) {
		*r = *r.WithContext(WithoutSession(r.Context()))
	})
	if r.id != "" || r.setCookie != "" || st.take() != "" {
		t.Fatalf("WithoutSession: %+v", r)
	}
	// Nested middleware loads and saves once.
	r = do(t, m.Middleware(m.Middleware(app(t))), "/?set=a:1", "")
	if r.setCookie == "" || st.take() != "Save" {
		t.Fatalf("nested: %+v", r)
	}
}

func TestSessionValues(t *testing.T) {
	t.Parallel()
	m := newManager(t, newRecStore(t), nil)
	s, err := m.FromRequest(httptest.NewRequest("GET", "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	type user struct {
		Name string `json:"name"`
	}
	if err := s.Set("z", user{"<ann>"}); err != nil {
		t.Fatal(err)
	}
	s.Set("a", 1)
	s.Set("z", user{"bob"}) // keeps its place
	for _, k := range []string{"cookie", "id", "save", "__proto__", "constructor"} {
		if err := s.Set(k, 1); err == nil {
			t.Errorf("Set(%q) accepted", k)
		}
	}
	if err := s.SetRaw("r", []byte(`{"x" : [1, 2]}`)); err != nil || string(s.Raw("r")) != `{"x":[1,2]}` {
		t.Errorf("SetRaw: %v %s", err, s.Raw("r"))
	}
	if err := s.SetRaw("bad", []byte(`{`)); err == nil {
		t.Error("SetRaw accepted invalid JSON")
	}
	var u user
	if ok, err := s.Get("z", &u); !ok || err != nil || u.Name != "bob" {
		t.Errorf("Get: %v %v %+v", ok, err, u)
	}
	if ok, _ := s.Get("missing", &u); ok {
		t.Error("Get(missing) found")
	}
	if ok, err := s.Get("z", new(int)); !ok || err == nil {
		t.Error("Get into a wrong type: no error")
	}
	s.Delete("a")
	if got := fmt.Sprint(s.Keys()); got != "[z r]" {
		t.Errorf("Keys = %s", got)
	}
	data, _ := s.MarshalJSON()
	if want := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"z":{"name":"bob"},"r":{"x":[1,2]}}`; string(data) != want {
		t.Errorf("MarshalJSON = %s", data)
	}
	if s.Cookie().Path != "/" || !s.Cookie().HTTPOnly {
		t.Errorf("Cookie = %+v", s.Cookie())
	}
}

func TestPassportUser(t *testing.T) {
	t.Parallel()
	m := newManager(t, newRecStore(t), nil)
	s, _ := m.FromRequest(httptest.NewRequest("GET", "/", nil))
	var id string
	if ok, err := s.PassportUser(&id); ok || err != nil {
		t.Fatal("user without passport")
	}
	for _, c := range []struct {
		raw  string
		ok   bool
		want string
	}{
		{`{"user":"abc123"}`, true, "abc123"},
		{`{"user":null}`, false, ""},
		{`{}`, false, ""},
		{`{"User":"x"}`, false, ""},
		{`"x"`, false, ""},
	} {
		s.SetRaw("passport", []byte(c.raw))
		id = ""
		ok, err := s.PassportUser(&id)
		if ok != c.ok || err != nil || id != c.want {
			t.Errorf("%s: %v %v %q", c.raw, ok, err, id)
		}
	}
	s.SetRaw("passport", []byte(`{"user":{"id":7}}`))
	var u struct{ ID int }
	if ok, err := s.PassportUser(&u); !ok || err != nil || u.ID != 7 {
		t.Errorf("object user: %v %v %+v", ok, err, u)
	}
}

// TestHandshake is the socket use: FromRequest, Save, and the cookie put in
// the handshake's headers for later requests.
func TestHandshake(t *testing.T) {
	t.Parallel()
	st := newRecStore(t)
	m := newManager(t, st, &Options{CookieName: SailsCookieName})
	s, err := m.FromRequest(httptest.NewRequest("GET", "/socket.io/", nil))
	if err != nil || !s.IsNew() {
		t.Fatalf("cookieless handshake: %v", err)
	}
	if err := s.Save(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := m.Cookie(s)
	if err != nil || c.Name != "sails.sid" || !strings.HasPrefix(c.Value, "s%3A"+s.ID()+".") {
		t.Fatalf("Cookie: %+v %v", c, err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", c.Name+"="+c.Value)
	s2, err := m.FromRequest(r)
	if err != nil || s2.IsNew() || s2.ID() != s.ID() {
		t.Fatalf("second load: new %v, %v", s2.IsNew(), err)
	}
	if err := s2.Destroy(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s2.Set("a", 1); !errors.Is(err, ErrDestroyed) {
		t.Errorf("Set after Destroy: %v", err)
	}
	if err := s2.Save(context.Background()); !errors.Is(err, ErrDestroyed) {
		t.Errorf("Save after Destroy: %v", err)
	}
	st.fail("Load")
	if _, err := m.FromRequest(r); err == nil {
		t.Error("store failure not reported")
	}
}

func TestSecureCookieCodec(t *testing.T) {
	t.Parallel()
	st := newRecStore(t)
	m := newManager(t, st, &Options{Codec: securecookie.New(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32))})
	h := m.Middleware(app(t))
	r := do(t, h, "/?set=a:1", "")
	if r.setCookie == "" || strings.Contains(r.cookie, "s%3A") {
		t.Fatalf("Set-Cookie %q", r.setCookie)
	}
	if r2 := do(t, h, "/", r.cookie); r2.id != r.id || r2.isNew {
		t.Fatalf("securecookie round trip: %+v", r2)
	}
	// Another key: refused.
	other := newManager(t, st, &Options{Codec: securecookie.New(securecookie.GenerateRandomKey(32), nil)})
	if r3 := do(t, other.Middleware(app(t)), "/", r.cookie); !r3.isNew {
		t.Fatalf("foreign securecookie accepted: %+v", r3)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	st := newRecStore(t)
	if _, err := New(st, nil); err == nil {
		t.Error("no secret accepted")
	}
	if _, err := New(nil, &Options{Secrets: []string{"x"}}); err == nil {
		t.Error("nil store accepted")
	}
	m, err := New(st, &Options{Secrets: []string{"x"}})
	if err != nil || m.CookieName() != "connect.sid" {
		t.Errorf("defaults: %v %v", m, err)
	}
}

func TestConcurrentSessionUse(t *testing.T) {
	t.Parallel()
	st := newRecStore(t)
	m := newManager(t, st, nil)
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.Set(fmt.Sprint("k", i), i)
				s.Get("k0", new(int))
				s.MarshalJSON()
			}()
		}
		wg.Wait()
	}))
	if r := do(t, h, "/", ""); r.setCookie == "" {
		t.Fatal("no cookie")
	}
}

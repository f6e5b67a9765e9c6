package kit_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/sailsbridge/kit"
	"github.com/pierhq/pier/session"
	"github.com/pierhq/pier/socketio"
)

// kitApp is a small Sails-style app on the kit: custom routes of every
// kind, response helpers, policies and CSRF, plus the user/pet
// blueprints, behind sessions, for HTTP and sails.io.js alike.
type kitApp struct {
	url   string
	socks *sailsbridge.Sockets
}

func newKitApp(t *testing.T, csrf bool, bp *kit.BlueprintOptions) *kitApp {
	return newKitAppOf(t, petSchema, csrf, bp)
}

func newKitAppOf(t *testing.T, schema kit.Schema, csrf bool, bp *kit.BlueprintOptions) *kitApp {
	t.Helper()
	a := &kitApp{}
	a.url = serve(t, func(io *socketio.Server) (http.Handler, error) {
		a.socks = sailsbridge.NewSockets(io.Of("/"))
		store := session.NewMemoryStore(nil)
		t.Cleanup(func() { store.Close() })
		m, err := session.New(store, &session.Options{
			Secrets: []string{"kit test"}, CookieName: session.SailsCookieName, Resave: true, SaveUninitialized: true,
		})
		if err != nil {
			return nil, err
		}
		rt := kit.NewRouter()
		if csrf {
			rt.Use(kit.CSRF)
			rt.Handle("GET /csrfToken", kit.CSRFTokenHandler())
		}
		jsonOf := func(v func(r *http.Request) any) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { kit.JSON(w, r, http.StatusOK, v(r)) }
		}
		rt.HandleFunc("GET /json-obj", jsonOf(func(*http.Request) any { return map[string]any{"a": 1} }))
		rt.HandleFunc("GET /Mixed/CASE", jsonOf(func(*http.Request) any { return "mixed" }))
		rt.HandleFunc("GET /echo/:id", jsonOf(func(r *http.Request) any {
			return map[string]any{"id": kit.PathParam(r, "id"), "pv": r.PathValue("id")}
		}))
		params := jsonOf(func(r *http.Request) any {
			p, err := kit.AllParams(r)
			if err != nil {
				return err.Error()
			}
			return map[string]any{"all": p, "id": kit.Param(r, "id"), "x": kit.Param(r, "x")}
		})
		rt.HandleFunc("/params/:id", params)
		rt.HandleFunc("/params2/:a/:b?", params)
		rt.HandleFunc("GET /order/:x", jsonOf(func(*http.Request) any { return "param" }))
		rt.HandleFunc("GET /order/fixed", jsonOf(func(*http.Request) any { return "fixed" }))
		rt.HandleFunc("GET /wild/*", jsonOf(func(r *http.Request) any { return kit.PathParam(r, "0") }))
		rt.HandleFunc("GET /user/special", jsonOf(func(*http.Request) any { return "special" }))
		rt.HandleFunc("GET /pet/:id", func(w http.ResponseWriter, r *http.Request) {
			if kit.PathParam(r, "id") == "custom" {
				kit.JSON(w, r, http.StatusOK, "custom pet")
				return
			}
			kit.Next(w, r) // to the blueprint findOne
		})
		no := false
		rt.HandleRoute("POST /nocsrf", jsonOf(func(*http.Request) any { return "nocsrf" }), kit.Route{CSRF: &no})
		// Response helpers.
		rt.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { kit.Ok(w, r, nil) })
		rt.HandleFunc("GET /ok-string", func(w http.ResponseWriter, r *http.Request) { kit.Ok(w, r, "fine") })
		rt.HandleFunc("GET /json-num", func(w http.ResponseWriter, r *http.Request) { kit.JSON(w, r, 200, 42) })
		rt.HandleFunc("GET /json-null", func(w http.ResponseWriter, r *http.Request) { kit.JSON(w, r, 200, nil) })
		rt.HandleFunc("GET /bad", func(w http.ResponseWriter, r *http.Request) { kit.BadRequest(w, r, nil) })
		rt.HandleFunc("GET /bad-obj", func(w http.ResponseWriter, r *http.Request) { kit.BadRequest(w, r, map[string]string{"error": "bad"}) })
		rt.HandleFunc("GET /forbidden", func(w http.ResponseWriter, r *http.Request) { kit.Forbidden(w, r) })
		rt.HandleFunc("GET /not-found", func(w http.ResponseWriter, r *http.Request) { kit.NotFound(w, r) })
		rt.HandleFunc("GET /server-error", func(w http.ResponseWriter, r *http.Request) { kit.ServerError(w, r, fmt.Errorf("boom")) })
		// Policies.
		isLoggedIn := kit.Check(func(w http.ResponseWriter, r *http.Request) bool {
			var id int
			if ok, _ := session.FromContext(r.Context()).Get("userId", &id); ok {
				return true
			}
			kit.Forbidden(w, r)
			return false
		})
		needsToken := kit.Check(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Header.Get("X-Token") == "ok" {
				return true
			}
			kit.JSON(w, r, http.StatusUnauthorized, map[string]string{"error": "token required"})
			return false
		})
		guard := func(name string) http.HandlerFunc {
			return jsonOf(func(r *http.Request) any { return map[string]string{"guard": name} })
		}
		rt.HandleFunc("GET /guard/open", guard("open"))
		rt.HandleFunc("GET /guard/secret", guard("secret"), isLoggedIn)
		rt.HandleFunc("GET /guard/never", guard("never"), kit.Deny)
		rt.HandleFunc("GET /guard/chain", guard("chain"), isLoggedIn, needsToken)
		rt.HandleFunc("POST /guard/login", func(w http.ResponseWriter, r *http.Request) {
			id := kit.Param(r, "id")
			session.FromContext(r.Context()).Set("userId", id)
			kit.JSON(w, r, http.StatusOK, map[string]any{"loggedIn": id})
		})
		if bp == nil {
			bp = &kit.BlueprintOptions{}
		}
		if bp.Logger == nil {
			bp.Logger = slog.New(slog.DiscardHandler)
		}
		if bp.Policies == nil {
			bp.Policies = map[string][]kit.Policy{"user/create": {isLoggedIn}, "pet/*": {needsToken}, "user/find": {kit.Allow}, "*": {kit.Allow}}
		}
		bps := kit.NewBlueprints(schema, kit.NewMemStore(schema, nil), a.socks, bp)
		bps.Mount(rt)
		rt.Handle("GET /users-alias", bps.Action("user", "find"))
		rt.HandleFunc("GET /rooms", func(w http.ResponseWriter, r *http.Request) {
			s := sailsbridge.FromContext(r.Context())
			if s == nil {
				kit.BadRequest(w, r, nil)
				return
			}
			rooms := []string{}
			for _, room := range s.Rooms() {
				if string(room) != s.ID() {
					rooms = append(rooms, string(room))
				}
			}
			slices.Sort(rooms)
			kit.JSON(w, r, http.StatusOK, rooms)
		})

		handler := sailsbridge.SessionMiddleware(m, rt)
		bridge, err := sailsbridge.New(handler, &sailsbridge.Options{Sessions: sailsbridge.Sessions(m)})
		if err != nil {
			return nil, err
		}
		bridge.Attach(io.Of("/"))
		return front(bridge.Guard(io), handler), nil
	})
	return a
}

// front sends /socket.io/ to sio and every other path to app, without
// http.ServeMux's path cleaning (which would redirect "/x//" before the
// router sees it).
func front(sio, app http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/socket.io/") {
			sio.ServeHTTP(w, r)
			return
		}
		app.ServeHTTP(w, r)
	})
}

// noRedirects is an HTTP client that reports redirects instead of
// following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// step is one request of sails-kit-client.js.
type step struct {
	C       int               `json:"c"`
	Name    string            `json:"name,omitempty"`
	Method  string            `json:"method,omitempty"`
	URL     string            `json:"url,omitempty"`
	Data    any               `json:"data,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Wait    *int              `json:"wait,omitempty"`
	HTTP    bool              `json:"http,omitempty"`
}

func waitFor(c, n int) step { return step{C: c, Wait: &n} }

// run runs steps with n sockets listening to events, and returns the
// responses by name and the events.
func (a *kitApp) run(t *testing.T, n int, events string, steps []step, extra ...string) (map[string]jstest.Event, []jstest.Event) {
	t.Helper()
	b, _ := json.Marshal(steps)
	args := append([]string{"--url", a.url, "--sockets", fmt.Sprint(n), "--events", events, "--steps", string(b)}, extra...)
	ev := runScript(t, "sails-kit-client.js", args...)
	res := map[string]jstest.Event{}
	for _, e := range jstest.Filter(ev, "res") {
		res[e.String("name")] = e
	}
	return res, jstest.Filter(ev, "msg")
}

func expectRes(t *testing.T, res map[string]jstest.Event, name string, status int, body string) {
	t.Helper()
	e, ok := res[name]
	if !ok {
		t.Errorf("%s: no response", name)
		return
	}
	if got := int(e.Number("statusCode")); got != status {
		t.Errorf("%s: status %d, want %d (body %s)", name, got, status, asJSON(e["body"]))
	}
	if body != "" && asJSON(e["body"]) != body {
		t.Errorf("%s: body %s, want %s", name, asJSON(e["body"]), body)
	}
}

// routeCases are Sails' routing rules, checked over HTTP and sockets.
var routeCases = []struct {
	name, method, path string
	status             int
	body               string // JSON of what the client gets
}{
	{"exact", "GET", "/json-obj", 200, `{"a":1}`},
	{"upper", "GET", "/JSON-OBJ", 200, `{"a":1}`},
	{"trailing", "GET", "/json-obj/", 200, `{"a":1}`},
	{"trailing query", "GET", "/json-obj/?x=1", 200, `{"a":1}`},
	{"declared mixed case", "GET", "/mixed/case", 200, `"mixed"`},
	{"double trailing", "GET", "/json-obj//", 404, `"Not Found"`},
	{"dot segment", "GET", "/./json-obj", 404, `"Not Found"`},
	{"dotdot", "GET", "/x/../json-obj", 404, `"Not Found"`},
	{"escaped static", "GET", "/json%2Dobj", 404, `"Not Found"`},
	{"param space", "GET", "/echo/a%20b", 200, `{"id":"a b","pv":"a b"}`},
	{"param slash", "GET", "/echo/a%2Fb", 200, `{"id":"a/b","pv":"a/b"}`},
	{"param plus", "GET", "/echo/a+b", 200, `{"id":"a+b","pv":"a+b"}`},
	{"param case kept", "GET", "/ECHO/MiXed", 200, `{"id":"MiXed","pv":"MiXed"}`},
	// net/http and the bridge refuse the URL before the router sees it,
	// with their own texts.
	{"bad escape", "GET", "/echo/%ZZ", 400, ""},
	{"asset skipped", "GET", "/echo/a.b", 404, `"Not Found"`},
	{"empty segment", "GET", "/echo//x", 404, `"Not Found"`},
	{"extra segment", "GET", "/params2/a/b/c", 404, `"Not Found"`},
	{"static before param", "GET", "/order/fixed", 200, `"fixed"`},
	{"param", "GET", "/order/other", 200, `"param"`},
	{"wildcard", "GET", "/wild/a/b", 200, `"a/b"`},
	{"wildcard empty", "GET", "/wild/", 200, `""`},
	{"custom shadows blueprint", "GET", "/user/special", 200, `"special"`},
	{"custom before next", "GET", "/pet/custom", 200, `"custom pet"`},
	{"next to blueprint and its policy", "GET", "/pet/1", 401, `{"error":"token required"}`},
	{"blueprint asset", "GET", "/user/1.json", 404, `"Not Found"`},
	{"wrong method", "POST", "/json-obj", 404, `"Not Found"`},
	{"unknown", "GET", "/no/such/route", 404, `"Not Found"`},
	{"ok", "GET", "/ok", 200, `"OK"`},
	{"ok string", "GET", "/ok-string", 200, `"fine"`},
	{"json number", "GET", "/json-num", 200, `42`},
	{"json null", "GET", "/json-null", 200, `null`},
	{"bad request", "GET", "/bad", 400, `"Bad Request"`},
	{"bad request data", "GET", "/bad-obj", 400, `{"error":"bad"}`},
	{"forbidden", "GET", "/forbidden", 403, `"Forbidden"`},
	{"not found", "GET", "/not-found", 404, `"Not Found"`},
	{"server error", "GET", "/server-error", 500, `"Internal Server Error"`},
	{"blueprint create", "POST", "/pet", 401, `{"error":"token required"}`},
}

func TestRoutingHTTP(t *testing.T) {
	t.Parallel()
	a := newKitApp(t, false, nil)
	for _, tc := range routeCases {
		req, err := http.NewRequest(tc.method, a.url+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = tc.path // sent as written, not cleaned
		if i := strings.IndexByte(tc.path, '?'); i >= 0 {
			req.URL.Opaque, req.URL.RawQuery = tc.path[:i], tc.path[i+1:]
		}
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var body any
		raw := new(strings.Builder)
		fmt.Fprint(raw, readAll(resp))
		if err := json.Unmarshal([]byte(raw.String()), &body); err != nil {
			body = raw.String() // text answers
		}
		if resp.StatusCode != tc.status || tc.body != "" && asJSON(body) != tc.body {
			t.Errorf("HTTP %s (%s %s): %d %s, want %d %s", tc.name, tc.method, tc.path, resp.StatusCode, asJSON(body), tc.status, tc.body)
		}
	}
}

func TestRoutingSockets(t *testing.T) {
	t.Parallel()
	a := newKitApp(t, false, nil)
	var steps []step
	for _, tc := range routeCases {
		steps = append(steps, step{Name: tc.name, Method: strings.ToLower(tc.method), URL: tc.path})
	}
	steps = append(steps,
		step{Name: "options", Method: "options", URL: "/anything"},
		step{Name: "head", Method: "head", URL: "/json-obj"},
	)
	res, _ := a.run(t, 1, "", steps)
	for _, tc := range routeCases {
		expectRes(t, res, tc.name, tc.status, tc.body)
	}
	// Sails answers OPTIONS on any path (no body); HEAD runs GET and the
	// JWR keeps its body.
	expectRes(t, res, "options", 200, `{"$undefined":true}`)
	if h := asJSON(res["options"]["headers"]); !strings.Contains(h, `"allow":"DELETE, GET, HEAD, PATCH, POST, PUT"`) {
		t.Errorf("options headers %s", h)
	}
	expectRes(t, res, "head", 200, `{"a":1}`)
	if h := asJSON(res["exact"]["headers"]); h != `{}` {
		t.Errorf("JSON object JWR headers %s, want {} (as Sails' res.json)", h)
	}
	if h := asJSON(res["unknown"]["headers"]); h != `{}` {
		t.Errorf("Not Found JWR headers %s, want {}", h)
	}
}

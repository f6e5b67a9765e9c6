package kit

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pierhq/pier/sailsbridge"
)

// Router routes HTTP and virtual requests as Sails' router does (see the
// package doc): route addresses like "GET /message/:id" (config/routes.js
// keys), matched case-insensitively with one optional trailing slash, no
// path cleaning and no redirects, most specific address first, 404 "Not
// Found" when nothing matches. Routes carry their policies; Use adds hook
// middleware (CSRF) that runs before routing for every request.
//
// Concurrency: add routes and middleware before serving; ServeHTTP may be
// called concurrently.
type Router struct {
	routes []*route
	hooks  []Policy
	seq    int
}

// Route holds the options of one route beyond its address and handler.
type Route struct {
	// Policies run in order before the handler; the first one that
	// answers ends the request (see Policy).
	Policies []Policy
	// CSRF false exempts the route from the CSRF check (Sails' csrf:
	// false route option). nil means checked when CSRF is on.
	CSRF *bool
	// SkipAssets false makes a GET route whose address ends in a
	// parameter also match paths whose last segment has a dot (Sails
	// skips those by default: "/user/1.json" is 404). nil means true.
	SkipAssets *bool

	tier int // 0 custom routes, 1 blueprint shadow routes
}

type segKind int

const (
	segStatic segKind = iota
	segParam
	segWild
)

type segment struct {
	kind     segKind
	text     string // static: lower-cased, escaped form; param: the name
	optional bool
}

type route struct {
	methods    []string // nil: GET, PUT, POST, DELETE, PATCH
	address    string
	segs       []segment
	handler    http.Handler
	opts       Route
	skipAssets bool
	seq        int
}

// NewRouter returns an empty Router.
func NewRouter() *Router { return &Router{} }

// Use adds hook middleware that runs for every request before routing,
// unmatched ones included (Sails' CSRF hook works this way: an unsafe
// request without a token is 403 even where no route exists).
func (rt *Router) Use(mw ...Policy) { rt.hooks = append(rt.hooks, mw...) }

// Handle adds a route: address is "[METHOD] /path" where a segment is a
// static word, ":name" (a parameter; ":name?" optional, last only) or
// "*" (the rest of the path, parameter "0"); without a method the route
// binds GET, PUT, POST, DELETE and PATCH. GET routes also serve HEAD. It
// panics on a malformed address, as http.ServeMux does.
func (rt *Router) Handle(address string, h http.Handler, policies ...Policy) {
	rt.HandleRoute(address, h, Route{Policies: policies})
}

// HandleFunc is Handle for a function.
func (rt *Router) HandleFunc(address string, f func(http.ResponseWriter, *http.Request), policies ...Policy) {
	rt.Handle(address, http.HandlerFunc(f), policies...)
}

// HandleRoute is Handle with all route options.
func (rt *Router) HandleRoute(address string, h http.Handler, o Route) {
	r, err := parseAddress(address)
	if err != nil {
		panic(err)
	}
	r.handler, r.opts, r.seq = h, o, rt.seq
	rt.seq++
	r.skipAssets = o.SkipAssets == nil || *o.SkipAssets
	if n := len(r.segs); n == 0 || r.segs[n-1].kind != segParam || !r.handles(http.MethodGet) {
		r.skipAssets = false
	}
	rt.routes = append(rt.routes, r)
	slices.SortStableFunc(rt.routes, compareRoutes)
}

func parseAddress(address string) (*route, error) {
	r := &route{address: address}
	method, path, ok := strings.Cut(strings.TrimSpace(address), " ")
	if !ok {
		path = method
		method = ""
	}
	path = strings.TrimSpace(path)
	if method != "" {
		m := strings.ToUpper(method)
		if m == "ALL" {
			m = ""
		}
		if m != "" {
			r.methods = []string{m}
		}
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("kit: route address %q: the path must start with /", address)
	}
	path = strings.TrimSuffix(path, "/")
	if path == "" {
		return r, nil
	}
	parts := strings.Split(path[1:], "/")
	for i, p := range parts {
		last := i == len(parts)-1
		switch {
		case p == "":
			return nil, fmt.Errorf("kit: route address %q: empty segment", address)
		case p == "*":
			if !last {
				return nil, fmt.Errorf("kit: route address %q: * must be last", address)
			}
			r.segs = append(r.segs, segment{kind: segWild, text: "0"})
		case strings.HasPrefix(p, ":"):
			name, opt := strings.CutSuffix(p[1:], "?")
			if name == "" || opt && !last {
				return nil, fmt.Errorf("kit: route address %q: bad parameter %q", address, p)
			}
			r.segs = append(r.segs, segment{kind: segParam, text: name, optional: opt})
		default:
			r.segs = append(r.segs, segment{kind: segStatic, text: strings.ToLower(p)})
		}
	}
	return r, nil
}

func (r *route) handles(method string) bool {
	if r.methods == nil {
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodPatch:
			return true
		}
		return false
	}
	m := r.methods[0]
	return m == method || m == http.MethodGet && method == http.MethodHead
}

// match matches the escaped path segments; it returns the raw parameter
// values.
func (r *route) match(segs []string) ([]string, bool) {
	var vals []string
	for i, s := range r.segs {
		if i >= len(segs) {
			if s.optional || s.kind == segWild {
				return append(vals, ""), true
			}
			return nil, false
		}
		switch s.kind {
		case segStatic:
			if strings.ToLower(segs[i]) != s.text {
				return nil, false
			}
		case segParam:
			if segs[i] == "" {
				return nil, false
			}
			vals = append(vals, segs[i])
		case segWild:
			return append(vals, strings.Join(segs[i:], "/")), true
		}
	}
	if len(segs) != len(r.segs) {
		return nil, false
	}
	return vals, true
}

// compareRoutes orders routes as Sails does: custom before blueprint
// routes; per segment static < parameter < wildcard; fewer segments
// first; a method before none; then declaration order.
func compareRoutes(a, b *route) int {
	if c := cmp.Compare(a.opts.tier, b.opts.tier); c != 0 {
		return c
	}
	for i := 0; i < min(len(a.segs), len(b.segs)); i++ {
		if c := cmp.Compare(a.segs[i].kind, b.segs[i].kind); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(len(a.segs), len(b.segs)); c != 0 {
		return c
	}
	if (a.methods == nil) != (b.methods == nil) {
		if a.methods != nil {
			return -1
		}
		return 1
	}
	return cmp.Compare(a.seq, b.seq)
}

// allowed are the methods an automatic OPTIONS answer lists.
const allowedHTTP = "GET,HEAD,PUT,POST,DELETE,PATCH"

// ServeHTTP runs the hooks, then the first matching route with its
// policies, else answers OPTIONS automatically (200 with Allow) and
// anything else with 404 "Not Found".
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = withBodyCache(r)
	m := rt.find(r, 0)
	r = r.WithContext(context.WithValue(r.Context(), routeKey{}, m))
	h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rt.dispatch(w, r, m) }))
	for i := len(rt.hooks) - 1; i >= 0; i-- {
		h = rt.hooks[i](h)
	}
	h.ServeHTTP(w, r)
}

// routeKey marks the request with its matched route, for hooks that look
// at route options (the CSRF exemption).
type routeKey struct{}

type matched struct {
	route *route
	raw   []string
	ok    bool
	idx   int // of route in rt.routes
}

// matchedRoute returns the options of the route Router matched for r.
func matchedRoute(r *http.Request) (Route, bool) {
	if m, ok := r.Context().Value(routeKey{}).(*matched); ok && m.ok {
		return m.route.opts, true
	}
	return Route{}, false
}

func (rt *Router) find(r *http.Request, from int) *matched {
	segs, ok := splitPath(r.URL.EscapedPath())
	if !ok {
		return &matched{}
	}
	for i := from; i < len(rt.routes); i++ {
		rr := rt.routes[i]
		if !rr.handles(r.Method) {
			continue
		}
		vals, ok := rr.match(segs)
		if !ok {
			continue
		}
		if rr.skipAssets && len(segs) > 0 && strings.Contains(segs[len(segs)-1], ".") {
			continue
		}
		return &matched{route: rr, raw: vals, ok: true, idx: i}
	}
	return &matched{}
}

func (rt *Router) dispatch(w http.ResponseWriter, r *http.Request, m *matched) {
	rr, raw := m.route, m.raw
	if !m.ok {
		if r.Method == http.MethodOptions {
			autoOptions(w, r)
			return
		}
		NotFound(w, r)
		return
	}
	p := &pathParams{}
	for _, s := range rr.segs {
		if s.kind == segStatic {
			continue
		}
		if len(p.values) == len(raw) {
			break
		}
		v, err := url.PathUnescape(raw[len(p.values)])
		if err != nil {
			Text(w, r, http.StatusBadRequest, "Bad request: Could not decode requested URL.")
			return
		}
		p.names = append(p.names, s.text)
		p.values = append(p.values, v)
	}
	r = withParams(r, p)
	r = r.WithContext(context.WithValue(r.Context(), nextKey{}, &nextRoute{rt, m.idx}))
	h := rr.handler
	for i := len(rr.opts.Policies) - 1; i >= 0; i-- {
		h = rr.opts.Policies[i](h)
	}
	h.ServeHTTP(w, r)
}

type nextKey struct{}

type nextRoute struct {
	rt  *Router
	idx int
}

// Next passes the request on to the next route that matches it, as a
// Sails route target calling next(): e.g. a custom "GET /pet/:id" that
// handles some ids and lets the blueprint findOne serve the others. With
// no further route, the answer is 404 "Not Found" (OPTIONS: the automatic
// answer).
func Next(w http.ResponseWriter, r *http.Request) {
	n, ok := r.Context().Value(nextKey{}).(*nextRoute)
	if !ok {
		NotFound(w, r)
		return
	}
	n.rt.dispatch(w, r, n.rt.find(r, n.idx+1))
}

// splitPath splits an escaped absolute path into segments, dropping one
// trailing slash. ok is false for a path not starting with "/".
func splitPath(p string) ([]string, bool) {
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	if p == "/" {
		return nil, true
	}
	return strings.Split(p[1:], "/"), true
}

func autoOptions(w http.ResponseWriter, r *http.Request) {
	if sailsbridge.IsSocket(r) {
		w.Header().Set("Allow", "DELETE, GET, HEAD, PATCH, POST, PUT")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Allow", allowedHTTP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(allowedHTTP))
}

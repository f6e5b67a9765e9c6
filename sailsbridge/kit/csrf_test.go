package kit_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/sailsbridge/kit"
)

// CSRF as Sails does it, over HTTP and sails.io.js: a token from HTTP GET
// /csrfToken is tied to the session of its cookie; unsafe methods need it
// (body, query or one of four headers) on every path; a socket that
// connected with the cookie passes with it, another socket does not.
func TestCSRF(t *testing.T) {
	t.Parallel()
	a := newKitApp(t, true, nil)
	do := func(method, path, ctype, body, cookie string, hdr map[string]string) (int, string, *http.Response) {
		t.Helper()
		req, _ := http.NewRequest(method, a.url+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readAll(resp), resp
	}
	status, body, resp := do("GET", "/csrfToken", "", "", "", nil)
	var tok struct {
		CSRF string `json:"_csrf"`
	}
	json.Unmarshal([]byte(body), &tok)
	if status != 200 || len(tok.CSRF) < 10 || len(resp.Cookies()) == 0 {
		t.Fatalf("GET /csrfToken: %d %s cookies %v", status, body, resp.Cookies())
	}
	cookie := resp.Cookies()[0].Name + "=" + resp.Cookies()[0].Value
	T := tok.CSRF
	const jsonCT = "application/json"
	for _, tc := range []struct {
		name, method, path, ctype, body, cookie string
		hdr                                     map[string]string
		want                                    int
	}{
		{"no token", "POST", "/params/1", jsonCT, `{"a":1}`, cookie, nil, 403},
		{"body token", "POST", "/params/1", jsonCT, `{"a":1,"_csrf":"` + T + `"}`, cookie, nil, 200},
		{"form token", "POST", "/params/1", "application/x-www-form-urlencoded", `a=1&_csrf=` + T, cookie, nil, 200},
		{"query token", "POST", "/params/1?_csrf=" + T, jsonCT, `{}`, cookie, nil, 200},
		{"x-csrf-token", "POST", "/params/1", jsonCT, `{}`, cookie, map[string]string{"X-Csrf-Token": T}, 200},
		{"csrf-token", "POST", "/params/1", jsonCT, `{}`, cookie, map[string]string{"Csrf-Token": T}, 200},
		{"xsrf-token", "POST", "/params/1", jsonCT, `{}`, cookie, map[string]string{"Xsrf-Token": T}, 200},
		{"x-xsrf-token", "POST", "/params/1", jsonCT, `{}`, cookie, map[string]string{"X-Xsrf-Token": T}, 200},
		{"wrong token", "POST", "/params/1", jsonCT, `{"_csrf":"abcdefgh-xyz"}`, cookie, nil, 403},
		{"no cookie", "POST", "/params/1", jsonCT, `{"_csrf":"` + T + `"}`, "", nil, 403},
		{"put", "PUT", "/params/1", jsonCT, `{}`, cookie, nil, 403},
		{"patch", "PATCH", "/params/1", jsonCT, `{}`, cookie, nil, 403},
		{"delete", "DELETE", "/params/1", jsonCT, `{}`, cookie, nil, 403},
		{"get", "GET", "/params/1", "", "", cookie, nil, 200},
		{"head", "HEAD", "/params/1", "", "", cookie, nil, 200},
		{"options", "OPTIONS", "/params/1", "", "", cookie, nil, 200},
		{"exempt route", "POST", "/nocsrf", jsonCT, `{}`, "", nil, 200},
		{"unmatched", "POST", "/nope", jsonCT, `{}`, cookie, nil, 403},
	} {
		if got, body, _ := do(tc.method, tc.path, tc.ctype, tc.body, tc.cookie, tc.hdr); got != tc.want {
			t.Errorf("HTTP %s: %d %s, want %d", tc.name, got, body, tc.want)
		} else if got == 403 && body != "Forbidden" {
			t.Errorf("HTTP %s: body %q, want Forbidden", tc.name, body)
		}
	}

	// A socket that connected with the session's cookie.
	res, _ := a.run(t, 1, "", []step{
		{Name: "get", Method: "get", URL: "/params/1", Data: map[string]any{"a": 1}},
		{Name: "post", Method: "post", URL: "/params/1", Data: map[string]any{"a": 1}},
		{Name: "post token", Method: "post", URL: "/params/1", Data: map[string]any{"a": 1, "_csrf": T}},
		{Name: "post header", Method: "post", URL: "/params/1", Data: map[string]any{"a": 1}, Headers: map[string]string{"x-csrf-token": T}},
		{Name: "post query", Method: "post", URL: "/params/1?_csrf=" + T, Data: map[string]any{"a": 1}},
		{Name: "delete", Method: "delete", URL: "/params/1", Data: map[string]any{"a": 1}},
		{Name: "delete token", Method: "delete", URL: "/params/1", Data: map[string]any{"_csrf": T}},
		{Name: "token over socket", Method: "get", URL: "/csrfToken"},
	}, "--cookie", cookie)
	expectRes(t, res, "get", 200, "")
	expectRes(t, res, "post", 403, `"Forbidden"`)
	expectRes(t, res, "post token", 200, `{"all":{"_csrf":"`+T+`","a":1,"id":"1"},"id":"1","x":null}`)
	expectRes(t, res, "post header", 200, "")
	expectRes(t, res, "post query", 200, "")
	expectRes(t, res, "delete", 403, `"Forbidden"`)
	expectRes(t, res, "delete token", 200, "")
	expectRes(t, res, "token over socket", 400, "")

	// A socket without the cookie has its own session and secret.
	res, _ = a.run(t, 1, "", []step{
		{Name: "post token", Method: "post", URL: "/params/1", Data: map[string]any{"_csrf": T}},
		{Name: "post header", Method: "post", URL: "/params/1", Headers: map[string]string{"x-csrf-token": T}},
	})
	expectRes(t, res, "post token", 403, `"Forbidden"`)
	expectRes(t, res, "post header", 403, `"Forbidden"`)
}

func TestCSRFToken(t *testing.T) {
	secret := "0123456789abcdefghijklmn"
	tok := kit.NewCSRFToken(secret)
	if !kit.VerifyCSRFToken(secret, tok) || tok == kit.NewCSRFToken(secret) {
		t.Fatalf("token %q", tok)
	}
	for _, bad := range []string{"", "x", tok[:len(tok)-1], "-" + tok, strings.Replace(tok, "-", "_", 1)} {
		if kit.VerifyCSRFToken(secret, bad) {
			t.Errorf("%q accepted", bad)
		}
	}
	if kit.VerifyCSRFToken("other", tok) || kit.VerifyCSRFToken("", tok) {
		t.Error("a token of another secret accepted")
	}
}

// Policies per route and per blueprint action, over sails.io.js: a
// refusal is the policy's own JWR; a denied blueprint create publishes
// nothing; after a login written through the socket's session, the
// chain goes on to its next policy.
func TestPolicies(t *testing.T) {
	t.Parallel()
	a := newKitApp(t, false, nil)
	res, msgs := a.run(t, 2, "user", []step{
		{C: 1, Name: "watch", Method: "get", URL: "/user"},
		{Name: "open", Method: "get", URL: "/guard/open"},
		{Name: "secret", Method: "get", URL: "/guard/secret"},
		{Name: "never", Method: "get", URL: "/guard/never"},
		{Name: "chain", Method: "get", URL: "/guard/chain"},
		{Name: "create denied", Method: "post", URL: "/user", Data: map[string]any{"name": "no"}},
		{Name: "pets denied", Method: "get", URL: "/pet"},
		{Name: "pets", Method: "get", URL: "/pet", Headers: map[string]string{"x-token": "ok"}},
		{Name: "login", Method: "post", URL: "/guard/login", Data: map[string]any{"id": 5}},
		{Name: "secret after", Method: "get", URL: "/guard/secret"},
		{Name: "chain after", Method: "get", URL: "/guard/chain"},
		{Name: "chain token", Method: "get", URL: "/guard/chain", Headers: map[string]string{"x-token": "ok"}},
		{Name: "create", Method: "post", URL: "/user", Data: map[string]any{"name": "u1"}},
		waitFor(1, 1),
	})
	expectRes(t, res, "watch", 200, `[]`)
	expectRes(t, res, "open", 200, `{"guard":"open"}`)
	expectRes(t, res, "secret", 403, `"Forbidden"`)
	expectRes(t, res, "never", 403, `"Forbidden"`)
	expectRes(t, res, "chain", 403, `"Forbidden"`)
	expectRes(t, res, "create denied", 403, `"Forbidden"`)
	expectRes(t, res, "pets denied", 401, `{"error":"token required"}`)
	expectRes(t, res, "pets", 200, `[]`)
	expectRes(t, res, "login", 200, `{"loggedIn":5}`)
	expectRes(t, res, "secret after", 200, `{"guard":"secret"}`)
	expectRes(t, res, "chain after", 401, `{"error":"token required"}`)
	expectRes(t, res, "chain token", 200, `{"guard":"chain"}`)
	expectRes(t, res, "create", 200, "")
	if len(msgs) != 1 || asJSON(msgs[0]["data"].(map[string]any)["data"].(map[string]any)["name"]) != `"u1"` {
		t.Errorf("watcher events %v, want only u1's created", msgs)
	}
}

// Tokens are those of the csrf package Sails uses: a token the kit makes
// passes csrf.verify, a token csrf makes passes VerifyCSRFToken, so Node
// and Go servers sharing sessions accept each other's tokens.
func TestCSRFTokensMatchNode(t *testing.T) {
	jstest.InstallDir(t, appDir)
	script, _ := filepath.Abs(filepath.Join(appDir, "csrf-tokens.js"))
	secret := "Zk2bOq8yJ1mC4rTq0aXy7LpD"
	goToken := kit.NewCSRFToken(secret)
	events := runScript(t, script, "--secret", secret, "--token", goToken)
	e, ok := jstest.First(events, "tokens")
	if !ok {
		t.Fatal("no tokens line")
	}
	if !e.Bool("valid") {
		t.Errorf("csrf.verify refused the kit's token %q", goToken)
	}
	if !kit.VerifyCSRFToken(e.String("secret"), e.String("token")) {
		t.Errorf("VerifyCSRFToken refused csrf's token %q of secret %q", e.String("token"), e.String("secret"))
	}
	if len(e.String("secret")) != 24 {
		t.Errorf("csrf's secret %q is not 24 characters, as the kit's", e.String("secret"))
	}
	bad, _ := jstest.First(runScript(t, script, "--secret", secret, "--token", goToken[:len(goToken)-2]+"xx"), "tokens")
	if bad.Bool("valid") {
		t.Error("csrf.verify accepted a damaged token: the check is void")
	}
}

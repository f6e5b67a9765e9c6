package kit_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// AllParams and Param follow Sails' precedence (path > body > query; a
// body value wins even when "", 0, false or null) over sockets, where
// sails.io.js sends GET params in the body, and over HTTP, where a GET
// body is ignored.
func TestParamsSockets(t *testing.T) {
	t.Parallel()
	a := newKitApp(t, false, nil)
	res, _ := a.run(t, 1, "", []step{
		{Name: "get", Method: "get", URL: "/params/1?x=q&id=3&y=qy", Data: map[string]any{"x": 1, "id": 2, "z": true, "n": nil, "o": map[string]any{"k": []any{1, "a"}}}},
		{Name: "put empty", Method: "put", URL: "/params/1?x=q", Data: map[string]any{"x": ""}},
		{Name: "patch zero", Method: "patch", URL: "/params/1?x=q", Data: map[string]any{"x": 0}},
		{Name: "delete false", Method: "delete", URL: "/params/1?x=q", Data: map[string]any{"x": false}},
		{Name: "optional", Method: "get", URL: "/params2/a", Data: map[string]any{"b": "fromBody"}},
		{Name: "query only", Method: "get", URL: "/params/7?x=q"},
	})
	expectRes(t, res, "get", 200, `{"all":{"id":"1","n":null,"o":{"k":[1,"a"]},"x":1,"y":"qy","z":true},"id":"1","x":1}`)
	expectRes(t, res, "put empty", 200, `{"all":{"id":"1","x":""},"id":"1","x":""}`)
	expectRes(t, res, "patch zero", 200, `{"all":{"id":"1","x":0},"id":"1","x":0}`)
	expectRes(t, res, "delete false", 200, `{"all":{"id":"1","x":false},"id":"1","x":false}`)
	expectRes(t, res, "optional", 200, `{"all":{"a":"a","b":"fromBody"},"id":null,"x":null}`)
	expectRes(t, res, "query only", 200, `{"all":{"id":"7","x":"q"},"id":"7","x":"q"}`)
}

func TestParamsHTTP(t *testing.T) {
	t.Parallel()
	a := newKitApp(t, false, nil)
	for _, tc := range []struct {
		name, method, path, ctype, body, want string
	}{
		{"get body ignored", "GET", "/params/1?x=q&id=3", "application/json", `{"x":1,"id":2}`, `{"all":{"id":"1","x":"q"},"id":"1","x":"q"}`},
		{"json post", "POST", "/params/1?x=q", "application/json", `{"x":1,"id":2,"b":[1]}`, `{"all":{"b":[1],"id":"1","x":1},"id":"1","x":1}`},
		{"urlencoded", "POST", "/params/1", "application/x-www-form-urlencoded", `x=1&n=5&arr[]=1&arr[]=2`, `{"all":{"arr":["1","2"],"id":"1","n":"5","x":"1"},"id":"1","x":"1"}`},
		{"text ignored", "POST", "/params/1?x=q", "text/plain", `x=1`, `{"all":{"id":"1","x":"q"},"id":"1","x":"q"}`},
	} {
		req, _ := http.NewRequest(tc.method, a.url+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got any
		if err := json.Unmarshal([]byte(readAll(resp)), &got); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if resp.StatusCode != 200 || asJSON(got) != tc.want {
			t.Errorf("%s: %d %s, want %s", tc.name, resp.StatusCode, asJSON(got), tc.want)
		}
	}
}

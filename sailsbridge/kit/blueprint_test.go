package kit_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/sailsbridge/kit"
)

// eventsOf returns socket c's events as "name verb id attr child" lines.
func eventsOf(msgs []jstest.Event, c int) []string {
	var out []string
	for _, m := range msgs {
		if int(m.Number("c")) != c {
			continue
		}
		d := m["data"].(map[string]any)
		line := fmt.Sprintf("%s %v %v", m.String("name"), d["verb"], d["id"])
		switch d["verb"] {
		case "addedTo":
			line += fmt.Sprintf(" %v+%v", d["attribute"], d["addedId"])
		case "removedFrom":
			line += fmt.Sprintf(" %v-%v", d["attribute"], d["removedId"])
		case "updated":
			line += " " + asJSON(d["data"])
		}
		out = append(out, line)
	}
	return out
}

// Replace (PUT /user/:id/pets [ids]) as Sails publishes it, then an
// HTTP-originated change, which omits no socket (the actor's included).
// Sockets: 0 actor, 1 watcher (GET /user), 2 and 3 subscribers of users 1
// and 2.
func TestBlueprintReplace(t *testing.T) {
	t.Parallel()
	a := newKitApp(t, false, &kit.BlueprintOptions{Policies: map[string][]kit.Policy{}})
	res, msgs := a.run(t, 4, "user,pet", []step{
		{Name: "u1", Method: "post", URL: "/user", Data: map[string]any{"name": "u1"}},
		{Name: "u2", Method: "post", URL: "/user", Data: map[string]any{"name": "u2"}},
		{Name: "p1", Method: "post", URL: "/pet", Data: map[string]any{"name": "p1"}},
		{Name: "p2", Method: "post", URL: "/pet", Data: map[string]any{"name": "p2"}},
		{Name: "p3", Method: "post", URL: "/pet", Data: map[string]any{"name": "p3", "owner": 2}},
		{C: 1, Name: "watch", Method: "get", URL: "/user"},
		{C: 2, Name: "sub1", Method: "get", URL: "/user/1"},
		{C: 3, Name: "sub2", Method: "get", URL: "/user/2"},
		{Name: "r1", Method: "put", URL: "/user/1/pets", Data: []any{1, 2}},
		{Name: "r2", Method: "put", URL: "/user/1/pets", Data: []any{2, 3}},
		{Name: "r3", Method: "put", URL: "/user/1/pets", Data: []any{}},
		{Name: "not array", Method: "put", URL: "/user/1/pets", Data: map[string]any{"pets": []any{1}}},
		{Name: "http", HTTP: true, Method: "put", URL: "/user/1/pets", Data: []any{2}},
		waitFor(1, 10), waitFor(2, 7), waitFor(3, 3), waitFor(0, 2),
		{C: 0, Name: "b0", Method: "get", URL: "/json-obj"},
		{C: 1, Name: "b1", Method: "get", URL: "/json-obj"},
		{C: 2, Name: "b2", Method: "get", URL: "/json-obj"},
		{C: 3, Name: "b3", Method: "get", URL: "/json-obj"},
	})
	for _, n := range []string{"r1", "r2", "r3", "http"} {
		expectRes(t, res, n, 200, "")
	}
	if b := asJSON(res["r2"]["body"]); !strings.Contains(b, `"pets":[{`) || strings.Count(b, `"owner":1`) != 2 {
		t.Errorf("r2 body %s, want user 1 with pets 2 and 3", b)
	}
	expectRes(t, res, "not array", 400, "")
	if b := asJSON(res["not array"]["body"]); !strings.Contains(b, `"code":"E_INVALID_ASSOCIATED_IDS"`) {
		t.Errorf("not array: %s", b)
	}
	want := map[int][]string{
		0: {"user addedTo 1 pets+2", `pet updated 2 {"owner":1}`},
		1: {
			"user addedTo 1 pets+1", "user addedTo 1 pets+2",
			"user addedTo 1 pets+3", `pet updated 3 {"owner":1}`, "user removedFrom 2 pets-3", "user removedFrom 1 pets-1",
			"user removedFrom 1 pets-2", "user removedFrom 1 pets-3", `pet updated 3 {"owner":null}`,
			"user addedTo 1 pets+2",
		},
		2: {
			"user addedTo 1 pets+1", "user addedTo 1 pets+2",
			"user addedTo 1 pets+3", "user removedFrom 1 pets-1",
			"user removedFrom 1 pets-2", "user removedFrom 1 pets-3",
			"user addedTo 1 pets+2",
		},
		3: {`pet updated 3 {"owner":1}`, "user removedFrom 2 pets-3", `pet updated 3 {"owner":null}`},
	}
	for c := range 4 {
		if got := eventsOf(msgs, c); strings.Join(got, "\n") != strings.Join(want[c], "\n") {
			t.Errorf("socket %d events:\n%s\nwant:\n%s", c, strings.Join(got, "\n"), strings.Join(want[c], "\n"))
		}
	}
}

// With autoWatch off, find joins no class room: a watcher hears of no new
// record, though subscribers of a record still hear of its changes.
func TestBlueprintNoAutoWatch(t *testing.T) {
	t.Parallel()
	a := newKitApp(t, false, &kit.BlueprintOptions{NoAutoWatch: true, Policies: map[string][]kit.Policy{}})
	res, msgs := a.run(t, 2, "user", []step{
		{C: 1, Name: "watch", Method: "get", URL: "/user"},
		{Name: "u1", Method: "post", URL: "/user", Data: map[string]any{"name": "u1"}},
		{C: 1, Name: "find", Method: "get", URL: "/user"},
		{Name: "u2", Method: "post", URL: "/user", Data: map[string]any{"name": "u2"}},
		{Name: "rename", Method: "patch", URL: "/user/1", Data: map[string]any{"name": "u1b"}},
		waitFor(1, 1),
		{C: 1, Name: "barrier", Method: "get", URL: "/json-obj"},
	})
	expectRes(t, res, "find", 200, "")
	if got := eventsOf(msgs, 1); strings.Join(got, "|") != `user updated 1 {"id":1,"name":"u1b","updatedAt":`+asJSON(msgs[0]["data"].(map[string]any)["data"].(map[string]any)["updatedAt"])+`}` {
		t.Errorf("events %v, want only user 1's update", got)
	}
}

// A custom route to a blueprint action ('GET /users-alias': 'user/find')
// subscribes to the records only, as in Sails; the shadow route also
// watches the model and deep-subscribes.
func TestBlueprintCustomRoute(t *testing.T) {
	t.Parallel()
	a := newKitApp(t, false, &kit.BlueprintOptions{Policies: map[string][]kit.Policy{}})
	res, _ := a.run(t, 3, "user", []step{
		{Name: "u1", Method: "post", URL: "/user", Data: map[string]any{"name": "u1"}},
		{C: 1, Name: "alias", Method: "get", URL: "/users-alias"},
		{C: 1, Name: "alias rooms", Method: "get", URL: "/rooms"},
		{C: 2, Name: "find", Method: "get", URL: "/user"},
		{C: 2, Name: "find rooms", Method: "get", URL: "/rooms"},
		{Name: "actor rooms", Method: "get", URL: "/rooms"},
		{Name: "p1", Method: "post", URL: "/pet", Data: map[string]any{"name": "p1", "owner": 1}},
		{C: 1, Name: "custom next", Method: "get", URL: "/pet/1"},
		{C: 1, Name: "next rooms", Method: "get", URL: "/rooms"},
	})
	expectRes(t, res, "alias", 200, "")
	if b := asJSON(res["alias"]["body"]); !strings.Contains(b, `"name":"u1"`) {
		t.Errorf("alias body %s", b)
	}
	expectRes(t, res, "alias rooms", 200, `["sails_model_user_1:user"]`)
	expectRes(t, res, "find rooms", 200, `["sails_model_create_pet","sails_model_create_user","sails_model_user_1:user"]`)
	expectRes(t, res, "actor rooms", 200, `["sails_model_user_1:user"]`)
	// A custom GET /pet/:id that calls kit.Next reaches the shadow findOne,
	// which deep-subscribes (the owner and the user class room).
	if b := asJSON(res["custom next"]["body"]); !strings.Contains(b, `"name":"p1"`) || !strings.Contains(b, `"owner":{`) {
		t.Errorf("custom next: %s", b)
	}
	expectRes(t, res, "next rooms", 200, `["sails_model_create_user","sails_model_pet_1:pet","sails_model_user_1:user"]`)
}

// Many-to-many (user.tags <-> tag.users): the reverse side hears
// addedTo/removedFrom on its own collection, replace included (which the
// comparison with Sails cannot cover: Sails' replace fails on schema:false
// models). Sockets: 0 actor, 1 subscriber of user 2 (no tags yet), 2 of
// tag 1 (and so, deep, of user 1).
func TestBlueprintManyToMany(t *testing.T) {
	t.Parallel()
	schema := kit.Schema{
		{Identity: "user", Associations: []kit.Association{{Name: "tags", Collection: "tag", Via: "users"}}},
		{Identity: "tag", Associations: []kit.Association{{Name: "users", Collection: "user", Via: "tags"}}},
	}
	a := newKitAppOf(t, schema, false, &kit.BlueprintOptions{NoAutoWatch: true, Policies: map[string][]kit.Policy{}})
	res, msgs := a.run(t, 3, "user,tag", []step{
		{Name: "u1", Method: "post", URL: "/user", Data: map[string]any{"name": "u1"}},
		{Name: "u2", Method: "post", URL: "/user", Data: map[string]any{"name": "u2"}},
		{Name: "t1", Method: "post", URL: "/tag", Data: map[string]any{"name": "t1", "users": []any{1}}},
		{C: 1, Name: "sub u2", Method: "get", URL: "/user/2"},
		{C: 2, Name: "sub t1", Method: "get", URL: "/tag/1"},
		{Name: "replace", Method: "put", URL: "/tag/1/users", Data: []any{2}},
		{Name: "add", Method: "put", URL: "/user/1/tags/1"},
		{Name: "remove", Method: "delete", URL: "/tag/1/users/2"},
		{Name: "destroy", Method: "delete", URL: "/user/1"},
		waitFor(1, 2), waitFor(2, 8),
		{C: 1, Name: "b1", Method: "get", URL: "/json-obj"},
		{C: 2, Name: "b2", Method: "get", URL: "/json-obj"},
	})
	expectRes(t, res, "t1", 200, "")
	if b := asJSON(res["sub t1"]["body"]); !strings.Contains(b, `"users":[{`) || !strings.Contains(b, `"name":"u1"`) {
		t.Errorf("tag 1: %s", b)
	}
	expectRes(t, res, "replace", 200, "")
	if b := asJSON(res["replace"]["body"]); !strings.Contains(b, `"users":[{`) || !strings.Contains(b, `"name":"u2"`) || strings.Contains(b, `"name":"u1"`) {
		t.Errorf("replace: %s", b)
	}
	want := map[int][]string{
		1: {"user addedTo 2 tags+1", "user removedFrom 2 tags-1"},
		2: {
			"tag addedTo 1 users+2", "tag removedFrom 1 users-1", "user removedFrom 1 tags-1", // replace [2]
			"user addedTo 1 tags+1", "tag addedTo 1 users+1", // add
			"tag removedFrom 1 users-2",                     // remove
			"user destroyed 1", "tag removedFrom 1 users-1", // destroy user 1
		},
	}
	for c := 1; c <= 2; c++ {
		if got := eventsOf(msgs, c); strings.Join(got, "|") != strings.Join(want[c], "|") {
			t.Errorf("socket %d events:\n%s\nwant:\n%s", c, strings.Join(got, "\n"), strings.Join(want[c], "\n"))
		}
	}
}

// Mirror: the actor hears its own destroy and remove (with their reverse
// messages), never its create or update.
func TestBlueprintMirror(t *testing.T) {
	t.Parallel()
	a := newKitApp(t, false, &kit.BlueprintOptions{Mirror: true, Policies: map[string][]kit.Policy{}})
	_, msgs := a.run(t, 1, "user,pet", []step{
		{Name: "u1", Method: "post", URL: "/user", Data: map[string]any{"name": "u1"}},
		{Name: "p1", Method: "post", URL: "/pet", Data: map[string]any{"name": "p1", "owner": 1}},
		{Name: "update", Method: "patch", URL: "/user/1", Data: map[string]any{"name": "u1b"}},
		{Name: "remove", Method: "delete", URL: "/user/1/pets/1"},
		{Name: "destroy", Method: "delete", URL: "/user/1"},
		waitFor(0, 3),
		{Name: "barrier", Method: "get", URL: "/json-obj"},
	})
	want := []string{"user removedFrom 1 pets-1", `pet updated 1 {"owner":null}`, "user destroyed 1"}
	if got := eventsOf(msgs, 0); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("actor events %q, want %q", got, want)
	}
}

// Bad input to the blueprints gets a 4xx with Sails' error shape, never a
// crash or a 500 (but for where's unparsable JSON, a 500 in Sails too).
func TestBlueprintBadInput(t *testing.T) {
	t.Parallel()
	a := newKitApp(t, false, &kit.BlueprintOptions{Policies: map[string][]kit.Policy{}})
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, a.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readAll(resp)
	}
	if st, b := do("POST", "/user", `{"name":"u1"}`); st != 200 {
		t.Fatalf("create: %d %s", st, b)
	}
	big := `{"name":"` + strings.Repeat("x", kit.MaxBodyBytes) + `"}`
	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/user?limit=-1", "", 400, "E_INVALID_CRITERIA"},
		{"GET", "/user?skip=x", "", 400, "E_INVALID_CRITERIA"},
		{"GET", "/user?sort=id%20SIDEWAYS", "", 400, "E_INVALID_CRITERIA"},
		{"GET", "/user?where=[1]", "", 500, ""},
		{"GET", "/user?where={bad", "", 500, ""},
		{"GET", "/user/abc", "", 400, "E_INVALID_CRITERIA"},
		{"GET", "/user/1.5", "", 404, ""}, // looks like an asset: skipped
		{"GET", "/user/-1", "", 404, ""},
		{"GET", "/user/99999999999999999999", "", 400, "E_INVALID_CRITERIA"},
		{"PATCH", "/user/1", `{"name":{"a":1}}`, 400, "E_INVALID_VALUES_TO_SET"},
		{"PATCH", "/user/1", `{"pets":"x"}`, 400, "E_INVALID_VALUES_TO_SET"},
		{"POST", "/user", `{"pets":[1,"x"]}`, 400, "E_INVALID_NEW_RECORD"},
		{"POST", "/user", `{"id":"x"}`, 400, "E_INVALID_NEW_RECORD"},
		{"POST", "/user", `{"id":1}`, 400, "E_INVALID_NEW_RECORD"},
		{"POST", "/user", `{"name":`, 400, ""},
		{"POST", "/user", big, 400, ""},
		{"PUT", "/user/1/pets/abc", "", 400, "E_INVALID_CRITERIA"},
		{"PUT", "/user/1/pets", `{"x":1}`, 400, "E_INVALID_ASSOCIATED_IDS"},
		{"PUT", "/user/1/pets", `[1,{"a":1}]`, 400, "E_INVALID_ASSOCIATED_IDS"},
		{"PUT", "/user/2/pets", `[]`, 404, ""},
		{"DELETE", "/user", "", 400, "E_INVALID_CRITERIA"},
		{"GET", "/user/1/nothing", "", 404, ""},
	} {
		st, b := do(tc.method, tc.path, tc.body)
		if st != tc.status || tc.code != "" && !strings.Contains(b, `"code":"`+tc.code+`"`) {
			t.Errorf("%s %s: %d %.200s, want %d %s", tc.method, tc.path, st, b, tc.status, tc.code)
		}
	}
	// Still serving.
	if st, b := do("GET", "/user/1", ""); st != 200 || !strings.Contains(b, `"name":"u1"`) {
		t.Errorf("after: %d %s", st, b)
	}
}

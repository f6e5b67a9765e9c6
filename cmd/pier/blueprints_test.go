package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/session"
	"github.com/pierhq/pier/socketio"
)

// The demo serves the blueprint model message through sailsbridge/kit, to
// the real sails.io.js: a watcher's GET /message subscribes it, another
// socket's POST /message reaches it as a "created" event, routing is
// Sails' (GET /MESSAGE/), and a virtual GET /__getcookie reaches the same
// route as HTTP.
func TestDemoBlueprintMessage(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	be, err := newBackend(context.Background(), RedisConfig{}, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.close() })
	io, err := newDefaultApp(&socketio.Options{Logger: log, Adapter: be.adapter})
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := session.New(be.sessions, &session.Options{Secrets: []string{"test secret"}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	h, err := newDemo(io, sessions, nil, "", log, sailsbridge.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		io.Shutdown(ctx)
		hs.Close()
	})

	steps := `[
		{"c":0,"name":"list","method":"get","url":"/message"},
		{"c":1,"name":"create","method":"post","url":"/message","data":{"text":"hello"}},
		{"c":0,"wait":1},
		{"c":0,"name":"case","method":"get","url":"/MESSAGE/"},
		{"c":0,"name":"one","method":"get","url":"/Message/1"},
		{"c":0,"name":"missing","method":"get","url":"/message/2"},
		{"c":0,"name":"getcookie","method":"get","url":"/__getcookie"},
		{"c":0,"name":"api","method":"get","url":"/api/hello"},
		{"c":0,"name":"nowhere","method":"get","url":"/nowhere"}
	]`
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	events, err := jstest.Run(ctx, t, "sails-kit-client.js", "--url", hs.URL, "--sockets", "2", "--events", "message", "--steps", steps)
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]jstest.Event{}
	for _, e := range jstest.Filter(events, "res") {
		res[e.String("name")] = e
	}
	body := func(name string) string {
		b, _ := json.Marshal(res[name]["body"])
		return string(b)
	}
	check := func(name string, status int) {
		t.Helper()
		if got := int(res[name].Number("statusCode")); got != status {
			t.Errorf("%s: status %d, want %d (body %s)", name, got, status, body(name))
		}
	}
	check("list", http.StatusOK)
	if body("list") != "[]" {
		t.Errorf("list: %s, want []", body("list"))
	}
	check("create", http.StatusOK)
	var rec map[string]any
	json.Unmarshal([]byte(body("create")), &rec)
	if rec["id"] != float64(1) || rec["text"] != "hello" || rec["createdAt"] == nil {
		t.Errorf("create: %s", body("create"))
	}
	msgs := jstest.Filter(events, "msg")
	if len(msgs) != 1 || msgs[0].Number("c") != 0 {
		t.Fatalf("events %v, want one, to socket 0", msgs)
	}
	var m struct {
		Verb string
		Data map[string]any
		ID   any
	}
	b, _ := json.Marshal(msgs[0]["data"])
	json.Unmarshal(b, &m)
	if msgs[0].String("name") != "message" || m.Verb != "created" || m.ID != float64(1) || m.Data["text"] != "hello" {
		t.Errorf("event %s", b)
	}
	check("case", http.StatusOK)
	if body("case") != "["+body("create")+"]" {
		t.Errorf("GET /MESSAGE/: %s, want [%s]", body("case"), body("create"))
	}
	check("one", http.StatusOK)
	check("missing", http.StatusNotFound)
	check("getcookie", http.StatusOK)
	if body("getcookie") != `"_sailsIoJSConnect();"` {
		t.Errorf("getcookie: %s", body("getcookie"))
	}
	check("api", http.StatusOK)
	check("nowhere", http.StatusNotFound)
	if body("nowhere") != `"Not Found"` {
		t.Errorf("nowhere: %s", body("nowhere"))
	}
}

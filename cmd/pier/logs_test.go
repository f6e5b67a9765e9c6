package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestComponentLevels(t *testing.T) {
	var buf bytes.Buffer
	root, err := newRootLogger(&buf, "json", "warn,engine=debug,redis=error")
	if err != nil {
		t.Fatal(err)
	}
	component(root, "engine").Debug("engine debug")
	component(root, "socket").Info("socket info")
	component(root, "socket").Warn("socket warn")
	component(root, "redis").Warn("redis warn")
	component(root, "redis").Error("redis error")
	redisLogger{component(root, "redis")}.Printf(t.Context(), "pool: %s\n", "gone")
	root.Info("root info")
	var got []string
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var rec struct{ Msg, Component string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		got = append(got, rec.Component+":"+rec.Msg)
	}
	want := "engine:engine debug socket:socket warn redis:redis error"
	if strings.Join(got, " ") != want {
		t.Errorf("logged %q, want %q", got, want)
	}
	for _, bad := range []string{"verbose", "info,engine", "info,nosuch=debug"} {
		if _, err := parseLogLevels(bad); err == nil {
			t.Errorf("logLevel %q accepted", bad)
		}
	}
}

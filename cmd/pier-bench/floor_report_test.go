package main

import (
	"runtime"
	"strings"
	"testing"
)

func TestFloorTable(t *testing.T) {
	m := func(cpu, p99 float64) *result {
		return &result{Metrics: []metric{{Key: "cpu", Label: "server CPU µs/delivery", Value: cpu, Lower: true}, {Key: "p99", Label: "delivery p99 µs", Value: p99, Lower: true}}}
	}
	rep := &report{Runs: []run{
		{Scenario: "b", Title: "B", Server: "pier", Result: m(9, 8000)},
		{Scenario: "b", Title: "B", Server: "node", Result: m(12, 9000)},
		{Scenario: "b", Title: "B", Server: "floor", Result: m(6, 4000)},
		{Scenario: "e", Title: "E", Server: "pier", Result: &result{Metrics: []metric{{Key: "rate", Label: "msg/s", Value: 5}}}},
		{Scenario: "e", Title: "E", Server: "node", Result: &result{Metrics: []metric{{Key: "rate", Label: "msg/s", Value: 4}}}},
		{Scenario: "e", Title: "E", Server: "floor", Skipped: floorNA},
	}}
	if got := strings.Join(rep.mainServers(), ","); got != "pier,node" {
		t.Errorf("mainServers = %s", got)
	}
	var b strings.Builder
	rep.markdown(&b)
	md := b.String()
	for _, want := range []string{
		"| scenario | metric | Pier | Node | Pier/Node |",                     // no floor column in the main table
		"| B | server CPU µs/delivery ↓ | 9.00 | 12.0 | 0.75 (1.3× better) |", // nor value
		"Distance to the floor",
		"| scenario | metric | floor | Pier/floor | Node/floor |",
		"| B | server CPU µs/delivery ↓ | 6.00 | 1.50 | 2.00 |",
		"|  | delivery p99 µs ↓ | 4000 | 2.00 | 2.25 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// The floor's n/a scenarios are not listed one by one, and its rows
	// only are in its table.
	if strings.Contains(md, "e on floor") || strings.Contains(md, "| E | msg/s ↑ | –") {
		t.Errorf("markdown lists the floor's n/a scenarios:\n%s", md)
	}
	if strings.Contains(rep.svg(), "floor") {
		t.Error("the chart draws the floor server")
	}
	// Without a floor run there is no floor table.
	rep.Runs = rep.Runs[:2]
	b.Reset()
	rep.markdown(&b)
	if strings.Contains(b.String(), "Distance to the floor") {
		t.Errorf("a floor table without the floor:\n%s", b.String())
	}
}

func TestFloorScenarios(t *testing.T) {
	cfg := &config{sizes: []int{100}}
	linux := runtime.GOOS == "linux"
	for _, s := range scenarioTable(cfg) {
		served := s.NA["floor"] == ""
		if want := linux && strings.HasPrefix(s.Name, "sio-broadcast-"); served != want {
			t.Errorf("%s: floor serves it %v, want %v", s.Name, served, want)
		}
		if s.NA["node"] != "" && s.NA["floor"] == "" {
			t.Errorf("%s: the floor runs a scenario Node does not", s.Name)
		}
	}
}

func TestCountRead(t *testing.T) {
	samples := [][]bcastSample{{{Read: 99}, {Read: 100}, {Read: 150}}, {{Read: 200}, {Read: 201}}, nil}
	if n := countRead(samples, 100, 200); n != 3 {
		t.Errorf("countRead = %d, want 3 (the bounds included)", n)
	}
}

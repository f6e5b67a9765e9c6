package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

func TestParseCluster(t *testing.T) {
	for _, tc := range []struct {
		in       string
		procs, n int
		bad      bool
	}{
		{"", 0, 0, false},
		{"0", 0, 0, false},
		{"3x19000", 3, 19000, false},
		{"2X10", 2, 10, false},
		{"3", 0, 0, true},
		{"0x5", 0, 0, true},
		{"3x0", 0, 0, true},
		{"ax5", 0, 0, true},
		{"3x-1", 0, 0, true},
	} {
		procs, n, err := parseCluster(tc.in)
		if (err != nil) != tc.bad || procs != tc.procs || n != tc.n {
			t.Errorf("parseCluster(%q) = %d, %d, %v; want %d, %d, error %v", tc.in, procs, n, err, tc.procs, tc.n, tc.bad)
		}
	}
}

func TestCheckScaleLimits(t *testing.T) {
	for _, tc := range []struct {
		nofile, ports, n int
		want             string // substring of the error, "" for none
	}{
		{1000, 0, 800, ""},
		{1000, 0, 801, "open-files limit 1000"},
		{100000, 28000, 27500, ""},
		{100000, 28000, 27501, "ephemeral ports"},
	} {
		err := checkScaleLimits(tc.nofile, tc.ports, tc.n)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("checkScaleLimits(%d, %d, %d) = %v, want %q", tc.nofile, tc.ports, tc.n, err, tc.want)
		}
	}
}

func TestTotal(t *testing.T) {
	res := []scaleProcResult{
		{Connections: 100, OpenSeconds: 2, BaselineKB: 1000, SettledKB: 1500, CPUUsPerConn: 10, Threads: 5, Lost: 1},
		{Connections: 300, OpenSeconds: 4, BaselineKB: 2000, SettledKB: 3700, CPUUsPerConn: 20, Threads: 6},
	}
	tot := total(res)
	if tot.Connections != 400 || tot.OpenSeconds != 4 || tot.Lost != 1 || tot.Threads != 11 {
		t.Fatalf("total = %+v", tot)
	}
	if tot.ConnPerS != 100 {
		t.Errorf("ConnPerS = %v, want 100", tot.ConnPerS)
	}
	if tot.CPUUsPerConn != 17.5 { // (100×10 + 300×20) / 400
		t.Errorf("CPUUsPerConn = %v, want 17.5", tot.CPUUsPerConn)
	}
	if tot.KBPerConn != 5.5 { // (5200 - 3000) / 400
		t.Errorf("KBPerConn = %v, want 5.5", tot.KBPerConn)
	}
	if want := (3000 + 100_000*5.5) / 1024; math.Abs(tot.Projected100kMB-want) > 1e-9 {
		t.Errorf("Projected100kMB = %v, want %v", tot.Projected100kMB, want)
	}
	if tot.KBPerConnHeld != 0 || tot.KBPerConnAfter != 0 {
		t.Errorf("figures not read are not made up: %+v", tot)
	}
	// RSS below the baseline gives a negative figure, not a wrapped one.
	if got := perConn(900, 1000, 10); got != -10 {
		t.Errorf("perConn(900, 1000, 10) = %v, want -10", got)
	}
}

func TestSettledFiguresAndGoGrowth(t *testing.T) {
	var r scaleProcResult
	settledFigures(&r, procSample{RSSKB: 1024}, procSample{RSSKB: 2048, Threads: 7}, 256)
	if r.KBPerConn != 4 || r.BaselineKB != 1024 || r.SettledKB != 2048 || r.Threads != 7 {
		t.Errorf("settledFigures = %+v", r)
	}
	if r.Projected100kMB != (1024+400_000)/1024.0 {
		t.Errorf("Projected100kMB = %v", r.Projected100kMB)
	}
	g := goGrowth(map[string]uint64{"HeapAlloc": 1 << 20}, map[string]uint64{"HeapAlloc": 3 << 20}, 512, "HeapAlloc")
	if g["HeapAlloc"] != 4 {
		t.Errorf("goGrowth = %v, want HeapAlloc 4 KB per connection", g)
	}
	if goGrowth(nil, map[string]uint64{}, 1, "HeapAlloc") != nil {
		t.Error("goGrowth without a baseline must be nil")
	}
}

func TestFillLatencies(t *testing.T) {
	ids := []int64{10, 20}
	bc := []scaleBroadcast{{Expected: 4}, {Expected: 4}}
	reports := []*childEvent{
		{Broadcasts: []childBcast{{ID: 10, LatUS: []int64{4000, 1000}}, {ID: 99, LatUS: []int64{1}}}},
		{Broadcasts: []childBcast{{ID: 10, LatUS: []int64{3000, 2000}}, {ID: 20, LatUS: []int64{500}}}},
	}
	fillLatencies(bc, ids, reports)
	if b := bc[0]; b.Delivered != 4 || b.FirstMS != 1 || b.P50MS != 2 || b.LastMS != 4 || b.P99MS != 3 {
		t.Errorf("broadcast 1 = %+v", b)
	}
	if b := bc[1]; b.Delivered != 1 || b.FirstMS != 0.5 || b.LastMS != 0.5 {
		t.Errorf("broadcast 2 = %+v", b)
	}
	if err := scaleProblems(nil, bc, nil, nil); err == nil || !strings.Contains(err.Error(), "broadcast 2 reached 1 of 4 clients") {
		t.Errorf("scaleProblems = %v", err)
	}
}

func TestScaleProblems(t *testing.T) {
	if err := scaleProblems([]scaleProcResult{{}}, []scaleBroadcast{{Delivered: 3, Expected: 3}}, []bool{true}, []string{""}); err != nil {
		t.Fatalf("a clean case: %v", err)
	}
	err := scaleProblems([]scaleProcResult{{}, {Lost: 2}}, nil, []bool{true, false}, []string{"", "panic: boom"})
	if err == nil || err.Error() != "server 2 closed 2 connections; server 2 exited: panic: boom" {
		t.Errorf("scaleProblems = %v", err)
	}
}

func TestParseServerFrame(t *testing.T) {
	frame := func(op ws.OpCode, payload []byte) []byte {
		b := []byte{0x80 | byte(op)}
		switch n := len(payload); {
		case n < 126:
			b = append(b, byte(n))
		case n < 1<<16:
			b = append(b, 126, 0, 0)
			binary.BigEndian.PutUint16(b[2:], uint16(n))
		default:
			b = append(b, 127, 0, 0, 0, 0, 0, 0, 0, 0)
			binary.BigEndian.PutUint64(b[2:], uint64(n))
		}
		return append(b, payload...)
	}
	for _, size := range []int{0, 1, 125, 126, 65535, 65536} {
		p := bytes.Repeat([]byte{'x'}, size)
		f := append(frame(ws.OpText, p), frame(ws.OpClose, nil)...)
		got, op, n, ok := parseServerFrame(f)
		if !ok || op != ws.OpText || !bytes.Equal(got, p) || n != len(f)-2 {
			t.Fatalf("size %d: ok %v op %v n %d len %d", size, ok, op, n, len(got))
		}
		// Every truncation is "not yet", never a wrong frame.
		for cut := 0; cut < len(f)-2; cut += 1 + cut/3 {
			if _, _, _, ok := parseServerFrame(f[:cut]); ok {
				t.Fatalf("size %d: a frame cut at %d parsed", size, cut)
			}
		}
		if _, op, _, ok := parseServerFrame(f[n:]); !ok || op != ws.OpClose {
			t.Fatalf("size %d: the next frame: ok %v op %v", size, ok, op)
		}
	}
}

func TestParseSIDAndPayload(t *testing.T) {
	sid, err := parseSID([]byte(`0{"sid":"abc-123","upgrades":[],"pingInterval":25000}`))
	if err != nil || sid != "abc-123" {
		t.Errorf("parseSID = %q, %v", sid, err)
	}
	for _, bad := range []string{"", `4{"sid":"x"}`, `0{"sid":"x`, `0{}`} {
		if _, err := parseSID([]byte(bad)); err == nil {
			t.Errorf("parseSID(%q) took it", bad)
		}
	}
	found, ping := payloadHas([]byte("4hello\x1e2\x1e4other"), []byte("4hello"))
	if !found || !ping {
		t.Errorf("payloadHas = %v, %v", found, ping)
	}
	found, ping = payloadHas([]byte("4hell"), []byte("4hello"))
	if found || ping {
		t.Errorf("payloadHas of a prefix = %v, %v", found, ping)
	}
}

func TestSelectScenarios(t *testing.T) {
	all := []*scenario{
		{Name: "eio-idle", Group: "eio", Default: true},
		{Name: "eio-echo-1", Group: "eio"},
		{Name: "sio-echo-1", Group: "sio", Default: true},
		{Name: "sio-echo-50", Group: "sio"},
	}
	names := func(s []*scenario) string {
		var n []string
		for _, x := range s {
			n = append(n, x.Name)
		}
		return strings.Join(n, ",")
	}
	for _, tc := range []struct{ spec, want string }{
		{"", "eio-idle,sio-echo-1"},
		{"all", "eio-idle,eio-echo-1,sio-echo-1,sio-echo-50"},
		{"sio-echo-50, eio", "eio-idle,eio-echo-1,sio-echo-50"},
		{"sio-echo", "sio-echo-1,sio-echo-50"},
	} {
		got, err := selectScenarios(all, tc.spec)
		if err != nil || names(got) != tc.want {
			t.Errorf("selectScenarios(%q) = %s, %v; want %s", tc.spec, names(got), err, tc.want)
		}
	}
	if _, err := selectScenarios(all, "nope"); err == nil {
		t.Error("an unknown scenario was accepted")
	}
}

func TestReportRowsAndFormatting(t *testing.T) {
	rep := &report{Runs: []run{
		{Scenario: "s", Title: "S", Server: "pier", Result: &result{Metrics: []metric{{Key: "cpu", Label: "CPU µs", Value: 10, Lower: true}, {Key: "rate", Label: "msg/s", Value: 300}}}},
		{Scenario: "s", Title: "S", Server: "node", Result: &result{ClientCPU: 0.95, OtherCPU: 0.2, Metrics: []metric{{Key: "cpu", Label: "CPU µs", Value: 20, Lower: true}, {Key: "rate", Label: "msg/s", Value: 100}}}},
		{Scenario: "s", Title: "S", Server: "zishang520", Result: &result{Metrics: []metric{{Key: "cpu", Label: "CPU µs", Value: 40, Lower: true}, {Key: "rate", Label: "msg/s", Value: 600}}}},
		{Scenario: "t", Title: "T", Server: "pier", Result: &result{Metrics: []metric{{Key: "cpu", Label: "CPU µs", Value: 5, Lower: true}}}},
		{Scenario: "t", Title: "T", Server: "node", Skipped: "no node"},
		{Scenario: "t", Title: "T", Server: "zishang520", Error: "boom"},
	}}
	if got := strings.Join(rep.servers(), ","); got != "pier,node,zishang520" {
		t.Errorf("servers = %s", got)
	}
	rows := rep.rows()
	if len(rows) != 3 {
		t.Fatalf("rows = %+v", rows)
	}
	if r := rows[0]; r.Values["pier"] != 10 || r.Values["node"] != 20 || r.Values["zishang520"] != 40 || !r.Noisy || r.ClientBound ||
		r.verdict("pier", "node") != "2.0× better" || r.verdict("pier", "zishang520") != "4.0× better" {
		t.Errorf("cpu row = %+v", r)
	}
	if r := rows[1]; !r.ClientBound || r.verdict("pier", "node") != "3.0× better" || r.verdict("pier", "zishang520") != "2.0× worse" {
		t.Errorf("rate row = %+v", r)
	}
	if q, ok := rows[2].ratio("pier", "node"); ok {
		t.Errorf("ratio against a skipped server = %v", q)
	}
	for _, tc := range []struct {
		r    row
		want string
	}{
		{row{Values: map[string]float64{"pier": 30, "node": 10}, Lower: true}, "3.0× worse"},
		{row{Values: map[string]float64{"pier": 30, "node": 10}}, "3.0× better"},
		{row{Values: map[string]float64{"pier": 30}}, ""},
		{row{Values: map[string]float64{"pier": 30, "node": 0}}, ""},
	} {
		if v := tc.r.verdict("pier", "node"); v != tc.want {
			t.Errorf("verdict(%v) = %q, want %q", tc.r.Values, v, tc.want)
		}
	}
	for in, want := range map[float64]string{1234567: "1,234,567", -12345: "-12,345", 250: "250", 12.34: "12.3", 1.234: "1.23"} {
		if got := fmtNum(in); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", in, got, want)
		}
	}
	var b strings.Builder
	rep.markdown(&b)
	md := b.String()
	for _, want := range []string{
		"| scenario | metric | Pier | Node | zishang520 | Pier/Node | Pier/zishang520 |",
		"| S ‡ | CPU µs ↓ | 10.0 | 20.0 | 40.0 | 0.50 (2.0× better) | 0.25 (4.0× better) |",
		"| T | CPU µs ↓ | 5.00 | n/a | – | – | – |",
		"t on node: n/a (no node).",
		"t on zishang520: FAILED: boom",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	svg := rep.svg()
	for _, want := range []string{"zishang520 2.00× (40.0)", "Pier 0.50× (10.0; Node 20.0)"} {
		if !strings.Contains(svg, want) {
			t.Errorf("svg lacks %q", want)
		}
	}
	if strings.Contains(svg, ">T<") {
		t.Error("svg drew a scenario without Node")
	}
}

func TestAdapterTable(t *testing.T) {
	rows := []row{
		{Scenario: "redis-pubsub-b", Title: "Redis pub/sub adapter: 2 servers", Label: "server CPU µs/delivery", Lower: true, Values: map[string]float64{"pier": 10}},
		{Scenario: "redis-pubsub-b", Title: "Redis pub/sub adapter: 2 servers", Label: "redis-server CPU µs/broadcast", Lower: true, Values: map[string]float64{"pier": 100}},
		{Scenario: "redis-streams-b", Title: "Redis streams adapter: 2 servers", Label: "server CPU µs/delivery", Lower: true, Values: map[string]float64{"pier": 12}},
		{Scenario: "redis-streams-b", Title: "Redis streams adapter: 2 servers", Label: "redis-server CPU µs/broadcast", Lower: true, Values: map[string]float64{"pier": 300}},
		{Scenario: "other", Label: "server CPU µs/delivery", Values: map[string]float64{"pier": 1}},
	}
	var b strings.Builder
	(&report{}).adapterTable(&b, rows)
	for _, want := range []string{
		"Redis adapters compared (Pier, 2 servers):",
		"| server CPU µs/delivery ↓ | 10.0 | 12.0 | 1.20 |",
		"| redis-server CPU µs/broadcast ↓ | 100 | 300 | 3.00 |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("adapter table lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	(&report{}).adapterTable(&b, rows[:2]) // no streams run: no table
	if b.Len() != 0 {
		t.Errorf("adapter table without the streams run:\n%s", b.String())
	}
}

func TestDrainEnds(t *testing.T) {
	var c atomic.Int64
	c.Store(1000)
	// Everything expected already arrived: drain returns at once (it
	// would otherwise wait out the hour).
	drain(context.Background(), c.Load, func() int64 { return 1000 }, time.Hour, time.Hour)
	// A cancelled run does not wait for a backlog.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	drain(ctx, c.Load, func() int64 { return 2000 }, time.Hour, time.Hour)
}

func TestWindowLatencies(t *testing.T) {
	const start, end = 1_000_000, 2_000_000
	samples := [][]bcastSample{
		{
			{Sent: start - 20_000_000, Kernel: start, Read: start + 1},  // warmup: out
			{Sent: start, Kernel: start + 500, Read: start + 700},       // first: in
			{Sent: end + 128, Kernel: end + 1128, Read: end + 2128},     // last, rounded up by a float64: in
			{Sent: end + 10_000_000, Kernel: end + 10_000_100, Read: 0}, // after the window: out
		},
		{{Sent: start - 128, Kernel: start + 872, Read: start + 900}}, // first, rounded down: in
		nil,
	}
	kernel, user := windowLatencies(samples, start, end)
	want := [][]int64{{500, 1000}, {1000}, nil}
	wantUser := [][]int64{{700, 2000}, {1028}, nil}
	for i := range want {
		if !slices.Equal(kernel[i], want[i]) || !slices.Equal(user[i], wantUser[i]) {
			t.Errorf("receiver %d: kernel %v user %v, want %v %v", i, kernel[i], user[i], want[i], wantUser[i])
		}
	}
}

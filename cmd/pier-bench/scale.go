package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// The -scale mode holds idle Socket.IO connections at the most the
// open-files limit allows, on one server process and on a cluster of Pier
// processes sharing one Redis, and reports RSS per connection and its
// projection to 100,000 connections. It is not part of the default run:
// it takes a few minutes.
//
// Each case starts its servers (pinned to -server-cpu, as is the
// redis-server of the cluster case), warms each up with 200 connections,
// reads the baseline RSS, and then starts one load-generator child per
// server (`pier-bench dial-idle`, on -load-cpu): each child holds at most
// the open-files limit less 200 connections, every one an Engine.IO v4
// websocket with a Socket.IO CONNECT and a "join" of one room. RSS is read
// after -settle, again after -scale-hold (past the 25 s ping interval, so
// that every connection has had one heartbeat), and again after the
// broadcasts: -scale-broadcasts times, the runner emits "broadcast" to the
// room on the first server and the children count the deliveries.

// scaleRoom is the room every connection of -scale joins.
const scaleRoom = "scale"

// scaleProcResult is one server process of a case (or the total of a
// cluster).
type scaleProcResult struct {
	Label       string  `json:"label"`
	Pid         int     `json:"pid,omitempty"`
	Connections int     `json:"connections"`
	OpenSeconds float64 `json:"open_seconds,omitempty"`
	ConnPerS    float64 `json:"conn_per_s,omitempty"`
	// CPUUsPerConn is the server CPU from the baseline to the settled
	// sample (opening and settling), per connection.
	CPUUsPerConn float64 `json:"cpu_us_per_conn"`
	BaselineKB   uint64  `json:"rss_kb_baseline"`
	SettledKB    uint64  `json:"rss_kb_settled"`
	HeldKB       uint64  `json:"rss_kb_after_heartbeat,omitempty"`
	AfterKB      uint64  `json:"rss_kb_after_broadcasts,omitempty"`
	// KBPerConn is (settled - baseline) / connections: the figure the
	// projection uses.
	KBPerConn      float64 `json:"rss_kb_per_conn"`
	KBPerConnHeld  float64 `json:"rss_kb_per_conn_after_heartbeat,omitempty"`
	KBPerConnAfter float64 `json:"rss_kb_per_conn_after_broadcasts,omitempty"`
	// Projected100kMB is baseline + 100,000 × KBPerConn (for a total: the
	// baselines of every process).
	Projected100kMB float64 `json:"projected_rss_mb_100k"`
	Threads         int     `json:"threads,omitempty"`
	// GoKBPerConn (with -pprof) is the growth of runtime.MemStats fields
	// from the baseline to settled, per connection; *_after_gc at the end
	// of the case, after a forced GC (the live heap).
	GoKBPerConn map[string]float64 `json:"go_kb_per_conn,omitempty"`
	Lost        int                `json:"lost"` // connections the server closed during the hold
}

// scaleBroadcast is one broadcast of a case, emitted on the first server.
type scaleBroadcast struct {
	Delivered int     `json:"delivered"`
	Expected  int     `json:"expected"`
	FirstMS   float64 `json:"first_ms"`
	P50MS     float64 `json:"p50_ms"`
	P99MS     float64 `json:"p99_ms"`
	LastMS    float64 `json:"last_ms"` // time until the last delivery
	// ServerCPUMS is the CPU the servers (and redis-server) used from the
	// send to the last delivery.
	ServerCPUMS float64 `json:"server_cpu_ms"`
}

// scaleCase is one case of a -scale run.
type scaleCase struct {
	Case       string            `json:"case"` // "single" or "cluster"
	Server     string            `json:"server"`
	Title      string            `json:"title"`
	Procs      []scaleProcResult `json:"procs"`
	Total      *scaleProcResult  `json:"total,omitempty"` // cluster only
	Broadcasts []scaleBroadcast  `json:"broadcasts"`
	RedisKB    uint64            `json:"redis_rss_kb,omitempty"`
	// OtherCPU is what processes other than this case's used, in cores,
	// on average over the case (the machine is shared).
	OtherCPU float64   `json:"other_cpu"`
	LoadAvg  [2]string `json:"loadavg"` // /proc/loadavg at the start and the end
	Seconds  float64   `json:"seconds"`
	Error    string    `json:"error,omitempty"`
}

// scaleReport is the JSON file of a -scale run.
type scaleReport struct {
	Started  time.Time      `json:"started"`
	Seconds  float64        `json:"seconds"`
	Command  string         `json:"command"`
	Machine  machine        `json:"machine"`
	Settings map[string]any `json:"settings"`
	Cases    []*scaleCase   `json:"cases"`
}

// parseCluster reads -scale-cluster, "PxN" (P processes of N connections
// each); "" or "0" is none.
func parseCluster(s string) (procs, n int, err error) {
	if s == "" || s == "0" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(strings.ToLower(s), "x")
	if ok {
		procs, err = strconv.Atoi(a)
		if err == nil {
			n, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || procs < 1 || n < 1 {
		return 0, 0, fmt.Errorf("-scale-cluster: want PROCSxCONNS (e.g. 3x19000), got %q", s)
	}
	return procs, n, nil
}

// runScale runs the -scale cases: the single-process case on each of
// cfg.servers, then the Pier cluster.
func runScale(cfg *config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	rep := &scaleReport{Started: started, Machine: machineInfo(cfg), Settings: map[string]any{
		"single": cfg.scaleSingle, "cluster": cfg.scaleCluster, "settle_s": cfg.settle.Seconds(),
		"hold_s": cfg.scaleHold.Seconds(), "broadcasts": cfg.scaleBroadcasts, "servers": cfg.servers,
		"pinned": cfg.pin, "server_cpu": cfg.serverCPU, "load_cpu": cfg.loadCPU, "dial_concurrency": cfg.concurrency,
		"port_range": portRange(), "room": scaleRoom,
	}}
	procs, per, err := parseCluster(cfg.scaleCluster)
	if err != nil {
		return err
	}
	type plan struct {
		kind, server string
		procs, n     int
	}
	var plans []plan
	if cfg.scaleSingle > 0 {
		for _, s := range cfg.servers {
			plans = append(plans, plan{"single", s, 1, cfg.scaleSingle})
		}
	}
	if procs > 0 {
		plans = append(plans, plan{"cluster", "pier", procs, per})
	}
	for _, p := range plans {
		if ctx.Err() != nil {
			break
		}
		c := &scaleCase{Case: p.kind, Server: p.server}
		if p.kind == "single" {
			c.Title = fmt.Sprintf("1 × %s, %s connections", serverTitle(p.server), groupThousands(strconv.Itoa(p.n)))
		} else {
			c.Title = fmt.Sprintf("%d × Pier + Redis adapter, %s connections", p.procs, groupThousands(strconv.Itoa(p.procs*p.n)))
		}
		logf("scale: %s ...", c.Title)
		t0 := time.Now()
		err := runScaleCase(ctx, cfg, c, p.procs, p.n, rep.Machine.Versions)
		c.Seconds = time.Since(t0).Seconds()
		if err != nil {
			c.Error = err.Error()
			logf("scale: %s: FAILED: %v", c.Title, err)
		} else {
			logf("scale: %s: %s", c.Title, c.summary())
		}
		rep.Cases = append(rep.Cases, c)
	}
	rep.Seconds = time.Since(started).Seconds()
	if err := rep.write(cfg); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	for _, c := range rep.Cases {
		if c.Error != "" {
			return fmt.Errorf("%s failed", c.Title)
		}
	}
	return nil
}

// runScaleCase runs one case, procs servers of n connections each (a Redis
// adapter when procs > 1), and fills c. The servers' versions go to
// versions. The steps are the methods of scaleRun, in the order called here.
func runScaleCase(ctx context.Context, cfg *config, c *scaleCase, procs, n int, versions map[string]string) (err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	r := &scaleRun{cfg: cfg, c: c, procs: procs, n: n, ours: map[int]bool{}}
	c.LoadAvg[0] = loadAvg()
	r.m0 = machineBusyTicks()
	r.self0, _ = sampleProc(os.Getpid())
	r.t0 = time.Now()
	defer func() { c.LoadAvg[1] = loadAvg() }()
	defer r.stopAll()

	if err := checkScaleLimits(cfg.nofile, portRange(), n); err != nil {
		return err
	}
	steps := []func(context.Context) error{
		func(context.Context) error { return r.startServers(versions) },
		r.warmUp,
		r.openAll,
		r.settle,
		r.hold,
		r.broadcast,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	r.liveHeap()
	if err := r.collect(ctx); err != nil {
		return err
	}
	c.Procs = r.res
	if procs > 1 {
		c.Total = total(r.res)
	}
	c.OtherCPU = r.otherCPU()
	alive := make([]bool, len(r.srvs))
	stderr := make([]string, len(r.srvs))
	for i, s := range r.srvs {
		alive[i], stderr[i] = s.alive(), s.stderr.String()
	}
	return scaleProblems(r.res, c.Broadcasts, alive, stderr)
}

// scaleRun is the state of one -scale case while it runs.
type scaleRun struct {
	cfg      *config
	c        *scaleCase
	procs, n int

	ours      map[int]bool // pids started by this case, for the machine's other CPU use
	m0        uint64       // the machine's busy ticks at the start
	self0     procSample   // this process at the start
	t0        time.Time
	t0Settled time.Time // when settle read its figures

	rds    *redisProc
	srvs   []*serverProc
	gens   []*genProc
	base   []procSample
	baseGo []map[string]uint64
	res    []scaleProcResult
	ids    []int64 // the broadcasts' ids (their send times, Unix ns)
	sender *wsClient
}

// checkScaleLimits refuses n connections per process that the load
// generator's open-files limit (nofile) or the loopback ephemeral ports
// (ports; 0 when unknown) cannot hold.
func checkScaleLimits(nofile, ports, n int) error {
	if limit := nofile - 200; n > limit {
		return fmt.Errorf("%d connections per process need more than the load generator's open-files limit %d less 200", n, nofile)
	}
	if ports > 0 && n > ports-500 {
		return fmt.Errorf("%d connections to one server exceed the %d loopback ephemeral ports (ip_local_port_range) less 500", n, ports)
	}
	return nil
}

func (r *scaleRun) stopAll() {
	if r.sender != nil {
		r.sender.Close()
	}
	for _, g := range r.gens {
		if g != nil {
			g.stop()
		}
	}
	for _, s := range r.srvs {
		if s != nil {
			s.stop()
		}
	}
	if r.rds != nil {
		r.rds.stop()
	}
}

// startServers starts the redis-server of a cluster and the servers.
func (r *scaleRun) startServers(versions map[string]string) (err error) {
	var extra []string
	if r.procs > 1 {
		if r.rds, err = startRedis(r.cfg, r.cfg.redisServer); err != nil {
			return err
		}
		r.ours[r.rds.Pid] = true
		extra = []string{"-redis", r.rds.URL()}
		logf("scale: redis-server %s (pid %d)", r.rds.Addr, r.rds.Pid)
	}
	r.srvs = make([]*serverProc, r.procs)
	for i := range r.srvs {
		if r.srvs[i], err = startServer(r.cfg, r.c.Server, "sio", extra...); err != nil {
			return fmt.Errorf("server %d: %w", i+1, err)
		}
		r.ours[r.srvs[i].Pid] = true
		if v, ok := r.srvs[i].Info["versions"].(map[string]any); ok {
			for k, x := range v {
				if s, ok := x.(string); ok {
					versions[r.c.Server+" "+k] = s
				}
			}
		}
		if lim := procNofile(r.srvs[i].Pid); lim > 0 && r.n > lim-200 {
			return fmt.Errorf("%d connections need more than the server's open-files limit %d less 200", r.n, lim)
		}
	}
	return nil
}

var scaleJoin = maskedFrame(ws.OpText, []byte(`420["join","`+scaleRoom+`"]`))

// warmUp opens and closes up to 200 connections on every server, as
// runIdle does (lazily built code and pools come before the baseline),
// and then reads the baseline.
func (r *scaleRun) warmUp(ctx context.Context) error {
	for i, s := range r.srvs {
		warm, err := openConns(ctx, min(200, r.n), r.cfg.concurrency, func(ctx context.Context) (*wsClient, error) {
			return dialSIOJoin(ctx, s.Addr, scaleJoin)
		})
		if err != nil {
			return fmt.Errorf("warmup of server %d: %w", i+1, err)
		}
		closeAll(warm)
	}
	if err := sleepCtx(ctx, time.Second); err != nil {
		return err
	}
	r.base = make([]procSample, r.procs)
	r.baseGo = make([]map[string]uint64, r.procs)
	for i, s := range r.srvs {
		r.base[i] = s.sample()
		r.baseGo[i] = goMemStats(s)
	}
	return nil
}

// openAll starts one load-generator child per server, all opening at once,
// and waits until each has opened its connections.
func (r *scaleRun) openAll(ctx context.Context) (err error) {
	r.gens = make([]*genProc, r.procs)
	for i, s := range r.srvs {
		if r.gens[i], err = startGen(r.cfg, s.Addr, r.n); err != nil {
			return err
		}
		r.ours[r.gens[i].Pid] = true
	}
	r.res = make([]scaleProcResult, r.procs)
	for i, g := range r.gens {
		ev, err := g.next(ctx, func(ev *childEvent) bool { return ev.Event == "opened" })
		if err != nil {
			return fmt.Errorf("load generator %d: %w", i+1, err)
		}
		r.res[i] = scaleProcResult{Label: serverTitle(r.c.Server), Pid: r.srvs[i].Pid, Connections: ev.N, OpenSeconds: ev.Seconds, ConnPerS: float64(ev.N) / ev.Seconds}
		if r.procs > 1 {
			r.res[i].Label = fmt.Sprintf("Pier #%d", i+1)
		}
		logf("scale: server %d: %d connections open in %.1fs", i+1, ev.N, ev.Seconds)
	}
	return nil
}

// settle waits -settle and reads the settled figures.
func (r *scaleRun) settle(ctx context.Context) error {
	if err := sleepCtx(ctx, r.cfg.settle); err != nil {
		return err
	}
	r.t0Settled = time.Now()
	for i, s := range r.srvs {
		settledFigures(&r.res[i], r.base[i], s.sample(), r.n)
		r.res[i].GoKBPerConn = goGrowth(r.baseGo[i], goMemStats(s), r.n, "HeapAlloc", "HeapInuse", "HeapSys", "Stack", "MSpan", "Sys")
	}
	if r.rds != nil {
		if ps, err := sampleProc(r.rds.Pid); err == nil {
			r.c.RedisKB = ps.RSSKB
		}
	}
	logf("scale: settled: %s", r.c.rssLine(r.res))
	return nil
}

// settledFigures fills the figures of res read at settling: RSS, threads,
// RSS and CPU per connection and the projection to 100,000 connections.
func settledFigures(res *scaleProcResult, base, ps procSample, n int) {
	res.BaselineKB, res.SettledKB, res.Threads = base.RSSKB, ps.RSSKB, ps.Threads
	res.KBPerConn = perConn(ps.RSSKB, base.RSSKB, n)
	res.Projected100kMB = (float64(base.RSSKB) + 100_000*res.KBPerConn) / 1024
	res.CPUUsPerConn = 1e6 * ps.cpuSecondsSince(base) / float64(n)
}

// goGrowth is the growth of the named runtime.MemStats fields from base to
// now, in KB per connection; nil when either is missing.
func goGrowth(base, now map[string]uint64, n int, keys ...string) map[string]float64 {
	if base == nil || now == nil {
		return nil
	}
	g := make(map[string]float64, len(keys))
	for _, k := range keys {
		g[k] = (float64(now[k]) - float64(base[k])) / 1024 / float64(n)
	}
	return g
}

// hold waits until -scale-hold after settling and reads RSS again.
func (r *scaleRun) hold(ctx context.Context) error {
	if r.cfg.scaleHold <= 0 {
		return nil
	}
	if err := sleepCtx(ctx, time.Until(r.t0Settled.Add(r.cfg.scaleHold))); err != nil {
		return err
	}
	for i, s := range r.srvs {
		ps := s.sample()
		r.res[i].HeldKB = ps.RSSKB
		r.res[i].KBPerConnHeld = perConn(ps.RSSKB, r.base[i].RSSKB, r.n)
	}
	return nil
}

// broadcast sends the broadcasts, from a client of the first server (not
// in the room), waiting for each to reach every child, and reads RSS after
// them. The id (the send time, Unix ns) travels as a string: as a number it
// would not survive JavaScript (Node) nor the adapter's msgpack (float64).
func (r *scaleRun) broadcast(ctx context.Context) (err error) {
	if r.cfg.scaleBroadcasts <= 0 {
		return nil
	}
	if r.sender, err = dialSIO(ctx, r.srvs[0].Addr); err != nil {
		return fmt.Errorf("sender: %w", err)
	}
	go r.sender.idle()
	var cpuPids []int
	for _, s := range r.srvs {
		cpuPids = append(cpuPids, s.Pid)
	}
	if r.rds != nil {
		cpuPids = append(cpuPids, r.rds.Pid)
	}
	for k := range r.cfg.scaleBroadcasts {
		if k > 0 {
			if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
				return err
			}
		}
		cpu0 := cpuTicks(cpuPids)
		id := time.Now().UnixNano()
		r.ids = append(r.ids, id)
		if err := r.sender.write(maskedFrame(ws.OpText, fmt.Appendf(nil, `42["broadcast","%s","%d"]`, scaleRoom, id))); err != nil {
			return fmt.Errorf("sending broadcast: %w", err)
		}
		complete, err := r.awaitDelivered(ctx, id)
		if err != nil {
			return err
		}
		cpu := float64(cpuTicks(cpuPids)-cpu0) / clkTck
		r.c.Broadcasts = append(r.c.Broadcasts, scaleBroadcast{Expected: r.procs * r.n, ServerCPUMS: 1e3 * cpu})
		if !complete {
			logf("scale: broadcast %d did not reach every client within 30s", k+1)
		}
	}
	for i, s := range r.srvs {
		ps := s.sample()
		r.res[i].AfterKB = ps.RSSKB
		r.res[i].KBPerConnAfter = perConn(ps.RSSKB, r.base[i].RSSKB, r.n)
	}
	return nil
}

// awaitDelivered waits up to 30 s for every child to report broadcast id
// delivered; complete is false when one did not, err set only when ctx
// ended.
func (r *scaleRun) awaitDelivered(ctx context.Context, id int64) (complete bool, err error) {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, g := range r.gens {
		if _, err := g.next(wctx, func(ev *childEvent) bool { return ev.Event == "delivered" && ev.ID == id }); err != nil {
			if ctx.Err() != nil {
				return false, err
			}
			return false, nil
		}
	}
	return true, nil
}

// liveHeap (with -pprof), last of all: the live heap per connection, after
// the GC that a heap profile with gc=1 forces.
func (r *scaleRun) liveHeap() {
	for i, s := range r.srvs {
		if s.PprofAddr == "" || r.res[i].GoKBPerConn == nil {
			continue
		}
		resp, err := http.Get("http://" + s.PprofAddr + "/debug/pprof/heap?gc=1")
		if err != nil {
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		for k, v := range goGrowth(r.baseGo[i], goMemStats(s), r.n, "HeapAlloc", "HeapInuse") {
			r.res[i].GoKBPerConn[k+"_after_gc"] = v
		}
	}
}

// collect asks every child for its account (connections lost, every
// delivery) and fills the broadcasts' latencies.
func (r *scaleRun) collect(ctx context.Context) error {
	var reports []*childEvent
	for i, g := range r.gens {
		if err := g.send("report"); err != nil {
			return err
		}
		ev, err := g.next(ctx, func(ev *childEvent) bool { return ev.Event == "report" })
		if err != nil {
			return fmt.Errorf("load generator %d: %w", i+1, err)
		}
		r.res[i].Lost = ev.Lost
		reports = append(reports, ev)
	}
	fillLatencies(r.c.Broadcasts, r.ids, reports)
	return nil
}

// fillLatencies sets each broadcast's delivery count and latency quantiles
// from the children's reports; bcasts[k] is the broadcast of ids[k].
func fillLatencies(bcasts []scaleBroadcast, ids []int64, reports []*childEvent) {
	lat := make([][]int64, len(ids))
	for _, ev := range reports {
		for _, b := range ev.Broadcasts {
			if k := slices.Index(ids, b.ID); k >= 0 {
				lat[k] = append(lat[k], b.LatUS...)
			}
		}
	}
	for k := range bcasts {
		b := &bcasts[k]
		l := lat[k]
		slices.Sort(l)
		b.Delivered = len(l)
		if len(l) > 0 {
			q := func(f float64) float64 { return float64(l[int(f*float64(len(l)-1))]) / 1e3 }
			b.FirstMS, b.P50MS, b.P99MS, b.LastMS = q(0), q(0.5), q(0.99), q(1)
		}
	}
}

// otherCPU is what processes other than the case's used, in cores, on
// average since the start of the case.
func (r *scaleRun) otherCPU() float64 {
	var used float64
	for pid := range r.ours {
		if ps, err := sampleProc(pid); err == nil {
			used += float64(ps.CPUTicks) / clkTck
		}
	}
	self1, _ := sampleProc(os.Getpid())
	used += self1.cpuSecondsSince(r.self0)
	return max(0, float64(machineBusyTicks()-r.m0)/clkTck-used) / time.Since(r.t0).Seconds()
}

// scaleProblems is the error a case ends with: connections the servers
// closed, broadcasts that missed clients, servers that exited (alive[i]
// false, with their stderr); nil when there are none.
func scaleProblems(res []scaleProcResult, bcasts []scaleBroadcast, alive []bool, stderr []string) error {
	var problems []string
	for i, r := range res {
		if r.Lost > 0 {
			problems = append(problems, fmt.Sprintf("server %d closed %d connections", i+1, r.Lost))
		}
	}
	for k, b := range bcasts {
		if b.Delivered != b.Expected {
			problems = append(problems, fmt.Sprintf("broadcast %d reached %d of %d clients", k+1, b.Delivered, b.Expected))
		}
	}
	for i, ok := range alive {
		if !ok {
			problems = append(problems, fmt.Sprintf("server %d exited: %s", i+1, stderr[i]))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func perConn(kb, base uint64, n int) float64 { return float64(int64(kb)-int64(base)) / float64(n) }

// total sums the processes of a cluster.
func total(res []scaleProcResult) *scaleProcResult {
	t := &scaleProcResult{Label: "total"}
	var cpu float64
	for _, r := range res {
		t.Connections += r.Connections
		t.OpenSeconds = max(t.OpenSeconds, r.OpenSeconds)
		t.BaselineKB += r.BaselineKB
		t.SettledKB += r.SettledKB
		t.HeldKB += r.HeldKB
		t.AfterKB += r.AfterKB
		t.Lost += r.Lost
		t.Threads += r.Threads
		cpu += r.CPUUsPerConn * float64(r.Connections)
	}
	n := t.Connections
	t.ConnPerS = float64(n) / t.OpenSeconds
	t.CPUUsPerConn = cpu / float64(n)
	t.KBPerConn = perConn(t.SettledKB, t.BaselineKB, n)
	if t.HeldKB > 0 {
		t.KBPerConnHeld = perConn(t.HeldKB, t.BaselineKB, n)
	}
	if t.AfterKB > 0 {
		t.KBPerConnAfter = perConn(t.AfterKB, t.BaselineKB, n)
	}
	t.Projected100kMB = (float64(t.BaselineKB) + 100_000*t.KBPerConn) / 1024
	return t
}

// goMemStats is the runtime.MemStats of a Pier server run with -pprof, or
// nil.
func goMemStats(s *serverProc) map[string]uint64 {
	if s.PprofAddr == "" {
		return nil
	}
	ms, err := memStatsAt(s.PprofAddr)
	if err != nil {
		logf("memstats: %v", err)
		return nil
	}
	return ms
}

// cpuTicks is the CPU time of processes, in clock ticks.
func cpuTicks(pids []int) uint64 {
	var t uint64
	for _, pid := range pids {
		if ps, err := sampleProc(pid); err == nil {
			t += ps.CPUTicks
		}
	}
	return t
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// genProc is a load-generator child (pier-bench dial-idle or
// recv-broadcast).
type genProc struct {
	Pid    int
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan *childEvent
	exited chan struct{}
	stderr *tailBuffer
}

// startGen starts a child holding n connections to addr, all joining the
// scale room. It runs where the runner runs (-load-cpu): the CPU affinity
// is inherited.
func startGen(cfg *config, addr string, n int) (*genProc, error) {
	return startChild("dial-idle", "-addr", addr, "-n", strconv.Itoa(n), "-room", scaleRoom,
		"-concurrency", strconv.Itoa(cfg.concurrency))
}

// startChild starts `pier-bench <args>`, a child talking JSON lines
// (childEvent) on its stdout and taking commands on its stdin. It runs
// where the runner runs: the CPU affinity is inherited.
func startChild(args ...string) (*genProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	g := &genProc{cmd: cmd, events: make(chan *childEvent, 64), exited: make(chan struct{}), stderr: &tailBuffer{max: 8 << 10}}
	cmd.Stderr = g.stderr
	cmd.SysProcAttr = childAttr()
	if g.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g.Pid = cmd.Process.Pid
	go func() {
		defer close(g.events)
		br := bufio.NewReaderSize(out, 64<<10)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				ev := &childEvent{}
				if json.Unmarshal(line, ev) != nil {
					ev = &childEvent{Event: "error", Error: fmt.Sprintf("unexpected line %q", line)}
				}
				g.events <- ev
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { cmd.Wait(); close(g.exited) }()
	return g, nil
}

// next returns the next event matching want, skipping others; an "error"
// event or the end of the child is an error.
func (g *genProc) next(ctx context.Context, want func(*childEvent) bool) (*childEvent, error) {
	for {
		select {
		case ev, ok := <-g.events:
			if !ok {
				<-g.exited
				return nil, fmt.Errorf("%s exited: %v: %s", g.cmd.Args[1], g.cmd.ProcessState, g.stderr.String())
			}
			if ev.Event == "error" {
				return nil, errors.New(ev.Error)
			}
			if want(ev) {
				return ev, nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (g *genProc) send(cmd string) error {
	_, err := io.WriteString(g.stdin, cmd+"\n")
	return err
}

// stop ends the child: it closes its connections when its stdin ends;
// SIGKILL after 5 s.
func (g *genProc) stop() {
	g.stdin.Close()
	select {
	case <-g.exited:
	case <-time.After(5 * time.Second):
		g.cmd.Process.Kill()
		<-g.exited
	}
}

// summary is the log line of a finished case.
func (c *scaleCase) summary() string {
	var b strings.Builder
	b.WriteString(c.rssLine(c.Procs))
	if c.Total != nil {
		fmt.Fprintf(&b, "; total %.2f KB/conn, 100k projected %.0f MB", c.Total.KBPerConn, c.Total.Projected100kMB)
	}
	for k, bc := range c.Broadcasts {
		fmt.Fprintf(&b, "; broadcast %d: %d/%d delivered, last after %.0f ms", k+1, bc.Delivered, bc.Expected, bc.LastMS)
	}
	fmt.Fprintf(&b, " (other processes %.0f%% of a core)", 100*c.OtherCPU)
	return b.String()
}

func (c *scaleCase) rssLine(res []scaleProcResult) string {
	var parts []string
	for _, r := range res {
		parts = append(parts, fmt.Sprintf("%s %d conns, RSS %.0f→%.0f MB, %.2f KB/conn, 100k projected %.0f MB",
			r.Label, r.Connections, float64(r.BaselineKB)/1024, float64(r.SettledKB)/1024, r.KBPerConn, r.Projected100kMB))
	}
	return strings.Join(parts, "; ")
}

// markdown writes the tables of a -scale run.
func (rep *scaleReport) markdown(w io.Writer) {
	m := rep.Machine
	fmt.Fprintf(w, "Idle Socket.IO websocket connections at scale: Pier %s (%s)", m.Versions["pier"], m.Versions["pier go"])
	if v := m.Versions["node socket.io"]; v != "" {
		fmt.Fprintf(w, " vs Node (socket.io %s on Node %s)", v, m.Versions["node node"])
	}
	if v := m.Versions["zishang520 socket.io"]; v != "" {
		fmt.Fprintf(w, " vs zishang520/socket.io %s (%s)", v, m.Versions["zishang520 go"])
	}
	fmt.Fprintf(w, ", %s, %d cores, %.0f GB, open files %d per process, %s. Servers (and redis-server) pinned to core %s, the load generators (one `dial-idle` child per server) to core %s; each connection is an Engine.IO v4 websocket, a Socket.IO CONNECT and a \"join\" of one room; `%s`.\n\n",
		m.CPU, m.Cores, m.MemoryGB, m.Nofile, rep.Started.Format("2006-01-02 15:04 MST"), rep.Settings["server_cpu"], rep.Settings["load_cpu"], rep.Command)
	hold := rep.Settings["hold_s"]
	fmt.Fprintf(w, "| case | process | connections | opened/s | server CPU µs/conn | RSS before MB | RSS settled MB | KB/conn settled | KB/conn after %vs (heartbeat) | KB/conn after broadcasts | RSS projected for 100k MB |\n", hold)
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	mb := func(kb uint64) string {
		if kb == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f", float64(kb)/1024)
	}
	kbc := func(v float64, kb uint64) string {
		if kb == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", v)
	}
	row := func(title string, r scaleProcResult) {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %s |\n", title, r.Label,
			groupThousands(strconv.Itoa(r.Connections)), fmtNum(r.ConnPerS), r.CPUUsPerConn,
			mb(r.BaselineKB), mb(r.SettledKB), kbc(r.KBPerConn, r.SettledKB), kbc(r.KBPerConnHeld, r.HeldKB),
			kbc(r.KBPerConnAfter, r.AfterKB), fmtNum(r.Projected100kMB))
	}
	for _, c := range rep.Cases {
		title := c.Title
		if c.OtherCPU > noisyCPU {
			title += fmt.Sprintf(" ‡%.0f%%", 100*c.OtherCPU)
		}
		for i, r := range c.Procs {
			row(title, r)
			if i == 0 {
				title = ""
			}
		}
		if c.Total != nil {
			row(title, *c.Total)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "RSS is VmRSS from /proc/PID/status: before = after a warm-up of 200 connections; KB/conn = (RSS − RSS before) / connections; projected = RSS before + 100,000 × KB/conn settled (for a cluster total: the sum of the processes' RSS before). Server CPU is from before opening to settled.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| case | broadcast | delivered | first ms | p50 ms | p99 ms | last ms | server CPU ms |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range rep.Cases {
		title := c.Title
		for k, b := range c.Broadcasts {
			fmt.Fprintf(w, "| %s | %d | %s / %s | %.1f | %.1f | %.1f | %.1f | %.1f |\n", title, k+1,
				groupThousands(strconv.Itoa(b.Delivered)), groupThousands(strconv.Itoa(b.Expected)),
				b.FirstMS, b.P50MS, b.P99MS, b.LastMS, b.ServerCPUMS)
			title = ""
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "One \"broadcast\" event to the room, emitted by a client of the first server (through the Redis adapter to the others); times are from the send to each client's read, on the load generators' one core (which reads every delivery, so the last one includes its own scheduling); server CPU is that of every server process and redis-server from the send to the last delivery.")
	var notes []string
	for _, c := range rep.Cases {
		if c.OtherCPU > noisyCPU {
			notes = append(notes, fmt.Sprintf("‡ %s: other processes used %.0f%% of a core on average during the case (load average %s → %s); memory figures are hardly affected, times and CPU are.", c.Title, 100*c.OtherCPU, c.LoadAvg[0], c.LoadAvg[1]))
		}
		if c.RedisKB > 0 {
			notes = append(notes, fmt.Sprintf("%s: redis-server RSS %.1f MB.", c.Title, float64(c.RedisKB)/1024))
		}
		if c.Error != "" {
			notes = append(notes, fmt.Sprintf("%s: FAILED: %s", c.Title, c.Error))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, "- "+n)
		}
	}
}

// write prints the tables and writes scale-STAMP.{json,md} and
// scale-latest.{json,md} in cfg.out.
func (rep *scaleReport) write(cfg *config) error {
	rep.Command = "pier-bench " + strings.Join(os.Args[1:], " ")
	rep.markdown(os.Stdout)
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	var md strings.Builder
	rep.markdown(&md)
	base := filepath.Join(cfg.out, "scale-"+rep.Started.Format("20060102-150405"))
	for name, data := range map[string][]byte{
		base + ".json": append(b, '\n'), base + ".md": []byte(md.String()),
		filepath.Join(cfg.out, "scale-latest.json"): append(b, '\n'),
		filepath.Join(cfg.out, "scale-latest.md"):   []byte(md.String()),
	} {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			return err
		}
	}
	logf("wrote %s.{json,md} (and scale-latest.* beside them)", base)
	return nil
}

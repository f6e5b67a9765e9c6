package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is the runner's settings, from its flags.
type config struct {
	scenarios   string
	sizes       []int
	duration    time.Duration
	warmup      time.Duration
	settle      time.Duration
	servers     []string
	out         string
	nodeDir     string
	node        string
	zsDir       string // the zishang520 server's module (testdata/bench/zishang520)
	zsBin       string // its executable, built there when missing
	pin         bool
	serverCPU   string
	loadCPU     string
	pprof       bool
	concurrency int
	quietWait   time.Duration // per run
	quietBudget time.Duration // over the whole benchmark; spent by waitQuiet
	retries     int
	nofile      int
	bcastGens   int           // receiving child processes of the broadcast scenarios (0: the runner receives)
	bcastPoll   time.Duration // their polling period (0: they sleep in epoll_wait)

	// -scale (scale.go)
	scale           bool
	scaleSingle     int
	scaleCluster    string
	scaleHold       time.Duration
	scaleBroadcasts int
	redisServer     string
}

// scenario is one row group of the table. The table of scenarios is
// scenarioTable; a scenario runs once against each server, each started
// fresh in the scenario's mode.
type scenario struct {
	Name    string // unique; -scenarios matches it, its group, or a prefix ending before a '-'
	Group   string // "eio" or "sio"
	Title   string // as shown in the table
	Mode    string // the server mode: "eio" (Engine.IO echo) or "sio" (Socket.IO fixture)
	Default bool   // run when -scenarios is not given
	// NA gives, for a server that does not do this scenario, the reason:
	// the table shows "n/a" and the reason under it.
	NA map[string]string
	// Adapter, when set, makes the scenario run on a cluster: a
	// redis-server and clusterSize servers sharing it through this
	// adapter ("pubsub" or "streams"; serve-pier -adapter).
	Adapter string
	Run     func(ctx context.Context, e *env) (*result, error)
}

// env is what a scenario run gets: the server under test and the settings.
type env struct {
	cfg *config
	srv *serverProc
	// peers are the other servers of a cluster scenario (srv is the
	// first), and redis the redis-server they share.
	peers []*serverProc
	redis *redisProc
	// gens are the load generator's child processes during a
	// measurement (their CPU is the load generator's).
	gens []int
}

// metric is one measured figure of a scenario run.
type metric struct {
	Key   string  `json:"key"`
	Label string  `json:"label"`
	Value float64 `json:"value"`
	Lower bool    `json:"lower_is_better"`
}

// result is what a scenario run measured.
type result struct {
	Metrics []metric       `json:"metrics"`
	Info    map[string]any `json:"info,omitempty"`
	// ClientCPU is the load generator's CPU use during the measurement,
	// as a fraction of one core: near 1, the client may be what limits
	// the throughput figures.
	ClientCPU float64 `json:"client_cpu"`
	// OtherCPU is what the rest of the machine used during the
	// measurement, in cores: above noisyCPU the figures are disturbed.
	OtherCPU float64 `json:"other_cpu"`
}

func (r *result) add(key, label string, v float64, lower bool) {
	r.Metrics = append(r.Metrics, metric{Key: key, Label: label, Value: v, Lower: lower})
}

func (r *result) info(k string, v any) {
	if r.Info == nil {
		r.Info = map[string]any{}
	}
	r.Info[k] = v
}

// scenarioTable lists every scenario, in the order they run. The
// Socket.IO scenarios are not Default until serve-pier serves the "sio"
// mode; they can be run against Node alone with -scenarios sio.
func scenarioTable(cfg *config) []*scenario {
	var t []*scenario
	for _, n := range cfg.sizes {
		t = append(t, &scenario{
			Name: fmt.Sprintf("idle-ws-%d", n), Group: "eio", Mode: "eio", Default: true,
			Title: fmt.Sprintf("idle websocket, %s connections", kilo(n)),
			Run:   func(ctx context.Context, e *env) (*result, error) { return runIdle(ctx, e, n) },
		})
	}
	t = append(t,
		&scenario{Name: "ws-echo-1", Group: "eio", Mode: "eio", Default: true,
			Title: "websocket echo, 1 client",
			Run:   func(ctx context.Context, e *env) (*result, error) { return runWSEcho(ctx, e, 1, 4) }},
		&scenario{Name: "ws-echo-50", Group: "eio", Mode: "eio", Default: true,
			Title: "websocket echo, 50 clients",
			Run:   func(ctx context.Context, e *env) (*result, error) { return runWSEcho(ctx, e, 50, 4) }},
		&scenario{Name: "polling-sessions-50", Group: "eio", Mode: "eio", Default: true,
			Title: "long-polling sessions, 50 clients",
			Run:   func(ctx context.Context, e *env) (*result, error) { return runPollingSessions(ctx, e, 50) }},
		&scenario{Name: "polling-echo-50", Group: "eio", Mode: "eio", Default: true,
			Title: "long-polling echo, 50 clients",
			Run:   func(ctx context.Context, e *env) (*result, error) { return runPollingEcho(ctx, e, 50) }},
		&scenario{Name: "eio3-ws-echo-50", Group: "eio", Mode: "eio", Default: true,
			Title: "EIO3 websocket echo, 50 clients",
			Run:   func(ctx context.Context, e *env) (*result, error) { return runWSEcho(ctx, e, 50, 3) }},
	)
	t = append(t, sioScenarios()...)
	t = append(t, redisScenarios()...)
	for _, s := range t {
		if !floorScenarios[s.Name] {
			if s.NA == nil {
				s.NA = map[string]string{}
			}
			if s.NA["floor"] == "" {
				s.NA["floor"] = floorNA
			}
		}
	}
	return t
}

func selectScenarios(all []*scenario, spec string) ([]*scenario, error) {
	if spec == "" {
		var out []*scenario
		for _, s := range all {
			if s.Default {
				out = append(out, s)
			}
		}
		return out, nil
	}
	var out []*scenario
	for tok := range strings.SplitSeq(spec, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		found := false
		for _, s := range all {
			if tok == "all" || tok == s.Name || tok == s.Group || strings.HasPrefix(s.Name, tok+"-") {
				found = true
				if !slices.Contains(out, s) {
					out = append(out, s)
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("no scenario matches %q (see -list)", tok)
		}
	}
	// Keep the table's order.
	slices.SortStableFunc(out, func(a, b *scenario) int { return slices.Index(all, a) - slices.Index(all, b) })
	return out, nil
}

// run is one scenario on one server.
type run struct {
	Scenario string  `json:"scenario"`
	Title    string  `json:"title"`
	Server   string  `json:"server"`
	Skipped  string  `json:"skipped,omitempty"`
	Error    string  `json:"error,omitempty"`
	Result   *result `json:"result,omitempty"`
	Retries  int     `json:"retries,omitempty"` // runs discarded as disturbed
	Seconds  float64 `json:"seconds"`
}

func runBench(args []string) error {
	cfg := &config{}
	fs := flag.NewFlagSet("pier-bench", flag.ContinueOnError)
	fs.StringVar(&cfg.scenarios, "scenarios", "", "comma-separated scenarios, groups (eio, sio), name prefixes (ws-echo) or all; default: the default set (see -list)")
	sizes := fs.String("n", "10000", "comma-separated numbers of idle websocket connections, one idle-ws scenario each (at most the open-files limit less 200)")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "measurement time of the echo, polling and broadcast scenarios")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "load before each measurement, not measured")
	fs.DurationVar(&cfg.settle, "settle", 3*time.Second, "wait after opening idle connections before reading RSS")
	servers := fs.String("servers", "pier,node,zishang520,floor", "servers to measure, in order: pier, node (testdata/bench/server.js), zishang520 (the Go port of Node's server, testdata/bench/zishang520), floor (a minimal server, the floor of the Socket.IO broadcast scenarios; Linux only)")
	fs.StringVar(&cfg.out, "out", "bench-results", "directory of the JSON, markdown and SVG results")
	fs.StringVar(&cfg.nodeDir, "node-dir", "testdata/bench", "directory of the Node reference server (server.js, package.json)")
	fs.StringVar(&cfg.node, "node", "node", "node executable")
	fs.StringVar(&cfg.zsDir, "zishang520-dir", "testdata/bench/zishang520", "directory of the zishang520 server's Go module")
	fs.StringVar(&cfg.zsBin, "zishang520", "bin/zishang520-bench", "the zishang520 server's executable (built from -zishang520-dir with go build when missing)")
	fs.StringVar(&cfg.redisServer, "redis-server", "redis-server", "the redis-server executable of the redis-* scenarios and of the -scale cluster case")
	fs.BoolVar(&cfg.pin, "pin", true, "pin the servers and the load generator to their cores with taskset")
	fs.StringVar(&cfg.serverCPU, "server-cpu", "0", "core (taskset list) of the servers")
	fs.StringVar(&cfg.loadCPU, "load-cpu", "1", "core (taskset list) of the load generator")
	fs.BoolVar(&cfg.pprof, "pprof", false, "profile Pier: heap after the idle scenarios, CPU during the echo scenarios (files in -out; the CPU profile costs Pier a few % of CPU)")
	fs.IntVar(&cfg.bcastGens, "broadcast-gens", 2, "receiving processes (pier-bench recv-broadcast children, on -load-cpu) sharing the receivers of the broadcast scenarios; 0: the runner receives them itself, one goroutine per connection (Linux: 0 is the only choice elsewhere)")
	fs.DurationVar(&cfg.bcastPoll, "broadcast-poll", time.Millisecond, "the receiving processes read their sockets this often rather than sleep in epoll_wait, so that no delivery has to wake them up on the server's core (latencies are the kernel's receive timestamps either way); 0: they sleep in epoll_wait")
	fs.IntVar(&cfg.concurrency, "dial-concurrency", 64, "connections being opened at once by the idle scenarios")
	fs.DurationVar(&cfg.quietWait, "quiet-wait", 20*time.Second, "before each run, wait up to this long for other processes to leave the CPU idle")
	fs.DurationVar(&cfg.quietBudget, "quiet-budget", 2*time.Minute, "the most -quiet-wait may add up to over the whole benchmark")
	fs.IntVar(&cfg.retries, "retries", 1, "times a run disturbed by other processes is run again (the least disturbed is kept)")
	fs.BoolVar(&cfg.scale, "scale", false, "instead of the scenarios, hold idle Socket.IO connections at scale (a few minutes; needs redis-server): -scale-single on one process of each of -servers, then the Pier cluster of -scale-cluster sharing a Redis adapter; reports RSS per connection, its projection to 100k, and one broadcast reaching every client; writes scale-*.{json,md} in -out")
	fs.IntVar(&cfg.scaleSingle, "scale-single", 19000, "-scale: connections held by one server process (at most the open-files limit less 200); 0 skips the single-process case")
	fs.StringVar(&cfg.scaleCluster, "scale-cluster", "3x19000", "-scale: Pier processes × connections each, sharing one redis-server started for the run; \"\" skips the cluster case")
	fs.DurationVar(&cfg.scaleHold, "scale-hold", 30*time.Second, "-scale: after the settle time, hold the connections this long (past the 25s ping interval) and read RSS again; 0 skips")
	fs.IntVar(&cfg.scaleBroadcasts, "scale-broadcasts", 3, "-scale: broadcasts to every client, one after the other, each emitted on the first server")
	list := fs.Bool("list", false, "list the scenarios and exit")
	render := fs.String("render", "", "print the table of a run's JSON file and rewrite its .md and .svg beside it, without running anything")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if runtime.GOOS != "linux" {
		cfg.bcastGens = 0 // the receiving children read with epoll
	}
	for s := range strings.SplitSeq(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("-n: bad size %q", s)
		}
		cfg.sizes = append(cfg.sizes, n)
	}
	for s := range strings.SplitSeq(*servers, ",") {
		if s = strings.TrimSpace(s); s != "pier" && s != "node" && s != "zishang520" && s != "floor" {
			return fmt.Errorf("-servers: unknown server %q", s)
		}
		cfg.servers = append(cfg.servers, strings.TrimSpace(s))
	}
	if *render != "" {
		return renderReport(*render)
	}
	all := scenarioTable(cfg)
	if *list {
		for _, s := range all {
			def := ""
			if s.Default {
				def = " (default)"
			}
			fmt.Printf("%-29s %-5s %s%s\n", s.Name, s.Group, s.Title, def)
		}
		return nil
	}
	selected, err := selectScenarios(all, cfg.scenarios)
	if err != nil {
		return err
	}

	// The load generator runs on its own core: re-exec under taskset.
	if cfg.pin && os.Getenv("PIER_BENCH_PINNED") == "" {
		taskset, err := exec.LookPath("taskset")
		if err != nil {
			return fmt.Errorf("taskset not found (use -pin=false to run unpinned): %w", err)
		}
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		argv := append([]string{"taskset", "-c", cfg.loadCPU, exe}, args...)
		return syscall.Exec(taskset, argv, append(os.Environ(), "PIER_BENCH_PINNED=1"))
	}
	nofile, err := raiseNofile()
	if err != nil {
		return err
	}
	cfg.nofile = int(nofile)
	if cfg.scale {
		// The floor server holds no heartbeat and is no subject of -scale.
		cfg.servers = slices.DeleteFunc(cfg.servers, func(s string) bool { return s == "floor" })
	}
	if cfg.scale && cfg.scaleSingle <= 0 {
		cfg.servers = slices.DeleteFunc(cfg.servers, func(s string) bool { return s != "pier" })
	}
	if slices.Contains(cfg.servers, "node") {
		if err := ensureNodeModules(cfg.nodeDir); err != nil {
			return fmt.Errorf("installing the Node server's packages: %w", err)
		}
	}
	if slices.Contains(cfg.servers, "zishang520") {
		if err := ensureZishang520(cfg.zsDir, cfg.zsBin); err != nil {
			return fmt.Errorf("building the zishang520 server: %w", err)
		}
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}

	if cfg.scale {
		return runScale(cfg)
	}

	started := time.Now()
	rep := &report{Started: started, Machine: machineInfo(cfg), Settings: settingsOf(cfg, selected)}
	for _, sc := range selected {
		for _, name := range cfg.servers {
			r := run{Scenario: sc.Name, Title: sc.Title, Server: name}
			if why := sc.NA[name]; why != "" {
				r.Skipped = why
				logf("%s on %s: n/a: %s", sc.Name, name, why)
				rep.Runs = append(rep.Runs, r)
				continue
			}
			t0 := time.Now()
			var res *result
			var err error
			// A run disturbed by other processes is run again, up to
			// cfg.retries times; the least disturbed one is kept.
			for attempt := 0; ; attempt++ {
				cfg.waitQuiet()
				logf("%s on %s ...", sc.Name, name)
				res1, err1 := runOne(cfg, sc, name, rep)
				if attempt == 0 || (err1 == nil && (err != nil || res1.OtherCPU < res.OtherCPU)) {
					res, err = res1, err1
				}
				if err1 != nil || res1.OtherCPU <= noisyCPU || attempt >= cfg.retries {
					break
				}
				logf("%s on %s: disturbed (other processes used %.0f%% of a core): running it again", sc.Name, name, 100*res1.OtherCPU)
				r.Retries++
			}
			switch {
			case errors.Is(err, errModeUnavailable):
				r.Skipped = fmt.Sprintf("serve-pier has no %q mode yet", sc.Mode)
				logf("%s on %s: skipped: %s", sc.Name, name, r.Skipped)
			case err != nil:
				r.Error = err.Error()
				logf("%s on %s: FAILED: %v", sc.Name, name, err)
			default:
				r.Result = res
				logf("%s on %s: %s", sc.Name, name, res.summary())
			}
			r.Seconds = time.Since(t0).Seconds()
			rep.Runs = append(rep.Runs, r)
		}
	}
	rep.Seconds = time.Since(started).Seconds()
	return rep.write(cfg, os.Stdout)
}

// runOne starts a server, runs a scenario against it and stops it.
func runOne(cfg *config, sc *scenario, name string, rep *report) (*result, error) {
	e := &env{cfg: cfg}
	var extra []string
	if sc.Adapter != "" {
		rds, err := startRedis(cfg, cfg.redisServer)
		if err != nil {
			return nil, err
		}
		defer rds.stop()
		e.redis = rds
		extra = []string{"-redis", rds.URL(), "-adapter", sc.Adapter}
	}
	n := 1
	if sc.Adapter != "" {
		n = clusterSize
	}
	for i := range n {
		srv, err := startServer(cfg, name, sc.Mode, extra...)
		if err != nil {
			return nil, err
		}
		defer srv.stop()
		if i == 0 {
			e.srv = srv
		} else {
			e.peers = append(e.peers, srv)
		}
	}
	if v, ok := e.srv.Info["versions"].(map[string]any); ok {
		for k, x := range v {
			if s, ok := x.(string); ok {
				rep.Machine.Versions[name+" "+k] = s
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := sc.Run(ctx, e)
	for _, srv := range append([]*serverProc{e.srv}, e.peers...) {
		if err == nil && !srv.alive() {
			err = fmt.Errorf("server exited during the run: %s", srv.stderr.String())
		}
	}
	srv := e.srv
	if err != nil {
		return nil, err
	}
	if res.Info == nil {
		res.Info = map[string]any{}
	}
	res.Info["server_nofile"] = procNofile(srv.Pid)
	return res, nil
}

func (r *result) summary() string {
	var b strings.Builder
	for i, m := range r.Metrics {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", m.Label, fmtNum(m.Value))
	}
	fmt.Fprintf(&b, " (client CPU %.0f%%, other processes %.0f%%)", 100*r.ClientCPU, 100*r.OtherCPU)
	return b.String()
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func fatalf(format string, args ...any) {
	logf(format, args...)
	os.Exit(1)
}

// waitQuiet waits, up to quietWait and within what is left of
// quietBudget, until the rest of the machine uses less than noisyCPU over
// one second: other work on the cores is counted as neither server's, but
// slows both down.
func (cfg *config) waitQuiet() {
	start := time.Now()
	limit := min(cfg.quietWait, cfg.quietBudget)
	defer func() { cfg.quietBudget -= time.Since(start) }()
	logged := false
	for {
		self0, _ := sampleProc(os.Getpid())
		m0 := machineBusyTicks()
		time.Sleep(time.Second)
		self1, _ := sampleProc(os.Getpid())
		other := float64(machineBusyTicks()-m0)/clkTck - self1.cpuSecondsSince(self0)
		if other < noisyCPU {
			return
		}
		if time.Since(start) >= limit {
			if logged {
				logf("the machine is still busy (other processes use %.0f%% of a core): going on, disturbed results are marked", 100*other)
			}
			return
		}
		if !logged {
			logf("the machine is busy (other processes use %.0f%% of a core): waiting up to %v", 100*other, limit.Round(time.Second))
			logged = true
		}
	}
}

// freeAddr returns a loopback address with a port free at the time.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("%v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func kilo(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

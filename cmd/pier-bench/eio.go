package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// echoText is the small text message of the echo scenarios.
const echoText = `{"msg":"hello from pier-bench"}`

const eioPath = "/engine.io/"

// window measures a server and the load generator over a measurement,
// and the machine's CPU use by everything else (which makes a run noisy).
// In a cluster scenario it measures every server (their CPU adds up) and
// the redis-server apart.
type window struct {
	srv      *serverProc
	peers    []*serverProc
	redis    *redisProc
	s0, c0   procSample
	p0, p1   []procSample // peers
	r0, r1   procSample   // redis
	m0, m1   uint64       // busy ticks of the whole machine (/proc/stat)
	t0       time.Time
	s1, c1   procSample
	gens     []int // receiving child processes of the load generator
	g0, g1   []procSample
	gAff     []string // their CPU affinity (Cpus_allowed_list)
	duration time.Duration
}

func startWindow(e *env) *window {
	w := &window{srv: e.srv, peers: e.peers, redis: e.redis, gens: e.gens}
	w.m0 = machineBusyTicks()
	w.c0, _ = sampleProc(os.Getpid())
	for _, pid := range w.gens {
		ps, _ := sampleProc(pid)
		w.g0 = append(w.g0, ps)
	}
	w.s0 = w.srv.sample()
	for _, p := range w.peers {
		w.p0 = append(w.p0, p.sample())
	}
	if w.redis != nil {
		w.r0, _ = sampleProc(w.redis.Pid)
	}
	w.t0 = time.Now()
	return w
}

func (w *window) stop() {
	w.duration = time.Since(w.t0)
	w.s1 = w.srv.sample()
	for _, p := range w.peers {
		w.p1 = append(w.p1, p.sample())
	}
	if w.redis != nil {
		w.r1, _ = sampleProc(w.redis.Pid)
	}
	w.c1, _ = sampleProc(os.Getpid())
	for _, pid := range w.gens {
		ps, _ := sampleProc(pid)
		w.g1 = append(w.g1, ps)
		w.gAff = append(w.gAff, cpusAllowed(pid))
	}
	w.m1 = machineBusyTicks()
}

// otherCPU is the CPU used over the window by processes other than the
// servers, redis-server and the load generator, in cores.
func (w *window) otherCPU() float64 {
	busy := float64(w.m1-w.m0) / clkTck
	return max(0, busy-w.serverCPU()-w.redisCPU()-w.clientCPU()*w.duration.Seconds()) / w.duration.Seconds()
}

// redisCPU is the redis-server's CPU seconds over the window (0 without
// one).
func (w *window) redisCPU() float64 {
	if w.redis == nil {
		return 0
	}
	return w.r1.cpuSecondsSince(w.r0)
}

// machineBusyTicks is the machine's non-idle CPU time from /proc/stat.
func machineBusyTicks() uint64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy uint64
	// cpu user nice system idle iowait irq softirq steal guest guest_nice
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		busy += n
	}
	return busy
}

// finish records what every scenario reports about its window.
func (w *window) finish(r *result) {
	r.ClientCPU = w.clientCPU()
	r.OtherCPU = w.otherCPU()
	r.info("measured_seconds", w.duration.Seconds())
}

// serverCPU is the server's CPU seconds over the window (of every server,
// in a cluster).
func (w *window) serverCPU() float64 {
	cpu := w.s1.cpuSecondsSince(w.s0)
	for i := range w.p1 {
		cpu += w.p1[i].cpuSecondsSince(w.p0[i])
	}
	return cpu
}

// clientCPU is the load generator's CPU use over the window, in cores:
// the runner's and its receiving children's.
func (w *window) clientCPU() float64 {
	cpu := w.c1.cpuSecondsSince(w.c0)
	for i := range w.g1 {
		cpu += w.g1[i].cpuSecondsSince(w.g0[i])
	}
	return cpu / w.duration.Seconds()
}

// generatorInfo records the load generator's processes and the CPU of
// each over the window, in cores: the runner's, and its receiving
// children's with their CPU affinity.
func (w *window) generatorInfo(r *result) {
	r.info("generator_processes", 1+len(w.gens))
	r.info("runner_cpu_cores", w.c1.cpuSecondsSince(w.c0)/w.duration.Seconds())
	if len(w.gens) == 0 {
		return
	}
	var cpu []float64
	for i := range w.gens {
		cpu = append(cpu, w.g1[i].cpuSecondsSince(w.g0[i])/w.duration.Seconds())
	}
	r.info("receiving_processes", len(w.gens))
	r.info("receiving_cpu_cores", cpu)
	r.info("receiving_cpus_allowed", w.gAff)
}

// cpusAllowed is the Cpus_allowed_list of a process ("" if unknown).
func cpusAllowed(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

// phases drives a closed-loop load: workers record only while measuring.
type phases struct{ v atomic.Int32 }

const (
	phaseWarmup = iota
	phaseMeasure
	phaseStop
)

func (p *phases) measuring() bool { return p.v.Load() == phaseMeasure }
func (p *phases) stopped() bool   { return p.v.Load() == phaseStop }

// measure runs the warmup, then the measurement window, then stops the
// workers. It returns early if ctx ends or a worker fails (failed closed).
func measure(ctx context.Context, e *env, p *phases, failed <-chan struct{}, during func()) (*window, error) {
	wait := func(d time.Duration) error {
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-failed:
			return errors.New("a client failed")
		}
	}
	if err := wait(e.cfg.warmup); err != nil {
		p.v.Store(phaseStop)
		return nil, err
	}
	w := startWindow(e)
	p.v.Store(phaseMeasure)
	if during != nil {
		go during()
	}
	err := wait(e.cfg.duration)
	p.v.Store(phaseStop)
	w.stop()
	return w, err
}

// firstErr keeps the first error of many goroutines.
type firstErr struct {
	once sync.Once
	err  error
	ch   chan struct{}
}

func newFirstErr() *firstErr { return &firstErr{ch: make(chan struct{})} }

func (f *firstErr) failed() bool {
	select {
	case <-f.ch:
		return true
	default:
		return false
	}
}

func (f *firstErr) set(err error) {
	f.once.Do(func() { f.err = err; close(f.ch) })
}

// latencies merges per-worker samples (ns) and returns p50 and p99 in µs.
// roundTrips closes the window w of a closed-loop scenario and records its
// round trips: rate, p50, p99 and server CPU per round trip.
func roundTrips(w *window, r *result, lat [][]int64) error {
	n, p50, p99 := latencies(lat)
	if n == 0 {
		return errors.New("no round trip completed")
	}
	w.finish(r)
	r.add("rt_per_s", "round trips/s", float64(n)/w.duration.Seconds(), false)
	r.add("p50_us", "p50 µs", p50, true)
	r.add("p99_us", "p99 µs", p99, true)
	r.add("cpu_us_per_rt", "server CPU µs/round trip", 1e6*w.serverCPU()/float64(n), true)
	r.info("round_trips", n)
	return nil
}

func latencies(per [][]int64) (n int, p50, p99 float64) {
	var all []int64
	for _, l := range per {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return 0, 0, 0
	}
	slices.Sort(all)
	q := func(f float64) float64 { return float64(all[int(f*float64(len(all)-1))]) / 1e3 }
	return len(all), q(0.50), q(0.99)
}

// openMany opens n websocket sessions with cfg.concurrency dials at once.
func openMany(ctx context.Context, e *env, path string, protocol, n int) ([]*wsClient, error) {
	return openConns(ctx, n, e.cfg.concurrency, func(ctx context.Context) (*wsClient, error) {
		return dialWS(ctx, e.srv.Addr, path, protocol)
	})
}

func closeAll(conns []*wsClient) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// checkNofile fails when n connections cannot be held by the load
// generator or the server.
func checkNofile(e *env, n int) error {
	limit := e.cfg.nofile
	if s := procNofile(e.srv.Pid); s > 0 && s < limit {
		limit = s
	}
	if n > limit-200 {
		return fmt.Errorf("%d connections need more than the open-files limit %d (less 200 for the rest)", n, limit)
	}
	return nil
}

// runIdle opens n websocket sessions, holds them idle for the settle time
// and reports connections/s, server CPU per connection (over the opening
// and the settle time) and the RSS added per connection.
func runIdle(ctx context.Context, e *env, n int) (*result, error) {
	if err := checkNofile(e, n); err != nil {
		return nil, err
	}
	// Warm up: lazily initialised code and pools come before the
	// baseline, for both servers.
	warm, err := openMany(ctx, e, eioPath, 4, min(200, n))
	if err != nil {
		return nil, fmt.Errorf("warmup: %w", err)
	}
	closeAll(warm)
	time.Sleep(time.Second)

	w := startWindow(e)
	conns, err := openMany(ctx, e, eioPath, 4, n)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)
	w.stop()
	opened := w.s1
	for _, c := range conns {
		go c.idle()
	}
	select {
	case <-time.After(e.cfg.settle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	settled := e.srv.sample()
	r := &result{}
	w.finish(r)
	r.add("conn_per_s", "connections/s", float64(n)/w.duration.Seconds(), false)
	r.add("cpu_us_per_conn", "server CPU µs/connection", 1e6*settled.cpuSecondsSince(w.s0)/float64(n), true)
	r.add("rss_kb_per_conn", "RSS KB/idle connection", float64(int64(settled.RSSKB)-int64(w.s0.RSSKB))/float64(n), true)
	r.info("connections", n)
	r.info("open_seconds", w.duration.Seconds())
	r.info("cpu_us_per_conn_opening", 1e6*w.serverCPU()/float64(n))
	r.info("rss_kb_baseline", w.s0.RSSKB)
	r.info("rss_kb_opened", opened.RSSKB)
	r.info("rss_kb_settled", settled.RSSKB)
	r.info("threads_settled", settled.Threads)
	r.info("projected_rss_mb_100k", (float64(w.s0.RSSKB)+100_000*float64(int64(settled.RSSKB)-int64(w.s0.RSSKB))/float64(n))/1024)
	if e.cfg.pprof && e.srv.PprofAddr != "" {
		// The Go runtime's own account of the memory, per connection: as
		// the RSS was read, then after the GC that the heap profile forces
		// (the live heap).
		perConn := func(prefix string) {
			ms, err := memStats(e)
			if err != nil {
				logf("memstats: %v", err)
				return
			}
			for _, k := range []string{"HeapAlloc", "HeapInuse", "HeapSys", "Stack", "MSpan", "Sys"} {
				r.info(prefix+k+"_kb_per_conn", float64(ms[k])/1024/float64(n))
			}
		}
		perConn("go_")
		if f, err := saveProfile(e, fmt.Sprintf("heap-idle-%d", n), "/debug/pprof/heap?gc=1"); err != nil {
			logf("heap profile: %v", err)
		} else {
			r.info("heap_profile", f)
			logf("heap profile: %s", f)
		}
		perConn("go_after_gc_")
		if f, err := saveProfile(e, fmt.Sprintf("goroutine-idle-%d", n), "/debug/pprof/goroutine"); err == nil {
			r.info("goroutine_profile", f)
		}
	}
	return r, nil
}

// memStats reads the runtime.MemStats lines ("# Name = value") of the
// Pier server's heap profile in text form.
func memStats(e *env) (map[string]uint64, error) { return memStatsAt(e.srv.PprofAddr) }

// memStatsAt reads the runtime.MemStats of the serve-pier whose pprof
// listener is addr.
func memStatsAt(addr string) (map[string]uint64, error) {
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	ms := map[string]uint64{}
	for line := range strings.SplitSeq(string(b), "\n") {
		// "# HeapInuse = 123", or "# Stack = inuse / sys".
		var k string
		var v uint64
		if n, _ := fmt.Sscanf(line, "# %s = %d", &k, &v); n == 2 {
			ms[k] = v
		}
	}
	return ms, nil
}

// saveProfile fetches a pprof profile of the Pier server into cfg.out.
func saveProfile(e *env, name, path string) (string, error) {
	resp, err := http.Get("http://" + e.srv.PprofAddr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("%s: %s", path, resp.Status)
	}
	file := filepath.Join(e.cfg.out, fmt.Sprintf("pier-%s-%s.pb.gz", name, time.Now().Format("20060102-150405")))
	f, err := os.Create(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return file, err
}

// cpuProfileDuring returns a function that takes a CPU profile of Pier for
// the measurement window, when -pprof is set.
func cpuProfileDuring(e *env, name string, r *result) func() {
	if !e.cfg.pprof || e.srv.PprofAddr == "" {
		return nil
	}
	return func() {
		secs := max(1, int(e.cfg.duration.Seconds()))
		f, err := saveProfile(e, "cpu-"+name, fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs))
		if err != nil {
			logf("cpu profile: %v", err)
			return
		}
		logf("cpu profile: %s", f)
		r.info("cpu_profile", f)
	}
}

// closedLoop runs one client's closed loop until p stops: it writes the
// frame next returns, waits for the message it expects, and returns the
// round-trip times measured while p measures. An error goes to fe.
func closedLoop(c *wsClient, p *phases, fe *firstErr, next func() (frame, want []byte)) []int64 {
	l := make([]int64, 0, 1<<16)
	for !p.stopped() {
		frame, want := next()
		t := time.Now()
		if err := c.write(frame); err != nil {
			fe.set(err)
			return l
		}
		if err := c.expectMessage(want); err != nil {
			fe.set(err)
			return l
		}
		if p.measuring() {
			l = append(l, int64(time.Since(t)))
		}
	}
	return l
}

// runWSEcho runs a closed loop of clients each sending a small text
// message over websocket and waiting for its echo.
func runWSEcho(ctx context.Context, e *env, clients, protocol int) (*result, error) {
	conns, err := openMany(ctx, e, eioPath, protocol, clients)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)
	msg := []byte("4" + echoText)
	frame := maskedFrame(ws.OpText, msg)
	var p phases
	fe := newFirstErr()
	lat := make([][]int64, clients)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			lat[i] = closedLoop(c, &p, fe, func() ([]byte, []byte) { return frame, msg })
		})
	}
	r := &result{}
	w, err := measure(ctx, e, &p, fe.ch, cpuProfileDuring(e, fmt.Sprintf("ws-echo-eio%d-%d", protocol, clients), r))
	if err != nil && fe.err != nil {
		err = fe.err
	}
	if err != nil {
		closeAll(conns)
		wg.Wait()
		return nil, err
	}
	wg.Wait()
	if err := roundTrips(w, r, lat); err != nil {
		return nil, err
	}
	r.info("server_cpu_cores", w.serverCPU()/w.duration.Seconds())
	return r, nil
}

// pollTarget is the request target of a polling request.
func pollTarget(sid string) string {
	if sid == "" {
		return eioPath + "?EIO=4&transport=polling"
	}
	return eioPath + "?EIO=4&transport=polling&sid=" + sid
}

// parseSID reads the sid of an open packet.
func parseSID(body []byte) (string, error) {
	i := bytes.Index(body, []byte(`"sid":"`))
	if len(body) == 0 || body[0] != '0' || i < 0 {
		return "", fmt.Errorf("not an open packet: %q", body)
	}
	rest := body[i+7:]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", fmt.Errorf("not an open packet: %q", body)
	}
	return string(rest[:j]), nil
}

// payloadHas reports whether a v4 polling payload holds packet want, and
// whether it holds a ping.
func payloadHas(body, want []byte) (found, ping bool) {
	for p := range bytes.SplitSeq(body, []byte{0x1e}) {
		if bytes.Equal(p, want) {
			found = true
		}
		if len(p) == 1 && p[0] == '2' {
			ping = true
		}
	}
	return found, ping
}

var okBody = []byte("ok")

func expectOK(body []byte, err error) error {
	if err != nil {
		return err
	}
	if !bytes.Equal(body, okBody) {
		return fmt.Errorf("POST answered %q", body)
	}
	return nil
}

// pollingSession runs one whole long-polling session on h, as a client
// that sends one message and leaves: handshake, POST a message, GET its
// echo, POST close.
func pollingSession(h *httpConn, msg []byte) error {
	body, err := h.roundTrip(pollTarget(""), nil)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	sid, err := parseSID(body)
	if err != nil {
		return err
	}
	t := pollTarget(sid)
	if err := expectOK(h.roundTrip(t, msg)); err != nil {
		return fmt.Errorf("POST message: %w", err)
	}
	for {
		body, err := h.roundTrip(t, nil)
		if err != nil {
			return fmt.Errorf("GET: %w", err)
		}
		if found, _ := payloadHas(body, msg); found {
			break
		}
	}
	if err := expectOK(h.roundTrip(t, []byte("1"))); err != nil {
		return fmt.Errorf("POST close: %w", err)
	}
	return nil
}

// runPollingSessions runs clients that each open long-polling sessions one
// after the other on one keep-alive connection.
func runPollingSessions(ctx context.Context, e *env, clients int) (*result, error) {
	msg := []byte("4" + echoText)
	var p phases
	fe := newFirstErr()
	lat := make([][]int64, clients)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []*httpConn
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var h *httpConn
			l := make([]int64, 0, 1<<14)
			defer func() { lat[i] = l }()
			for !p.stopped() {
				if h == nil {
					var err error
					if h, err = dialHTTP(e.srv.Addr); err != nil {
						fe.set(err)
						return
					}
					mu.Lock()
					open = append(open, h)
					mu.Unlock()
				}
				t := time.Now()
				err := pollingSession(h, msg)
				if errors.Is(err, errConnClose) {
					h.Close() // the server closed the connection: not counted, reconnect
					h = nil
					continue
				} else if err != nil {
					if !p.stopped() {
						fe.set(err)
					}
					return
				}
				if p.measuring() {
					l = append(l, int64(time.Since(t)))
				}
			}
		}()
	}
	r := &result{}
	w, err := measure(ctx, e, &p, fe.ch, cpuProfileDuring(e, fmt.Sprintf("polling-sessions-%d", clients), r))
	if err != nil && fe.err != nil {
		err = fe.err
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		mu.Lock()
		for _, h := range open {
			h.Close()
		}
		mu.Unlock()
		<-done
	}
	mu.Lock()
	for _, h := range open {
		h.Close()
	}
	mu.Unlock()
	if err != nil {
		return nil, err
	}
	n, p50, p99 := latencies(lat)
	if n == 0 {
		return nil, errors.New("no session completed")
	}
	w.finish(r)
	r.add("sessions_per_s", "sessions/s", float64(n)/w.duration.Seconds(), false)
	r.add("p50_us", "session p50 µs", p50, true)
	r.add("p99_us", "session p99 µs", p99, true)
	r.add("cpu_us_per_session", "server CPU µs/session", 1e6*w.serverCPU()/float64(n), true)
	r.info("sessions", n)
	r.info("requests_per_session", 4)
	return r, nil
}

// runPollingEcho runs clients that each hold one long-polling session with
// two connections, as a browser does: a GET waits on one while the message
// is POSTed on the other, and the round trip ends when the GET returns the
// echo.
func runPollingEcho(ctx context.Context, e *env, clients int) (*result, error) {
	msg := []byte("4" + echoText)
	type client struct {
		get, post *httpConn
		target    string
	}
	cs := make([]*client, clients)
	closeClients := func() {
		for _, c := range cs {
			if c != nil {
				c.get.Close()
				c.post.Close()
			}
		}
	}
	defer closeClients()
	for i := range cs {
		get, err := dialHTTP(e.srv.Addr)
		if err != nil {
			return nil, err
		}
		post, err := dialHTTP(e.srv.Addr)
		if err != nil {
			get.Close()
			return nil, err
		}
		cs[i] = &client{get: get, post: post}
		body, err := get.roundTrip(pollTarget(""), nil)
		if err != nil {
			return nil, fmt.Errorf("handshake: %w", err)
		}
		sid, err := parseSID(body)
		if err != nil {
			return nil, err
		}
		cs[i].target = pollTarget(sid)
	}
	var p phases
	fe := newFirstErr()
	lat := make([][]int64, clients)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := make([]int64, 0, 1<<14)
			defer func() { lat[i] = l }()
			fail := func(err error) {
				if !p.stopped() {
					fe.set(err)
				}
			}
			for !p.stopped() {
				t := time.Now()
				if err := c.get.send(c.target, nil); err != nil {
					fail(err)
					return
				}
				if err := expectOK(c.post.roundTrip(c.target, msg)); err != nil {
					fail(fmt.Errorf("POST: %w", err))
					return
				}
				for {
					body, err := c.get.recv()
					if err != nil {
						fail(fmt.Errorf("GET: %w", err))
						return
					}
					found, ping := payloadHas(body, msg)
					if ping {
						if err := expectOK(c.post.roundTrip(c.target, []byte("3"))); err != nil {
							fail(fmt.Errorf("POST pong: %w", err))
							return
						}
					}
					if found {
						break
					}
					if err := c.get.send(c.target, nil); err != nil {
						fail(err)
						return
					}
				}
				if p.measuring() {
					l = append(l, int64(time.Since(t)))
				}
			}
		}()
	}
	r := &result{}
	w, err := measure(ctx, e, &p, fe.ch, cpuProfileDuring(e, fmt.Sprintf("polling-echo-%d", clients), r))
	if err != nil && fe.err != nil {
		err = fe.err
	}
	if err != nil {
		closeClients()
		wg.Wait()
		return nil, err
	}
	wg.Wait()
	if err := roundTrips(w, r, lat); err != nil {
		return nil, err
	}
	r.info("requests_per_round_trip", 2)
	return r, nil
}

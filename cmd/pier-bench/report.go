package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report is the JSON file of a run.
type report struct {
	Started  time.Time      `json:"started"`
	Seconds  float64        `json:"seconds"`
	Command  string         `json:"command"`
	Machine  machine        `json:"machine"`
	Settings map[string]any `json:"settings"`
	Runs     []run          `json:"runs"`
}

type machine struct {
	CPU      string            `json:"cpu"`
	Cores    int               `json:"cores"`
	MemoryGB float64           `json:"memory_gb"`
	Kernel   string            `json:"kernel"`
	ClkTck   float64           `json:"clk_tck"`
	Nofile   int               `json:"nofile"`
	Versions map[string]string `json:"versions"`
}

func machineInfo(cfg *config) machine {
	m := machine{Cores: runtime.NumCPU(), ClkTck: clkTck, Nofile: cfg.nofile, Versions: map[string]string{"pier-bench go": runtime.Version()}}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		m.Cores = strings.Count(string(b), "\nprocessor") + 1
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%f", &kb)
		m.MemoryGB = math.Round(kb/1024/1024*10) / 10
	}
	m.Versions["pier"] = pierRevision()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// pierRevision is the commit of the working tree the benchmark runs in,
// with "+dirty" when the Go packages under test have uncommitted changes.
func pierRevision() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(out))
	st, err := exec.Command("git", "status", "--porcelain", "--", "engineio", "socketio", "cmd", "go.mod", "go.sum").Output()
	if err == nil && len(bytes.TrimSpace(st)) > 0 {
		rev += "+dirty"
	}
	return rev
}

func settingsOf(cfg *config, sel []*scenario) map[string]any {
	var names []string
	for _, s := range sel {
		names = append(names, s.Name)
	}
	return map[string]any{
		"scenarios": names, "idle_sizes": cfg.sizes, "duration_s": cfg.duration.Seconds(),
		"warmup_s": cfg.warmup.Seconds(), "settle_s": cfg.settle.Seconds(), "servers": cfg.servers,
		"pinned": cfg.pin, "server_cpu": cfg.serverCPU, "load_cpu": cfg.loadCPU,
		"pprof": cfg.pprof, "dial_concurrency": cfg.concurrency, "broadcast_gens": cfg.bcastGens,
		"broadcast_poll_s": cfg.bcastPoll.Seconds(),
	}
}

// row is one metric of one scenario, one value per server that ran it.
type row struct {
	Scenario, Title, Label string
	Lower                  bool
	Values                 map[string]float64 // by server name ("pier", "node", "zishang520")
	ClientBound            bool               // the load generator was near saturation
	Noisy                  bool               // other processes used the CPU during the measurement
}

// value is the figure of server, if it ran.
func (r row) value(server string) (float64, bool) {
	v, ok := r.Values[server]
	return v, ok
}

// ratio is the figure of a over the figure of b; ok is false unless both
// ran and b's figure is not 0.
func (r row) ratio(a, b string) (float64, bool) {
	va, okA := r.Values[a]
	vb, okB := r.Values[b]
	if !okA || !okB || vb == 0 {
		return 0, false
	}
	return va / vb, true
}

// verdict says how much better or worse a is than b ("" unless both have
// a non-zero figure).
func (r row) verdict(a, b string) string {
	adv, ok := r.ratio(a, b)
	if !ok || adv == 0 {
		return ""
	}
	if r.Lower {
		adv = 1 / adv
	}
	if adv >= 1 {
		return fmt.Sprintf("%.1f× better", adv)
	}
	return fmt.Sprintf("%.1f× worse", 1/adv)
}

// serverTitle is how a server is named in tables and charts.
func serverTitle(name string) string {
	switch name {
	case "pier":
		return "Pier"
	case "node":
		return "Node"
	}
	return name
}

// servers lists the servers of the runs, Pier first and then in the order
// they ran (a server whose every run was skipped included).
func (rep *report) servers() []string {
	var out []string
	for _, r := range rep.Runs {
		if !slices.Contains(out, r.Server) {
			out = append(out, r.Server)
		}
	}
	if i := slices.Index(out, "pier"); i > 0 {
		out = append([]string{"pier"}, slices.Delete(out, i, i+1)...)
	}
	return out
}

// skipped is the reason a server did not run a scenario ("" if it ran or
// failed).
func (rep *report) skipped(scenario, server string) string {
	for _, r := range rep.Runs {
		if r.Scenario == scenario && r.Server == server {
			return r.Skipped
		}
	}
	return ""
}

// clientBound is the load generator's CPU use above which the throughput
// figures are marked as limited by the client.
const clientBound = 0.9

// noisyCPU is the CPU use of other processes (in cores) above which a
// measurement is marked as disturbed.
const noisyCPU = 0.1

func (rep *report) rows() []row {
	var rows []row
	idx := map[string]int{}
	for _, r := range rep.Runs {
		if r.Result == nil {
			continue
		}
		for _, m := range r.Result.Metrics {
			k := r.Scenario + "\x00" + m.Key
			i, ok := idx[k]
			if !ok {
				i = len(rows)
				idx[k] = i
				rows = append(rows, row{Scenario: r.Scenario, Title: r.Title, Label: m.Label, Lower: m.Lower, Values: map[string]float64{}})
			}
			rows[i].Values[r.Server] = m.Value
			if r.Result.OtherCPU > noisyCPU {
				rows[i].Noisy = true
			}
			if r.Result.ClientCPU >= clientBound && (!m.Lower || strings.Contains(m.Label, "p50") || strings.Contains(m.Label, "p99")) {
				rows[i].ClientBound = true
			}
		}
	}
	return rows
}

func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 10000:
		return groupThousands(fmt.Sprintf("%.0f", v))
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// peerTitle is the title of a peer server with its versions, as the
// header line of the table says it.
func (m machine) peerTitle(server string) string {
	v := m.Versions
	switch server {
	case "node":
		if v["node socket.io"] != "" {
			return fmt.Sprintf("Node (socket.io %s / engine.io %s on Node %s)", v["node socket.io"], v["node engine.io"], v["node node"])
		}
	case "zishang520":
		if v["zishang520 socket.io"] != "" {
			return fmt.Sprintf("zishang520/socket.io %s (servers/socket/v3, servers/engine/v3; %s)", v["zishang520 socket.io"], v["zishang520 go"])
		}
	}
	return serverTitle(server)
}

// shortTitle is a server's name with its version, for the chart.
func (m machine) shortTitle(server string) string {
	if server == "zishang520" && m.Versions["zishang520 socket.io"] != "" {
		return "zishang520/socket.io " + m.Versions["zishang520 socket.io"]
	}
	return serverTitle(server)
}

// markdown writes the table: one column per server, then Pier's ratio to
// each other server. A server that does not do a scenario shows "n/a",
// with the reason under the table.
func (rep *report) markdown(w io.Writer) {
	m := rep.Machine
	servers := rep.mainServers()
	var peers, peerTitles []string
	for _, s := range servers {
		if s != "pier" {
			peers = append(peers, s)
			peerTitles = append(peerTitles, m.peerTitle(s))
		}
	}
	fmt.Fprintf(w, "Pier %s (%s) vs %s, %s, %d cores, %s; servers pinned to core %s, load generator to core %s; `%s`.\n\n",
		m.Versions["pier"], m.Versions["pier go"], strings.Join(peerTitles, " vs "), m.CPU, m.Cores, rep.Started.Format("2006-01-02 15:04 MST"),
		rep.Settings["server_cpu"], rep.Settings["load_cpu"], rep.Command)
	head, align := "| scenario | metric |", "|---|---|"
	for _, s := range servers {
		head += " " + serverTitle(s) + " |"
		align += "---:|"
	}
	hasPier := slices.Contains(servers, "pier")
	if hasPier {
		for _, s := range peers {
			head += " Pier/" + serverTitle(s) + " |"
			align += "---|"
		}
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, align)
	anyBound, anyNoisy, anyNA := false, false, false
	rows := rep.rows()
	noisy := map[string]bool{}
	for _, r := range rows {
		noisy[r.Scenario] = noisy[r.Scenario] || r.Noisy
	}
	last := ""
	for _, r := range rows {
		title := ""
		if r.Scenario != last {
			title, last = r.Title, r.Scenario
			if noisy[r.Scenario] {
				title += " ‡"
				anyNoisy = true
			}
		}
		label := r.Label
		if r.Lower {
			label += " ↓"
		} else {
			label += " ↑"
		}
		if r.ClientBound {
			label += " †"
			anyBound = true
		}
		line := fmt.Sprintf("| %s | %s |", title, label)
		for _, s := range servers {
			cell := "–"
			if v, ok := r.value(s); ok {
				cell = fmtNum(v)
			} else if rep.skipped(r.Scenario, s) != "" {
				cell, anyNA = "n/a", true
			}
			line += " " + cell + " |"
		}
		if hasPier {
			for _, s := range peers {
				cell := "–"
				if q, ok := r.ratio("pier", s); ok {
					cell = fmt.Sprintf("%.2f (%s)", q, r.verdict("pier", s))
				}
				line += " " + cell + " |"
			}
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "↑ higher is better, ↓ lower is better. Server CPU is utime+stime from /proc/PID/stat over the measurement; RSS is VmRSS from /proc/PID/status, after the settle time less the baseline before connecting.")
	if anyBound {
		fmt.Fprintf(w, "† the load generator used ≥%.0f%% of its core in this run: throughput and latency may be limited by the client (the server CPU per operation is not).\n", 100*clientBound)
	}
	if anyNoisy {
		fmt.Fprintf(w, "‡ other processes used more than %.0f%% of a core during this measurement: its figures are disturbed (see other_cpu in the JSON).\n", 100*noisyCPU)
	}
	if anyNA {
		fmt.Fprintln(w, "n/a: the server does not do this scenario (the reason is below).")
	}
	rep.adapterTable(w, rows)
	rep.floorTable(w, rows)
	var notes []string
	seen := map[string]bool{}
	for _, r := range rep.Runs {
		var n string
		switch {
		case r.Skipped != "" && r.Server == floorServerName:
			// The floor table says which scenarios it serves.
		case r.Skipped != "":
			n = fmt.Sprintf("%s on %s: n/a (%s).", r.Scenario, r.Server, r.Skipped)
		case r.Error != "":
			n = fmt.Sprintf("%s on %s: FAILED: %s", r.Scenario, r.Server, r.Error)
		}
		if n != "" && !seen[n] {
			seen[n] = true
			notes = append(notes, n)
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, "- "+n)
		}
	}
}

// renderReport redraws the table and chart of a run from its JSON file.
func renderReport(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	rep.markdown(os.Stdout)
	var md strings.Builder
	rep.markdown(&md)
	base := strings.TrimSuffix(file, ".json")
	if err := os.WriteFile(base+".md", []byte(md.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(base+".svg", []byte(rep.svg()), 0o644)
}

// write prints the table and writes the run's files.
func (rep *report) write(cfg *config, stdout io.Writer) error {
	rep.Command = "pier-bench " + strings.Join(os.Args[1:], " ")
	if rep.Command == "pier-bench " {
		rep.Command = "pier-bench"
	}
	rep.markdown(stdout)
	stamp := rep.Started.Format("20060102-150405")
	base := filepath.Join(cfg.out, "bench-"+stamp)
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	var md strings.Builder
	rep.markdown(&md)
	svg := rep.svg()
	files := map[string][]byte{
		base + ".json": append(b, '\n'), base + ".md": []byte(md.String()), base + ".svg": []byte(svg),
		filepath.Join(cfg.out, "latest.json"): append(b, '\n'),
		filepath.Join(cfg.out, "latest.md"):   []byte(md.String()),
		filepath.Join(cfg.out, "latest.svg"):  []byte(svg),
	}
	for name, data := range files {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			return err
		}
	}
	logf("wrote %s.{json,md,svg} (and latest.* beside them)", base)
	for _, r := range rep.Runs {
		if r.Error != "" {
			return fmt.Errorf("%s on %s failed", r.Scenario, r.Server)
		}
	}
	return nil
}

// adapterTable writes Pier's figures of the redis-pubsub-* scenarios
// beside those of the matching redis-streams-* ones: the two Redis
// adapters under the same load.
func (rep *report) adapterTable(w io.Writer, rows []row) {
	type pair struct {
		label         string
		lower         bool
		pubsub, strms float64
	}
	var pairs []pair
	title := ""
	for _, r := range rows {
		rest, ok := strings.CutPrefix(r.Scenario, "redis-pubsub-")
		if !ok {
			continue
		}
		ps, ok := r.value("pier")
		if !ok {
			continue
		}
		for _, q := range rows {
			if q.Scenario == "redis-streams-"+rest && q.Label == r.Label {
				if st, ok := q.value("pier"); ok {
					pairs = append(pairs, pair{r.Label, r.Lower, ps, st})
					title = strings.TrimSpace(strings.TrimPrefix(r.Title, "Redis pub/sub adapter:"))
				}
			}
		}
	}
	if len(pairs) == 0 {
		return
	}
	fmt.Fprintf(w, "\nRedis adapters compared (Pier, %s):\n\n", title)
	fmt.Fprintln(w, "| metric | pub/sub | streams | streams/pub/sub |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	for _, p := range pairs {
		arrow, ratio := " ↑", "–"
		if p.lower {
			arrow = " ↓"
		}
		if p.pubsub != 0 {
			ratio = fmt.Sprintf("%.2f", p.strms/p.pubsub)
		}
		fmt.Fprintf(w, "| %s%s | %s | %s | %s |\n", p.label, arrow, fmtNum(p.pubsub), fmtNum(p.strms), ratio)
	}
}

// svgColors are the bar colours of the servers other than Pier and Node.
var svgColors = []string{"#e8833a", "#4caf7a", "#a066c8"}

// svgMaxRatio is the end of the chart's scale (× Node).
const svgMaxRatio = 4.0

// svg draws the rows as grouped horizontal bars, Node = 1 and every other
// server as its ratio to Node, one group per metric under a header per
// scenario. Rows without both Pier and Node are left out.
func (rep *report) svg() string {
	var rows []row
	for _, r := range rep.rows() {
		if q, ok := r.ratio("pier", "node"); ok && q > 0 {
			rows = append(rows, r)
		}
	}
	var others []string // drawn between Pier and Node
	for _, s := range rep.mainServers() {
		if s != "pier" && s != "node" {
			others = append(others, s)
		}
	}
	color := map[string]string{"pier": "#2a7de1", "node": "#9aa3ad"}
	for i, s := range others {
		color[s] = svgColors[i%len(svgColors)]
	}
	bars := append(append([]string{"pier"}, others...), "node")
	const (
		width   = 960
		left    = 300 // labels
		right   = 250 // value labels
		top     = 86
		headerH = 26
		barH    = 11
	)
	rowH := float64(12 + (barH+2)*len(bars))
	scaleMax := 1.0
	for _, r := range rows {
		for _, s := range bars {
			if q, ok := r.ratio(s, "node"); ok {
				scaleMax = max(scaleMax, q)
			}
		}
	}
	// A peer far behind would squeeze every other bar: the scale stops at
	// svgMaxRatio and longer bars are cut (their label says so).
	scaleMax = min(math.Ceil(scaleMax*1.05*2)/2, svgMaxRatio)
	plotW := float64(width - left - right)
	x := func(v float64) float64 { return left + plotW*math.Min(v, scaleMax)/scaleMax }
	esc := html.EscapeString

	// Layout first, to know the height.
	type item struct {
		header string
		r      *row
		y      float64
	}
	var items []item
	y := float64(top)
	last := ""
	for i := range rows {
		r := &rows[i]
		if r.Scenario != last {
			last = r.Scenario
			items = append(items, item{header: r.Title, y: y})
			y += headerH
		}
		items = append(items, item{r: r, y: y})
		y += rowH
	}
	height := int(y) + 58 // axis labels, then a footnote line

	var names []string
	for _, s := range bars[:len(bars)-1] {
		names = append(names, rep.Machine.shortTitle(s))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="-apple-system,Segoe UI,Helvetica,Arial,sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="16" y="26" font-size="16" font-weight="bold" fill="#222">%s vs Node (socket.io %s): each metric relative to Node = 1</text>`+"\n",
		esc(strings.Join(names, " and ")), esc(rep.Machine.Versions["node socket.io"]))
	fmt.Fprintf(&b, `<text x="16" y="46" fill="#555">Pier %s; %s, %d cores, %s; each server pinned to one core, the load generator to another. ↑ higher is better, ↓ lower is better.</text>`+"\n",
		esc(rep.Machine.Versions["pier"]), esc(rep.Machine.CPU), rep.Machine.Cores, esc(rep.Started.Format("2006-01-02")))
	// Legend.
	lx := 16.0
	for _, s := range bars {
		name := serverTitle(s)
		if s == "node" {
			name += " (= 1)"
		} else if s != "pier" {
			name = rep.Machine.shortTitle(s)
		}
		fmt.Fprintf(&b, `<rect x="%.0f" y="58" width="14" height="10" fill="%s"/><text x="%.0f" y="67" fill="#222">%s</text>`+"\n", lx, color[s], lx+20, esc(name))
		lx += 40 + 6.5*float64(len([]rune(name)))
	}
	// Grid.
	step := 0.5
	if scaleMax > 6 {
		step = 1
	}
	if scaleMax > 12 {
		step = 2
	}
	for v := 0.0; v <= scaleMax+1e-9; v += step {
		stroke, dash := "#e3e6ea", ""
		if v == 1 {
			stroke, dash = "#555", ` stroke-dasharray="4 3"`
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"%s/>`+"\n", x(v), top-6, x(v), height-48, stroke, dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#666">%g×</text>`+"\n", x(v), height-34, v)
	}
	for _, it := range items {
		if it.r == nil {
			fmt.Fprintf(&b, `<text x="16" y="%.1f" font-weight="bold" fill="#222">%s</text>`+"\n", it.y+17, esc(it.header))
			continue
		}
		r := it.r
		arrow := "↑"
		if r.Lower {
			arrow = "↓"
		}
		if r.ClientBound {
			arrow += " †"
		}
		if r.Noisy {
			arrow += " ‡"
		}
		fmt.Fprintf(&b, `<text x="28" y="%.1f" fill="#333">%s %s</text>`+"\n", it.y+18, esc(r.Label), arrow)
		for i, s := range bars {
			by := it.y + 4 + float64(i*(barH+2))
			q, ok := r.ratio(s, "node")
			if !ok {
				fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="#888">%s: n/a</text>`+"\n", left+4, by+barH-1, esc(serverTitle(s)))
				continue
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%.1f" height="%d" fill="%s"/>`+"\n", left, by, x(q)-left, barH, color[s])
			if s == "node" {
				continue
			}
			v, _ := r.value(s)
			label := fmt.Sprintf("%s %.2f× (%s)", serverTitle(s), q, fmtNum(v))
			if s == "pier" {
				label = fmt.Sprintf("Pier %.2f× (%s; Node %s)", q, fmtNum(v), fmtNum(r.Values["node"]))
			}
			tx := math.Max(x(q), x(1)) + 6
			if q > scaleMax {
				label += " (bar cut)"
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#222">%s</text>`+"\n", tx, by+barH-1, esc(label))
		}
	}
	var foot []string
	for _, r := range rows {
		if r.ClientBound && !slices.Contains(foot, "† load generator near saturation") {
			foot = append(foot, "† load generator near saturation")
		}
		if r.Noisy && !slices.Contains(foot, "‡ other processes used the CPU") {
			foot = append(foot, "‡ other processes used the CPU")
		}
	}
	if len(foot) > 0 {
		fmt.Fprintf(&b, `<text x="16" y="%d" fill="#666">%s</text>`+"\n", height-10, esc(strings.Join(foot, "; ")))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

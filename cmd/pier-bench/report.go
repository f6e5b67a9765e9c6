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
		"pprof": cfg.pprof, "dial_concurrency": cfg.concurrency,
	}
}

// row is one metric of one scenario, Pier vs Node.
type row struct {
	Scenario, Title, Label string
	Lower                  bool
	Pier, Node             float64
	HasPier, HasNode       bool
	ClientBound            bool // the load generator was near saturation
	Noisy                  bool // other processes used the CPU during the measurement
}

// ratio is Pier/Node.
func (r row) ratio() float64 { return r.Pier / r.Node }

// verdict says how much better or worse Pier is.
func (r row) verdict() string {
	if !r.HasPier || !r.HasNode || r.Pier == 0 || r.Node == 0 {
		return ""
	}
	adv := r.ratio()
	if r.Lower {
		adv = 1 / adv
	}
	if adv >= 1 {
		return fmt.Sprintf("%.1f× better", adv)
	}
	return fmt.Sprintf("%.1f× worse", 1/adv)
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
				rows = append(rows, row{Scenario: r.Scenario, Title: r.Title, Label: m.Label, Lower: m.Lower})
			}
			switch r.Server {
			case "pier":
				rows[i].Pier, rows[i].HasPier = m.Value, true
			case "node":
				rows[i].Node, rows[i].HasNode = m.Value, true
			}
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

// markdown writes the table of Pier vs Node.
func (rep *report) markdown(w io.Writer) {
	m := rep.Machine
	node := "Node"
	if v := m.Versions["node socket.io"]; v != "" {
		node = fmt.Sprintf("Node (socket.io %s / engine.io %s on Node %s)", v, m.Versions["node engine.io"], m.Versions["node node"])
	}
	fmt.Fprintf(w, "Pier %s (%s) vs %s, %s, %d cores, %s; servers pinned to core %s, load generator to core %s; `%s`.\n\n",
		m.Versions["pier"], m.Versions["pier go"], node, m.CPU, m.Cores, rep.Started.Format("2006-01-02 15:04 MST"),
		rep.Settings["server_cpu"], rep.Settings["load_cpu"], rep.Command)
	fmt.Fprintln(w, "| scenario | metric | Pier | Node | Pier/Node | Pier vs Node |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---|")
	anyBound, anyNoisy := false, false
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
		pier, node, ratio := "–", "–", "–"
		if r.HasPier {
			pier = fmtNum(r.Pier)
		}
		if r.HasNode {
			node = fmtNum(r.Node)
		}
		if r.HasPier && r.HasNode && r.Node != 0 {
			ratio = fmt.Sprintf("%.2f", r.ratio())
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", title, label, pier, node, ratio, r.verdict())
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "↑ higher is better, ↓ lower is better. Server CPU is utime+stime from /proc/PID/stat over the measurement; RSS is VmRSS from /proc/PID/status, after the settle time less the baseline before connecting.")
	if anyBound {
		fmt.Fprintf(w, "† the load generator used ≥%.0f%% of its core in this run: throughput and latency may be limited by the client (the server CPU per operation is not).\n", 100*clientBound)
	}
	if anyNoisy {
		fmt.Fprintf(w, "‡ other processes used more than %.0f%% of a core during this measurement: its figures are disturbed (see other_cpu in the JSON).\n", 100*noisyCPU)
	}
	var notes []string
	for _, r := range rep.Runs {
		switch {
		case r.Skipped != "":
			notes = append(notes, fmt.Sprintf("%s on %s: skipped (%s).", r.Scenario, r.Server, r.Skipped))
		case r.Error != "":
			notes = append(notes, fmt.Sprintf("%s on %s: FAILED: %s", r.Scenario, r.Server, r.Error))
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

// svg draws the rows as grouped horizontal bars, Node = 1 and Pier as its
// ratio to Node, one group per metric under a header per scenario.
func (rep *report) svg() string {
	var rows []row
	for _, r := range rep.rows() {
		if r.HasPier && r.HasNode && r.Node > 0 && r.Pier > 0 {
			rows = append(rows, r)
		}
	}
	const (
		width   = 960
		left    = 300 // labels
		right   = 250 // value labels
		top     = 86
		rowH    = 34
		headerH = 26
		barH    = 11
	)
	scaleMax := 1.0
	for _, r := range rows {
		scaleMax = max(scaleMax, r.ratio())
	}
	scaleMax = math.Ceil(scaleMax*1.05*2) / 2
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

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="-apple-system,Segoe UI,Helvetica,Arial,sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="16" y="26" font-size="17" font-weight="bold" fill="#222">Pier vs Node (socket.io %s, engine.io %s): each metric relative to Node (Node = 1)</text>`+"\n",
		esc(rep.Machine.Versions["node socket.io"]), esc(rep.Machine.Versions["node engine.io"]))
	fmt.Fprintf(&b, `<text x="16" y="46" fill="#555">Pier %s; %s, %d cores, %s; each server pinned to one core, the load generator to another. ↑ higher is better, ↓ lower is better.</text>`+"\n",
		esc(rep.Machine.Versions["pier"]), esc(rep.Machine.CPU), rep.Machine.Cores, esc(rep.Started.Format("2006-01-02")))
	// Legend.
	fmt.Fprintf(&b, `<rect x="16" y="58" width="14" height="10" fill="#2a7de1"/><text x="36" y="67" fill="#222">Pier</text>`+"\n")
	fmt.Fprintf(&b, `<rect x="80" y="58" width="14" height="10" fill="#9aa3ad"/><text x="100" y="67" fill="#222">Node (= 1)</text>`+"\n")
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
		py, ny := it.y+4, it.y+4+barH+2
		fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%.1f" height="%d" fill="#2a7de1"/>`+"\n", left, py, x(r.ratio())-left, barH)
		fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%.1f" height="%d" fill="#9aa3ad"/>`+"\n", left, ny, x(1)-left, barH)
		label := fmt.Sprintf("%.2f× (%s vs %s) %s", r.ratio(), fmtNum(r.Pier), fmtNum(r.Node), r.verdict())
		lx := math.Max(x(r.ratio()), x(1)) + 6
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#222">%s</text>`+"\n", lx, py+barH-1, esc(label))
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

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// The load generator of -scale is split into child processes, one per
// server, because the open-files limit is per process: each runs
// `pier-bench dial-idle`, holds its connections and talks to the runner
// in JSON lines.
//
// stdout (child to runner), one object a line:
//
//	{"event":"opened","n":N,"seconds":S,"pid":P}   all N connections are open (and joined)
//	{"event":"error","error":"..."}                  opening failed; the child exits 1
//	{"event":"delivered","id":ID,"n":N,"first_ns":F,"last_ns":L}
//	    every connection got broadcast ID: the event 42["broadcast","ID"],
//	    ID its send time in Unix ns
//	{"event":"report","open":K,"lost":L,"broadcasts":[{"id":ID,"n":N,"lat_us":[...]}]}
//	    the answer to "report"
//
// stdin (runner to child): "report" asks for a report; end of input
// closes every connection and ends the child.

// childEvent is one line of a dial-idle child.
type childEvent struct {
	Event      string       `json:"event"`
	N          int          `json:"n,omitempty"`
	Seconds    float64      `json:"seconds,omitempty"`
	Pid        int          `json:"pid,omitempty"`
	Error      string       `json:"error,omitempty"`
	ID         int64        `json:"id,omitempty"`
	FirstNS    int64        `json:"first_ns,omitempty"`
	LastNS     int64        `json:"last_ns,omitempty"`
	Open       int          `json:"open"`
	Lost       int          `json:"lost"`
	Broadcasts []childBcast `json:"broadcasts,omitempty"`
	// recv-broadcast (bgen.go)
	Received int64 `json:"received,omitempty"` // deliveries so far
	Samples  int   `json:"samples,omitempty"`  // samples written to the -samples file
}

// childBcast is what a child saw of one broadcast: the latency of each
// delivery, from the send time to the read, in µs.
type childBcast struct {
	ID    int64   `json:"id"`
	N     int     `json:"n"`
	LatUS []int64 `json:"lat_us"`
}

// broadcastPrefix starts the "broadcast" event of the sio fixture as the
// clients receive it: 42["broadcast",<data>].
var broadcastPrefix = []byte(`42["broadcast",`)

// deliveries counts the broadcasts a child's connections receive.
//
// Concurrency: record is called by every connection's reader goroutine;
// mu guards bcasts, and out serialises the lines written to stdout.
type deliveries struct {
	n       int // connections of the child
	out     *lineWriter
	mu      sync.Mutex
	bcasts  map[int64]*childBcast
	first   map[int64]int64
	last    map[int64]int64
	open    atomic.Int64
	lost    atomic.Int64
	closing atomic.Bool
}

func (d *deliveries) record(id, at int64) {
	d.mu.Lock()
	b := d.bcasts[id]
	if b == nil {
		b = &childBcast{ID: id}
		d.bcasts[id] = b
		d.first[id] = at
	}
	b.N++
	b.LatUS = append(b.LatUS, (at-id)/1e3)
	d.last[id] = max(d.last[id], at)
	done := b.N == d.n
	ev := childEvent{Event: "delivered", ID: id, N: b.N, FirstNS: d.first[id], LastNS: d.last[id]}
	d.mu.Unlock()
	if done {
		d.out.send(&ev)
	}
}

// read is the reader of one connection: it answers the heartbeat, counts
// broadcasts and ends with the connection.
func (d *deliveries) read(c *wsClient) {
	for {
		p, err := c.readMessage()
		if err != nil {
			d.open.Add(-1)
			if !d.closing.Load() {
				d.lost.Add(1)
			}
			return
		}
		if rest, ok := bytes.CutPrefix(p, broadcastPrefix); ok {
			at := time.Now().UnixNano()
			id, err := strconv.ParseInt(string(bytes.Trim(rest, `"]`)), 10, 64)
			if err == nil {
				d.record(id, at)
			}
		}
	}
}

func (d *deliveries) report() *childEvent {
	d.mu.Lock()
	defer d.mu.Unlock()
	ev := &childEvent{Event: "report", Open: int(d.open.Load()), Lost: int(d.lost.Load())}
	for _, b := range d.bcasts {
		ev.Broadcasts = append(ev.Broadcasts, childBcast{ID: b.ID, N: b.N, LatUS: slices.Clone(b.LatUS)})
	}
	slices.SortFunc(ev.Broadcasts, func(a, b childBcast) int { return int(a.ID - b.ID) })
	return ev
}

// lineWriter writes JSON lines to stdout, one at a time.
type lineWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (w *lineWriter) send(ev *childEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.enc.Encode(ev)
}

// runDialIdle is `pier-bench dial-idle`: it opens n Socket.IO websocket
// connections to addr (joining room when set) and holds them until its
// standard input ends.
func runDialIdle(args []string) error {
	fs := flag.NewFlagSet("pier-bench dial-idle", flag.ContinueOnError)
	addr := fs.String("addr", "", "server address host:port")
	n := fs.Int("n", 1000, "Socket.IO connections to open and hold")
	room := fs.String("room", "", "room each connection joins (the fixture's \"join\" event, with ack); empty: none")
	conc := fs.Int("concurrency", 64, "connections being opened at once")
	timeout := fs.Duration("timeout", 5*time.Minute, "time allowed to open every connection")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := raiseNofile(); err != nil {
		return err
	}
	out := &lineWriter{enc: json.NewEncoder(os.Stdout)}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	// Stop opening if the runner goes away (its end of stdin closes).
	stdin := bufio.NewScanner(os.Stdin)
	lines := make(chan string)
	go func() {
		for stdin.Scan() {
			lines <- stdin.Text()
		}
		close(lines)
	}()
	var join []byte
	if *room != "" {
		b, _ := json.Marshal([]string{"join", *room})
		join = maskedFrame(ws.OpText, append([]byte("420"), b...))
	}
	// Each connection is read from the moment it is open: opening them
	// all may take longer than the server's ping interval plus timeout
	// (45 s), and a ping left unanswered that long closes the session.
	d := &deliveries{n: *n, out: out, bcasts: map[int64]*childBcast{}, first: map[int64]int64{}, last: map[int64]int64{}}
	t0 := time.Now()
	opened := make(chan struct{})
	var conns []*wsClient
	var err error
	go func() {
		defer close(opened)
		conns, err = openConns(ctx, *n, *conc, func(ctx context.Context) (*wsClient, error) {
			c, err := dialSIOJoin(ctx, *addr, join)
			if err == nil {
				d.open.Add(1)
				go d.read(c)
			}
			return c, err
		})
	}()
	select {
	case <-opened:
	case _, ok := <-lines:
		if !ok {
			d.closing.Store(true)
			cancel()
			<-opened
			closeAll(conns)
			return errors.New("the runner went away")
		}
		<-opened
	}
	if err != nil {
		out.send(&childEvent{Event: "error", Error: err.Error()})
		return err
	}
	out.send(&childEvent{Event: "opened", N: len(conns), Seconds: time.Since(t0).Seconds(), Pid: os.Getpid()})
	for line := range lines {
		if line == "report" {
			out.send(d.report())
		}
	}
	d.closing.Store(true)
	closeAll(conns)
	return nil
}

// dialSIOJoin opens a Socket.IO connection and, when join is a prebuilt
// "join" frame, joins its room and waits for the ack.
func dialSIOJoin(ctx context.Context, addr string, join []byte) (*wsClient, error) {
	c, err := dialSIO(ctx, addr)
	if err != nil || join == nil {
		return c, err
	}
	if err := c.write(join); err != nil {
		c.Close()
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetReadDeadline(dl)
	}
	err = c.expectMessage([]byte("430[]"))
	c.conn.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("join: %w", err)
	}
	return c, nil
}

// openConns opens n connections with dial, concurrency at once, each dial
// within 15 s; on the first failure it closes what it opened.
func openConns(ctx context.Context, n, concurrency int, dial func(context.Context) (*wsClient, error)) ([]*wsClient, error) {
	conns := make([]*wsClient, n)
	var next atomic.Int64
	fe := newFirstErr()
	var wg sync.WaitGroup
	for range min(concurrency, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || fe.failed() {
					return
				}
				dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				c, err := dial(dctx)
				cancel()
				if err != nil {
					fe.set(fmt.Errorf("connection %d: %w", i, err))
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	if fe.err != nil {
		closeAll(conns)
		return nil, fe.err
	}
	return conns, nil
}

package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gobwas/ws"
)

// The receivers of a broadcast scenario are held either by the runner
// itself (one goroutine per connection, -broadcast-gens 0) or by
// -broadcast-gens child processes (`pier-bench recv-broadcast`, on the
// load generator's core: the affinity is inherited), each reading its
// share of the connections on one epoll thread, so that the load
// generator is not what limits the server.
//
// A child talks JSON lines (childEvent) on stdout:
//
//	{"event":"ready","n":N,"pid":P}          its N connections are open and joined
//	{"event":"count","received":R}           the answer to "count": deliveries so far
//	{"event":"report","received":R,"samples":S,"open":K,"lost":L}
//	    the answer to "report": it stopped reading and wrote its S
//	    samples to the -samples file (little-endian int64 triplets:
//	    send time, kernel receive time, read time, Unix ns)
//	{"event":"error","error":"..."}
//
// and takes "count" and "report" on stdin; the end of stdin closes its
// connections and ends it.

// bcastRoom is the room of the broadcast scenarios.
const bcastRoom = "bench"

// bcastReceivers are the receiving connections of a broadcast scenario.
type bcastReceivers interface {
	// received is the number of deliveries so far.
	received() int64
	// pids are the receiving child processes (none when the runner
	// receives).
	pids() []int
	// finish ends the receivers and returns every delivery they read
	// (the samples of one receiver or child per slice) and the number of
	// connections that ended before.
	finish() (samples [][]bcastSample, lost int64, err error)
}

// localReceivers are receivers held by the runner: one goroutine per
// connection (receiveBroadcasts).
type localReceivers struct {
	conns   []*wsClient
	samples [][]bcastSample
	count   atomic.Int64
	lost    atomic.Int64
	closing atomic.Bool
	wg      sync.WaitGroup
}

// startLocalReceivers opens size connections, spread over addrs, joins
// them to bcastRoom and reads them; a receiver's failure goes to fe.
func startLocalReceivers(ctx context.Context, e *env, addrs []string, size int, fe *firstErr) (*localReceivers, error) {
	var next atomic.Int64
	join := maskedFrame(ws.OpText, []byte(`420["join","`+bcastRoom+`"]`))
	conns, err := openConns(ctx, size, e.cfg.concurrency, func(ctx context.Context) (*wsClient, error) {
		return dialSIOJoin(ctx, addrs[int(next.Add(1)-1)%len(addrs)], join)
	})
	if err != nil {
		return nil, err
	}
	for _, c := range conns {
		if c.br.Buffered() > 0 {
			closeAll(conns)
			return nil, errors.New("unexpected data after the join ack")
		}
	}
	l := &localReceivers{conns: conns, samples: make([][]bcastSample, size)}
	for i, c := range conns {
		l.wg.Go(func() {
			var err error
			l.samples[i], err = receiveBroadcasts(c, &l.count)
			if !l.closing.Load() {
				l.lost.Add(1)
			}
			if err != nil && !l.closing.Load() && !errors.Is(err, net.ErrClosed) {
				fe.set(fmt.Errorf("receiver %d: %w", i, err))
			}
		})
	}
	return l, nil
}

func (l *localReceivers) received() int64 { return l.count.Load() }
func (l *localReceivers) pids() []int     { return nil }

func (l *localReceivers) finish() ([][]bcastSample, int64, error) {
	if l.closing.Swap(true) {
		return nil, 0, nil
	}
	closeAll(l.conns)
	l.wg.Wait()
	return l.samples, l.lost.Load(), nil
}

// childReceivers are receivers held by recv-broadcast children.
type childReceivers struct {
	ctx     context.Context
	gens    []*genProc
	dir     string // of the samples files
	closing atomic.Bool
	done    bool
}

// startChildReceivers starts k children sharing size connections, spread
// over addrs, and waits until every one is open and joined; a child that
// ends before finish is a failure given to fe.
func startChildReceivers(ctx context.Context, e *env, addrs []string, size, k int, fe *firstErr) (_ *childReceivers, err error) {
	k = max(1, min(k, size))
	dir, err := os.MkdirTemp("", "pier-bench-rx-")
	if err != nil {
		return nil, err
	}
	c := &childReceivers{ctx: ctx, dir: dir}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()
	for i := range k {
		n := size / k
		if i < size%k {
			n++
		}
		g, err := startChild("recv-broadcast", "-addrs", strings.Join(addrs, ","), "-n", strconv.Itoa(n), "-room", bcastRoom,
			"-concurrency", strconv.Itoa(max(1, e.cfg.concurrency/k)), "-samples", c.file(i), "-poll", e.cfg.bcastPoll.String())
		if err != nil {
			return nil, err
		}
		c.gens = append(c.gens, g)
	}
	for i, g := range c.gens {
		if _, err := g.next(ctx, func(ev *childEvent) bool { return ev.Event == "ready" }); err != nil {
			return nil, fmt.Errorf("receiving process %d: %w", i+1, err)
		}
		go func() {
			<-g.exited
			if !c.closing.Load() {
				fe.set(fmt.Errorf("receiving process %d exited: %v: %s", i+1, g.cmd.ProcessState, g.stderr.String()))
			}
		}()
	}
	return c, nil
}

func (c *childReceivers) file(i int) string { return filepath.Join(c.dir, fmt.Sprintf("rx-%d.bin", i)) }

func (c *childReceivers) pids() []int {
	var p []int
	for _, g := range c.gens {
		p = append(p, g.Pid)
	}
	return p
}

// received asks every child for its count; a child that does not answer
// counts 0.
func (c *childReceivers) received() int64 {
	var n int64
	for _, g := range c.gens {
		if g.send("count") != nil {
			continue
		}
		if ev, err := g.next(c.ctx, func(ev *childEvent) bool { return ev.Event == "count" }); err == nil {
			n += ev.Received
		}
	}
	return n
}

func (c *childReceivers) finish() (samples [][]bcastSample, lost int64, err error) {
	if c.done {
		return nil, 0, nil
	}
	c.done = true
	defer c.stop()
	c.closing.Store(true)
	for i, g := range c.gens {
		if err := g.send("report"); err != nil {
			return nil, 0, fmt.Errorf("receiving process %d: %w", i+1, err)
		}
		ev, err := g.next(c.ctx, func(ev *childEvent) bool { return ev.Event == "report" })
		if err != nil {
			return nil, 0, fmt.Errorf("receiving process %d: %w", i+1, err)
		}
		s, err := readSamples(c.file(i))
		if err != nil {
			return nil, 0, err
		}
		if len(s) != ev.Samples {
			return nil, 0, fmt.Errorf("receiving process %d: %d samples in its file, %d reported", i+1, len(s), ev.Samples)
		}
		samples = append(samples, s)
		lost += int64(ev.Lost)
	}
	return samples, lost, nil
}

// stop ends the children and removes the samples.
func (c *childReceivers) stop() {
	c.closing.Store(true)
	for _, g := range c.gens {
		g.stop()
	}
	os.RemoveAll(c.dir)
}

// readSamples reads a samples file of recv-broadcast.
func readSamples(file string) ([]bcastSample, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if len(b)%24 != 0 {
		return nil, fmt.Errorf("%s: %d bytes is not a whole number of samples", file, len(b))
	}
	s := make([]bcastSample, len(b)/24)
	for i := range s {
		x := b[24*i:]
		s[i] = bcastSample{
			Sent:   int64(binary.LittleEndian.Uint64(x[0:])),
			Kernel: int64(binary.LittleEndian.Uint64(x[8:])),
			Read:   int64(binary.LittleEndian.Uint64(x[16:])),
		}
	}
	return s, nil
}

// countRead is the number of samples read within [start, end] (Unix ns):
// the deliveries of a measurement window.
func countRead(samples [][]bcastSample, start, end int64) int64 {
	var n int64
	for _, ss := range samples {
		for _, s := range ss {
			if s.Read >= start && s.Read <= end {
				n++
			}
		}
	}
	return n
}

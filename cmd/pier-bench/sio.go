package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// The Socket.IO scenarios run against the "sio" mode of both servers: the
// fixture of testdata/bench/server.js, which serve-pier matches (see
// pierModes in serve.go).

const sioPath = "/socket.io/"

func sioScenarios() []*scenario {
	return []*scenario{
		{Name: "sio-echo-ack-1", Group: "sio", Mode: "sio", Default: true,
			Title: "Socket.IO echo with ack, 1 client",
			Run:   func(ctx context.Context, e *env) (*result, error) { return runSIOEchoAck(ctx, e, 1) }},
		{Name: "sio-echo-ack-50", Group: "sio", Mode: "sio", Default: true,
			Title: "Socket.IO echo with ack, 50 clients",
			Run:   func(ctx context.Context, e *env) (*result, error) { return runSIOEchoAck(ctx, e, 50) }},
		{Name: "sio-broadcast-1000", Group: "sio", Mode: "sio", Default: true,
			Title: "Socket.IO broadcast to a room of 1,000, 100/s",
			Run:   func(ctx context.Context, e *env) (*result, error) { return runSIOBroadcast(ctx, e, 1000, 100) }},
		// At 10/s no server is near the end of its core: the latencies
		// are those of writing the room, not of a queue.
		{Name: "sio-broadcast-slow-1000", Group: "sio", Mode: "sio",
			Title: "Socket.IO broadcast to a room of 1,000, 10/s",
			Run:   func(ctx context.Context, e *env) (*result, error) { return runSIOBroadcast(ctx, e, 1000, 10) }},
	}
}

// dialSIO opens a Socket.IO connection to the main namespace: an
// Engine.IO v4 websocket session, CONNECT ("40"), and the server's CONNECT
// answer.
func dialSIO(ctx context.Context, addr string) (*wsClient, error) {
	c, err := dialWS(ctx, addr, sioPath, 4)
	if err != nil {
		return nil, err
	}
	if err := c.write(maskedFrame(ws.OpText, []byte("40"))); err != nil {
		c.Close()
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetReadDeadline(dl)
	}
	p, err := c.readMessage()
	c.conn.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("reading CONNECT: %w", err)
	}
	if !bytes.HasPrefix(p, []byte("40")) {
		c.Close()
		return nil, fmt.Errorf("got %q, want a CONNECT", p)
	}
	return c, nil
}

// openManySIO opens n Socket.IO connections, cfg.concurrency at once; in
// a cluster scenario, spread evenly over the servers.
func openManySIO(ctx context.Context, e *env, n int) ([]*wsClient, error) {
	addrs := []string{e.srv.Addr}
	for _, p := range e.peers {
		addrs = append(addrs, p.Addr)
	}
	var next atomic.Int64
	return openConns(ctx, n, e.cfg.concurrency, func(ctx context.Context) (*wsClient, error) {
		return dialSIO(ctx, addrs[int(next.Add(1)-1)%len(addrs)])
	})
}

// appendMaskedFrame appends a masked text frame of payload to dst.
func appendMaskedFrame(dst, payload []byte) []byte {
	f := maskedFrame(ws.OpText, payload) // small: one allocation per message is fine
	return append(dst, f...)
}

// runSIOEchoAck runs a closed loop of clients each emitting "echo" with an
// ack and waiting for the ack.
func runSIOEchoAck(ctx context.Context, e *env, clients int) (*result, error) {
	conns, err := openManySIO(ctx, e, clients)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)
	var p phases
	fe := newFirstErr()
	lat := make([][]int64, clients)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			var out, want, frame []byte
			id := 0
			lat[i] = closedLoop(c, &p, fe, func() ([]byte, []byte) {
				id++
				out = append(strconv.AppendInt(append(out[:0], "42"...), int64(id), 10), `["echo",`+echoText+`]`...)
				want = append(strconv.AppendInt(append(want[:0], "43"...), int64(id), 10), `[`+echoText+`]`...)
				frame = appendMaskedFrame(frame[:0], out)
				return frame, want
			})
		})
	}
	r := &result{}
	w, err := measure(ctx, e, &p, fe.ch, cpuProfileDuring(e, fmt.Sprintf("sio-echo-ack-%d", clients), r))
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
	return r, nil
}

// runSIOBroadcast joins size clients to a room, then a separate client asks
// the server to broadcast to the room at rate broadcasts per second. The
// receivers are held by -broadcast-gens child processes (or by the runner
// itself when it is 0; see bgen.go). In a cluster scenario the clients are
// spread over the servers and the sender is on the first one, so that the
// broadcasts reach the others through Redis; the server CPU is that of
// every server, and the redis-server's CPU per broadcast is reported too.
// Each broadcast carries its send time (wall clock, ns); a receiver's
// latency is taken from the kernel's receive timestamp of the segment that
// completed the frame (SO_TIMESTAMPNS), so that the load generator's own
// scheduling of 1,000 readers does not count as server latency.
func runSIOBroadcast(ctx context.Context, e *env, size, rate int) (*result, error) {
	if err := checkNofile(e, size+1); err != nil {
		return nil, err
	}
	addrs := []string{e.srv.Addr}
	for _, p := range e.peers {
		addrs = append(addrs, p.Addr)
	}
	fe := newFirstErr()
	var rx bcastReceivers
	if e.cfg.bcastGens > 0 {
		c, err := startChildReceivers(ctx, e, addrs, size, e.cfg.bcastGens, fe)
		if err != nil {
			return nil, err
		}
		rx = c
	} else {
		l, err := startLocalReceivers(ctx, e, addrs, size, fe)
		if err != nil {
			return nil, err
		}
		rx = l
	}
	defer rx.finish()
	e.gens = rx.pids()
	defer func() { e.gens = nil }()
	sender, err := dialSIO(ctx, e.srv.Addr)
	if err != nil {
		return nil, err
	}
	defer sender.Close()
	go sender.idle()

	var (
		winStart, winEnd atomic.Int64 // wall-clock ns bounds of the measured broadcasts
		p                phases
	)
	winStart.Store(1<<63 - 1)
	var sent, sentAll atomic.Int64 // broadcasts sent during the measurement, and in all
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		var out, frame []byte
		for !p.stopped() {
			<-tick.C
			now := time.Now().UnixNano()
			if p.measuring() {
				if winStart.Load() > now {
					winStart.Store(now)
				}
				winEnd.Store(now)
				sent.Add(1)
			}
			out = strconv.AppendInt(append(out[:0], `42["broadcast","`+bcastRoom+`",`...), now, 10)
			out = append(out, ']')
			frame = appendMaskedFrame(frame[:0], out)
			if err := sender.write(frame); err != nil {
				fe.set(err)
				return
			}
			sentAll.Add(1)
		}
	}()
	r := &result{}
	w, err := measure(ctx, e, &p, fe.ch, cpuProfileDuring(e, fmt.Sprintf("sio-broadcast-%d", size), r))
	if err != nil && fe.err != nil {
		err = fe.err
	}
	// Let the last broadcasts arrive (a server that cannot keep up is
	// still delivering a backlog), then end the receivers.
	if err == nil {
		drain(ctx, rx.received, func() int64 { return sentAll.Load() * int64(size) }, 3*time.Second, 45*time.Second)
	}
	if err != nil {
		return nil, err
	}
	samples, lost, err := rx.finish()
	if err != nil {
		return nil, err
	}
	if fe.err != nil {
		return nil, fe.err
	}
	var total int64
	for _, ss := range samples {
		total += int64(len(ss))
	}
	lat, userLat := windowLatencies(samples, winStart.Load(), winEnd.Load())
	n, p50, p99 := latencies(lat)
	// Throughput and CPU count what was read during the measurement (a
	// server behind spends it on older broadcasts); the latencies are
	// those of the broadcasts sent during it, backlog included.
	got := countRead(samples, w.t0.UnixNano(), w.t0.Add(w.duration).UnixNano())
	if n == 0 || got == 0 {
		return nil, errors.New("no broadcast delivered")
	}
	_, up50, up99 := latencies(userLat)
	w.finish(r)
	r.add("deliveries_per_s", "deliveries/s", float64(got)/w.duration.Seconds(), false)
	r.add("p50_us", "delivery p50 µs", p50, true)
	r.add("p99_us", "delivery p99 µs", p99, true)
	r.add("cpu_us_per_delivery", "server CPU µs/delivery", 1e6*w.serverCPU()/float64(got), true)
	r.info("broadcasts_sent", sent.Load())
	r.info("deliveries_in_window", got)
	r.info("receivers_lost", lost)
	r.info("deliveries_total", total)
	r.info("deliveries_total_expected", sentAll.Load()*int64(size))
	r.info("deliveries", n)
	r.info("deliveries_expected", sent.Load()*int64(size))
	r.info("client_read_p50_us", up50)
	r.info("client_read_p99_us", up99)
	r.info("server_cpu_cores", w.serverCPU()/w.duration.Seconds())
	w.generatorInfo(r)
	if e.redis != nil && sent.Load() > 0 {
		r.add("redis_cpu_us_per_broadcast", "redis-server CPU µs/broadcast", 1e6*w.redisCPU()/float64(sent.Load()), true)
		r.info("redis_cpu_cores", w.redisCPU()/w.duration.Seconds())
		r.info("servers", 1+len(e.peers))
	}
	return r, nil
}

// drain waits until count() reaches want(), or has not moved for quiet,
// at most limit.
func drain(ctx context.Context, count func() int64, want func() int64, quiet, limit time.Duration) {
	deadline := time.Now().Add(limit)
	last, since := count(), time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil && last < want() {
		time.Sleep(100 * time.Millisecond)
		if n := count(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			return
		}
	}
}

// bcastSample is one broadcast read by a receiver: its send time (from the
// payload) and the kernel's and the client's receive times, Unix ns.
type bcastSample struct{ Sent, Kernel, Read int64 }

// tsSlack is the tolerance of the measurement window on send times: a
// server that carries the time as a JavaScript number or a float64 (Node,
// zishang520, a Redis adapter's msgpack) rounds it by up to 128 ns.
const tsSlack = 1000

// windowLatencies returns the latencies (ns), from the kernel's and from
// the client's receive time, of the samples sent within [start, end] (give
// or take tsSlack), per receiver.
func windowLatencies(samples [][]bcastSample, start, end int64) (kernel, user [][]int64) {
	kernel, user = make([][]int64, len(samples)), make([][]int64, len(samples))
	for i, ss := range samples {
		for _, s := range ss {
			if s.Sent >= start-tsSlack && s.Sent <= end+tsSlack {
				kernel[i] = append(kernel[i], s.Kernel-s.Sent)
				user[i] = append(user[i], s.Read-s.Sent)
			}
		}
	}
	return kernel, user
}

// receiveBroadcasts reads c until it fails, counts every broadcast in
// received, and returns every broadcast read: its send time and receive
// times, from the kernel's receive timestamp where the platform gives one
// (Linux: SO_TIMESTAMPNS, see stampedReader), and from the time the client
// read it.
func receiveBroadcasts(c *wsClient, received *atomic.Int64) (samples []bcastSample, err error) {
	tc, ok := c.conn.(*net.TCPConn)
	if !ok {
		return nil, errors.New("not a TCP connection")
	}
	read, err := newStampedReader(tc)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 4096)
	var pending []byte
	for {
		n, kts, err := read(buf)
		if err != nil {
			return samples, err
		}
		readAt := time.Now().UnixNano()
		if kts == 0 {
			kts = readAt
		}
		pending = append(pending, buf[:n]...)
		rest, closed, err := takeBroadcastFrames(pending, kts, readAt, func(b bcastSample) {
			received.Add(1)
			samples = append(samples, b)
		}, func() error { return c.write(c.pong) })
		if err != nil {
			return samples, err
		}
		if closed {
			return samples, net.ErrClosed
		}
		pending = pending[:copy(pending, rest)]
	}
}

// takeBroadcastFrames handles the whole frames at the start of b: each
// "broadcast" event becomes a sample (its send time, and the receive times
// kts and readAt) given to got, each ping is answered by pong, and closed
// reports the server's close frame. It returns the rest of b; err is the
// first bad broadcast (the frames after it are still handled) or pong's
// error.
func takeBroadcastFrames(b []byte, kts, readAt int64, got func(bcastSample), pong func() error) (rest []byte, closed bool, err error) {
	for {
		payload, op, size, whole := parseServerFrame(b)
		if !whole {
			return b, false, err
		}
		switch {
		case op == ws.OpText && bytes.HasPrefix(payload, broadcastPrefix):
			if sent, ok := parseDigits(payload[len(broadcastPrefix):]); ok {
				got(bcastSample{Sent: sent, Kernel: kts, Read: readAt})
			} else if err == nil {
				err = fmt.Errorf("bad broadcast %q", payload)
			}
		case op == ws.OpText && len(payload) == 1 && payload[0] == '2':
			if perr := pong(); perr != nil {
				return b, false, perr
			}
		case op == ws.OpClose:
			return nil, true, err
		}
		b = b[size:]
	}
}

// parseDigits reads the decimal integer that b starts with (up to the
// closing "]").
func parseDigits(b []byte) (int64, bool) {
	var v int64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		v = v*10 + int64(b[i]-'0')
	}
	return v, i > 0 && i < len(b) && b[i] == ']'
}

// parseServerFrame parses one unmasked, unfragmented frame at the start of
// b; ok is false until b holds the whole frame.
func parseServerFrame(b []byte) (payload []byte, op ws.OpCode, size int, ok bool) {
	if len(b) < 2 {
		return nil, 0, 0, false
	}
	op = ws.OpCode(b[0] & 0x0f)
	n, h := int(b[1]&0x7f), 2
	switch n {
	case 126:
		if len(b) < 4 {
			return nil, 0, 0, false
		}
		n, h = int(binary.BigEndian.Uint16(b[2:4])), 4
	case 127:
		if len(b) < 10 {
			return nil, 0, 0, false
		}
		n, h = int(binary.BigEndian.Uint64(b[2:10])), 10
	}
	if len(b) < h+n {
		return nil, 0, 0, false
	}
	return b[h : h+n], op, h + n, true
}

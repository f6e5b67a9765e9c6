package socketio

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/engineio"
)

// maxQueued bounds the packets of one connection waiting for dispatch;
// past it the transport waits, slowing the client down.
const maxQueued = 256

// DefaultMaxBufferedBytesTotal is the default of
// Options.MaxBufferedBytesTotal: 256 MiB.
const DefaultMaxBufferedBytesTotal = 256 << 20

// queued is one piece of work of a client's dispatch queue and the bytes
// of the received packet it holds.
type queued struct {
	fn func()
	n  int64
}

// packetBytes is what a received packet holds in memory: its payload and
// attachments.
func packetBytes(p *Packet) int64 {
	n := int64(len(p.Data))
	for _, a := range p.Attachments {
		n += int64(len(a))
	}
	return n
}

// enqueue runs fn, which holds a received packet of n bytes, after the
// work queued before it. While the connection's queue is full (maxQueued
// packets, or Options.MaxBufferedBytes) it waits, which holds back the
// transport that received the packet and so the client. When the bytes
// queued by all connections would pass Options.MaxBufferedBytesTotal, the
// connection is closed instead and the packet dropped.
func (c *client) enqueue(n int64, fn func()) {
	var ctx context.Context // the session's, fetched only when needed: an idle session makes none
	c.qmu.Lock()
	for c.fullLocked(n) {
		if ctx == nil {
			ctx = c.sess.Context()
		}
		if ctx.Err() != nil {
			break
		}
		if c.space == nil {
			c.space = make(chan struct{}, 1)
		}
		space := c.space
		c.qmu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
		}
		c.qmu.Lock()
	}
	if n > 0 {
		if total := c.srv.buffered.Add(n); total > c.srv.maxBufferedTotal {
			c.srv.buffered.Add(-n)
			c.qmu.Unlock()
			if c.sess.Context().Err() == nil { // else the connection is closing already
				c.overBudget(n, total-n)
			}
			return
		}
		c.qbytes += n
	}
	c.pushLocked(queued{fn, n})
	c.qmu.Unlock()
}

// fullLocked reports whether a packet of n bytes must wait. A packet is
// always taken into an empty queue, whatever its size. c.qmu is held.
func (c *client) fullLocked(n int64) bool {
	return len(c.queue) >= maxQueued || (c.qbytes > 0 && c.qbytes+n > c.srv.maxBuffered)
}

// overBudget closes the connection whose packet of n bytes did not fit in
// the server's budget (others already buffered total bytes).
func (c *client) overBudget(n, total int64) {
	c.srv.log.Warn("socketio: buffered inbound packets over the server's budget, closing the connection",
		"sid", c.sess.ID(), "packet_bytes", n, "buffered_bytes", total,
		"max_buffered_bytes_total", c.srv.maxBufferedTotal)
	c.sess.Close("inbound buffer budget exceeded")
}

// enqueueNext queues fn ahead of the waiting work, even when the queue is
// full: it runs as soon as the work running now, if any, returns.
func (c *client) enqueueNext(fn func()) {
	c.qmu.Lock()
	c.queue = append(c.queue, queued{})
	copy(c.queue[1:], c.queue[:len(c.queue)-1])
	c.queue[0] = queued{fn: fn}
	c.startLocked()
	c.qmu.Unlock()
}

// enqueueAlways queues fn even when the queue is full.
func (c *client) enqueueAlways(fn func()) {
	c.qmu.Lock()
	c.pushLocked(queued{fn: fn})
	c.qmu.Unlock()
}

// pushLocked queues q and starts the drain goroutine if none runs. c.qmu
// is held.
func (c *client) pushLocked(q queued) {
	c.queue = append(c.queue, q)
	c.startLocked()
}

func (c *client) startLocked() {
	if !c.running {
		c.running = true
		if reuseDrainers.Load() {
			select {
			case idleDrainers <- c: // a drainer waiting for work takes it
				return
			default:
			}
		}
		go drainer(c)
	}
}

// idleDrainers hands a queue to start to a drainer goroutine that waits
// for work (an unbuffered channel: a send succeeds only when one waits).
// Handing work over costs about what starting a goroutine does, but a
// drainer that ran events before has the stack they need, which a new
// goroutine grows, copying it, at nearly every event.
var idleDrainers = make(chan *client)

// drainerLinger is how long a drainer waits for another queue before it
// ends: goroutines waiting for work exist only shortly after some ran.
const drainerLinger = 100 * time.Millisecond

// reuseDrainers turns the reuse of drainer goroutines on (always, but for
// benchmarks that compare).
var reuseDrainers atomic.Bool

func init() { reuseDrainers.Store(true) }

// drainer drains c's queue, then waits up to drainerLinger for another.
func drainer(c *client) {
	var t *time.Timer
	for {
		c.drain()
		c = nil // not kept alive while waiting
		if t == nil {
			t = time.NewTimer(drainerLinger)
		} else {
			t.Reset(drainerLinger)
		}
		select {
		case c = <-idleDrainers:
		case <-t.C:
			return
		}
	}
}

func (c *client) drain() {
	for {
		c.qmu.Lock()
		if len(c.queue) == 0 {
			c.running = false
			c.queue = nil
			c.qmu.Unlock()
			return
		}
		q := c.queue[0]
		c.queue[0] = queued{}
		c.queue = c.queue[1:]
		if q.n > 0 {
			c.qbytes -= q.n
			c.srv.buffered.Add(-q.n)
		}
		select {
		case c.space <- struct{}{}:
		default:
		}
		c.qmu.Unlock()
		q.fn()
	}
}

// bufferLimits sets the queue bounds of s from its options.
func (s *Server) bufferLimits(eo *engineio.Options) {
	s.maxBuffered = s.opts.MaxBufferedBytes
	if s.maxBuffered <= 0 {
		s.maxBuffered = 2 * eo.MaxHTTPBufferSize
	}
	s.maxBufferedTotal = s.opts.MaxBufferedBytesTotal
	if s.maxBufferedTotal <= 0 {
		s.maxBufferedTotal = DefaultMaxBufferedBytesTotal
	}
}

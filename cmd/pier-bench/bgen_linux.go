//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// runRecvBroadcast is `pier-bench recv-broadcast`, a receiving child of
// the broadcast scenarios (see startChildReceivers for its protocol). It
// opens its Socket.IO connections with the runner's client, joins them to
// the room, and then reads them all on one thread around one epoll set,
// with raw recvmsg(2) calls that also return the kernel's receive
// timestamp (SO_TIMESTAMPNS): one wake-up serves every connection that
// has data, which costs far less CPU than a goroutine per connection.
func runRecvBroadcast(args []string) error {
	fs := flag.NewFlagSet("pier-bench recv-broadcast", flag.ContinueOnError)
	addrs := fs.String("addrs", "", "comma-separated server addresses host:port; the connections are spread over them")
	n := fs.Int("n", 500, "Socket.IO connections")
	room := fs.String("room", "bench", "room every connection joins (the fixture's \"join\" event, with ack)")
	conc := fs.Int("concurrency", 32, "connections being opened at once")
	samplesFile := fs.String("samples", "", "file the samples are written to on \"report\"")
	timeout := fs.Duration("timeout", 2*time.Minute, "time allowed to open every connection")
	poll := fs.Duration("poll", time.Millisecond, "read the sockets every this often instead of sleeping in epoll_wait (0: sleep there; see newEpollReceiver)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	list := strings.Split(*addrs, ",")
	if *addrs == "" || *samplesFile == "" {
		return errors.New("-addrs and -samples are required")
	}
	if _, err := raiseNofile(); err != nil {
		return err
	}
	out := &lineWriter{enc: json.NewEncoder(os.Stdout)}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	b, _ := json.Marshal([]string{"join", *room})
	join := maskedFrame(ws.OpText, append([]byte("420"), b...))
	var next atomic.Int64
	conns, err := openConns(ctx, *n, *conc, func(ctx context.Context) (*wsClient, error) {
		return dialSIOJoin(ctx, list[int(next.Add(1)-1)%len(list)], join)
	})
	var rx *epollReceiver
	if err == nil {
		rx, err = newEpollReceiver(conns, *poll)
	}
	if err != nil {
		out.send(&childEvent{Event: "error", Error: err.Error()})
		closeAll(conns)
		return err
	}
	go rx.loop()
	out.send(&childEvent{Event: "ready", N: len(conns), Pid: os.Getpid()})
	stdin := bufio.NewScanner(os.Stdin)
	for stdin.Scan() {
		switch stdin.Text() {
		case "count":
			out.send(&childEvent{Event: "count", Received: rx.received.Load()})
		case "report":
			rx.stop()
			if err := writeSamples(*samplesFile, rx.samples); err != nil {
				out.send(&childEvent{Event: "error", Error: err.Error()})
				continue
			}
			if rx.err != nil {
				out.send(&childEvent{Event: "error", Error: rx.err.Error()})
				continue
			}
			out.send(&childEvent{Event: "report", Received: rx.received.Load(), Samples: len(rx.samples),
				Open: len(conns) - rx.lost, Lost: rx.lost})
		}
	}
	rx.stop()
	rx.closeAll()
	return nil
}

// writeSamples writes samples as little-endian int64 triplets (Sent,
// Kernel, Read).
func writeSamples(file string, samples []bcastSample) error {
	b := make([]byte, 0, 24*len(samples))
	for _, s := range samples {
		b = binary.LittleEndian.AppendUint64(b, uint64(s.Sent))
		b = binary.LittleEndian.AppendUint64(b, uint64(s.Kernel))
		b = binary.LittleEndian.AppendUint64(b, uint64(s.Read))
	}
	return os.WriteFile(file, b, 0o600)
}

// maxPendingFrame bounds the part of a frame an epollReceiver holds: a
// broadcast is a few dozen bytes.
const maxPendingFrame = 1 << 20

// rxConn is one connection of an epollReceiver.
type rxConn struct {
	fd      int
	pending []byte // the start of a frame not read in full
	closed  bool
}

// epollReceiver reads the broadcasts of many connections on one thread.
//
// Concurrency: loop owns everything but received (atomic) until it
// ends; stop waits for that, after which samples, lost and err may be
// read.
type epollReceiver struct {
	epfd     int
	conns    []*rxConn // by fd
	received atomic.Int64
	samples  []bcastSample
	lost     int
	err      error
	pong     []byte
	poll     time.Duration // see newEpollReceiver
	stopping atomic.Bool
	done     chan struct{}
	stopOnce sync.Once
}

// newEpollReceiver takes over the sockets of conns, which must have
// nothing buffered: it reads them directly and closes them in closeAll;
// conns are closed. With poll 0,
// loop sleeps in epoll_wait until a socket has data; else it never sleeps
// there but polls every poll: then a server's write(2) to a socket never
// has to wake the receiver on its way (on loopback, that wake-up is work
// done on the server's core, which a client on another machine would not
// cost it), and the latencies are still those of the kernel's receive
// timestamps.
func newEpollReceiver(conns []*wsClient, poll time.Duration) (*epollReceiver, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	r := &epollReceiver{epfd: epfd, pong: maskedFrame(ws.OpText, []byte("3")), poll: poll, done: make(chan struct{})}
	for i, c := range conns {
		if c.br.Buffered() > 0 {
			syscall.Close(epfd)
			return nil, fmt.Errorf("connection %d: unexpected data after the join ack", i)
		}
		tc, ok := c.conn.(*net.TCPConn)
		if !ok {
			syscall.Close(epfd)
			return nil, errors.New("not a TCP connection")
		}
		rc, err := tc.SyscallConn()
		if err != nil {
			syscall.Close(epfd)
			return nil, err
		}
		// The socket leaves the Go runtime: a copy of its descriptor is
		// kept and the connection closed, which takes the socket out of
		// the runtime's own epoll set (else every delivery would also wake
		// the runtime's poller, at the server's and the receiver's cost).
		f, serr := -1, error(nil)
		rc.Control(func(fd uintptr) { f, serr = syscall.Dup(int(fd)) })
		if serr == nil {
			c.conn.Close()
			syscall.CloseOnExec(f)
			serr = syscall.SetsockoptInt(f, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
		}
		if serr == nil {
			serr = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, f, &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(f)})
		}
		if f >= 0 {
			if f >= len(r.conns) {
				r.conns = append(r.conns, make([]*rxConn, f+1-len(r.conns))...)
			}
			r.conns[f] = &rxConn{fd: f}
		}
		if serr != nil {
			r.closeAll()
			syscall.Close(epfd)
			return nil, serr
		}
	}
	return r, nil
}

// closeAll closes every connection (after stop, or before loop ran).
func (r *epollReceiver) closeAll() {
	for _, c := range r.conns {
		if c != nil {
			syscall.Close(c.fd)
		}
	}
	r.conns = nil
}

// stop ends loop and waits for it.
func (r *epollReceiver) stop() {
	r.stopOnce.Do(func() { r.stopping.Store(true) })
	<-r.done
}

// loop reads the connections until stop.
func (r *epollReceiver) loop() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(r.done)
	defer syscall.Close(r.epfd)
	events := make([]syscall.EpollEvent, 512)
	buf := make([]byte, 64<<10)
	oob := make([]byte, 128)
	timeout, pause := 100, syscall.NsecToTimespec(int64(r.poll))
	if r.poll > 0 {
		timeout = 0
	}
	for !r.stopping.Load() {
		n, err := syscall.EpollWait(r.epfd, events, timeout)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			r.err = fmt.Errorf("epoll_wait: %w", err)
			return
		}
		for _, ev := range events[:n] {
			if fd := int(ev.Fd); fd < len(r.conns) && r.conns[fd] != nil && !r.conns[fd].closed {
				r.read(r.conns[fd], buf, oob)
			}
		}
		if r.poll > 0 && n < len(events) {
			syscall.Nanosleep(&pause, nil)
		}
	}
}

// read reads c until it has nothing more.
func (r *epollReceiver) read(c *rxConn, buf, oob []byte) {
	for {
		n, oobn, _, _, err := syscall.Recvmsg(c.fd, buf, oob, syscall.MSG_DONTWAIT)
		if err == syscall.EAGAIN {
			return
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n == 0 {
			r.drop(c)
			return
		}
		readAt := time.Now().UnixNano()
		kts := kernelStamp(oob[:oobn])
		if kts == 0 {
			kts = readAt
		}
		data := buf[:n]
		if len(c.pending) > 0 {
			c.pending = append(c.pending, data...)
			data = c.pending
		}
		rest, closed, err := takeBroadcastFrames(data, kts, readAt, r.sample, func() error {
			_, err := syscall.Write(c.fd, r.pong)
			return err
		})
		if err != nil && r.err == nil {
			r.err = err
		}
		if closed {
			r.drop(c)
			return
		}
		if len(rest) > maxPendingFrame {
			if r.err == nil {
				r.err = fmt.Errorf("a frame of more than %d bytes", maxPendingFrame)
			}
			r.drop(c)
			return
		}
		c.pending = append(c.pending[:0], rest...)
		if n < len(buf) {
			return
		}
	}
}

// sample counts and keeps one broadcast read.
func (r *epollReceiver) sample(b bcastSample) {
	r.received.Add(1)
	r.samples = append(r.samples, b)
}

// drop stops reading c, which the server closed.
func (r *epollReceiver) drop(c *rxConn) {
	c.closed = true
	r.lost++
	syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
}

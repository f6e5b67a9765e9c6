package engineio

import (
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawIO: connections are read and written through their descriptors
// when parked or written without waiting.
const rawIO = true

// poller watches the sockets of parked websockets with one epoll set for
// the whole process, so that an idle connection needs no goroutine of its
// own. The epoll descriptor is itself waited on through Go's netpoller: the
// goroutine that serves it parks like any network read, no OS thread
// blocks in epoll_wait.
//
// A socket is registered one-shot: it reports once, then stays silent until
// it is parked again. The owner of a wsConn is the goroutine reading it,
// or, while it is parked, the poller: a report hands it to a new reading
// goroutine (wsConn.resume).
//
// The goroutine runs only while some connection is parked: it ends when the
// table empties (a pipe in the epoll set wakes it when that happens by
// forget), so that a server with no parked connection has no goroutine
// here, as leak checkers expect.
//
// If waiting fails (never expected: the descriptor is never closed), the
// poller logs it, resumes every parked connection on a goroutine of its
// own and parks no more: connections keep their goroutines from then on.
//
// Concurrency: park, forget and the poller goroutine may run at once; mu
// guards the table of parked connections, running and broken.
type poller struct {
	epfd         int
	file         *os.File
	wakeR, wakeW int          // pipe: a byte written wakes the goroutine
	log          *slog.Logger // nil: slog.Default()

	// injected, when set (by tests), is returned by the next wait as
	// its error.
	injected atomic.Pointer[error]

	mu      sync.Mutex
	parked  map[int32]*wsConn // by file descriptor
	running bool              // the goroutine runs
	broken  bool              // waiting failed: park refuses
}

var (
	pollerOnce sync.Once
	thePoller  *poller
)

// getPoller returns the process-wide poller, starting it on first use, or
// nil if epoll is not available.
func getPoller() *poller {
	pollerOnce.Do(func() {
		if p, err := newPoller(); err == nil {
			thePoller = p
		}
	})
	return thePoller
}

func newPoller() (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// Non-blocking, so that os.NewFile hands it to the netpoller.
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	var pipe [2]int
	if err := syscall.Pipe2(pipe[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(pipe[0])}
	if err := syscall.EpollCtl(fd, syscall.EPOLL_CTL_ADD, pipe[0], &ev); err != nil {
		syscall.Close(fd)
		syscall.Close(pipe[0])
		syscall.Close(pipe[1])
		return nil, err
	}
	return &poller{
		epfd: fd, file: os.NewFile(uintptr(fd), "engineio-epoll"),
		wakeR: pipe[0], wakeW: pipe[1],
		parked: make(map[int32]*wsConn),
	}, nil
}

// run waits for parked sockets to become readable and resumes their
// connections, until none is parked.
func (p *poller) run() {
	rc, err := p.file.SyscallConn()
	if err != nil {
		return
	}
	events := make([]syscall.EpollEvent, 256)
	for {
		var n int
		var werr error
		err := rc.Read(func(fd uintptr) bool {
			for {
				n, werr = syscall.EpollWait(int(fd), events, 0)
				if werr != syscall.EINTR {
					break
				}
			}
			if e := p.injected.Swap(nil); e != nil {
				n, werr = 0, *e
			}
			return n > 0 || werr != nil
		})
		if err == nil {
			err = werr
		}
		if err != nil {
			p.fail(err)
			return
		}
		for i := range events[:n] {
			fd := events[i].Fd
			if fd == int32(p.wakeR) {
				var b [64]byte
				for {
					if k, _ := syscall.Read(p.wakeR, b[:]); k <= 0 {
						break
					}
				}
				continue
			}
			p.mu.Lock()
			c := p.parked[fd]
			delete(p.parked, fd)
			p.mu.Unlock()
			if c != nil {
				c.resume()
			}
		}
		p.mu.Lock()
		if len(p.parked) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}

// fail stops the poller after a failed wait: every parked connection is
// resumed on its own goroutine and park refuses from then on.
func (p *poller) fail(err error) {
	p.mu.Lock()
	p.broken = true
	p.running = false
	conns := p.parked
	p.parked = make(map[int32]*wsConn)
	p.mu.Unlock()
	log := p.log
	if log == nil {
		log = slog.Default()
	}
	log.Error("engineio: epoll wait failed; parked websockets resumed, idle websockets keep their goroutines from now on",
		"err", err, "resumed", len(conns))
	for _, c := range conns {
		c.resume()
	}
}

// park hands c to the poller until its socket is readable or hung up. The
// caller must not touch c's reading state after a nil return: another
// goroutine may already be reading it.
func (p *poller) park(c *wsConn) error {
	p.mu.Lock()
	if p.broken {
		p.mu.Unlock()
		return errNotParked
	}
	p.parked[c.fd] = c
	if !p.running {
		p.running = true
		go p.run()
	}
	p.mu.Unlock()
	var cerr error
	// Inside Control the descriptor cannot be closed, and so cannot be
	// reused by another connection while it is registered.
	err := c.rc.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(fd)}
		// Once armed, c may be resumed on another goroutine at once: c is
		// not touched after a successful EpollCtl.
		if c.registered {
			cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, int(fd), &ev)
			if cerr == nil {
				return
			}
		}
		// First park, or registered before but since dropped by the kernel
		// (never expected while the descriptor is open).
		c.registered = true
		cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
		if cerr == syscall.EEXIST {
			cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, int(fd), &ev)
		}
		if cerr != nil {
			c.registered = false // not armed: still ours
		}
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		p.forget(c)
		return errNotParked
	}
	return nil
}

// forget drops c from the parked table, if it is there. The kernel drops
// the registration itself when the socket is closed.
func (p *poller) forget(c *wsConn) {
	p.mu.Lock()
	if p.parked[c.fd] == c {
		delete(p.parked, c.fd)
		if len(p.parked) == 0 && p.running {
			syscall.Write(p.wakeW, []byte{1})
		}
	}
	p.mu.Unlock()
}

// holds reports whether c is parked.
func (p *poller) holds(c *wsConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.parked[c.fd] == c
}

// count returns the number of parked connections.
func (p *poller) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}

// readNonBlocking reads from the socket fd into b without waiting: ok is
// false when nothing is there yet.
func readNonBlocking(fd uintptr, b []byte) (n int, ok bool, err error) {
	for {
		n, err = rawRead(fd, b)
		if err != syscall.EINTR {
			break
		}
	}
	if err == syscall.EAGAIN {
		return 0, false, nil
	}
	return n, true, err
}

// iovecs is writev's scratch space, kept in a frameBuffers.
type iovecs = []unix.Iovec

// maxRawBytes bounds the bytes a raw system call (rawRead, rawWritev)
// moves: such a call holds its thread's P without telling the runtime, so
// it must be short. Larger writes go through unix.Writev.
const maxRawBytes = 64 << 10

// rawSyscalls: rawRead and writev make raw system calls (always, but for
// benchmarks that compare).
var rawSyscalls atomic.Bool

func init() { rawSyscalls.Store(true) }

// rawRead is read(2) made as a raw system call. The socket is
// non-blocking, so the call never waits: the runtime's system call
// bookkeeping, and the wake-up of its monitor thread that it costs a quiet
// process at every call, are not needed.
func rawRead(fd uintptr, b []byte) (int, error) {
	if len(b) == 0 || len(b) > maxRawBytes || !rawSyscalls.Load() {
		return syscall.Read(int(fd), b)
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// writev writes bufs to the non-blocking socket fd: as a raw system call
// (see rawRead) when they are small, through unix.Writev otherwise. iov is
// scratch space for the call, returned for reuse.
func writev(fd uintptr, bufs [][]byte, iov []unix.Iovec) (int, []unix.Iovec, error) {
	iov = iov[:0]
	total := 0
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		total += len(b)
		v := unix.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		iov = append(iov, v)
	}
	if total > maxRawBytes || len(iov) == 0 || !rawSyscalls.Load() {
		clear(iov)
		n, err := unix.Writev(int(fd), bufs)
		return n, iov[:0], err
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	clear(iov) // no pointer to the data is kept
	if e != 0 {
		return 0, iov[:0], e
	}
	return int(n), iov[:0], nil
}

// tryWriteLocked writes fb's frames to c's socket without waiting and
// reports whether all of it was written; what was, is removed from fb.
// c.wmu is held.
func (c *wsConn) tryWriteLocked(fb *frameBuffers) (done bool, err error) {
	c.wfb, c.werr = fb, nil
	err = c.rc.Write(c.writeFn)
	c.wfb = nil
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// A write deadline that expired (a blocking write timed out):
		// let the blocking path report or reset it.
		return false, nil
	}
	if err == nil {
		err = c.werr
	}
	return err == nil && len(fb.bufs) == 0, err
}

// writeSocket writes c.wfb until the socket takes no more; it is the
// function given to rc.Write (never waiting: it returns true).
func (c *wsConn) writeSocket(fd uintptr) bool {
	fb := c.wfb
	for len(fb.bufs) > 0 {
		var n int
		var err error
		n, fb.iov, err = writev(fd, fb.bufs[:min(len(fb.bufs), maxIovecs)], fb.iov)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			break
		}
		if err != nil {
			c.werr = err
			break
		}
		fb.consume(n)
	}
	return true
}

// maxIovecs is IOV_MAX on Linux.
const maxIovecs = 1024

//go:build linux

package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"unsafe"
)

// The floor server (`pier-bench serve-floor`) is the least a server can
// do in the Socket.IO scenarios it serves (floorScenarios), so that the
// table can show how far each real server is from what the kernel alone
// costs. It speaks just enough Engine.IO v4 over websocket and Socket.IO
// v5 for the sio fixture: a handwritten HTTP upgrade, the open packet,
// the main namespace's CONNECT, and the events "join" (with its ack),
// "echo" (acked, or emitted back) and "broadcast". Everything runs on one
// goroutine locked to its thread around one epoll set (level-triggered),
// with a plain slice of members per room: a broadcast frame is built once
// and written to each member with one write(2) on its non-blocking
// socket (a raw system call, see rawWrite). It sends no heartbeat:
// pier-bench's clients do not time out without one, and a broadcast run
// (about 15 s) is shorter than the 45 s (pingInterval 25 s + pingTimeout
// 20 s, announced in the open packet) an official client would wait. It
// supports no polling, binary packets, fragmented frames or other
// namespaces: it is a yardstick, not a server.

// floorMaxFrame bounds a client frame (and the HTTP request head): a
// client that sends more is disconnected.
const floorMaxFrame = 64 << 10

// floorMaxPending bounds what the server holds for a client that does not
// read (beyond what its socket's buffers took): past it, the client is
// disconnected.
const floorMaxPending = 1 << 20

// floorConn is one client connection of the floor server.
type floorConn struct {
	fd       int
	upgraded bool     // the HTTP upgrade is done: in holds websocket frames
	in       []byte   // read, not yet handled
	out      []byte   // written by the server, not yet taken by the kernel
	rooms    []string // joined
	dead     bool     // a write failed: the read side closes it
}

// floorServer is the floor server's state.
//
// Concurrency: everything but Close belongs to the goroutine running
// Serve; Close may be called from any goroutine, once.
type floorServer struct {
	lfd, epfd      int
	wakeR, wakeW   int // a pipe: Close writes to it to end Serve
	addr           string
	conns          []*floorConn // by fd
	rooms          map[string][]*floorConn
	sid            uint64
	buf, frame     []byte
	msg            []byte
	closeOnce      sync.Once
	acceptFailures int
}

// newFloorServer listens on addr (an IPv4 host:port; port 0 picks one).
func newFloorServer(addr string) (*floorServer, error) {
	ta, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, err
	}
	s := &floorServer{lfd: -1, epfd: -1, wakeR: -1, wakeW: -1, rooms: map[string][]*floorConn{},
		buf: make([]byte, floorMaxFrame), frame: make([]byte, 0, 512)}
	fail := func(err error) (*floorServer, error) {
		s.closeFDs()
		return nil, err
	}
	if s.lfd, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0); err != nil {
		return fail(err)
	}
	syscall.SetsockoptInt(s.lfd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	sa := &syscall.SockaddrInet4{Port: ta.Port}
	if ip := ta.IP.To4(); ip != nil {
		copy(sa.Addr[:], ip)
	}
	if err := syscall.Bind(s.lfd, sa); err != nil {
		return fail(fmt.Errorf("bind %s: %w", addr, err))
	}
	if err := syscall.Listen(s.lfd, 4096); err != nil {
		return fail(err)
	}
	got, err := syscall.Getsockname(s.lfd)
	if err != nil {
		return fail(err)
	}
	in4 := got.(*syscall.SockaddrInet4)
	s.addr = net.JoinHostPort(net.IP(in4.Addr[:]).String(), strconv.Itoa(in4.Port))
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		return fail(err)
	}
	s.wakeR, s.wakeW = p[0], p[1]
	if s.epfd, err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC); err != nil {
		return fail(err)
	}
	for _, fd := range []int{s.lfd, s.wakeR} {
		if err := syscall.EpollCtl(s.epfd, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}); err != nil {
			return fail(err)
		}
	}
	return s, nil
}

// Addr is the address the server listens on.
func (s *floorServer) Addr() string { return s.addr }

// Close ends Serve, which then closes every connection.
func (s *floorServer) Close() {
	s.closeOnce.Do(func() { syscall.Write(s.wakeW, []byte{1}) })
}

func (s *floorServer) closeFDs() {
	for _, fd := range []int{s.lfd, s.epfd, s.wakeR, s.wakeW} {
		if fd >= 0 {
			syscall.Close(fd)
		}
	}
}

// Serve runs the event loop until Close.
func (s *floorServer) Serve() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer func() {
		for _, c := range s.conns {
			if c != nil {
				syscall.Close(c.fd)
			}
		}
		s.closeFDs()
	}()
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(s.epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		for _, ev := range events[:n] {
			switch fd := int(ev.Fd); fd {
			case s.wakeR:
				return nil
			case s.lfd:
				s.accept()
			default:
				c := s.conn(fd)
				if c == nil {
					continue
				}
				if ev.Events&syscall.EPOLLOUT != 0 {
					s.flush(c)
				}
				if ev.Events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
					s.read(c)
				}
			}
		}
	}
}

func (s *floorServer) conn(fd int) *floorConn {
	if fd < len(s.conns) {
		return s.conns[fd]
	}
	return nil
}

func (s *floorServer) accept() {
	for {
		fd, _, err := syscall.Accept4(s.lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		if err == syscall.EAGAIN || err == syscall.EINTR {
			return
		}
		if err != nil {
			// EMFILE and the like: the connection waits in the backlog;
			// say so once rather than spin silently.
			if s.acceptFailures++; s.acceptFailures == 1 {
				fmt.Fprintln(os.Stderr, "serve-floor: accept:", err)
			}
			return
		}
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		if err := syscall.EpollCtl(s.epfd, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}); err != nil {
			syscall.Close(fd)
			continue
		}
		if fd >= len(s.conns) {
			s.conns = append(s.conns, make([]*floorConn, fd+1-len(s.conns))...)
		}
		s.conns[fd] = &floorConn{fd: fd}
	}
}

// close forgets c, leaves its rooms and closes its socket.
func (s *floorServer) close(c *floorConn) {
	for _, r := range c.rooms {
		s.leave(c, r)
	}
	s.conns[c.fd] = nil
	syscall.Close(c.fd) // also removes it from the epoll set
}

func (s *floorServer) leave(c *floorConn, room string) {
	m := s.rooms[room]
	if i := slices.Index(m, c); i >= 0 {
		m[i] = m[len(m)-1]
		m[len(m)-1] = nil
		m = m[:len(m)-1]
	}
	if len(m) == 0 {
		delete(s.rooms, room)
	} else {
		s.rooms[room] = m
	}
}

// read takes what the socket holds and handles it.
func (s *floorServer) read(c *floorConn) {
	for {
		n, err := rawRead(c.fd, s.buf)
		if err == syscall.EAGAIN {
			break
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n == 0 {
			s.close(c)
			return
		}
		// Handled a read at a time: c.in holds at most one read and the
		// start of a frame (bounded by floorMaxFrame).
		c.in = append(c.in, s.buf[:n]...)
		if !s.handle(c) || c.dead {
			s.close(c)
			return
		}
		if n < len(s.buf) {
			break
		}
	}
	if len(c.in) == 0 {
		c.in = nil // an idle connection holds no buffer
	}
}

// send writes b to c: at once when nothing is pending, else after what
// is (EPOLLOUT then flushes it).
func (s *floorServer) send(c *floorConn, b []byte) {
	if c.dead {
		return
	}
	if len(c.out) > 0 {
		if len(c.out)+len(b) > floorMaxPending {
			s.abandon(c)
			return
		}
		c.out = append(c.out, b...)
		return
	}
	n, err := rawWrite(c.fd, b)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		n, err = 0, nil
	}
	if err != nil {
		c.dead = true
		return
	}
	if n < len(b) {
		if len(b)-n > floorMaxPending {
			s.abandon(c)
			return
		}
		c.out = append(c.out, b[n:]...)
		syscall.EpollCtl(s.epfd, syscall.EPOLL_CTL_MOD, c.fd, &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLOUT, Fd: int32(c.fd)})
	}
}

// abandon gives up on a client that does not read: its socket is shut
// down (the read side then closes it, as after a failed write) and what
// it had pending is dropped.
func (s *floorServer) abandon(c *floorConn) {
	c.dead, c.out = true, nil
	syscall.Shutdown(c.fd, syscall.SHUT_RDWR)
}

func (s *floorServer) flush(c *floorConn) {
	for len(c.out) > 0 {
		n, err := rawWrite(c.fd, c.out)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			return
		}
		if err != nil {
			c.dead, c.out = true, nil
			return
		}
		c.out = c.out[:copy(c.out, c.out[n:])]
	}
	c.out = nil
	syscall.EpollCtl(s.epfd, syscall.EPOLL_CTL_MOD, c.fd, &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(c.fd)})
}

// rawWrite is write(2) on a non-blocking socket without the runtime's
// bookkeeping of a system call that may block (it never does): what Pier
// does too for its small writes.
func rawWrite(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawRead is read(2) on a non-blocking socket, as rawWrite.
func rawRead(fd int, b []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// handle handles the complete requests and frames in c.in; false closes
// the connection.
func (s *floorServer) handle(c *floorConn) bool {
	if !c.upgraded {
		end := bytes.Index(c.in, []byte("\r\n\r\n"))
		if end < 0 {
			return len(c.in) <= floorMaxFrame
		}
		resp, ok := s.upgrade(c.in[:end])
		s.send(c, resp)
		if !ok {
			return false
		}
		c.upgraded = true
		c.in = c.in[:copy(c.in, c.in[end+4:])]
	}
	for {
		op, payload, size, err := parseClientFrame(c.in)
		if err != nil {
			return false
		}
		if size == 0 {
			return true
		}
		switch op {
		case 0x1: // text: an Engine.IO packet
			if !s.packet(c, payload) {
				return false
			}
		case 0x8: // close
			s.send(c, []byte{0x88, 0})
			return false
		case 0x9: // ping
			s.send(c, appendServerFrame(s.frame[:0], 0xA, payload))
		}
		c.in = c.in[:copy(c.in, c.in[size:])]
	}
}

// upgrade answers an HTTP request head: the websocket upgrade and the
// Engine.IO open packet in one write, or a 400 (ok false).
func (s *floorServer) upgrade(head []byte) (resp []byte, ok bool) {
	lines := bytes.Split(head, []byte("\r\n"))
	f := bytes.Fields(lines[0])
	var key []byte
	upgrade := false
	for _, l := range lines[1:] {
		k, v, _ := bytes.Cut(l, []byte(":"))
		v = bytes.TrimSpace(v)
		switch string(bytes.ToLower(bytes.TrimSpace(k))) {
		case "sec-websocket-key":
			key = v
		case "upgrade":
			upgrade = bytes.EqualFold(v, []byte("websocket"))
		}
	}
	if len(f) != 3 || string(f[0]) != "GET" || !bytes.HasPrefix(f[1], []byte(sioPath)) ||
		!bytes.Contains(f[1], []byte("EIO=4")) || !bytes.Contains(f[1], []byte("transport=websocket")) || !upgrade || len(key) == 0 {
		body := `{"code":3,"message":"Bad request"}`
		return fmt.Appendf(nil, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body), false
	}
	sum := sha1.Sum(append(slices.Clip(key), "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"...))
	resp = append(resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	resp = base64.StdEncoding.AppendEncode(resp, sum[:])
	resp = append(resp, "\r\n\r\n"...)
	s.sid++
	open := fmt.Appendf(nil, `0{"sid":"floor%d","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":%d}`, s.sid, floorMaxFrame)
	return appendServerFrame(resp, 0x1, open), true
}

// packet handles one Engine.IO packet; false closes the connection.
func (s *floorServer) packet(c *floorConn, p []byte) bool {
	if len(p) == 0 {
		return false
	}
	switch p[0] {
	case '1': // close
		return false
	case '4': // message: a Socket.IO packet
	default: // heartbeat and the rest: nothing to do
		return true
	}
	p = p[1:]
	switch {
	case len(p) == 1 && p[0] == '0', len(p) > 1 && p[0] == '0' && p[1] == '{':
		s.message(c, fmt.Appendf(s.frame[:0], `0{"sid":"floor-s%d"}`, c.fd))
		return true
	case len(p) > 0 && p[0] == '0': // another namespace: connect_error
		ns, _, _ := bytes.Cut(p[1:], []byte(","))
		s.message(c, fmt.Appendf(s.frame[:0], `4%s,{"message":"Invalid namespace"}`, ns))
		return true
	case len(p) > 0 && p[0] == '1': // DISCONNECT
		for _, r := range c.rooms {
			s.leave(c, r)
		}
		c.rooms = nil
		return true
	case len(p) > 0 && p[0] == '2':
		return s.event(c, p[1:])
	}
	return true
}

// message sends the Engine.IO message packet "4"+sio (sio may be in
// s.frame: the frame is built in s.msg).
func (s *floorServer) message(c *floorConn, sio []byte) {
	s.msg = appendFloorMessage(s.msg[:0], sio)
	s.send(c, s.msg)
}

// appendFloorMessage appends the text frame of Engine.IO message "4"+sio.
func appendFloorMessage(dst, sio []byte) []byte {
	dst = appendFrameHeader(dst, 0x1, 1+len(sio))
	return append(append(dst, '4'), sio...)
}

// event handles a Socket.IO EVENT after its type: an optional ack id,
// then the JSON array of the event name and arguments.
func (s *floorServer) event(c *floorConn, p []byte) bool {
	i := 0
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	id, args := p[:i], p[i:]
	name, rest, ok := floorEventName(args)
	if !ok {
		return false
	}
	switch name {
	case "join":
		room, _, ok := floorEventName(append([]byte{'['}, rest...))
		if !ok {
			return false
		}
		if !slices.Contains(c.rooms, room) {
			c.rooms = append(c.rooms, room)
			s.rooms[room] = append(s.rooms[room], c)
		}
		if len(id) > 0 {
			s.message(c, append(append(append(s.frame[:0], '3'), id...), "[]"...))
		}
	case "echo":
		data := bytes.TrimSuffix(rest, []byte("]"))
		f := s.frame[:0]
		if len(id) > 0 {
			f = append(append(append(f, '3'), id...), '[')
		} else {
			f = append(f, `2["echo",`...)
		}
		s.message(c, append(append(f, data...), ']'))
		s.frame = f[:0]
	case "broadcast":
		room, rest, ok := floorEventName(append([]byte{'['}, rest...))
		if !ok {
			return false
		}
		// One frame for every member, one write(2) each.
		data := bytes.TrimSuffix(rest, []byte("]"))
		const head = `42["broadcast",`
		f := appendFrameHeader(s.frame[:0], 0x1, len(head)+len(data)+1)
		f = append(append(append(f, head...), data...), ']')
		for _, m := range s.rooms[room] {
			s.send(m, f)
		}
		s.frame = f[:0]
	}
	return true
}

// floorEventName reads the first element of a JSON array as a plain
// string (no escapes): `["name",rest` gives "name" and rest; `["name"]`
// gives "name" and "]".
func floorEventName(b []byte) (name string, rest []byte, ok bool) {
	if len(b) < 3 || b[0] != '[' || b[1] != '"' {
		return "", nil, false
	}
	end := bytes.IndexByte(b[2:], '"')
	if end < 0 || bytes.IndexByte(b[2:2+end], '\\') >= 0 {
		return "", nil, false
	}
	rest = b[2+end+1:]
	switch {
	case len(rest) > 0 && rest[0] == ',':
		rest = rest[1:]
	case len(rest) > 0 && rest[0] == ']':
	default:
		return "", nil, false
	}
	return string(b[2 : 2+end]), rest, true
}

// parseClientFrame parses one masked, final client frame at the start of
// b and unmasks its payload in place; size is 0 until b holds it all. A
// frame the floor server does not take (unmasked, fragmented, larger
// than floorMaxFrame) is an error.
func parseClientFrame(b []byte) (op byte, payload []byte, size int, err error) {
	if len(b) < 2 {
		return 0, nil, 0, nil
	}
	if b[0]&0x80 == 0 || b[0]&0x0f == 0 {
		return 0, nil, 0, errors.New("fragmented frame")
	}
	if b[1]&0x80 == 0 {
		return 0, nil, 0, errors.New("unmasked client frame")
	}
	op = b[0] & 0x0f
	n, h := int(b[1]&0x7f), 2
	switch n {
	case 126:
		if len(b) < 4 {
			return 0, nil, 0, nil
		}
		n, h = int(binary.BigEndian.Uint16(b[2:4])), 4
	case 127:
		if len(b) < 10 {
			return 0, nil, 0, nil
		}
		n64 := binary.BigEndian.Uint64(b[2:10])
		if n64 > floorMaxFrame {
			return 0, nil, 0, errors.New("frame too large")
		}
		n, h = int(n64), 10
	}
	if n > floorMaxFrame {
		return 0, nil, 0, errors.New("frame too large")
	}
	if len(b) < h+4+n {
		return 0, nil, 0, nil
	}
	mask := b[h : h+4]
	payload = b[h+4 : h+4+n]
	for i := range payload {
		payload[i] ^= mask[i&3]
	}
	return op, payload, h + 4 + n, nil
}

// appendFrameHeader appends the header of a final, unmasked frame of n
// bytes.
func appendFrameHeader(dst []byte, op byte, n int) []byte {
	switch {
	case n < 126:
		return append(dst, 0x80|op, byte(n))
	case n <= 0xffff:
		return append(dst, 0x80|op, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 0x80|op, 127), uint64(n))
	}
}

// appendServerFrame appends a final, unmasked frame of payload.
func appendServerFrame(dst []byte, op byte, payload []byte) []byte {
	return append(appendFrameHeader(dst, op, len(payload)), payload...)
}

// runServeFloor is `pier-bench serve-floor`: it prints the listening line
// as serve-pier does and serves until SIGTERM or SIGINT.
func runServeFloor(args []string) error {
	fs := flag.NewFlagSet("pier-bench serve-floor", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (IPv4)")
	mode := fs.String("mode", "sio", "server mode: sio only (the Socket.IO fixture's join, echo and broadcast)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *mode != "sio" {
		fmt.Fprintf(os.Stderr, "pier-bench serve-floor: mode %q is not available\n", *mode)
		os.Exit(exitModeUnavailable)
	}
	nofile, err := raiseNofile()
	if err != nil {
		return err
	}
	s, err := newFloorServer(*addr)
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; s.Close() }()
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"event": "listening", "addr": s.Addr(), "mode": *mode, "pid": os.Getpid(), "nofile": nofile,
		"versions": map[string]string{"go": runtime.Version()},
	})
	return s.Serve()
}

package engineio

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// WebSocket close status codes used by the server.
const (
	closeNormal        = 1000
	closeProtocolError = 1002
	closeInvalidData   = 1007
	closePolicy        = 1008
	closeTooBig        = 1009
)

// maxFragments bounds the frames of one websocket message; each costs a
// header read and, for empty ones, nothing else (ws uses 131072; browsers
// send one frame per message).
const maxFragments = 4096

// wsError is a websocket-level protocol violation and the close code it
// earns.
type wsError struct {
	code int
	msg  string
}

func (e *wsError) Error() string { return fmt.Sprintf("websocket: %s (close %d)", e.msg, e.code) }

var errClientClosed = errors.New("websocket: closed by client")

// errNotParked reports that a connection could not be parked (no poller,
// or its socket is already closed); the caller keeps reading it.
var errNotParked = errors.New("engineio: connection not parked")

// wsConn is a server-side websocket connection. Reads happen on one
// goroutine at a time: the one serving it, or, once it is parked, the one
// the poller starts when data arrives. Writes are serialised by wmu.
type wsConn struct {
	conn      net.Conn
	br        frameReader
	maxSize   int64
	wmu       sync.Mutex
	closing   atomic.Bool // closeWith ran
	writeWait time.Duration

	// The socket, when c is a plain one (nil rc otherwise), and parking
	// (see Options.ParkIdleAfter): poller is nil when c cannot be parked.
	poller     *poller
	rc         syscall.RawConn
	fd         int32
	registered bool     // in the poller's epoll set (reading goroutine only)
	deflate    bool     // permessage-deflate was negotiated
	sess       *Session // whose read loop a wake-up resumes
	readFn     func(uintptr) bool
	rerr       error // readSocket's outcome (reading goroutine only)
	writeFn    func(uintptr) bool
	wfb        *frameBuffers // writeSocket's frames and outcome (under wmu)
	werr       error
}

// acceptWebSocket answers a websocket handshake (initial: one opening a
// session) with 101 and returns the connection.
func (s *Server) acceptWebSocket(w http.ResponseWriter, r *http.Request, initial bool) (*wsConn, error) {
	// Headers set by middleware around the server (CORS, say) and by the
	// header hooks go on the 101 too.
	s.writeHeaders(w.Header(), r, initial, "")
	u := ws.HTTPUpgrader{Timeout: 10 * time.Second, Header: w.Header().Clone()}
	var ext *wsflate.Extension
	if s.opts.PerMessageDeflate {
		// No context takeover either way: each message is compressed on
		// its own, so a connection keeps no compression state between
		// messages.
		ext = &wsflate.Extension{Parameters: wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}}
		u.Negotiate = ext.Negotiate
	}
	conn, rw, _, err := u.Upgrade(r, w)
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		s.log.Debug("engineio: websocket upgrade failed", "err", err, "remote", r.RemoteAddr)
		return nil, err
	}
	c := &wsConn{
		conn:      conn,
		br:        frameReader{conn: conn},
		maxSize:   s.opts.MaxHTTPBufferSize,
		writeWait: s.opts.PingInterval + s.opts.PingTimeout,
	}
	var park *poller
	if s.opts.ParkIdleAfter > 0 {
		park = s.poller()
	}
	c.setRaw(park)
	if ext != nil {
		_, c.deflate = ext.Accepted()
	}
	if n := rw.Reader.Buffered(); n > 0 {
		// Frames the client sent right after its handshake.
		c.br.buf = getReadBuf()
		c.br.w, _ = rw.Reader.Read(c.br.buf[:min(n, len(c.br.buf))])
	}
	// The net/http buffers (rw) are dropped here: an idle connection keeps
	// no buffer of its own.
	return c, nil
}

// setRaw gives c access to its socket, when it is a plain one, for writes
// that do not wait (tryWriteLocked) and, with a poller, for parking.
func (c *wsConn) setRaw(park *poller) {
	sc, ok := c.conn.(syscall.Conn)
	if !ok || !rawIO {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	fd := int32(-1)
	if rc.Control(func(f uintptr) { fd = int32(f) }) != nil || fd < 0 {
		return
	}
	c.rc, c.fd = rc, fd
	// Made once, so that a read or write through rc allocates nothing.
	c.readFn, c.writeFn = c.readSocket, c.writeSocket
	c.poller = park
}

// readSocket reads what the socket has into a pooled buffer, without
// waiting: it is the function given to rc.Read by waitMessage, which
// waits for readability when it returns false. The outcome is in c.br or
// c.rerr.
func (c *wsConn) readSocket(fd uintptr) bool {
	buf := getReadBuf()
	n, ok, err := readNonBlocking(fd, buf)
	if !ok || n <= 0 {
		putReadBuf(buf)
	}
	switch {
	case !ok:
		return false
	case err != nil:
		c.rerr = err
	case n == 0:
		c.rerr = io.EOF
	default:
		c.br.buf, c.br.r, c.br.w = buf, 0, n
	}
	return true
}

// resume starts a goroutine reading c; the poller calls it when a parked
// connection has data.
func (c *wsConn) resume() { go c.sess.serveWebSocket(c) }

// close closes the connection at once.
func (c *wsConn) close() {
	if c.poller != nil {
		c.poller.forget(c)
	}
	c.conn.Close()
}

// frameReader reads a websocket connection through a pooled buffer that it
// holds only while frames are being read: between messages, with nothing
// buffered, it gives the buffer back and waits on the connection directly.
type frameReader struct {
	conn net.Conn
	buf  []byte
	r, w int
	// idleDeadline: the read deadline was set to park an idle connection
	// (waitMessage). A message that outlasts it is read to its end: the
	// deadline is lifted rather than reported.
	idleDeadline bool
}

const readBufSize = 4096

var readBufPool = sync.Pool{New: func() any { return new([readBufSize]byte) }}

func getReadBuf() []byte { return readBufPool.Get().(*[readBufSize]byte)[:] }

// putReadBuf returns a buffer of getReadBuf (as an array pointer, which
// puts nothing on the heap).
func putReadBuf(b []byte) { readBufPool.Put((*[readBufSize]byte)(b[:readBufSize])) }

func (f *frameReader) Read(p []byte) (int, error) {
	if f.r < f.w {
		n := copy(p, f.buf[f.r:f.w])
		f.r += n
		return n, nil
	}
	if f.buf == nil || len(p) >= readBufSize {
		// Idle (waiting for the next message) or a large read: no buffer.
		return f.connRead(p)
	}
	n, err := f.connRead(f.buf)
	f.r, f.w = 0, n
	if n > 0 {
		m := copy(p, f.buf[:n])
		f.r = m
		return m, nil
	}
	return 0, err
}

func (f *frameReader) connRead(p []byte) (int, error) {
	n, err := f.conn.Read(p)
	if n == 0 && err != nil && f.idleDeadline && errors.Is(err, os.ErrDeadlineExceeded) {
		f.idleDeadline = false
		f.conn.SetReadDeadline(time.Time{})
		return f.conn.Read(p)
	}
	return n, err
}

// buffered reports whether data of the connection is in the buffer.
func (f *frameReader) buffered() bool { return f.r < f.w }

// startMessage makes the reader buffer the rest of a message.
func (f *frameReader) startMessage() {
	if f.buf == nil {
		f.buf = getReadBuf()
		f.r, f.w = 0, 0
	}
}

// release gives the buffer back when it holds nothing more.
func (f *frameReader) release() {
	if f.buf != nil && f.r >= f.w {
		b := f.buf
		f.buf, f.r, f.w = nil, 0, 0
		putReadBuf(b)
	}
}

// readMessage returns the next data message, answering pings and
// following fragmentation on the way. Text messages are checked to be
// valid UTF-8.
func (c *wsConn) readMessage() (text bool, payload []byte, err error) {
	var (
		started    bool
		compressed bool
		fragments  int
	)
	defer c.br.release()
	for {
		h, err := ws.ReadHeader(&c.br)
		c.br.startMessage()
		if errors.Is(err, ws.ErrHeaderLengthMSB) || errors.Is(err, ws.ErrHeaderLengthUnexpected) {
			return false, nil, &wsError{closeProtocolError, "invalid frame length"}
		}
		if err != nil {
			return false, nil, err
		}
		if !h.Masked {
			return false, nil, &wsError{closeProtocolError, "unmasked client frame"}
		}
		if h.Rsv != 0 {
			// RSV1 marks the first frame of a compressed message, once
			// permessage-deflate is negotiated; anything else is an error.
			if !c.deflate || h.Rsv != ws.Rsv(true, false, false) || !h.OpCode.IsData() {
				return false, nil, &wsError{closeProtocolError, "reserved bits set"}
			}
			compressed = true
		}
		if h.OpCode.IsReserved() {
			return false, nil, &wsError{closeProtocolError, "reserved opcode"}
		}
		if h.OpCode.IsControl() {
			if !h.Fin || h.Length > 125 {
				return false, nil, &wsError{closeProtocolError, "invalid control frame"}
			}
			body := make([]byte, h.Length)
			if _, err := io.ReadFull(&c.br, body); err != nil {
				return false, nil, err
			}
			ws.Cipher(body, h.Mask, 0)
			switch h.OpCode {
			case ws.OpPing:
				if err := c.writeControl(ws.OpPong, body); err != nil {
					return false, nil, err
				}
			case ws.OpClose:
				return false, nil, checkClosePayload(body)
			}
			continue
		}
		switch {
		case h.OpCode == ws.OpContinuation && !started:
			return false, nil, &wsError{closeProtocolError, "continuation without a message"}
		case h.OpCode != ws.OpContinuation && started:
			return false, nil, &wsError{closeProtocolError, "new message inside a fragmented one"}
		case h.OpCode != ws.OpContinuation:
			started, text, payload = true, h.OpCode == ws.OpText, payload[:0]
		}
		if fragments++; fragments > maxFragments {
			return false, nil, &wsError{closePolicy, "too many fragments"}
		}
		if h.Length > c.maxSize-int64(len(payload)) {
			return false, nil, &wsError{closeTooBig, "message too big"}
		}
		start := len(payload)
		payload, err = readGrowing(&c.br, payload, int(h.Length))
		if err != nil {
			return false, nil, err
		}
		ws.Cipher(payload[start:], h.Mask, 0)
		if h.Fin {
			if compressed {
				if payload, err = inflate(payload, c.maxSize); err != nil {
					return false, nil, err
				}
			}
			if text && !utf8.Valid(payload) {
				return false, nil, &wsError{closeInvalidData, "invalid UTF-8"}
			}
			return text, payload, nil
		}
	}
}

// readGrowing appends n bytes read from r to buf, growing it as data
// arrives rather than by the length the peer declared.
func readGrowing(r io.Reader, buf []byte, n int) ([]byte, error) {
	const step = 64 << 10
	for n > 0 {
		k := min(n, step)
		if cap(buf)-len(buf) < k {
			buf = append(buf, make([]byte, k)...)[:len(buf)]
		}
		m, err := io.ReadFull(r, buf[len(buf):len(buf)+k])
		buf = buf[:len(buf)+m]
		if err != nil {
			return buf, err
		}
		n -= k
	}
	return buf, nil
}

// appendFrameHeader appends an unmasked, final frame header.
func appendFrameHeader(dst []byte, op ws.OpCode, n int) []byte {
	return appendFrameHeaderBits(dst, 0x80|byte(op), n)
}

func appendFrameHeaderBits(dst []byte, b0 byte, n int) []byte {
	switch {
	case n < 126:
		return append(dst, b0, byte(n))
	case n <= 0xffff:
		return append(dst, b0, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, 127)
		return binary.BigEndian.AppendUint64(dst, uint64(n))
	}
}

// typeDigits holds the one-byte prefixes of frames: the type digit of a
// text packet, or the type byte of a v3 binary packet.
const typeDigits = "0123456\x00\x01\x02\x03\x04\x05\x06"

type frameBuffers struct {
	iov  iovecs // writev's scratch (Linux)
	hdr  []byte
	bufs net.Buffers // what is left to write
	base net.Buffers // all of it, for release
	w    net.Buffers // WriteTo's copy of bufs
}

// consume removes the first n bytes from fb.bufs.
func (fb *frameBuffers) consume(n int) {
	for n > 0 && len(fb.bufs) > 0 {
		if k := len(fb.bufs[0]); k <= n {
			fb.bufs, n = fb.bufs[1:], n-k
		} else {
			fb.bufs[0], n = fb.bufs[0][n:], 0
		}
	}
}

var framePool = sync.Pool{New: func() any { return new(frameBuffers) }}

// writePackets writes ps as one frame each, in a single writev. Message
// data is written from the shared slices, never copied.
func (c *wsConn) writePackets(ps []packet, protocol int) error {
	fb := c.frames(ps, protocol)
	c.wmu.Lock()
	// What a plain socket takes at once goes through tryWriteLocked (no
	// system call bookkeeping, and no iovec array that the runtime keeps
	// per socket afterwards); the rest waits, up to writeWait.
	var done bool
	var err error
	if c.rc != nil {
		done, err = c.tryWriteLocked(fb)
	}
	if !done && err == nil {
		err = c.writeFramesLocked(fb)
	}
	c.wmu.Unlock()
	fb.release()
	return err
}

// writeFramesLocked writes fb, waiting up to writeWait. c.wmu is held.
func (c *wsConn) writeFramesLocked(fb *frameBuffers) error {
	c.conn.SetWriteDeadline(time.Now().Add(c.writeWait))
	fb.w = fb.bufs // WriteTo consumes it; a field, so that it does not escape
	_, err := fb.w.WriteTo(c.conn)
	// Lifted, so that tryWriteLocked finds no expired deadline later.
	c.conn.SetWriteDeadline(time.Time{})
	return err
}

func (fb *frameBuffers) release() {
	clear(fb.base[:cap(fb.base)])
	fb.bufs, fb.base, fb.w = fb.base[:0], fb.base[:0], nil
	framePool.Put(fb)
}

// frames builds the frames of ps in a pooled frameBuffers.
func (c *wsConn) frames(ps []packet, protocol int) *frameBuffers {
	fb := framePool.Get().(*frameBuffers)
	fb.hdr = fb.hdr[:0]
	if cap(fb.hdr) < 10*len(ps) {
		fb.hdr = make([]byte, 0, 10*len(ps))
	}
	fb.bufs = fb.bufs[:0]
	for _, p := range ps {
		op := ws.OpText
		var prefix string
		switch {
		case p.binary && protocol == 4:
			op = ws.OpBinary
		case p.binary:
			op = ws.OpBinary
			prefix = typeDigits[7+p.typ-'0' : 8+p.typ-'0']
		default:
			prefix = typeDigits[p.typ-'0' : p.typ-'0'+1]
		}
		start := len(fb.hdr)
		if c.deflate && !p.noCompress && len(prefix)+len(p.data) >= deflateThreshold {
			// Compressed per recipient: the shared bytes cannot be.
			z := deflate(prefix, p.data)
			fb.hdr = appendFrameHeaderBits(fb.hdr, 0x80|0x40|byte(op), len(z))
			fb.bufs = append(fb.bufs, fb.hdr[start:len(fb.hdr):len(fb.hdr)], z)
			continue
		}
		fb.hdr = appendFrameHeader(fb.hdr, op, len(prefix)+len(p.data))
		fb.hdr = append(fb.hdr, prefix...)
		fb.bufs = append(fb.bufs, fb.hdr[start:len(fb.hdr):len(fb.hdr)])
		if len(p.data) > 0 {
			fb.bufs = append(fb.bufs, p.data)
		}
	}
	fb.base = fb.bufs
	return fb
}

func (c *wsConn) writeText(b []byte) error {
	hdr := appendFrameHeader(make([]byte, 0, 10+len(b)), ws.OpText, len(b))
	return c.writeRaw(append(hdr, b...))
}

func (c *wsConn) writeControl(op ws.OpCode, body []byte) error {
	hdr := appendFrameHeader(make([]byte, 0, 2+len(body)), op, len(body))
	return c.writeRaw(append(hdr, body...))
}

func (c *wsConn) writeRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(c.writeWait))
	_, err := c.conn.Write(b)
	c.conn.SetWriteDeadline(time.Time{})
	return err
}

// closeWith sends a close frame with code and closes the connection; it
// is idempotent. A write in progress is finished first (it has its own
// deadline), on another goroutine, except for a slow client, whose stuck
// write is cut short.
func (c *wsConn) closeWith(code int) {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	if c.wmu.TryLock() {
		c.writeCloseAndUnlock(code)
		return
	}
	if code == closePolicy {
		c.close()
		return
	}
	go func() {
		c.wmu.Lock()
		c.writeCloseAndUnlock(code)
	}()
}

// writeCloseAndUnlock writes a close frame with code, releases c.wmu
// (which the caller holds) and closes the connection after a linger.
func (c *wsConn) writeCloseAndUnlock(code int) {
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(time.Second))
	var frame [4]byte
	hdr := appendFrameHeader(frame[:0], ws.OpClose, 2)
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(code))
	c.conn.Write(hdr)
	if c.poller != nil {
		c.poller.forget(c)
	}
	go linger(c.conn)
}

// lingerTime bounds how long a closed websocket's unread input is drained.
const lingerTime = time.Second

// linger closes conn without losing what was written to it: closing a TCP
// socket with unread input sends a reset that can destroy the data and the
// close frame still in flight (a client's frame we stopped reading at a
// protocol error, say). It shuts the write side, drains the input for a
// short while, then closes.
func linger(conn net.Conn) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		conn.SetReadDeadline(time.Now().Add(lingerTime))
		io.Copy(io.Discard, io.LimitReader(conn, 1<<20))
	}
	conn.Close()
}

// closeCode is the websocket close code for a session's close cause.
func closeCode(cause *CloseError) int {
	var we *wsError
	if errors.As(cause.Err, &we) {
		return we.code
	}
	if cause.Reason == ReasonSlowClient {
		return closePolicy
	}
	return closeNormal
}

// flushWebSocket writes the outbox to ws until it is empty; once the
// session is closed and the outbox drained it closes the connection. It
// runs on a goroutine of its own, started when the outbox gets data (or by
// flushInline); s.flushing is set by whoever starts it.
func (s *Session) flushWebSocket(c *wsConn) {
	for {
		batch, ok := s.nextBatch(c)
		if !ok {
			return
		}
		err := c.writePackets(batch, s.protocol)
		if !s.batchWritten(c, batch, err) {
			return
		}
	}
}

// flushInline writes the outbox to c from the goroutine that queued it (a
// Send), as far as the socket takes it without waiting: one goroutine
// fewer per message. What the socket does not take at once, and what
// arrives meanwhile, is left to a flusher goroutine, so the caller never
// waits for the client. s.flushing was set by the caller.
func (s *Session) flushInline(c *wsConn) {
	for {
		batch, ok := s.nextBatch(c)
		if !ok {
			return
		}
		fb := c.frames(batch, s.protocol)
		if !c.wmu.TryLock() {
			// Another write (a pong, say) is in progress: wait for it
			// elsewhere.
			go s.lockAndFinishWrite(c, fb, batch)
			return
		}
		done, err := c.tryWriteLocked(fb)
		if !done && err == nil {
			// The socket is full: the rest is written by a goroutine
			// that may wait. c.wmu is handed to it, held, so that no
			// other write slips between the two parts of these frames.
			go s.finishWriteAndUnlock(c, fb, batch)
			return
		}
		c.wmu.Unlock()
		fb.release()
		if !s.batchWritten(c, batch, err) {
			return
		}
	}
}

// lockAndFinishWrite takes c.wmu, then finishes as finishWriteAndUnlock.
func (s *Session) lockAndFinishWrite(c *wsConn, fb *frameBuffers, batch []packet) {
	c.wmu.Lock()
	s.finishWriteAndUnlock(c, fb, batch)
}

// finishWriteAndUnlock writes what is left of fb under c.wmu, which the
// caller holds (possibly handed over from another goroutine: sync.Mutex
// is not tied to one), releases it, then goes on flushing the outbox.
func (s *Session) finishWriteAndUnlock(c *wsConn, fb *frameBuffers, batch []packet) {
	err := c.writeFramesLocked(fb)
	c.wmu.Unlock()
	fb.release()
	if s.batchWritten(c, batch, err) {
		s.flushWebSocket(c)
	}
}

// nextBatch takes the outbox for writing to c. When it is empty it ends
// the flush (and, once the session is closed, the connection) and reports
// false.
func (s *Session) nextBatch(c *wsConn) ([]packet, bool) {
	s.mu.Lock()
	batch := s.takeLocked()
	if len(batch) > 0 {
		s.mu.Unlock()
		return batch, true
	}
	s.flushing = false
	closed := s.closed
	cause := s.cause
	s.mu.Unlock()
	if closed {
		c.closeWith(closeCode(cause))
		s.srv.remove(s)
	}
	return nil, false
}

// batchWritten ends the write of batch: on error it closes the session and
// reports false; otherwise it keeps the batch's array for the next outbox.
func (s *Session) batchWritten(c *wsConn, batch []packet, err error) bool {
	if err != nil {
		s.closeWith(ReasonTransportError, err, closeAbort)
		c.close()
		s.srv.remove(s)
		return false
	}
	clear(batch)
	s.mu.Lock()
	if s.queue == nil && cap(batch) <= 64 {
		s.queue = batch[:0]
	}
	s.mu.Unlock()
	return true
}

// serveWebSocket runs the read loop of a session carried by c, until the
// connection or the session ends.
//
// Every way out of the loop closes the session, which closes c (after a
// close frame, and after the outbox for a graceful close).
//
// An idle connection is parked (waitMessage): the loop returns and the
// poller starts it again on a new goroutine when data arrives.
func (s *Session) serveWebSocket(c *wsConn) {
	for {
		if !c.br.buffered() {
			err := s.waitMessage(c)
			if err == errParked {
				return
			}
			if err != nil {
				s.onWebSocketError(err)
				return
			}
		}
		text, data, err := c.readMessage()
		if err != nil {
			s.onWebSocketError(err)
			return
		}
		var p packet
		if text {
			p, err = decodeTextPacket(data, s.protocol)
		} else {
			p, err = decodeBinaryPacket(data, s.protocol)
		}
		if err != nil {
			s.closeWith(ReasonParseError, err, closeAbort)
			return
		}
		if !s.onPacket(p) {
			return
		}
	}
}

// errParked: waitMessage handed the connection to the poller.
var errParked = errors.New("engineio: parked")

// waitMessage waits up to ParkIdleAfter for the next message of c, with
// the first bytes read into the frame buffer; when none comes it parks c
// and returns errParked, after which c belongs to the poller. Without a
// poller it returns at once and the read blocks as usual.
func (s *Session) waitMessage(c *wsConn) error {
	if c.poller == nil {
		return nil
	}
	c.sess = s
	c.conn.SetReadDeadline(time.Now().Add(s.srv.opts.ParkIdleAfter))
	c.br.idleDeadline = true
	c.rerr = nil
	err := c.rc.Read(c.readFn)
	if err == nil {
		return c.rerr
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if c.poller.park(c) == nil {
		return errParked
	}
	c.br.idleDeadline = false
	c.conn.SetReadDeadline(time.Time{})
	return nil
}

func (s *Session) onWebSocketError(err error) {
	var we *wsError
	switch {
	case errors.As(err, &we):
		s.closeWith(ReasonParseError, err, closeAbort)
	case errors.Is(err, errClientClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		s.closeWith(ReasonTransportClose, nil, closeAbort)
	default:
		s.closeWith(ReasonTransportError, err, closeAbort)
	}
}

var (
	probePing = []byte("2probe")
	probePong = []byte("3probe")
)

// upgrade serves a websocket that asks to take over a polling session: it
// must send the ping probe, then UPGRADE, within UpgradeTimeout. Anything
// else closes this websocket and leaves the session on polling.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request, sess *Session) {
	if s.opts.DisableUpgrades {
		s.refuse(w, r, true, refuseWith(CodeBadRequest, "name", "UPGRADES_DISABLED"))
		return
	}
	// A websocket for a session that cannot take it (closed, already
	// upgraded or upgrading) is accepted and closed at once, as Node does:
	// clients see a close, not a failed handshake.
	c, err := s.acceptWebSocket(w, r, false)
	if err != nil {
		return
	}
	sess.mu.Lock()
	if sess.closed || sess.transport != Polling || sess.probe != nil {
		sess.mu.Unlock()
		c.closeWith(closeNormal)
		return
	}
	sess.probe = c
	sess.mu.Unlock()

	if !sess.probeUpgrade(c) {
		sess.mu.Lock()
		if sess.probe == c {
			sess.dropProbeLocked()
		}
		closed := sess.closed && sess.ws == nil && len(sess.queue) == 0
		sess.mu.Unlock()
		c.closeWith(closeNormal)
		if closed {
			s.remove(sess) // it waited for this upgrade only
		}
		return
	}
	go sess.serveWebSocket(c)
}

// probeUpgrade runs the upgrade exchange on c and reports whether the
// session moved to it.
func (sess *Session) probeUpgrade(c *wsConn) bool {
	c.conn.SetReadDeadline(time.Now().Add(sess.srv.opts.UpgradeTimeout))
	for {
		text, data, err := c.readMessage()
		if err != nil || !text {
			return false
		}
		switch {
		case bytes.Equal(data, probePing):
			if c.writeText(probePong) != nil {
				return false
			}
			sess.mu.Lock()
			sess.upgrading = sess.probe == c
			sess.releasePoll = sess.upgrading && sess.polling
			sess.kickLocked()
			sess.mu.Unlock()
		case len(data) == 1 && data[0] == typeUpgrade:
			sess.mu.Lock()
			if sess.probe != c {
				sess.mu.Unlock()
				return false
			}
			sess.completeUpgradeLocked(c)
			sess.mu.Unlock()
			c.conn.SetReadDeadline(time.Time{})
			sess.srv.log.Debug("engineio: session upgraded", "sid", sess.id)
			return true
		default:
			return false
		}
	}
}

// completeUpgradeLocked moves the session to c, its probe, on the
// client's UPGRADE. sess.mu is held.
func (sess *Session) completeUpgradeLocked(c *wsConn) {
	sess.dropProbeLocked()
	sess.transport = WebSocket
	sess.ws = c
	if sess.closed {
		// Closed gracefully during the upgrade: the flusher writes what
		// is queued, then the close frame, then forgets the session.
		sess.endTombstoneLocked()
		sess.startFlushLocked(c)
	}
	sess.kickLocked()
}

// checkClosePayload validates a client's close frame (RFC 6455 7.4): no
// payload, or a status code a peer may send and a UTF-8 reason.
func checkClosePayload(body []byte) error {
	if len(body) == 0 {
		return errClientClosed
	}
	if len(body) == 1 {
		return &wsError{closeProtocolError, "invalid close payload"}
	}
	code := int(binary.BigEndian.Uint16(body))
	valid := (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
	if !valid {
		return &wsError{closeProtocolError, "invalid close code"}
	}
	if !utf8.Valid(body[2:]) {
		return &wsError{closeInvalidData, "invalid UTF-8 in close reason"}
	}
	return errClientClosed
}

// deflateThreshold is the smallest message compressed when
// permessage-deflate is on (Node's default threshold).
const deflateThreshold = 1024

var (
	flateWriters = sync.Pool{New: func() any { w, _ := flate.NewWriter(nil, flate.BestSpeed); return w }}
	flateReaders sync.Pool
	// deflateEnd ends a raw deflate stream sent without its final block:
	// the empty stored block every message lost (RFC 7692 7.2.2), then a
	// final empty block so the reader sees a clean end.
	deflateEnd = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}
)

// deflate compresses prefix+data as one permessage-deflate message.
func deflate(prefix string, data []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(data)/2 + 16)
	w := flateWriters.Get().(*flate.Writer)
	w.Reset(&buf)
	w.Write([]byte(prefix))
	w.Write(data)
	w.Flush()
	flateWriters.Put(w)
	return bytes.TrimSuffix(buf.Bytes(), deflateEnd[:4])
}

// inflate decompresses a permessage-deflate message, refusing output over
// max bytes (a small message can inflate to gigabytes).
func inflate(src []byte, max int64) ([]byte, error) {
	in := io.MultiReader(bytes.NewReader(src), bytes.NewReader(deflateEnd))
	r, _ := flateReaders.Get().(io.ReadCloser)
	if r == nil {
		r = flate.NewReader(in)
	} else {
		r.(flate.Resetter).Reset(in, nil)
	}
	defer flateReaders.Put(r)
	out, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, &wsError{closeInvalidData, "invalid compressed data"}
	}
	if int64(len(out)) > max {
		return nil, &wsError{closeTooBig, "message too big once inflated"}
	}
	return out, nil
}

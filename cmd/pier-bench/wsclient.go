package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gobwas/ws"
)

// wsClient is a minimal Engine.IO websocket client: one goroutine reads
// and writes it. Frames it sends are built once (see maskedFrame) so that
// a round trip costs the client a write and a read.
type wsClient struct {
	conn     net.Conn
	br       *bufio.Reader
	protocol int
	buf      []byte
	pong     []byte // the frame answering a v4 ping
	Open     []byte // the open packet's JSON
}

var wsDialer = ws.Dialer{
	Timeout:         10 * time.Second,
	ReadBufferSize:  1024,
	WriteBufferSize: 512,
}

// dialWS opens an Engine.IO websocket session on addr: path is the server's
// path ("/engine.io/"), protocol 3 or 4. It returns once the open packet is
// read.
func dialWS(ctx context.Context, addr, path string, protocol int) (*wsClient, error) {
	url := fmt.Sprintf("ws://%s%s?EIO=%d&transport=websocket", addr, path, protocol)
	conn, br, _, err := wsDialer.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	if br == nil {
		br = bufio.NewReaderSize(conn, 1024)
	}
	c := &wsClient{conn: conn, br: br, protocol: protocol, buf: make([]byte, 0, 256), pong: maskedFrame(ws.OpText, []byte("3"))}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(dl)
	}
	p, err := c.readPacket()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("reading the open packet: %w", err)
	}
	if len(p) == 0 || p[0] != '0' {
		conn.Close()
		return nil, fmt.Errorf("first packet %q is not an open packet", p)
	}
	c.Open = append([]byte(nil), p[1:]...)
	conn.SetReadDeadline(time.Time{})
	return c, nil
}

// maskedFrame builds a final, masked client frame. The mask is fixed: the
// server must unmask whatever it is, and precomputing the frame keeps the
// client cheap.
func maskedFrame(op ws.OpCode, payload []byte) []byte {
	mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	n := len(payload)
	var f []byte
	switch {
	case n < 126:
		f = append(f, 0x80|byte(op), 0x80|byte(n))
	case n <= 0xffff:
		f = append(f, 0x80|byte(op), 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|byte(op), 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = append(f, mask[:]...)
	start := len(f)
	f = append(f, payload...)
	for i := range payload {
		f[start+i] ^= mask[i%4]
	}
	return f
}

// write sends a prebuilt frame.
func (c *wsClient) write(frame []byte) error {
	_, err := c.conn.Write(frame)
	return err
}

var errWSClosed = errors.New("websocket closed by the server")

// readPacket returns the next Engine.IO packet (a text frame), answering
// websocket pings on the way. The slice is valid until the next read.
func (c *wsClient) readPacket() ([]byte, error) {
	for {
		h, err := ws.ReadHeader(c.br)
		if err != nil {
			return nil, err
		}
		if h.Length > 1<<20 {
			return nil, fmt.Errorf("frame of %d bytes", h.Length)
		}
		n := int(h.Length)
		if cap(c.buf) < n {
			c.buf = make([]byte, n)
		}
		c.buf = c.buf[:n]
		if _, err := io.ReadFull(c.br, c.buf); err != nil {
			return nil, err
		}
		if h.Masked {
			ws.Cipher(c.buf, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpText, ws.OpBinary:
			if !h.Fin {
				return nil, errors.New("fragmented frames are not expected from the server")
			}
			return c.buf, nil
		case ws.OpPing:
			if err := c.write(maskedFrame(ws.OpPong, c.buf)); err != nil {
				return nil, err
			}
		case ws.OpClose:
			return nil, errWSClosed
		}
	}
}

// readMessage returns the next packet that is not a heartbeat: it answers
// v4 pings and skips v3 pongs and noops. A message packet starts with '4'.
func (c *wsClient) readMessage() ([]byte, error) {
	for {
		p, err := c.readPacket()
		if err != nil {
			return nil, err
		}
		switch {
		case len(p) == 1 && p[0] == '2' && c.protocol == 4:
			if err := c.write(c.pong); err != nil {
				return nil, err
			}
		case len(p) > 0 && (p[0] == '3' || p[0] == '6'):
		default:
			return p, nil
		}
	}
}

// idle keeps the session alive until the connection ends: it answers the
// heartbeat and drops anything else.
func (c *wsClient) idle() {
	for {
		if _, err := c.readMessage(); err != nil {
			return
		}
	}
}

func (c *wsClient) Close() error { return c.conn.Close() }

// expectMessage reads the next message and checks that it is want.
func (c *wsClient) expectMessage(want []byte) error {
	p, err := c.readMessage()
	if err != nil {
		return err
	}
	if !bytes.Equal(p, want) {
		return fmt.Errorf("got %q, want %q", p, want)
	}
	return nil
}

// Package wiretest is a raw Engine.IO websocket client for tests and
// examples: it sends and reads Engine.IO packets byte for byte, answering
// the server's pings on its own.
package wiretest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// Conn is an Engine.IO websocket connection. It is not safe for
// concurrent use.
type Conn struct {
	conn net.Conn
	br   *bufio.Reader
	// Open is the payload of the server's open packet (the JSON after "0").
	Open string
}

// Dial opens an Engine.IO session over websocket to base (an http:// URL
// of the server root) on path (such as "/socket.io/"), with protocol eio
// (3 or 4), and reads the open packet.
func Dial(ctx context.Context, base, path string, eio int) (*Conn, error) {
	u := strings.Replace(base, "http", "ws", 1) + path + fmt.Sprintf("?EIO=%d&transport=websocket", eio)
	conn, br, _, err := ws.Dial(ctx, u)
	if err != nil {
		return nil, err
	}
	if br == nil {
		br = bufio.NewReader(conn)
	}
	c := &Conn{conn: conn, br: br}
	open, err := c.read(5 * time.Second)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if !strings.HasPrefix(open, "0") {
		conn.Close()
		return nil, fmt.Errorf("wiretest: first packet %q is not an open packet", open)
	}
	c.Open = open[1:]
	return c, nil
}

// Send writes an Engine.IO text packet, such as "40" or `42["hi"]`.
func (c *Conn) Send(packet string) error {
	return wsutil.WriteClientText(c.conn, []byte(packet))
}

// SendBinary writes a binary frame (an EIO4 binary message).
func (c *Conn) SendBinary(b []byte) error {
	return wsutil.WriteClientBinary(c.conn, b)
}

// Read returns the next text packet other than a ping (pings are answered),
// waiting at most timeout. Binary frames are returned as "<binary HEX>".
func (c *Conn) Read(timeout time.Duration) (string, error) {
	for {
		p, err := c.read(timeout)
		if err != nil {
			return "", err
		}
		if p == "2" {
			if err := c.Send("3"); err != nil {
				return "", err
			}
			continue
		}
		return p, nil
	}
}

// ErrClosed is returned by Read when the server closed the connection.
var ErrClosed = errors.New("wiretest: connection closed")

func (c *Conn) read(timeout time.Duration) (string, error) {
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	for {
		h, err := ws.ReadHeader(c.br)
		if err != nil {
			return "", err
		}
		payload := make([]byte, h.Length)
		if _, err := readFull(c.br, payload); err != nil {
			return "", err
		}
		switch h.OpCode {
		case ws.OpClose:
			return "", ErrClosed
		case ws.OpPing, ws.OpPong:
			continue
		case ws.OpBinary:
			return fmt.Sprintf("<binary %x>", payload), nil
		default:
			return string(payload), nil
		}
	}
}

func readFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.conn.Close() }

// MaxFrame bounds the payload ReadFrame accepts: more than any test sends.
const MaxFrame = 64 << 20

// ReadFrame reads one websocket frame from r, as gobwas/ws's deprecated
// ReadFrame does, but refuses a payload declared larger than MaxFrame
// before reading it. A masked payload is unmasked.
func ReadFrame(r io.Reader) (ws.Frame, error) {
	h, err := ws.ReadHeader(r)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length > MaxFrame {
		return ws.Frame{}, fmt.Errorf("wiretest: frame of %d bytes, more than %d", h.Length, MaxFrame)
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(r, payload); err != nil {
		return ws.Frame{}, err
	}
	if h.Masked {
		ws.Cipher(payload, h.Mask, 0)
		h.Masked = false
	}
	return ws.Frame{Header: h, Payload: payload}, nil
}

// ConnectSocketIO sends a Socket.IO v5 CONNECT to namespace nsp with the
// auth payload auth (JSON, or "" for none) and returns the socket id of
// the server's answer, waiting at most timeout.
func (c *Conn) ConnectSocketIO(nsp, auth string, timeout time.Duration) (string, error) {
	prefix := "40"
	if nsp != "/" {
		prefix += nsp + ","
	}
	if err := c.Send(prefix + auth); err != nil {
		return "", err
	}
	p, err := c.Read(timeout)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(p, prefix) {
		return "", fmt.Errorf("wiretest: connect answered %q", p)
	}
	var v struct{ Sid string }
	if err := json.Unmarshal([]byte(p[len(prefix):]), &v); err != nil {
		return "", fmt.Errorf("wiretest: connect answered %q: %v", p, err)
	}
	return v.Sid, nil
}

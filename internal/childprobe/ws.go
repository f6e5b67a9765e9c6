package childprobe

import (
	"bufio"
	"errors"
	"io"
	"net"
	"time"
)

// WS is a websocket client connection that sends and reads short text
// frames (under 126 bytes), all a probe's client needs.
type WS struct {
	c  net.Conn
	br *bufio.Reader
}

// DialWS opens an Engine.IO websocket session on the server at addr
// (host:port) with the request path and query path: it reads the 101
// response and the open packet.
func DialWS(addr, path string) (*WS, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: localhost\r\n"+
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nUser-Agent: pier-childprobe\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	w := &WS{c: c, br: bufio.NewReader(c)}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		l, err := w.br.ReadString('\n')
		if err != nil {
			c.Close()
			return nil, err
		}
		if l == "\r\n" {
			if _, err := w.Read(); err != nil { // the open packet
				c.Close()
				return nil, err
			}
			return w, nil
		}
	}
}

// Read returns the payload of the next frame, waiting at most 30 s.
func (w *WS) Read() (string, error) {
	w.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(w.br, h[:]); err != nil {
		return "", err
	}
	if h[1]&0x7f > 125 {
		return "", errors.New("childprobe: a frame over 125 bytes")
	}
	b := make([]byte, h[1]&0x7f)
	if _, err := io.ReadFull(w.br, b); err != nil {
		return "", err
	}
	return string(b), nil
}

// Frame returns s as a masked text frame (with a zero key), for Write.
func Frame(s string) []byte {
	return append([]byte{0x81, 0x80 | byte(len(s)), 0, 0, 0, 0}, s...)
}

// Write sends frames made by Frame.
func (w *WS) Write(frame []byte) error {
	_, err := w.c.Write(frame)
	return err
}

// Close closes the connection.
func (w *WS) Close() error { return w.c.Close() }

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// httpConn is a minimal HTTP/1.1 client connection with keep-alive, for
// long-polling. It is used instead of net/http's client, which costs
// several goroutine hand-offs and dozens of allocations a request: on a
// single load-generator core that would make the client, not the server,
// the bottleneck. It sends minimal requests and reads responses with a
// Content-Length or chunked body.
type httpConn struct {
	conn net.Conn
	br   *bufio.Reader
	host string
	req  []byte
	body []byte
}

func dialHTTP(addr string) (*httpConn, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	return &httpConn{conn: conn, br: bufio.NewReaderSize(conn, 4096), host: addr}, nil
}

func (h *httpConn) Close() error { return h.conn.Close() }

// send writes a request; a nil body makes a GET, any other a POST of
// text/plain.
func (h *httpConn) send(target string, body []byte) error {
	r := h.req[:0]
	if body == nil {
		r = append(r, "GET "...)
	} else {
		r = append(r, "POST "...)
	}
	r = append(r, target...)
	r = append(r, " HTTP/1.1\r\nHost: "...)
	r = append(r, h.host...)
	r = append(r, "\r\nAccept: */*\r\n"...)
	if body != nil {
		r = append(r, "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: "...)
		r = strconv.AppendInt(r, int64(len(body)), 10)
		r = append(r, "\r\n"...)
	}
	r = append(r, "\r\n"...)
	r = append(r, body...)
	h.req = r
	_, err := h.conn.Write(r)
	return err
}

var errConnClose = errors.New("server closed the connection")

// recv reads one response; the body is valid until the next recv. A
// status other than 200 is an error.
func (h *httpConn) recv() ([]byte, error) {
	line, err := h.br.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	status, _ := strconv.Atoi(string(line[9:12]))
	length, chunked, closing := -1, false, false
	for {
		line, err := h.br.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case asciiEqualFold(k, "content-length"):
			length, err = strconv.Atoi(string(v))
			if err != nil {
				return nil, fmt.Errorf("bad Content-Length %q", v)
			}
		case asciiEqualFold(k, "transfer-encoding"):
			chunked = asciiEqualFold(v, "chunked")
		case asciiEqualFold(k, "connection"):
			closing = asciiEqualFold(v, "close")
		}
	}
	h.body = h.body[:0]
	switch {
	case chunked:
		for {
			line, err := h.br.ReadSlice('\n')
			if err != nil {
				return nil, err
			}
			n, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 32)
			if err != nil {
				return nil, fmt.Errorf("bad chunk size %q", line)
			}
			if n == 0 {
				// Trailers, then the final CRLF.
				for {
					line, err := h.br.ReadSlice('\n')
					if err != nil {
						return nil, err
					}
					if len(bytes.TrimRight(line, "\r\n")) == 0 {
						break
					}
				}
				break
			}
			h.body = readN(h.br, h.body, int(n), &err)
			if err != nil {
				return nil, err
			}
			if _, err := h.br.Discard(2); err != nil {
				return nil, err
			}
		}
	case length >= 0:
		h.body = readN(h.br, h.body, length, &err)
		if err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("response without a length")
	}
	if status != 200 {
		return nil, fmt.Errorf("status %d: %q", status, h.body)
	}
	if closing {
		return h.body, errConnClose
	}
	return h.body, nil
}

func readN(r io.Reader, dst []byte, n int, errp *error) []byte {
	start := len(dst)
	if cap(dst)-start < n {
		nd := make([]byte, start, start+n)
		copy(nd, dst)
		dst = nd
	}
	dst = dst[:start+n]
	_, *errp = io.ReadFull(r, dst[start:])
	return dst
}

// roundTrip sends a request and reads its response.
func (h *httpConn) roundTrip(target string, body []byte) ([]byte, error) {
	if err := h.send(target, body); err != nil {
		return nil, err
	}
	return h.recv()
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

//go:build unix

package engineio

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchEcho is a Handler that sends every message back.
type benchEcho struct{}

func (benchEcho) OnOpen(*Session)                 {}
func (benchEcho) OnClose(*Session, error)         {}
func (benchEcho) OnMessage(s *Session, m Message) { s.Send(m) }

// rawHTTP is a minimal keep-alive HTTP/1.1 client, so that a benchmark
// measures the server rather than net/http's client: it reuses its buffers
// and reads only Content-Length bodies.
type rawHTTP struct {
	conn net.Conn
	br   *bufio.Reader
	req  []byte
	body []byte
}

func (h *rawHTTP) roundTrip(target string, body []byte) ([]byte, error) {
	r := h.req[:0]
	if body == nil {
		r = append(r, "GET "...)
	} else {
		r = append(r, "POST "...)
	}
	r = append(r, target...)
	r = append(r, " HTTP/1.1\r\nHost: bench\r\nAccept: */*\r\n"...)
	if body != nil {
		r = append(r, "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: "...)
		r = strconv.AppendInt(r, int64(len(body)), 10)
		r = append(r, "\r\n"...)
	}
	r = append(r, "\r\n"...)
	r = append(r, body...)
	h.req = r
	if _, err := h.conn.Write(r); err != nil {
		return nil, err
	}
	line, err := h.br.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return nil, fmt.Errorf("status line %q", line)
	}
	length := -1
	for {
		line, err := h.br.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			if length, err = strconv.Atoi(string(v)); err != nil {
				return nil, err
			}
		}
	}
	if length < 0 {
		return nil, fmt.Errorf("response to %s without Content-Length", target)
	}
	if cap(h.body) < length {
		h.body = make([]byte, length)
	}
	h.body = h.body[:length]
	_, err = io.ReadFull(h.br, h.body)
	return h.body, err
}

// processCPU returns the CPU time (user and system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPollingSession runs whole long-polling sessions, one after the
// other on one keep-alive loopback connection, as pier-bench's
// polling-sessions scenario does: handshake GET, POST a message, GET its
// echo, POST CLOSE. The allocations counted are the server's and the
// client's (a few: the sid and the targets); cpu-ns/op is the CPU time of
// the process (server, client and runtime) per session, steadier than the
// wall time on a busy machine.
//
// The floor case answers the same requests with the same bytes from a
// handler that does nothing else: what net/http, the client and the
// kernel cost alone.
func BenchmarkPollingSession(b *testing.B) {
	b.Run("pier", func(b *testing.B) {
		srv, err := NewServer(benchEcho{}, &Options{PingInterval: 25 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		runPollingSessions(b, srv)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			b.Error(err)
		}
	})
	b.Run("floor", func(b *testing.B) {
		runPollingSessions(b, floorHandler{})
	})
}

// floorHandler answers the requests of BenchmarkPollingSession's session
// with fixed responses, byte for byte those of Pier.
type floorHandler struct{}

var (
	floorOpen = []byte(`0{"sid":"AAAAAAAAAAAAAAAAAAAA","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)
	floorEcho = []byte("4hello, echo")
)

func (floorHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	switch {
	case r.Method == http.MethodPost:
		io.Copy(io.Discard, r.Body)
		h["Content-Type"] = hdrTextHTML
		h["Content-Length"] = hdrLength2
		w.Write(okBody)
	case strings.Contains(r.URL.RawQuery, "sid="):
		h["Content-Type"] = hdrTextPlain
		h["Cache-Control"] = hdrNoStore
		h["Content-Length"] = contentLength(len(floorEcho))
		w.Write(floorEcho)
	default:
		h["Content-Type"] = hdrTextPlain
		h["Cache-Control"] = hdrNoStore
		h["Content-Length"] = contentLength(len(floorOpen))
		w.Write(floorOpen)
	}
}

func runPollingSessions(b *testing.B, handler http.Handler) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: handler}
	go hs.Serve(ln)
	defer hs.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	c := &rawHTTP{conn: conn, br: bufio.NewReader(conn)}
	msg := floorEcho
	const handshake = "/engine.io/?EIO=4&transport=polling"
	target := make([]byte, 0, 128)
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		body, err := c.roundTrip(handshake, nil)
		if err != nil {
			b.Fatal(err)
		}
		i := bytes.Index(body, []byte(`"sid":"`))
		if i < 0 {
			b.Fatalf("handshake answered %q", body)
		}
		sid := body[i+7:]
		sid = sid[:bytes.IndexByte(sid, '"')]
		target = append(append(target[:0], handshake+"&sid="...), sid...)
		t := string(target)
		if body, err := c.roundTrip(t, msg); err != nil || string(body) != "ok" {
			b.Fatalf("POST: %q %v", body, err)
		}
		if body, err := c.roundTrip(t, nil); err != nil || !bytes.Equal(body, msg) {
			b.Fatalf("GET: %q %v", body, err)
		}
		if body, err := c.roundTrip(t, []byte("1")); err != nil || string(body) != "ok" {
			b.Fatalf("POST close: %q %v", body, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

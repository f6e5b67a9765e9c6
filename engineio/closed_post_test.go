package engineio_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/engineio"
)

// stalledPost sends, on its own connection, a POST that declares declared
// bytes of body but sends only sent of them, then goes silent; the
// response, if any, arrives on the channel. The connection stays open
// until the test ends.
func (f *fixture) stalledPost(query string, declared, sent int) <-chan response {
	f.t.Helper()
	conn, err := net.Dial("tcp", f.hs.Listener.Addr().String())
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { conn.Close() })
	go func() {
		conn.SetWriteDeadline(time.Now().Add(2 * waitFor))
		fmt.Fprintf(conn, "POST %s?%s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: %d\r\n\r\n",
			eioPath, query, f.hs.Listener.Addr(), declared)
		conn.Write([]byte(strings.Repeat("4", sent))) // fails once the server answers and closes: expected
	}()
	ch := make(chan response, 1)
	go func() {
		conn.SetReadDeadline(time.Now().Add(4 * waitFor))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			ch <- response{status: -1, body: err.Error()}
			return
		}
		b, _ := io.ReadAll(res.Body)
		ch <- response{status: res.StatusCode, header: res.Header, body: string(b)}
	}()
	return ch
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// POSTs into a session the client closed are refused at once, whatever
// they declare: stalled bodies pin neither memory nor goroutines. (They
// were read without deadline, any number per session: 20 of them pinned
// 20 MB.) Not parallel: it measures the heap.
func TestStalledPostsIntoClosedSession(t *testing.T) {
	const (
		posts    = 20
		declared = 1_000_000
		sent     = 999_000
	)
	f := newFixture(t, nil, nil)
	sid := f.openPolling(4, "")
	wantBody(t, "POST close", f.post(f.q(4, sid), "1"), "ok")
	f.h.wantClosedWith(t, sid, engineio.ReasonTransportClose)

	goroutines := runtime.NumGoroutine()
	heap := heapInUse()
	var answers []<-chan response
	for range posts {
		answers = append(answers, f.stalledPost(f.q(4, sid), declared, sent))
	}
	for i, ch := range answers {
		select {
		case r := <-ch:
			wantError(t, fmt.Sprintf("stalled POST %d", i), r, 400, 1, "Session ID unknown")
		case <-time.After(2 * waitFor):
			t.Fatalf("stalled POST %d into a closed session not answered", i)
		}
	}
	// The clients keep their connections open; the server holds nothing
	// for them.
	time.Sleep(100 * time.Millisecond)
	grown := int64(heapInUse()) - int64(heap)
	t.Logf("heap in use grew by %d KB for %d stalled POSTs of %d bytes", grown>>10, posts, sent)
	if grown > 4<<20 {
		t.Errorf("heap grew by %d bytes with %d stalled POSTs into a closed session, want < 4 MiB", grown, posts)
	}
	if !eventually(waitFor, func() bool { return runtime.NumGoroutine() <= goroutines+2 }) {
		t.Errorf("goroutines: %d, %d before the stalled POSTs", runtime.NumGoroutine(), goroutines)
	}
	// The GET the tombstone is kept for still gets its NOOP.
	wantBody(t, "GET after close", f.get(f.q(4, sid)), "6")
}

// A session the server closed waits one PingTimeout for the poll that
// collects its CLOSE; the client may POST its own CLOSE instead. One such
// POST is read at a time, and no longer than the wait.
func TestPostIntoSessionAwaitingLastPoll(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &engineio.Options{PingTimeout: 500 * time.Millisecond}, nil)

	t.Run("one reader", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		sid := f.openPolling(4, "")
		s := f.h.session(t, sid)
		s.Send(engineio.Text("queued"))
		s.Close("bye")
		f.h.wantClosedWith(t, sid, engineio.ReasonForcedClose)

		start := time.Now()
		stalled := f.stalledPost(f.q(4, sid), 1000, 10)
		// Give the stalled POST time to be read; a second one is refused
		// at once whichever comes first.
		time.Sleep(100 * time.Millisecond)
		r := f.post(f.q(4, sid), "1")
		wantError(t, "second POST while one is read", r, 400, 1, "Session ID unknown")
		select {
		case r := <-stalled:
			if r.status != 400 {
				t.Errorf("stalled POST: %v, want 400 when the session is dropped", r)
			}
			if d := time.Since(start); d < 400*time.Millisecond {
				t.Errorf("stalled POST answered after %v, before the wait for the last poll ended", d)
			}
		case <-time.After(4 * waitFor):
			t.Fatal("stalled POST into a closed session not answered once the session was dropped")
		}
		if !eventually(waitFor, func() bool { return f.srv.SessionCount() == 0 }) {
			t.Fatal("session still registered after its wait for the last poll")
		}
		f.wantGone(4, sid)
	})

	t.Run("client CLOSE ends it", func(t *testing.T) {
		t.Parallel()
		f := f.on(t)
		sid := f.openPolling(4, "")
		s := f.h.session(t, sid)
		s.Send(engineio.Text("queued"))
		s.Close("bye")
		f.h.wantClosedWith(t, sid, engineio.ReasonForcedClose)
		wantBody(t, "POST close", f.post(f.q(4, sid), "1"), "ok")
		f.wantGone(4, sid)
	})
}

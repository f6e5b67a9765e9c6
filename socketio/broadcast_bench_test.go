package socketio

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"go.uber.org/goleak"

	"github.com/pierhq/pier/engineio"
)

// benchRoomSizes are the room sizes broadcast to. One fleet of
// max(benchRoomSizes) clients serves them all: client i is in every room
// whose size is above i.
var benchRoomSizes = []int{1, 100, 1000}

// BenchmarkBroadcast measures srv.Of("/").To(room).Emit over real
// Engine.IO sessions on real loopback websockets, read by clients that
// discard frames without allocating, so that the allocations counted are
// the server's.
//
// Sub-benchmarks: parser / room size / payload / selection / mode, where
// the selection is To(room) or To(room+).Except(sender), which reaches
// the same recipients past one excluded socket (socket.to(room).emit from
// a member), and the mode is
//
//   - emit: the timer runs only while Emit runs, the broadcaster's cost,
//     which must not depend on the clients; the delivery is awaited with
//     the timer stopped.
//   - e2e: from Emit until every recipient has read the whole event, one
//     broadcast at a time: fan-out latency.
//   - stream: broadcasts back to back with up to benchWindow of them in
//     flight: throughput, with the flushers writing batches.
//
// Besides ns/op and allocs/op it reports ns/delivery and allocs/delivery
// (divided by the number of recipients). Allocations are the whole
// process's: in the emit mode those made while Emit runs (including by
// flushers it started), in the other modes everything from the broadcast
// to the client's read.
//
// Run with: go test -run '^$' -bench Broadcast -benchmem ./socketio/
// (about 7 minutes on 2 cores: the emit mode waits for every delivery
// outside the timer); -benchtime=200x takes about one minute. A run
// opens 1,001 loopback websockets per parser, so it needs some 2,100 file
// descriptors.
func BenchmarkBroadcast(b *testing.B) {
	payloads := []struct {
		name string
		args []any
	}{
		{"text", benchArgs},
		{"binary", []any{benchArgs[0], make([]byte, 1024)}},
	}
	for _, p := range []struct {
		name   string
		parser Parser
	}{{"json", DefaultParser()}, {"msgpack", MsgpackParser()}} {
		b.Run(p.name, func(b *testing.B) {
			f := newBenchFleet(b, p.parser, benchRoomSizes[len(benchRoomSizes)-1])
			nsp := f.srv.Of("/")
			for _, size := range benchRoomSizes {
				b.Run(fmt.Sprintf("room=%d", size), func(b *testing.B) {
					for _, pl := range payloads {
						msgs := p.parser.Encode(nil, mustEventPacket(b, pl.args))
						b.Run(pl.name, func(b *testing.B) {
							for _, sel := range []struct {
								name string
								op   BroadcastOperator
							}{
								{"to", nsp.To(benchRoom(size))},
								{"except", nsp.To(benchRoom(size) + "+").Except(Room(f.sender))},
							} {
								b.Run(sel.name, func(b *testing.B) {
									for _, mode := range []string{"emit", "e2e", "stream"} {
										b.Run(mode, func(b *testing.B) {
											f.run(b, mode, sel.op, pl.args, size, len(msgs))
										})
									}
								})
							}
						})
					}
				})
			}
		})
	}
}

// benchWindow bounds the broadcasts in flight in the stream mode, far
// below the outbox bounds, so that no client is ever closed as slow.
const benchWindow = 16

func benchRoom(size int) Room { return Room("n" + strconv.Itoa(size)) }

func mustEventPacket(b *testing.B, args []any) *Packet {
	data, atts, err := encodeEvent("chat", args)
	if err != nil {
		b.Fatal(err)
	}
	return &Packet{Type: PacketEvent, Namespace: "/", Data: data, Attachments: atts}
}

// benchFleet is a server with n reading clients plus one sender client,
// all on namespace "/". Client i is in rooms n<size> and n<size>+ for
// every size of benchRoomSizes above i; the sender is in every n<size>+.
type benchFleet struct {
	srv    *Server
	sender string // the sender's socket id

	// frames counts the data frames the clients read. Whenever it reaches
	// need, a reader signals done (capacity 1).
	frames atomic.Int64
	need   atomic.Int64
	done   chan struct{}
	wait   *time.Timer // reused: a timeout that allocates nothing per wait
}

// newBenchFleet starts the server and connects the clients, outside the
// benchmark timer; b.Cleanup closes everything and checks that no
// goroutine is left behind.
func newBenchFleet(b *testing.B, parser Parser, n int) *benchFleet {
	b.StopTimer()
	defer b.StartTimer()
	ignore := goleak.IgnoreCurrent()
	f := &benchFleet{done: make(chan struct{}, 1), wait: time.NewTimer(time.Hour)}
	f.need.Store(1 << 62)

	var joined sync.WaitGroup
	joined.Add(n + 1)
	srv, err := NewServer(&Options{
		Parser: parser,
		// No heartbeat during a run: a client never has to answer a ping.
		Engine: &engineio.Options{PingInterval: time.Hour, PingTimeout: time.Hour},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	f.srv = srv
	srv.OnConnection(func(s *Socket) {
		defer joined.Done()
		q := s.Handshake().Query.Get("i")
		if q == "sender" {
			f.sender = s.ID() // read after joined.Wait
			for _, size := range benchRoomSizes {
				s.Join(benchRoom(size) + "+")
			}
			return
		}
		i, _ := strconv.Atoi(q)
		for _, size := range benchRoomSizes {
			if i < size {
				s.Join(benchRoom(size), benchRoom(size)+"+")
			}
		}
	})
	hs := httptest.NewServer(srv)

	var (
		conns   []net.Conn
		readers sync.WaitGroup
	)
	b.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
		readers.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			b.Errorf("shutdown: %v", err)
		}
		hs.Close()
		f.wait.Stop()
		// Closed websockets linger up to a second; wait longer than that.
		deadline := time.Now().Add(5 * time.Second)
		for goleak.Find(ignore) != nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if err := goleak.Find(ignore); err != nil {
			b.Errorf("goroutines left behind: %v", err)
		}
	})

	connect := parser.Encode(nil, &Packet{Type: PacketConnect, Namespace: "/"})
	base := strings.Replace(hs.URL, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket&i="
	for i := range n + 1 {
		id := strconv.Itoa(i)
		if i == n {
			id = "sender"
		}
		conn, br, err := dialBenchClient(base+id, connect)
		if err != nil {
			b.Fatalf("client %s: %v", id, err)
		}
		conns = append(conns, conn)
		readers.Add(1)
		go func() {
			defer readers.Done()
			f.read(conn, br)
		}()
	}
	joined.Wait()
	if f.sender == "" {
		b.Fatal("no sender socket")
	}
	return f
}

// dialBenchClient opens a websocket session, connects it to "/" with the
// given CONNECT messages and reads the CONNECT reply, so that only event
// frames follow.
func dialBenchClient(url string, connect []engineio.Message) (net.Conn, *bufio.Reader, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	if br == nil {
		br = bufio.NewReaderSize(conn, 16<<10)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	op, first, err := readBenchFrame(br)
	if err == nil && (op != ws.OpText || first != '0') {
		err = fmt.Errorf("first frame is not an open packet (op %d, %q)", op, first)
	}
	for _, m := range connect {
		if err != nil {
			break
		}
		if m.Binary { // EIO4: a binary frame is a message as is
			err = wsutil.WriteClientMessage(conn, ws.OpBinary, m.Data)
		} else { // a text frame is the MESSAGE type, then the packet
			err = wsutil.WriteClientMessage(conn, ws.OpText, append([]byte{'4'}, m.Data...))
		}
	}
	if err == nil {
		op, first, err = readBenchFrame(br)
		if err == nil && op == ws.OpText && first != '4' {
			err = fmt.Errorf("connect reply is not a message (%q)", first)
		}
	}
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	conn.SetReadDeadline(time.Time{})
	return conn, br, nil
}

// readBenchFrame skips one server frame (unmasked, unfragmented), returning
// its opcode and first payload byte, without allocating.
func readBenchFrame(br *bufio.Reader) (op ws.OpCode, first byte, err error) {
	h, err := br.Peek(2)
	if err != nil {
		return 0, 0, err
	}
	op = ws.OpCode(h[0] & 0x0f)
	n, hdr := int(h[1]&0x7f), 2
	switch n {
	case 126:
		if h, err = br.Peek(4); err != nil {
			return 0, 0, err
		}
		n, hdr = int(binary.BigEndian.Uint16(h[2:])), 4
	case 127:
		if h, err = br.Peek(10); err != nil {
			return 0, 0, err
		}
		n, hdr = int(binary.BigEndian.Uint64(h[2:])), 10
	}
	if _, err := br.Discard(hdr); err != nil {
		return 0, 0, err
	}
	if n > 0 {
		p, err := br.Peek(1)
		if err != nil {
			return 0, 0, err
		}
		first = p[0]
	}
	_, err = br.Discard(n)
	return op, first, err
}

// read counts the data frames of one client until its connection ends,
// answering pings (none are expected: the interval is an hour).
func (f *benchFleet) read(conn net.Conn, br *bufio.Reader) {
	for {
		op, first, err := readBenchFrame(br)
		if err != nil || op == ws.OpClose {
			return
		}
		if op == ws.OpText && first == '2' { // Engine.IO ping
			wsutil.WriteClientText(conn, []byte("3"))
			continue
		}
		if f.frames.Add(1) >= f.need.Load() {
			select {
			case f.done <- struct{}{}:
			default:
			}
		}
	}
}

// awaitFrames waits until the clients have read n frames in all.
func (f *benchFleet) awaitFrames(b *testing.B, n int64) {
	f.need.Store(n)
	f.wait.Reset(10 * time.Second)
	defer f.wait.Stop()
	for f.frames.Load() < n {
		select {
		case <-f.done:
		case <-f.wait.C:
			b.Fatalf("clients read %d frames of %d", f.frames.Load(), n)
		}
	}
}

// run broadcasts args with op in the given mode; each broadcast reaches
// recipients clients with perEvent frames each.
func (f *benchFleet) run(b *testing.B, mode string, op BroadcastOperator, args []any, recipients, perEvent int) {
	per := int64(recipients * perEvent)
	base := f.frames.Load()
	var (
		iters  int64
		allocs uint64
		m0, m1 runtime.MemStats
	)
	emit := func() {
		if err := op.Emit("chat", args...); err != nil {
			b.Fatal(err)
		}
		iters++
	}
	b.ReportAllocs()
	runtime.ReadMemStats(&m0)
	switch mode {
	case "emit":
		for b.Loop() {
			b.StopTimer()
			runtime.ReadMemStats(&m0)
			b.StartTimer()
			emit()
			b.StopTimer()
			runtime.ReadMemStats(&m1)
			allocs += m1.Mallocs - m0.Mallocs
			f.awaitFrames(b, base+iters*per)
			b.StartTimer()
		}
	case "e2e":
		for b.Loop() {
			emit()
			f.awaitFrames(b, base+iters*per)
		}
	case "stream":
		for b.Loop() {
			if iters >= benchWindow {
				f.awaitFrames(b, base+(iters-benchWindow+1)*per)
			}
			emit()
		}
		f.awaitFrames(b, base+iters*per)
	}
	if mode != "emit" {
		runtime.ReadMemStats(&m1)
		allocs = m1.Mallocs - m0.Mallocs
	}
	if got := f.frames.Load() - base; got != iters*per {
		b.Fatalf("clients read %d frames, want %d", got, iters*per)
	}
	deliveries := float64(iters) * float64(recipients)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/deliveries, "ns/delivery")
	b.ReportMetric(float64(allocs)/deliveries, "allocs/delivery")
}

// Command pier-soak runs two Pier Socket.IO servers joined by the Redis
// adapter under mixed traffic with client churn for a while, printing the
// process's RSS, Go heap and goroutines at a fixed interval, so that a
// leak shows as a rising column. `make soak` runs it for 10 minutes
// (DURATION=2m to shorten). Without -redis it starts its own redis-server.
//
// Traffic: clients on both servers and on two namespaces connect, join
// rooms, send events with and without acks (one handler broadcasts to a
// room: a broadcast from a handler) and leave after a random lifetime, to
// be replaced; each server broadcasts to rooms, asks its clients for acks
// (EmitWithAck), fetches every socket of the cluster, moves sockets
// between rooms and sends server-side events.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/internal/wiretest"
	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/socketio"
)

func main() {
	duration := flag.Duration("duration", 10*time.Minute, "how long to run")
	every := flag.Duration("every", 30*time.Second, "interval between two reports")
	clients := flag.Int("clients", 100, "clients connected at any time (half on each server)")
	redisAddr := flag.String("redis", "", "host:port of a Redis server (default: start a private redis-server)")
	flag.Parse()
	if err := run(*duration, *every, *clients, *redisAddr); err != nil {
		log.Fatal(err)
	}
}

// counters of the whole run.
type counters struct {
	received, sent, acks, connects, errs, fetches, emitAcks atomic.Int64
}

func run(duration, every time.Duration, nClients int, redisAddr string) error {
	if redisAddr == "" {
		addr, stop, err := startRedis()
		if err != nil {
			return err
		}
		defer stop()
		redisAddr = addr
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var c counters
	var nodes []*node
	for _, name := range []string{"A", "B"} {
		n, err := startNode(name, redisAddr, logger, &c)
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var wg sync.WaitGroup
	for i := range nClients {
		wg.Add(1)
		go func() { defer wg.Done(); clientLoop(ctx, nodes[i%2].url, &c) }()
	}
	for _, n := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.traffic(ctx, &c) }()
	}
	start := time.Now()
	fmt.Printf("pier-soak: %d clients on 2 servers over Redis %s for %v\n", nClients, redisAddr, duration)
	fmt.Printf("%8s %8s %8s %10s %9s %9s %8s %7s %7s %6s\n", "elapsed", "rss_MB", "heap_MB", "goroutines", "received", "sent", "connects", "fetches", "acks", "errors")
	report := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Printf("%8s %8.1f %8.1f %10d %9d %9d %8d %7d %7d %6d\n", time.Since(start).Round(time.Second), rssMB(), float64(ms.HeapInuse)/(1<<20),
			runtime.NumGoroutine(), c.received.Load(), c.sent.Load(), c.connects.Load(), c.fetches.Load(), c.acks.Load()+c.emitAcks.Load(), c.errs.Load())
	}
	report()
	t := time.NewTicker(every)
	defer t.Stop()
loop:
	for {
		select {
		case <-t.C:
			report()
		case <-ctx.Done():
			break loop
		}
	}
	report()
	wg.Wait()
	for _, n := range nodes {
		n.close()
	}
	runtime.GC()
	time.Sleep(100 * time.Millisecond)
	fmt.Print("after shutdown: ")
	report()
	return nil
}

// rssMB is the resident set of this process (Linux; 0 elsewhere).
func rssMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return float64(kb) / 1024
		}
	}
	return 0
}

// startRedis starts a private redis-server on a free port.
func startRedis() (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "pier-soak-")
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("starting redis-server: %w", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	stop := func() { cmd.Process.Kill(); cmd.Wait(); os.RemoveAll(dir) }
	for deadline := time.Now().Add(10 * time.Second); redistest.Ping(addr) != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			stop()
			return "", nil, errors.New("redis-server did not answer")
		}
	}
	return addr, stop, nil
}

type node struct {
	srv  *socketio.Server
	http *http.Server
	rdb  *redis.Client
	url  string
}

var namespaces = []string{"/", "/chat"}

func room() socketio.Room { return socketio.Room("r" + strconv.Itoa(rand.IntN(10))) }

func startNode(name, addr string, logger *slog.Logger, c *counters) (*node, error) {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	srv, err := socketio.NewServer(&socketio.Options{Adapter: redisadapter.New(rdb, &redisadapter.Options{Logger: logger}), Logger: logger})
	if err != nil {
		return nil, err
	}
	for _, name := range namespaces {
		nsp := srv.Of(name)
		nsp.OnConnection(func(s *socketio.Socket) {
			s.Join(room(), room())
			s.On("echo", func(s *socketio.Socket, e *socketio.Event) { e.Ack(e.Values()...) })
			s.On("shout", func(s *socketio.Socket, e *socketio.Event) {
				if err := s.Namespace().To(room()).Emit("shouted", e.Values()...); err != nil {
					c.errs.Add(1)
				}
			})
		})
		nsp.OnServerSideEmit("hello", func(args socketio.Args, ack func(...any)) {
			if ack != nil {
				ack(name)
			}
		})
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	n := &node{srv: srv, http: &http.Server{Handler: srv}, rdb: rdb, url: "http://" + l.Addr().String()}
	go n.http.Serve(l)
	return n, nil
}

func (n *node) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n.srv.Shutdown(ctx)
	n.http.Shutdown(ctx)
	n.rdb.Close()
}

// traffic is a server's own activity until ctx ends.
func (n *node) traffic(ctx context.Context, c *counters) {
	payload := strings.Repeat("x", 200)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		nsp := n.srv.Of(namespaces[i%2])
		if err := nsp.To(room()).Emit("tick", i, payload); err != nil {
			c.errs.Add(1)
		}
		if i%50 != 0 {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if _, err := nsp.FetchSockets(rctx); err != nil && ctx.Err() == nil {
			c.errs.Add(1)
		}
		c.fetches.Add(1)
		acks, err := nsp.To(room()).Timeout(2*time.Second).EmitWithAck(rctx, "ask", i)
		if err != nil && !errors.Is(err, socketio.ErrAckTimeout) && ctx.Err() == nil {
			c.errs.Add(1)
		}
		c.emitAcks.Add(int64(len(acks)))
		if _, err := nsp.ServerSideEmitWithAck(rctx, "hello", i); err != nil && ctx.Err() == nil {
			c.errs.Add(1)
		}
		if err := nsp.In(room()).SocketsJoin(rctx, room()); err != nil {
			c.errs.Add(1)
		}
		if err := nsp.In(room()).SocketsLeave(rctx, room()); err != nil {
			c.errs.Add(1)
		}
		cancel()
	}
}

var askRe = regexp.MustCompile(`^42(/chat,)?(\d+)\[`)

// clientLoop keeps one client connected until ctx ends: each lives a
// random few seconds, then the next one connects.
func clientLoop(ctx context.Context, url string, c *counters) {
	for ctx.Err() == nil {
		if err := client(ctx, url, c); err != nil && ctx.Err() == nil {
			c.errs.Add(1)
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func client(ctx context.Context, url string, c *counters) error {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := wiretest.Dial(dctx, url, "/socket.io/", 4)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close()
	nsPrefix := "" // "/chat," on that namespace
	if nsp := namespaces[rand.IntN(2)]; nsp != "/" {
		nsPrefix = nsp + ","
	}
	if err := conn.Send("40" + nsPrefix); err != nil {
		return err
	}
	c.connects.Add(1)
	end := time.Now().Add(time.Duration(2+rand.IntN(20)) * time.Second)
	ackID := 0
	for time.Now().Before(end) && ctx.Err() == nil {
		p, err := conn.Read(500 * time.Millisecond)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			continue
		}
		if err != nil {
			return err
		}
		c.received.Add(1)
		if m := askRe.FindStringSubmatch(p); m != nil {
			if err := conn.Send("43" + m[1] + m[2] + `["ok"]`); err != nil {
				return err
			}
		}
		if strings.HasPrefix(p, "43") {
			c.acks.Add(1)
		}
		if rand.IntN(20) == 0 {
			body := `["shout","hey"]`
			if rand.IntN(2) == 0 {
				ackID++
				body = strconv.Itoa(ackID) + `["echo","hi"]`
			}
			if err := conn.Send("42" + nsPrefix + body); err != nil {
				return err
			}
			c.sent.Add(1)
		}
	}
	return nil
}

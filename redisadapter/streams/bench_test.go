package streams_test

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/internal/wiretest"
	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/redisadapter/streams"
	"github.com/pierhq/pier/socketio"
)

// redisCPU is the CPU time redis-server has used (INFO cpu).
func redisCPU(b *testing.B, rdb *redis.Client) time.Duration {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, l := range strings.Split(info, "\r\n") {
		k, v, _ := strings.Cut(l, ":")
		if k == "used_cpu_sys" || k == "used_cpu_user" {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// processCPU is the CPU time of this process (servers and clients).
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkClusterBroadcast compares the streams adapter with the pub/sub
// one: server A broadcasts to 20 clients on each of A and B. Reported:
// process CPU per delivery (servers and the in-process clients, so only
// the difference between the adapters means something) and redis-server
// CPU per broadcast.
func BenchmarkClusterBroadcast(b *testing.B) {
	for _, kind := range []string{"streams", "pubsub"} {
		b.Run(kind, func(b *testing.B) {
			rs := redistest.Start(b)
			var nodes []*socketio.Server
			var conns []*wiretest.Conn
			for range 2 {
				rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
				var f socketio.AdapterFactory
				if kind == "streams" {
					f = streams.New(rdb, &streams.Options{Logger: quiet})
				} else {
					f = redisadapter.New(rdb, &redisadapter.Options{Logger: quiet})
				}
				srv, err := socketio.NewServer(&socketio.Options{Adapter: f, Logger: quiet})
				if err != nil {
					b.Fatal(err)
				}
				hs := httptest.NewServer(srv)
				b.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					srv.Shutdown(ctx)
					hs.Close()
					rdb.Close()
				})
				nodes = append(nodes, srv)
				for range 20 {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					c, err := wiretest.Dial(ctx, hs.URL, "/socket.io/", 4)
					cancel()
					if err != nil {
						b.Fatal(err)
					}
					c.Send("40")
					if _, err := c.Read(10 * time.Second); err != nil {
						b.Fatal(err)
					}
					conns = append(conns, c)
				}
			}
			var got atomic.Int64
			var wg sync.WaitGroup
			for _, c := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						p, err := c.Read(time.Minute)
						if err != nil {
							return
						}
						if strings.HasPrefix(p, `42["tick"`) {
							got.Add(1)
						}
					}
				}()
			}
			b.Cleanup(func() {
				for _, c := range conns {
					c.Close()
				}
				wg.Wait()
			})
			stats := redis.NewClient(&redis.Options{Addr: rs.Addr()})
			defer stats.Close()
			want := int64(b.N * len(conns))
			b.ResetTimer()
			r0, p0 := redisCPU(b, stats), processCPU()
			for i := range b.N {
				if err := nodes[0].Of("/").Emit("tick", i); err != nil {
					b.Fatal(err)
				}
			}
			deadline := time.Now().Add(time.Minute)
			for got.Load() < want && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			if n := got.Load(); n != want {
				b.Fatalf("%d deliveries, want %d", n, want)
			}
			r1, p1 := redisCPU(b, stats), processCPU()
			b.ReportMetric(float64((r1-r0).Nanoseconds())/1e3/float64(b.N), "redis-µs/broadcast")
			b.ReportMetric(float64((p1-p0).Nanoseconds())/float64(want), "cpu-ns/delivery")
		})
	}
}

package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/socketio"
)

// Two pier backends on one Redis (standalone, or a real Redis Cluster given
// by URL, with either protocol) see each other: each counts two servers.
func TestBackendRedis(t *testing.T) {
	standalone := redistest.Shared(t)
	cluster := redistest.StartCluster(t)
	addrs := cluster.Addrs()
	clusterURL := "redis://" + addrs[0] + "?addr=" + strings.Join(addrs[1:], "&addr=")
	for _, tc := range []struct {
		name string
		rc   RedisConfig
	}{
		{"standalone", RedisConfig{URL: standalone.URL()}},
		{"standalone sharded", RedisConfig{URL: standalone.URL(), Sharded: true}},
		{"cluster", RedisConfig{URL: clusterURL, Cluster: true}},
		{"cluster sharded", RedisConfig{URL: clusterURL, Cluster: true, Sharded: true}},
		{"standalone streams", RedisConfig{URL: standalone.URL(), Adapter: "streams"}},
		{"cluster streams", RedisConfig{URL: clusterURL, Cluster: true, Adapter: "streams"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var servers []*socketio.Server
			for range 2 {
				be, err := newBackend(ctx, tc.rc, slog.New(slog.DiscardHandler), nil)
				if err != nil {
					t.Fatal(err)
				}
				io, err := socketio.NewServer(&socketio.Options{Adapter: be.adapter, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					io.Shutdown(sctx)
					cancel()
					be.close()
				})
				servers = append(servers, io)
			}
			a := servers[0].Of("/").Adapter().(interface {
				ServerCount(context.Context) (int, error)
			})
			var n int
			var err error
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if n, err = a.ServerCount(ctx); err == nil && n == 2 {
					return
				}
			}
			t.Fatalf("ServerCount = %d, %v; want 2", n, err)
		})
	}
	if _, err := newBackend(context.Background(), RedisConfig{URL: "redis://" + addrs[0] + "?addr=x", Cluster: false}, slog.New(slog.DiscardHandler), nil); err == nil {
		t.Error("a cluster URL without -redis-cluster was accepted")
	}
}

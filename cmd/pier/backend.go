package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/redisadapter/streams"
	"github.com/pierhq/pier/session"
	"github.com/pierhq/pier/session/redisstore"
	"github.com/pierhq/pier/socketio"
)

// backend is where Pier keeps its shared state: in memory by default, or
// in Redis when a Redis URL is given, so that several Pier (and Node)
// servers share rooms, broadcasts and sessions.
type backend struct {
	adapter  socketio.AdapterFactory // nil: in-memory
	sessions session.Store
	rdb      redis.UniversalClient // nil: in-memory
	close    func() error
}

// newBackend builds the backend for rc; hook, when not nil, sees every
// Redis command (metrics).
func newBackend(ctx context.Context, rc RedisConfig, log *slog.Logger, hook redis.Hook) (*backend, error) {
	if rc.URL == "" {
		mem := session.NewMemoryStore(nil)
		return &backend{sessions: mem, close: func() error { mem.Close(); return nil }}, nil
	}
	var rdb redis.UniversalClient
	var addrs []string
	if rc.Cluster {
		opt, err := redis.ParseClusterURL(rc.URL)
		if err != nil {
			return nil, fmt.Errorf("redis cluster URL: %w", err)
		}
		rdb, addrs = redis.NewClusterClient(opt), opt.Addrs
	} else {
		opt, err := redis.ParseURL(rc.URL)
		if err != nil {
			return nil, fmt.Errorf("redis URL: %w", err)
		}
		rdb, addrs = redis.NewClient(opt), []string{opt.Addr}
	}
	if hook != nil {
		rdb.AddHook(hook)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis %v: %w", addrs, err)
	}
	proto := redisadapter.Classic
	if rc.Sharded {
		proto = redisadapter.Sharded
	}
	adapter := redisadapter.New(rdb, &redisadapter.Options{Logger: log, Protocol: proto, Key: rc.Key, LegacyPeers: rc.LegacyPeers})
	if rc.Adapter == "streams" {
		adapter = streams.New(rdb, &streams.Options{Logger: log})
	}
	log.Info("pier: using Redis for the adapter and the sessions", "addrs", addrs, "cluster", rc.Cluster, "adapter", rc.Adapter, "sharded", rc.Sharded)
	return &backend{
		adapter:  adapter,
		sessions: redisstore.New(rdb, nil),
		rdb:      rdb,
		close:    rdb.Close,
	}, nil
}

// sessionSecrets returns the configured session secret, or a random one
// for this process only (never in production: the configuration refuses
// to start without one there).
func sessionSecrets(secret string, log *slog.Logger) []string {
	if secret != "" {
		return []string{secret}
	}
	var b [32]byte
	rand.Read(b[:])
	log.Warn("pier: session.secret (PIER_SESSION_SECRET) is not set: sessions are signed with a random secret and end with this process")
	return []string{hex.EncodeToString(b[:])}
}

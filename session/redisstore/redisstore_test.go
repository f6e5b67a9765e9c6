package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/redistest"
	"github.com/pierhq/pier/session"
	"github.com/pierhq/pier/session/redisstore"
)

// cmdLog records the commands a client sends.
type cmdLog struct {
	mu   sync.Mutex
	cmds []string
}

func (l *cmdLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (l *cmdLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := make([]string, len(cmd.Args()))
		for i, a := range cmd.Args() {
			if b, ok := a.([]byte); ok {
				a = string(b)
			}
			args[i] = fmt.Sprint(a)
		}
		if args[0] == "hello" || args[0] == "client" { // connection setup
			return next(ctx, cmd)
		}
		l.mu.Lock()
		l.cmds = append(l.cmds, strings.Join(args, " "))
		l.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (l *cmdLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (l *cmdLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.cmds
	l.cmds = nil
	return c
}

func newClient(t *testing.T) (*redis.Client, *cmdLog) {
	t.Helper()
	srv := redistest.Shared(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { rdb.Close() })
	log := &cmdLog{}
	rdb.AddHook(log)
	return rdb, log
}

// uniquePrefix gives each test its own keys on the shared server.
func uniquePrefix(t *testing.T) string {
	var b [6]byte
	rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:]) + ":sess:"
}

func TestStoreCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb, log := newClient(t)
	p := uniquePrefix(t)
	s := redisstore.New(rdb, &redisstore.Options{Prefix: p})
	data := []byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"count":1}`)

	if _, err := s.Load(ctx, "a"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load(missing) = %v", err)
	}
	if err := s.Save(ctx, "a", data, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, "b", data, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := s.Touch(ctx, "a", time.Hour-time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := s.Touch(ctx, "missing", time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx, "a")
	if err != nil || string(got) != string(data) {
		t.Fatalf("Load = %s, %v", got, err)
	}
	if err := s.Save(ctx, "b", data, -1); err != nil { // expired: DEL, as connect-redis
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"get " + p + "a",
		"set " + p + "a " + string(data) + " ex 86400",
		"set " + p + "b " + string(data) + " ex 2", // Math.ceil(1500 / 1000)
		"expire " + p + "a 3600",
		"expire " + p + "missing 3600",
		"get " + p + "a",
		"del " + p + "b",
		"del " + p + "a",
	}
	if got := log.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n, _ := rdb.Exists(ctx, p+"a", p+"b").Result(); n != 0 {
		t.Fatalf("%d keys left", n)
	}
}

func TestStoreDefaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb, _ := newClient(t)
	s := redisstore.New(rdb, nil)
	var b [12]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	if got := s.Key(id); got != "sess:"+id {
		t.Fatalf("Key = %q", got)
	}
	if err := s.Save(ctx, id, []byte(`{}`), 0); err != nil {
		t.Fatal(err)
	}
	defer s.Delete(ctx, id)
	if ttl, _ := rdb.TTL(ctx, "sess:"+id).Result(); ttl != 86400*time.Second {
		t.Fatalf("TTL = %v", ttl)
	}
	s2 := redisstore.New(rdb, &redisstore.Options{TTL: 90 * time.Minute})
	s2.Touch(ctx, id, 0)
	if ttl, _ := rdb.TTL(ctx, "sess:"+id).Result(); ttl != 90*time.Minute {
		t.Fatalf("TTL after Touch = %v", ttl)
	}
}

func TestStoreDown(t *testing.T) {
	t.Parallel()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	s := redisstore.New(rdb, nil)
	if _, err := s.Load(context.Background(), "x"); err == nil || errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load with Redis down = %v, want a connection error", err)
	}
}

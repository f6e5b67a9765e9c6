package redisadapter

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/redistest"
)

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestQueueBounds fills a namespace's publish queue (Redis frozen) and its
// inbound queue (nobody taking) with 128 MiB each: each keeps its bound
// and the heap grows by about that much, not by what was pushed.
func TestQueueBounds(t *testing.T) {
	const limit, size, n = 1 << 20, 64 << 10, 2048
	rs := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr(), MaxRetries: -1})
	defer rdb.Close()
	h := newHub(rdb, Options{Key: "bounds", RequestsTimeout: 30 * time.Second, PublishQueueBytes: limit, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})

	t.Run("publish", func(t *testing.T) {
		o := newOutbox(h, "/")
		rs.Freeze(t)
		before := heapInUse()
		accepted := 0
		for range n {
			err := o.push(context.Background(), "bounds#/#", make([]byte, size), false)
			switch {
			case err == nil:
				accepted++
			case !errors.Is(err, ErrQueueFull):
				t.Fatal(err)
			}
		}
		grown := int64(heapInUse()) - int64(before)
		t.Logf("publish queue: %d of %d messages of %d bytes accepted; heap +%d KiB", accepted, n, size, grown>>10)
		// One may be in flight (taken from the queue), the rest within the bound.
		if accepted > limit/(size+64)+2 || grown > 4<<20 {
			t.Errorf("publish queue kept %d messages, heap +%d bytes; bound %d", accepted, grown, limit)
		}
		rs.Thaw(t)
		o.close()
	})
	t.Run("inbound", func(t *testing.T) {
		q := newInbox(limit)
		before := heapInUse()
		accepted := 0
		for range n {
			if q.push(inItem{channel: "c", payload: make([]byte, size)}) {
				accepted++
			}
		}
		grown := int64(heapInUse()) - int64(before)
		t.Logf("inbound queue: %d of %d messages of %d bytes accepted; heap +%d KiB", accepted, n, size, grown>>10)
		if accepted != limit/(size+64) || grown > 4<<20 {
			t.Errorf("inbound queue kept %d messages, heap +%d bytes; bound %d", accepted, grown, limit)
		}
		for _, it := range q.take() {
			q.done(it)
		}
		if q.bytes != 0 || !q.push(inItem{payload: make([]byte, size)}) {
			t.Errorf("after draining: %d bytes counted", q.bytes)
		}
	})
}

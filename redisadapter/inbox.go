package redisadapter

import "sync"

// inItem is one message of another node waiting for the namespace's
// goroutine.
type inItem struct {
	channel string
	kind    routeKind
	payload []byte
}

// inbox holds the messages of one namespace between the shared subscriber
// goroutine and the namespace's own, at most limit bytes of payload: when
// a namespace's handlers are slow, its messages past the bound are
// dropped (with a warning) instead of stalling the subscriber, which
// serves every namespace.
//
// Concurrency: push never blocks and is safe for concurrent use; mu is a
// leaf lock.
type inbox struct {
	limit int

	mu    sync.Mutex
	items []inItem
	bytes int

	wake chan struct{} // capacity 1
}

func newInbox(limit int) *inbox {
	return &inbox{limit: limit, wake: make(chan struct{}, 1)}
}

// push queues it and reports whether it fit (a message larger than the
// bound still fits into an empty queue).
func (q *inbox) push(it inItem) bool {
	q.mu.Lock()
	if q.bytes > 0 && q.bytes+itemSize(it.payload) > q.limit {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, it)
	q.bytes += itemSize(it.payload)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// take returns the queued messages (nil when none) and empties the queue;
// their bytes stay counted until done is called for each.
func (q *inbox) take() []inItem {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}

func (q *inbox) done(it inItem) {
	q.mu.Lock()
	q.bytes -= itemSize(it.payload)
	q.mu.Unlock()
}

// itemSize is what a queued message counts against a queue's bound: its
// payload and a fixed overhead, so that empty payloads are bounded too.
func itemSize(payload []byte) int { return len(payload) + 64 }

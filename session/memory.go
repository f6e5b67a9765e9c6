package session

import (
	"container/list"
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryOptions configures a MemoryStore. A nil *MemoryOptions, or a zero
// field, means the default.
type MemoryOptions struct {
	// DefaultTTL applies to sessions saved with ttl 0 (no cookie expiry).
	// Default 24 hours, connect-redis's default. (express-session's own
	// MemoryStore keeps such sessions forever.)
	DefaultTTL time.Duration
	// MaxEntries bounds the number of sessions; saving a new one beyond it
	// evicts the least recently saved or touched. Default 100,000.
	MaxEntries int
	// SweepInterval is how often expired sessions are removed in the
	// background (they are never returned by Load anyway). Default 1 minute.
	SweepInterval time.Duration
}

// Defaults of MemoryOptions.
const (
	DefaultMemoryTTL        = 24 * time.Hour
	DefaultMemoryMaxEntries = 100_000
	DefaultSweepInterval    = time.Minute
)

// MemoryStore is a Store in process memory, for tests and single-process
// servers: sessions are lost when the process ends and are not shared with
// other servers. It is safe for concurrent use. Its sweeper goroutine runs
// until Close.
type MemoryStore struct {
	ttl   time.Duration
	max   int
	mu    sync.Mutex
	m     map[string]*list.Element // of *memEntry
	order *list.List               // least recently written first
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

type memEntry struct {
	id      string
	data    []byte
	expires time.Time
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns a MemoryStore and starts its sweeper.
func NewMemoryStore(opts *MemoryOptions) *MemoryStore {
	var o MemoryOptions
	if opts != nil {
		o = *opts
	}
	if o.DefaultTTL <= 0 {
		o.DefaultTTL = DefaultMemoryTTL
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMemoryMaxEntries
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	s := &MemoryStore{
		ttl:   o.DefaultTTL,
		max:   o.MaxEntries,
		m:     make(map[string]*list.Element),
		order: list.New(),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go s.sweeper(o.SweepInterval)
	return s
}

// Load returns a copy of the session's data, or ErrNotFound.
func (s *MemoryStore) Load(_ context.Context, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.m[id]
	if !ok {
		return nil, ErrNotFound
	}
	e := el.Value.(*memEntry)
	if !time.Now().Before(e.expires) {
		s.removeLocked(el)
		return nil, ErrNotFound
	}
	return slices.Clone(e.data), nil
}

// Save stores a copy of data; see Store for ttl.
func (s *MemoryStore) Save(_ context.Context, id string, data []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ttl < 0 {
		if el, ok := s.m[id]; ok {
			s.removeLocked(el)
		}
		return nil
	}
	expires := time.Now().Add(s.ttlOr(ttl))
	if el, ok := s.m[id]; ok {
		e := el.Value.(*memEntry)
		e.data, e.expires = slices.Clone(data), expires
		s.order.MoveToBack(el)
		return nil
	}
	for len(s.m) >= s.max {
		s.removeLocked(s.order.Front())
	}
	s.m[id] = s.order.PushBack(&memEntry{id: id, data: slices.Clone(data), expires: expires})
	return nil
}

// Touch renews the session's expiry; see Store for ttl.
func (s *MemoryStore) Touch(_ context.Context, id string, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.m[id]
	if !ok {
		return nil
	}
	if ttl < 0 {
		s.removeLocked(el)
		return nil
	}
	el.Value.(*memEntry).expires = time.Now().Add(s.ttlOr(ttl))
	s.order.MoveToBack(el)
	return nil
}

// Delete removes the session.
func (s *MemoryStore) Delete(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.m[id]; ok {
		s.removeLocked(el)
	}
	return nil
}

// Len returns the number of sessions held, expired ones not yet swept
// included.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Close stops the sweeper and waits for it. The store still works
// afterwards, without background sweeping. Close is idempotent.
func (s *MemoryStore) Close() error {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

func (s *MemoryStore) ttlOr(ttl time.Duration) time.Duration {
	if ttl == 0 {
		return s.ttl
	}
	return ttl
}

func (s *MemoryStore) removeLocked(el *list.Element) {
	delete(s.m, el.Value.(*memEntry).id)
	s.order.Remove(el)
}

func (s *MemoryStore) sweeper(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// sweep removes expired sessions, a bounded batch per lock hold so that a
// large store does not stall requests.
func (s *MemoryStore) sweep() {
	const batch = 1024
	var el *list.Element
	s.mu.Lock()
	el = s.order.Front()
	for el != nil {
		now := time.Now()
		for i := 0; i < batch && el != nil; i++ {
			next := el.Next()
			if !now.Before(el.Value.(*memEntry).expires) {
				s.removeLocked(el)
			}
			el = next
		}
		if el == nil {
			break
		}
		// Let requests in; el stays valid unless it is removed meanwhile,
		// in which case the next sweep finishes the job.
		s.mu.Unlock()
		s.mu.Lock()
		if _, ok := s.m[el.Value.(*memEntry).id]; !ok || s.m[el.Value.(*memEntry).id] != el {
			break
		}
	}
	s.mu.Unlock()
}

package session

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMemoryStoreBasics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := NewMemoryStore(nil)
	defer s.Close()
	if _, err := s.Load(ctx, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load(missing) = %v", err)
	}
	data := []byte(`{"a":1}`)
	s.Save(ctx, "x", data, 0)
	data[2] = 'b' // the store keeps its own copy
	got, err := s.Load(ctx, "x")
	if err != nil || string(got) != `{"a":1}` {
		t.Fatalf("Load = %s, %v", got, err)
	}
	got[2] = 'c'
	if again, _ := s.Load(ctx, "x"); string(again) != `{"a":1}` {
		t.Fatalf("Load returned the store's slice: %s", again)
	}
	s.Save(ctx, "x", []byte(`{}`), -1) // expired: deleted
	if _, err := s.Load(ctx, "x"); !errors.Is(err, ErrNotFound) || s.Len() != 0 {
		t.Fatalf("Save(ttl<0) kept the session: %v", err)
	}
	s.Save(ctx, "y", data, 0)
	if err := s.Delete(ctx, "y"); err != nil || s.Len() != 0 {
		t.Fatal("Delete")
	}
	if err := s.Touch(ctx, "gone", time.Hour); err != nil {
		t.Fatal("Touch(missing)")
	}
}

func TestMemoryStoreExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := NewMemoryStore(&MemoryOptions{DefaultTTL: 40 * time.Millisecond, SweepInterval: time.Hour})
	defer s.Close()
	s.Save(ctx, "default", []byte(`{}`), 0)
	s.Save(ctx, "short", []byte(`{}`), 20*time.Millisecond)
	s.Save(ctx, "long", []byte(`{}`), time.Hour)
	s.Save(ctx, "touched", []byte(`{}`), 20*time.Millisecond)
	s.Touch(ctx, "touched", time.Hour)
	time.Sleep(60 * time.Millisecond)
	for id, live := range map[string]bool{"default": false, "short": false, "long": true, "touched": true} {
		if _, err := s.Load(ctx, id); (err == nil) != live {
			t.Errorf("%s: Load = %v, want live %v", id, err, live)
		}
	}
	s.Touch(ctx, "touched", -1)
	if _, err := s.Load(ctx, "touched"); !errors.Is(err, ErrNotFound) {
		t.Error("Touch(ttl<0) kept the session")
	}
}

func TestMemoryStoreSweeper(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := context.Background()
	s := NewMemoryStore(&MemoryOptions{SweepInterval: 5 * time.Millisecond})
	for i := range 3000 { // more than one sweep batch
		s.Save(ctx, fmt.Sprint("short", i), []byte(`{}`), 10*time.Millisecond)
	}
	s.Save(ctx, "long", []byte(`{}`), time.Hour)
	waitFor(t, "the sweeper", func() bool { return s.Len() == 1 })
	s.Close()
	s.Close() // idempotent
	if _, err := s.Load(ctx, "long"); err != nil {
		t.Fatal("usable after Close:", err)
	}
}

func TestMemoryStoreEviction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := NewMemoryStore(&MemoryOptions{MaxEntries: 3})
	defer s.Close()
	for _, id := range []string{"a", "b", "c"} {
		s.Save(ctx, id, []byte(`{}`), 0)
	}
	s.Touch(ctx, "a", 0)              // a is now the most recent
	s.Save(ctx, "b", []byte(`{}`), 0) // so is b; c is the oldest
	s.Save(ctx, "d", []byte(`{}`), 0) // evicts c
	s.Save(ctx, "e", []byte(`{}`), 0) // evicts a
	for id, live := range map[string]bool{"a": false, "b": true, "c": false, "d": true, "e": true} {
		if _, err := s.Load(ctx, id); (err == nil) != live {
			t.Errorf("%s: Load = %v, want live %v", id, err, live)
		}
	}
	if s.Len() != 3 {
		t.Errorf("Len = %d", s.Len())
	}
}

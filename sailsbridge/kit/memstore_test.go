package kit_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/pierhq/pier/sailsbridge/kit"
)

var petSchema = kit.Schema{
	{Identity: "user", Attributes: nameAttr, Associations: []kit.Association{{Name: "pets", Collection: "pet", Via: "owner"}}},
	{Identity: "pet", Attributes: nameAttr, Associations: []kit.Association{{Name: "owner", Model: "user"}}},
}

var nameAttr = map[string]string{"name": kit.TypeString}

func TestMemStore(t *testing.T) {
	ctx := context.Background()
	s := kit.NewMemStore(petSchema, nil)
	u, err := s.Create(ctx, "user", kit.Record{"name": "u1"})
	if err != nil || u["id"] != int64(1) || u["createdAt"] == nil || len(u["pets"].([]any)) != 0 {
		t.Fatalf("create %v %v", u, err)
	}
	for _, name := range []string{"p1", "p2", "p3"} {
		if _, err := s.Create(ctx, "pet", kit.Record{"name": name, "owner": int64(1)}); err != nil {
			t.Fatal(err)
		}
	}
	u2, _ := s.Create(ctx, "user", kit.Record{"name": "u2", "pets": []any{int64(3)}})
	if got := u2["pets"].([]any); len(got) != 1 || got[0] != int64(3) {
		t.Errorf("u2 pets %v", got)
	}
	u, _ = s.FindOne(ctx, "user", "01")
	if got := u["pets"].([]any); len(got) != 2 {
		t.Errorf("u1 pets %v, want [1 2]", got)
	}
	found, _ := s.Find(ctx, "pet", kit.Criteria{Where: map[string]any{"owner": "1"}, Sort: []kit.SortKey{{Attr: "id", Desc: true}}, Limit: 1})
	if len(found) != 1 || found[0]["id"] != int64(2) {
		t.Errorf("find %v", found)
	}
	if err := s.Remove(ctx, "user", 2, "pets", 1); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.FindOne(ctx, "pet", 1); p["owner"] != int64(1) {
		t.Errorf("removing pet 1 from user 2 changed its owner: %v", p)
	}
	if _, err := s.Destroy(ctx, "user", 1); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.FindOne(ctx, "pet", 1); p["owner"] != nil {
		t.Errorf("pet 1 of a destroyed user: %v", p)
	}
	if _, err := s.Create(ctx, "user", kit.Record{"id": int64(2)}); !errors.As(err, new(*kit.ValidationError)) {
		t.Errorf("duplicate id: %v", err)
	}
	if r, err := s.FindOne(ctx, "user", "abc"); r != nil || err != nil {
		t.Errorf("FindOne(abc) = %v, %v", r, err)
	}
}

// A MemStore filled by clients stays within MaxBytes: writes past it fail
// with ErrStoreFull, and the heap grows by about the bound, not by what
// was offered.
func TestMemStoreBound(t *testing.T) {
	ctx := context.Background()
	const bound = 4 << 20
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	s := kit.NewMemStore(petSchema, &kit.MemStoreOptions{MaxBytes: bound})
	value := strings.Repeat("x", 64<<10)
	full := 0
	for i := range 512 { // 32 MiB offered, each value its own copy
		_, err := s.Create(ctx, "pet", kit.Record{"name": strings.Clone(value), "n": i})
		if errors.Is(err, kit.ErrStoreFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	// Updates cannot grow a record past the bound either.
	if _, err := s.Update(ctx, "pet", 1, kit.Record{"name": value + value}); !errors.Is(err, kit.ErrStoreFull) {
		t.Errorf("growing update: %v", err)
	}
	grown := int64(heap()) - int64(before)
	runtime.KeepAlive(s)
	if full < 400 {
		t.Errorf("%d of 512 writes refused, want at least 400", full)
	}
	if grown > 3*bound {
		t.Errorf("heap grew by %d bytes for a %d-byte bound", grown, bound)
	}
	t.Logf("bound %d B: %d of 512 writes of 64 KiB refused, heap +%d B", bound, full, grown)
	n, _ := s.Find(ctx, "pet", kit.Criteria{})
	if len(n) != 512-full {
		t.Errorf("%d records kept, want %d", len(n), 512-full)
	}
	small := kit.NewMemStore(petSchema, &kit.MemStoreOptions{MaxRecords: 2})
	for i := range 3 {
		_, err := small.Create(ctx, "user", kit.Record{})
		if (i == 2) != errors.Is(err, kit.ErrStoreFull) {
			t.Errorf("create %d: %v", i, err)
		}
	}
}

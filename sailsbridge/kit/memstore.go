package kit

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// MemStore is an in-memory Store of the models of a Schema (model
// attributes, one-to-many and many-to-many associations), for demos and
// tests, like Sails' sails-disk in memory.
//
// Concurrency: all methods may be called concurrently; one mutex guards
// the tables and no callback runs under it.
type MemStore struct {
	schema Schema
	now    func() time.Time
	opts   MemStoreOptions

	mu     sync.Mutex
	tables map[string]*memTable
	links  map[string]map[[2]int64]bool // many-to-many pairs, by linkKey
	bytes  int                          // JSON size of all rows
}

type memTable struct {
	next int64
	rows map[int64]Record
	size map[int64]int // JSON size of each row
}

// MemStoreOptions bounds a MemStore, which clients fill through the
// blueprints; nil or zero fields mean the defaults.
type MemStoreOptions struct {
	// MaxRecords is the most records of one model. Default 10,000.
	MaxRecords int
	// MaxBytes bounds the JSON size of all records together. Default
	// 16 MiB.
	MaxBytes int
}

// Defaults of MemStoreOptions.
const (
	DefaultMaxRecords = 10_000
	DefaultMaxBytes   = 16 << 20
)

// ErrStoreFull is returned by a MemStore write past its bounds.
var ErrStoreFull = errors.New("kit: the store is full")

// NewMemStore returns an empty store of the models of schema.
func NewMemStore(schema Schema, opts *MemStoreOptions) *MemStore {
	s := &MemStore{schema: schema, now: time.Now, tables: make(map[string]*memTable), links: make(map[string]map[[2]int64]bool)}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.MaxRecords <= 0 {
		s.opts.MaxRecords = DefaultMaxRecords
	}
	if s.opts.MaxBytes <= 0 {
		s.opts.MaxBytes = DefaultMaxBytes
	}
	for _, m := range schema {
		s.tables[m.Identity] = &memTable{next: 1, rows: make(map[int64]Record), size: make(map[int64]int)}
	}
	return s
}

var _ Store = (*MemStore)(nil)

func (s *MemStore) table(model string) (*memTable, *Model, error) {
	t, m := s.tables[model], s.schema.model(model)
	if t == nil || m == nil {
		return nil, nil, fmt.Errorf("kit: unknown model %q", model)
	}
	return t, m, nil
}

func rowID(id any) (int64, bool) {
	n, ok := NormalizeID(id)
	if !ok || n == nil {
		return 0, false
	}
	return n.(int64), true
}

// out returns a copy of row with its collections computed. Callers hold
// s.mu.
func (s *MemStore) out(m *Model, row Record) Record {
	r := maps.Clone(row)
	for _, a := range m.Associations {
		if a.Collection == "" {
			continue
		}
		ids := []any{}
		if key, side, ok := s.linkKey(m, &a); ok {
			own := row["id"].(int64)
			var others []int64
			for p := range s.links[key] {
				if p[side] == own {
					others = append(others, p[1-side])
				}
			}
			slices.Sort(others)
			for _, o := range others {
				ids = append(ids, o)
			}
		} else if ct := s.tables[a.Collection]; ct != nil {
			for _, cid := range sortedIDs(ct) {
				if sameID(ct.rows[cid][a.Via], row["id"]) {
					ids = append(ids, cid)
				}
			}
		}
		r[a.Name] = ids
	}
	return r
}

// account records the size of row as the new size of record id, failing
// with ErrStoreFull past MaxBytes. Callers hold s.mu.
func (s *MemStore) account(t *memTable, id int64, row Record) error {
	b, err := json.Marshal(row)
	if err != nil {
		return &ValidationError{err.Error()}
	}
	if s.bytes-t.size[id]+len(b) > s.opts.MaxBytes {
		return ErrStoreFull
	}
	s.bytes += len(b) - t.size[id]
	t.size[id] = len(b)
	return nil
}

// linkKey returns, for a many-to-many collection a of m, the key of its
// pairs and which side of a pair (0 or 1) holds m's ids; ok is false for
// any other association.
func (s *MemStore) linkKey(m *Model, a *Association) (key string, side int, ok bool) {
	inv := s.schema.inverse(m, a)
	if a.Collection == "" || inv == nil || inv.Collection == "" {
		return "", 0, false
	}
	mine, theirs := m.Identity+"."+a.Name, a.Collection+"."+inv.Name
	if mine < theirs {
		return mine + "|" + theirs, 0, true
	}
	return theirs + "|" + mine, 1, true
}

// pairBytes is what one many-to-many pair counts against MaxBytes.
const pairBytes = 48

// link adds (on) or removes the pair of record id of m and child in the
// many-to-many collection of key, failing with ErrStoreFull past
// MaxBytes. Callers hold s.mu.
func (s *MemStore) link(key string, side int, id, child int64, on bool) error {
	p := [2]int64{id, child}
	if side == 1 {
		p = [2]int64{child, id}
	}
	if !on {
		if s.links[key][p] {
			delete(s.links[key], p)
			s.bytes -= pairBytes
		}
		return nil
	}
	if s.links[key][p] {
		return nil
	}
	if s.bytes+pairBytes > s.opts.MaxBytes {
		return ErrStoreFull
	}
	if s.links[key] == nil {
		s.links[key] = make(map[[2]int64]bool)
	}
	s.links[key][p] = true
	s.bytes += pairBytes
	return nil
}

func sortedIDs(t *memTable) []int64 {
	ids := slices.Collect(maps.Keys(t.rows))
	slices.Sort(ids)
	return ids
}

func (s *MemStore) Find(ctx context.Context, model string, c Criteria) ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, m, err := s.table(model)
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, id := range sortedIDs(t) {
		r := s.out(m, t.rows[id])
		if matches(r, c.Where) {
			out = append(out, r)
		}
	}
	if len(c.Sort) > 0 {
		slices.SortStableFunc(out, func(a, b Record) int {
			for _, k := range c.Sort {
				if d := compareValues(a[k.Attr], b[k.Attr]); d != 0 {
					if k.Desc {
						return -d
					}
					return d
				}
			}
			return 0
		})
	}
	out = out[min(c.Skip, len(out)):]
	if c.Limit > 0 && len(out) > c.Limit {
		out = out[:c.Limit]
	}
	if out == nil {
		out = []Record{}
	}
	return out, nil
}

func matches(r Record, where map[string]any) bool {
	for k, want := range where {
		got, ok := r[k]
		if !ok {
			return false
		}
		if list, ok := want.([]any); ok {
			if !slices.ContainsFunc(list, func(w any) bool { return equalValues(got, w) }) {
				return false
			}
			continue
		}
		if !equalValues(got, want) {
			return false
		}
	}
	return true
}

func equalValues(a, b any) bool {
	if na, ok := NormalizeID(a); ok {
		if nb, ok := NormalizeID(b); ok {
			return sameID(na, nb)
		}
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func compareValues(a, b any) int {
	na, oka := toFloat(a)
	nb, okb := toFloat(b)
	if oka && okb {
		return cmp.Compare(na, nb)
	}
	return cmp.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case int64:
		return float64(t), true
	case int:
		return float64(t), true
	case float64:
		return t, true
	}
	return 0, false
}

func (s *MemStore) FindOne(ctx context.Context, model string, id any) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, m, err := s.table(model)
	if err != nil {
		return nil, err
	}
	n, ok := rowID(id)
	if !ok || t.rows[n] == nil {
		return nil, nil
	}
	return s.out(m, t.rows[n]), nil
}

func (s *MemStore) Create(ctx context.Context, model string, values Record) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, m, err := s.table(model)
	if err != nil {
		return nil, err
	}
	row := maps.Clone(values)
	if row == nil {
		row = Record{}
	}
	if len(t.rows) >= s.opts.MaxRecords {
		return nil, ErrStoreFull
	}
	// As sails-disk: an explicit id does not move the sequence; the
	// sequence steps over ids taken explicitly.
	id, explicit := t.next, false
	for t.rows[id] != nil {
		id++
	}
	if v, ok := row["id"]; ok && v != nil {
		n, ok := rowID(v)
		if !ok {
			return nil, &ValidationError{fmt.Sprintf("id %v is not a number", v)}
		}
		if t.rows[n] != nil {
			return nil, &ValidationError{fmt.Sprintf("a %s with id %d exists", model, n)}
		}
		id, explicit = n, true
	}
	now := s.now().UnixMilli()
	row["id"], row["createdAt"], row["updatedAt"] = id, now, now
	colls := s.takeCollections(m, row)
	if err := s.account(t, id, row); err != nil {
		return nil, err
	}
	if !explicit {
		t.next = id + 1
	}
	t.rows[id] = row
	for name, ids := range colls {
		if err := s.replaceLocked(m, id, name, ids); err != nil {
			return nil, err
		}
	}
	return s.out(m, row), nil
}

// takeCollections removes the collection attributes from row and returns
// their member ids.
func (s *MemStore) takeCollections(m *Model, row Record) map[string][]any {
	colls := map[string][]any{}
	for _, a := range m.Associations {
		if a.Collection == "" {
			continue
		}
		if v, ok := row[a.Name]; ok {
			delete(row, a.Name)
			if list, ok := v.([]any); ok {
				colls[a.Name] = list
			}
		}
	}
	return colls
}

func (s *MemStore) Update(ctx context.Context, model string, id any, values Record) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, m, err := s.table(model)
	if err != nil {
		return nil, err
	}
	n, ok := rowID(id)
	if !ok || t.rows[n] == nil {
		return nil, nil
	}
	row := maps.Clone(t.rows[n])
	vals := maps.Clone(values)
	delete(vals, "id")
	colls := s.takeCollections(m, vals)
	maps.Copy(row, vals)
	row["updatedAt"] = s.now().UnixMilli()
	if err := s.account(t, n, row); err != nil {
		return nil, err
	}
	t.rows[n] = row
	for name, ids := range colls {
		if err := s.replaceLocked(m, n, name, ids); err != nil {
			return nil, err
		}
	}
	return s.out(m, row), nil
}

func (s *MemStore) Destroy(ctx context.Context, model string, id any) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, m, err := s.table(model)
	if err != nil {
		return nil, err
	}
	n, ok := rowID(id)
	if !ok || t.rows[n] == nil {
		return nil, nil
	}
	r := s.out(m, t.rows[n])
	for _, a := range m.Associations {
		if a.Collection != "" {
			s.replaceLocked(m, n, a.Name, nil)
		}
	}
	delete(t.rows, n)
	s.bytes -= t.size[n]
	delete(t.size, n)
	return r, nil
}

// member returns the row of child in the collection attr of m.
func (s *MemStore) member(m *Model, attr string, child any) (*Association, Record, error) {
	a := m.assoc(attr)
	if a == nil || a.Collection == "" {
		return nil, nil, fmt.Errorf("kit: %s.%s is not a collection", m.Identity, attr)
	}
	ct := s.tables[a.Collection]
	if ct == nil {
		return nil, nil, fmt.Errorf("kit: unknown model %q", a.Collection)
	}
	n, _ := rowID(child)
	return a, ct.rows[n], nil
}

func (s *MemStore) Add(ctx context.Context, model string, id any, attr string, child any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m, err := s.table(model)
	if err != nil {
		return err
	}
	a, row, err := s.member(m, attr, child)
	if err != nil || row == nil {
		return err
	}
	n, _ := rowID(id)
	if key, side, ok := s.linkKey(m, a); ok {
		return s.link(key, side, n, row["id"].(int64), true)
	}
	row[a.Via] = n
	return nil
}

func (s *MemStore) Remove(ctx context.Context, model string, id any, attr string, child any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m, err := s.table(model)
	if err != nil {
		return err
	}
	a, row, err := s.member(m, attr, child)
	if err != nil || row == nil {
		return err
	}
	if key, side, ok := s.linkKey(m, a); ok {
		n, _ := rowID(id)
		return s.link(key, side, n, row["id"].(int64), false)
	}
	if sameID(row[a.Via], mustID(id)) {
		row[a.Via] = nil
	}
	return nil
}

func mustID(v any) any {
	n, _ := NormalizeID(v)
	return n
}

func (s *MemStore) Replace(ctx context.Context, model string, id any, attr string, children []any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m, err := s.table(model)
	if err != nil {
		return err
	}
	if a := m.assoc(attr); a == nil || a.Collection == "" {
		return fmt.Errorf("kit: %s.%s is not a collection", model, attr)
	}
	n, _ := rowID(id)
	return s.replaceLocked(m, n, attr, children)
}

// replaceLocked makes children the members of the collection attr of
// record id. Callers hold s.mu.
func (s *MemStore) replaceLocked(m *Model, id int64, attr string, children []any) error {
	a := m.assoc(attr)
	ct := s.tables[a.Collection]
	if ct == nil {
		return nil
	}
	if key, side, ok := s.linkKey(m, a); ok {
		for p := range s.links[key] {
			if p[side] == id {
				s.link(key, side, p[side], p[1-side], false)
			}
		}
		for _, c := range children {
			if n, ok := rowID(c); ok && ct.rows[n] != nil {
				if err := s.link(key, side, id, n, true); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, row := range ct.rows {
		if sameID(row[a.Via], id) {
			row[a.Via] = nil
		}
	}
	for _, c := range children {
		if n, ok := rowID(c); ok && ct.rows[n] != nil {
			ct.rows[n][a.Via] = id
		}
	}
	return nil
}

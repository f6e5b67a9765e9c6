package kit

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/pierhq/pier/sailsbridge"
)

// The read actions: find, findOne, populate, and how records are
// populated and sockets deep-subscribed.

// populate returns r with its associations populated one level: a model
// attribute as the referenced record without its collections (nil when
// unset or dangling), a collection as its members (at most 30, by id)
// without their collections.
func (b *Blueprints) populate(ctx context.Context, m *Model, r Record) (Record, error) {
	out := maps.Clone(r)
	for _, a := range m.Associations {
		t := b.schema.model(a.Target())
		if a.Collection != "" {
			ids, _ := r[a.Name].([]any)
			kids := []any{}
			if len(ids) > 0 {
				recs, err := b.store.Find(ctx, a.Collection, Criteria{Where: map[string]any{"id": ids}, Sort: []SortKey{{Attr: "id"}}, Limit: 30})
				if err != nil {
					return nil, err
				}
				for _, k := range recs {
					kids = append(kids, b.shallow(t, k))
				}
			}
			out[a.Name] = kids
			continue
		}
		out[a.Name] = nil
		if v := r[a.Name]; v != nil {
			rec, err := b.store.FindOne(ctx, a.Model, v)
			if err != nil {
				return nil, err
			}
			if rec != nil {
				out[a.Name] = b.shallow(t, rec)
			}
		}
	}
	return out, nil
}

// shallow returns r without the collections of its model.
func (b *Blueprints) shallow(m *Model, r Record) Record {
	if m == nil {
		return r
	}
	for _, a := range m.Associations {
		if a.Collection != "" {
			delete(r, a.Name)
		}
	}
	return r
}

// deep subscribes socket sid to what a populated record refers to, as
// Sails' blueprints do after find, findOne and populate.
func (b *Blueprints) deep(ctx context.Context, sid string, m *Model, pop Record) {
	for _, a := range m.Associations {
		if b.autoWatch() {
			b.logPub(b.ps.watch(ctx, sid, a.Target()))
		}
		switch v := pop[a.Name].(type) {
		case []any:
			for _, k := range v {
				if kr, ok := k.(Record); ok {
					b.logPub(b.ps.subscribe(ctx, sid, a.Target(), kr["id"]))
				}
			}
		case Record:
			b.logPub(b.ps.subscribe(ctx, sid, a.Target(), v["id"]))
		}
	}
}

func (b *Blueprints) find(w http.ResponseWriter, r *http.Request, m *Model) {
	c, ok := b.criteria(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	recs, err := b.store.Find(ctx, m.Identity, c)
	if err != nil {
		b.fail(w, r, err)
		return
	}
	out := make([]Record, len(recs))
	for i, rec := range recs {
		if out[i], err = b.populate(ctx, m, rec); err != nil {
			b.fail(w, r, err)
			return
		}
	}
	if sid := sailsbridge.GetID(r); sid != "" {
		for _, rec := range out {
			b.logPub(b.ps.subscribe(ctx, sid, m.Identity, rec["id"]))
		}
		if shadow(r) {
			if b.autoWatch() {
				b.logPub(b.ps.watch(ctx, sid, m.Identity))
			}
			for _, rec := range out {
				b.deep(ctx, sid, m, rec)
			}
		}
	}
	JSON(w, r, http.StatusOK, out)
}

// criteria builds the find criteria from all params as Sails does: limit
// (default 30), skip and sort are options, select, omit and populate are
// ignored, and the rest is the where clause unless a where param is given
// (an object or its JSON).
func (b *Blueprints) criteria(w http.ResponseWriter, r *http.Request) (Criteria, bool) {
	params, err := AllParams(r)
	if err != nil {
		BadRequest(w, r, nil)
		return Criteria{}, false
	}
	c := Criteria{Limit: 30}
	for _, k := range []string{"limit", "skip"} {
		v, ok := params[k]
		if !ok {
			continue
		}
		delete(params, k)
		n, ok := NormalizeID(v)
		if !ok || n == nil || n.(int64) < 0 {
			paramsError(w, r, "E_INVALID_CRITERIA", "Invalid "+k+": expected a non-negative integer")
			return Criteria{}, false
		}
		if k == "limit" {
			c.Limit = int(n.(int64))
		} else {
			c.Skip = int(n.(int64))
		}
	}
	if v, ok := params["sort"]; ok {
		delete(params, "sort")
		if c.Sort, ok = parseSort(v); !ok {
			paramsError(w, r, "E_INVALID_CRITERIA", "Invalid sort")
			return Criteria{}, false
		}
	}
	for _, k := range []string{"select", "omit", "populate"} {
		delete(params, k)
	}
	c.Where = params
	if v, ok := params["where"]; ok {
		switch t := v.(type) {
		case map[string]any:
			c.Where = t
		case string:
			var where map[string]any
			if err := json.Unmarshal([]byte(t), &where); err != nil {
				b.fail(w, r, fmt.Errorf("could not parse the where criteria: %w", err))
				return Criteria{}, false
			}
			c.Where = where
		default:
			paramsError(w, r, "E_INVALID_CRITERIA", "Invalid where")
			return Criteria{}, false
		}
	}
	return c, true
}

// parseSort reads "attr [ASC|DESC]" lists (comma separated) and
// {"attr":"DESC"} objects.
func parseSort(v any) ([]SortKey, bool) {
	var keys []SortKey
	switch t := v.(type) {
	case string:
		if strings.HasPrefix(strings.TrimSpace(t), "{") || strings.HasPrefix(strings.TrimSpace(t), "[") {
			var j any
			if json.Unmarshal([]byte(t), &j) != nil {
				return nil, false
			}
			return parseSort(j)
		}
		for _, part := range strings.Split(t, ",") {
			f := strings.Fields(part)
			if len(f) == 0 || len(f) > 2 {
				return nil, false
			}
			k := SortKey{Attr: f[0]}
			if len(f) == 2 {
				switch strings.ToUpper(f[1]) {
				case "DESC":
					k.Desc = true
				case "ASC":
				default:
					return nil, false
				}
			}
			keys = append(keys, k)
		}
	case map[string]any:
		for attr, dir := range t {
			d, _ := dir.(string)
			keys = append(keys, SortKey{Attr: attr, Desc: strings.EqualFold(d, "DESC")})
		}
	case []any:
		for _, x := range t {
			k, ok := parseSort(x)
			if !ok {
				return nil, false
			}
			keys = append(keys, k...)
		}
	default:
		return nil, false
	}
	return keys, true
}

// one finds and populates record id of m; rec is nil when missing.
func (b *Blueprints) one(ctx context.Context, m *Model, id any) (raw, pop Record, err error) {
	raw, err = b.store.FindOne(ctx, m.Identity, id)
	if err != nil || raw == nil {
		return nil, nil, err
	}
	pop, err = b.populate(ctx, m, raw)
	return raw, pop, err
}

func (b *Blueprints) findOne(w http.ResponseWriter, r *http.Request, m *Model) {
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	ctx := r.Context()
	_, pop, err := b.one(ctx, m, id)
	if err != nil {
		b.fail(w, r, err)
		return
	}
	if pop == nil {
		NotFound(w, r)
		return
	}
	if sid := sailsbridge.GetID(r); sid != "" {
		b.logPub(b.ps.subscribe(ctx, sid, m.Identity, pop["id"]))
		if shadow(r) {
			b.deep(ctx, sid, m, pop)
		}
	}
	JSON(w, r, http.StatusOK, pop)
}

package kit

import (
	"context"
	"maps"
	"net/http"

	"github.com/pierhq/pier/sailsbridge"
)

// The write actions on records: create, update, destroy.

// values returns the params of a create or update with association values
// normalized: a model attribute to an id (nil kept), a collection to a
// list of ids. ok is false (and 400 answered) for a value that is not.
func (b *Blueprints) values(w http.ResponseWriter, r *http.Request, m *Model, code string) (Record, bool) {
	params, err := AllParams(r)
	if err != nil {
		BadRequest(w, r, nil)
		return nil, false
	}
	for _, a := range m.Associations {
		v, ok := params[a.Name]
		if !ok {
			continue
		}
		if a.Collection == "" {
			id, ok := NormalizeID(v)
			if !ok {
				paramsError(w, r, code, "Invalid value for "+a.Name+": expected the id of a "+a.Model)
				return nil, false
			}
			params[a.Name] = id
			continue
		}
		list, ok := v.([]any)
		if !ok {
			if id, ok := NormalizeID(v); ok && id != nil {
				list = []any{id}
			} else {
				paramsError(w, r, code, "Invalid value for "+a.Name+": expected an array of ids of "+a.Collection)
				return nil, false
			}
		}
		ids := make([]any, 0, len(list))
		for _, x := range list {
			id, ok := NormalizeID(x)
			if !ok || id == nil {
				paramsError(w, r, code, "Invalid value for "+a.Name+": expected an array of ids of "+a.Collection)
				return nil, false
			}
			ids = append(ids, id)
		}
		params[a.Name] = ids
	}
	for name, typ := range m.Attributes {
		v, ok := params[name]
		if !ok {
			continue
		}
		c, why, ok := coerce(typ, v)
		if !ok {
			paramsError(w, r, code, "Invalid value for "+name+": "+why)
			return nil, false
		}
		params[name] = c
	}
	return Record(params), true
}

func (b *Blueprints) create(w http.ResponseWriter, r *http.Request, m *Model) {
	vals, ok := b.values(w, r, m, "E_INVALID_NEW_RECORD")
	if !ok {
		return
	}
	for name, typ := range m.Attributes {
		if _, ok := vals[name]; !ok {
			if v, ok := baseValue(typ); ok {
				vals[name] = v
			}
		}
	}
	if v, ok := vals["id"]; ok {
		id, ok := NormalizeID(v)
		if !ok {
			paramsError(w, r, "E_INVALID_NEW_RECORD", "Invalid id: expected a number")
			return
		}
		vals["id"] = id
	}
	ctx := r.Context()
	// Owners of the children given in collections, before they move.
	type moved struct {
		a        *Association
		child    any
		oldOwner any
	}
	var moves []moved
	for i := range m.Associations {
		a := &m.Associations[i]
		ids, _ := vals[a.Name].([]any)
		if inv := b.schema.inverse(m, a); a.Collection == "" || len(ids) == 0 || inv == nil || inv.Collection != "" {
			continue // only a one-to-many child has one previous owner
		}
		for _, c := range ids {
			kid, err := b.store.FindOne(ctx, a.Collection, c)
			if err != nil {
				b.fail(w, r, err)
				return
			}
			if kid != nil && kid[a.Via] != nil {
				moves = append(moves, moved{a, c, kid[a.Via]})
			}
		}
	}
	rec, err := b.store.Create(ctx, m.Identity, vals)
	if err != nil {
		b.storeError(w, r, "E_INVALID_NEW_RECORD", err)
		return
	}
	pop, err := b.populate(ctx, m, rec)
	if err != nil {
		b.fail(w, r, err)
		return
	}
	id := rec["id"]
	omit := sailsbridge.GetID(r)
	// (1) reverse messages of the association values.
	for i := range m.Associations {
		a := &m.Associations[i]
		inv := b.schema.inverse(m, a)
		if a.Collection == "" {
			if v := rec[a.Name]; v != nil && inv != nil && inv.Collection != "" {
				b.logPub(b.ps.added(ctx, a.Model, v, inv.Name, id, omit))
			}
			continue
		}
		ids, _ := vals[a.Name].([]any)
		for _, c := range ids {
			b.logPub(b.reverseSet(ctx, a, inv, c, id, true, omit))
		}
	}
	// (2) created, (3) introduce.
	b.logPub(b.ps.created(ctx, m.Identity, id, pop, omit))
	// (4) the previous owners of moved children.
	for _, mv := range moves {
		b.logPub(b.ps.removed(ctx, m.Identity, mv.oldOwner, mv.a.Name, mv.child, omit))
	}
	if omit != "" {
		b.logPub(b.ps.subscribe(ctx, omit, m.Identity, id))
	}
	JSON(w, r, http.StatusOK, pop)
}

// reverseSet tells the subscribers of child c (of collection a) that it
// was added to (added) or removed from parent: "updated" {via: parent or
// null} for a one-to-many association, addedTo/removedFrom on the
// child's own collection for a many-to-many one.
func (b *Blueprints) reverseSet(ctx context.Context, a, inv *Association, c, parent any, added bool, omit string) error {
	switch {
	case inv == nil:
		return nil
	case inv.Collection != "" && added:
		return b.ps.added(ctx, a.Collection, c, inv.Name, parent, omit)
	case inv.Collection != "":
		return b.ps.removed(ctx, a.Collection, c, inv.Name, parent, omit)
	}
	var owner any
	if added {
		owner = parent
	}
	return b.ps.updated(ctx, a.Collection, c, map[string]any{inv.Name: owner}, nil, omit)
}

func (b *Blueprints) update(w http.ResponseWriter, r *http.Request, m *Model) {
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	vals, ok := b.values(w, r, m, "E_INVALID_VALUES_TO_SET")
	if !ok {
		return
	}
	delete(vals, "id")
	ctx := r.Context()
	prevRaw, prev, err := b.one(ctx, m, id)
	if err != nil {
		b.fail(w, r, err)
		return
	}
	if prev == nil {
		NotFound(w, r)
		return
	}
	omit := sailsbridge.GetID(r)
	// (1) model attributes that change owner.
	for i := range m.Associations {
		a := &m.Associations[i]
		nv, ok := vals[a.Name]
		if a.Collection != "" || !ok {
			continue
		}
		old := prevRaw[a.Name]
		inv := b.schema.inverse(m, a)
		if sameID(old, nv) || inv == nil || inv.Collection == "" {
			continue
		}
		if old != nil {
			b.logPub(b.ps.removed(ctx, a.Model, old, inv.Name, id, omit))
		}
		if nv != nil {
			b.logPub(b.ps.added(ctx, a.Model, nv, inv.Name, id, omit))
		}
	}
	rec, err := b.store.Update(ctx, m.Identity, id, vals)
	if err != nil {
		b.storeError(w, r, "E_INVALID_VALUES_TO_SET", err)
		return
	}
	if rec == nil {
		NotFound(w, r)
		return
	}
	data := maps.Clone(vals)
	for _, a := range m.Associations {
		if a.Collection != "" {
			delete(data, a.Name)
		}
	}
	data["id"], data["updatedAt"] = id, rec["updatedAt"]
	// (2) updated.
	b.logPub(b.ps.updated(ctx, m.Identity, id, data, prev, omit))
	if omit != "" {
		b.logPub(b.ps.subscribe(ctx, omit, m.Identity, id))
	}
	pop, err := b.populate(ctx, m, rec)
	if err != nil {
		b.fail(w, r, err)
		return
	}
	JSON(w, r, http.StatusOK, pop)
}

func (b *Blueprints) destroy(w http.ResponseWriter, r *http.Request, m *Model) {
	if PathParam(r, "id") == "" {
		paramsError(w, r, "E_INVALID_CRITERIA", "Missing the primary key of the record to destroy")
		return
	}
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	ctx := r.Context()
	prevRaw, prev, err := b.one(ctx, m, id)
	if err != nil {
		b.fail(w, r, err)
		return
	}
	if prev == nil {
		NotFound(w, r)
		return
	}
	if _, err := b.store.Destroy(ctx, m.Identity, id); err != nil {
		b.fail(w, r, err)
		return
	}
	omit := b.omit(r, true)
	// (1) destroyed, (2) retire, (3) reverse.
	b.logPub(b.ps.destroyed(ctx, m.Identity, id, prev, omit))
	for i := range m.Associations {
		a := &m.Associations[i]
		inv := b.schema.inverse(m, a)
		if a.Collection == "" {
			if v := prevRaw[a.Name]; v != nil && inv != nil && inv.Collection != "" {
				b.logPub(b.ps.removed(ctx, a.Model, v, inv.Name, id, omit))
			}
			continue
		}
		ids, _ := prevRaw[a.Name].([]any)
		for _, c := range ids {
			b.logPub(b.reverseSet(ctx, a, inv, c, id, false, omit))
		}
	}
	if omit != "" {
		b.logPub(b.ps.unsubscribe(ctx, omit, m.Identity, id))
	}
	JSON(w, r, http.StatusOK, prev)
}

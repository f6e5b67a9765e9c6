package kit

import (
	"net/http"
	"strings"

	"github.com/pierhq/pier/sailsbridge"
)

// The collection actions: add, remove, replace.

// parent resolves the association of the route (the path segment
// after :parentid) and the parent; it answers 404 when either is missing.
func (b *Blueprints) parent(w http.ResponseWriter, r *http.Request, m *Model) (*Association, any, Record, bool) {
	a := b.routeAssoc(r, m)
	if a == nil {
		NotFound(w, r)
		return nil, nil, nil, false
	}
	pid, ok := pathID(w, r, "parentid")
	if !ok {
		return nil, nil, nil, false
	}
	parent, err := b.store.FindOne(r.Context(), m.Identity, pid)
	if err != nil {
		b.fail(w, r, err)
		return nil, nil, nil, false
	}
	if parent == nil {
		NotFound(w, r)
		return nil, nil, nil, false
	}
	return a, pid, parent, true
}

// routeAssoc finds the association named by the path segment after the
// parent id.
func (b *Blueprints) routeAssoc(r *http.Request, m *Model) *Association {
	segs, _ := splitPath(r.URL.EscapedPath())
	for i := 0; i+2 < len(segs); i++ {
		if strings.EqualFold(segs[i], m.Identity) {
			name := strings.ToLower(segs[i+2])
			for j := range m.Associations {
				if strings.ToLower(m.Associations[j].Name) == name {
					return &m.Associations[j]
				}
			}
		}
	}
	return nil
}

func (b *Blueprints) child(w http.ResponseWriter, r *http.Request, a *Association) (any, Record, bool) {
	cid, ok := pathID(w, r, "childid")
	if !ok {
		return nil, nil, false
	}
	kid, err := b.store.FindOne(r.Context(), a.Collection, cid)
	if err != nil {
		b.fail(w, r, err)
		return nil, nil, false
	}
	if kid == nil {
		NotFound(w, r)
		return nil, nil, false
	}
	return cid, kid, true
}

func (b *Blueprints) answerParent(w http.ResponseWriter, r *http.Request, m *Model, pid any) {
	_, pop, err := b.one(r.Context(), m, pid)
	if err != nil {
		b.fail(w, r, err)
		return
	}
	if pop == nil {
		NotFound(w, r)
		return
	}
	JSON(w, r, http.StatusOK, pop)
}

func (b *Blueprints) add(w http.ResponseWriter, r *http.Request, m *Model) {
	a, pid, _, ok := b.parent(w, r, m)
	if !ok {
		return
	}
	cid, kid, ok := b.child(w, r, a)
	if !ok {
		return
	}
	ctx := r.Context()
	inv := b.schema.inverse(m, a)
	var oldOwner any
	if inv != nil && inv.Collection == "" {
		oldOwner = kid[inv.Name]
	}
	if err := b.store.Add(ctx, m.Identity, pid, a.Name, cid); err != nil {
		b.fail(w, r, err)
		return
	}
	omit := sailsbridge.GetID(r)
	b.logPub(b.ps.added(ctx, m.Identity, pid, a.Name, cid, omit))
	b.logPub(b.reverseSet(ctx, a, inv, cid, pid, true, omit))
	if oldOwner != nil {
		b.logPub(b.ps.removed(ctx, m.Identity, oldOwner, a.Name, cid, omit))
	}
	if omit != "" {
		b.logPub(b.ps.subscribe(ctx, omit, m.Identity, pid))
		b.logPub(b.ps.subscribe(ctx, omit, a.Collection, cid))
	}
	b.answerParent(w, r, m, pid)
}

func (b *Blueprints) remove(w http.ResponseWriter, r *http.Request, m *Model) {
	a, pid, _, ok := b.parent(w, r, m)
	if !ok {
		return
	}
	cid, _, ok := b.child(w, r, a)
	if !ok {
		return
	}
	ctx := r.Context()
	if err := b.store.Remove(ctx, m.Identity, pid, a.Name, cid); err != nil {
		b.fail(w, r, err)
		return
	}
	omit := b.omit(r, true)
	b.logPub(b.ps.removed(ctx, m.Identity, pid, a.Name, cid, omit))
	b.logPub(b.reverseSet(ctx, a, b.schema.inverse(m, a), cid, pid, false, omit))
	b.answerParent(w, r, m, pid)
}

func (b *Blueprints) replace(w http.ResponseWriter, r *http.Request, m *Model) {
	a, pid, parent, ok := b.parent(w, r, m)
	if !ok {
		return
	}
	body, err := Body(r)
	list, isList := body.([]any)
	if err != nil || !isList {
		paramsError(w, r, "E_INVALID_ASSOCIATED_IDS", "Expecting an array of child ids in the request body")
		return
	}
	ids := make([]any, 0, len(list))
	for _, x := range list {
		id, ok := NormalizeID(x)
		if !ok || id == nil {
			paramsError(w, r, "E_INVALID_ASSOCIATED_IDS", "Expecting an array of child ids in the request body")
			return
		}
		ids = append(ids, id)
	}
	ctx := r.Context()
	inv := b.schema.inverse(m, a)
	current, _ := parent[a.Name].([]any)
	in := func(list []any, x any) bool {
		for _, y := range list {
			if sameID(x, y) {
				return true
			}
		}
		return false
	}
	type moved struct{ child, oldOwner any }
	var added []any
	var moves []moved
	for _, c := range ids {
		if in(current, c) {
			continue
		}
		added = append(added, c)
		if inv != nil && inv.Collection == "" {
			kid, err := b.store.FindOne(ctx, a.Collection, c)
			if err != nil {
				b.fail(w, r, err)
				return
			}
			if kid != nil && kid[inv.Name] != nil && !sameID(kid[inv.Name], pid) {
				moves = append(moves, moved{c, kid[inv.Name]})
			}
		}
	}
	if err := b.store.Replace(ctx, m.Identity, pid, a.Name, ids); err != nil {
		b.fail(w, r, err)
		return
	}
	omit := sailsbridge.GetID(r)
	for _, c := range added {
		b.logPub(b.ps.added(ctx, m.Identity, pid, a.Name, c, omit))
		b.logPub(b.reverseSet(ctx, a, inv, c, pid, true, omit))
	}
	for _, mv := range moves {
		b.logPub(b.ps.removed(ctx, m.Identity, mv.oldOwner, a.Name, mv.child, omit))
	}
	for _, c := range current {
		if !in(ids, c) {
			b.logPub(b.ps.removed(ctx, m.Identity, pid, a.Name, c, omit))
			b.logPub(b.reverseSet(ctx, a, inv, c, pid, false, omit))
		}
	}
	if omit != "" {
		b.logPub(b.ps.subscribe(ctx, omit, m.Identity, pid))
		for _, c := range added {
			b.logPub(b.ps.subscribe(ctx, omit, a.Collection, c))
		}
	}
	b.answerParent(w, r, m, pid)
}

func (b *Blueprints) populateAction(w http.ResponseWriter, r *http.Request, m *Model) {
	a, pid, parent, ok := b.parent(w, r, m)
	if !ok {
		return
	}
	ctx := r.Context()
	pop, err := b.populate(ctx, m, parent)
	if err != nil {
		b.fail(w, r, err)
		return
	}
	if sid := sailsbridge.GetID(r); sid != "" {
		b.logPub(b.ps.subscribe(ctx, sid, m.Identity, pid))
		if shadow(r) {
			b.deep(ctx, sid, m, pop)
		}
	}
	JSON(w, r, http.StatusOK, pop[a.Name])
}

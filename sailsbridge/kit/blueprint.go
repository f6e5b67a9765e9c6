package kit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"

	"github.com/pierhq/pier/sailsbridge"
)

// BlueprintOptions configures Blueprints; nil or zero fields mean Sails'
// defaults.
type BlueprintOptions struct {
	// NoAutoWatch turns off Sails' blueprints.autoWatch (on by
	// default): find then joins no class room, and deep subscriptions
	// join no associated class room.
	NoAutoWatch bool
	// Policies are the policies of blueprint actions, keyed as in
	// config/policies.js: "user/create", "user/*" or "*"; the most
	// specific key applies. A policy that answers stops the action: no
	// publication, no subscription.
	Policies map[string][]Policy
	// Logger gets the errors of publications (the answer to the client
	// is not changed by them). Default slog.Default().
	Logger *slog.Logger
}

// Blueprints serves Sails' REST blueprint actions (find, findOne, create,
// update, destroy, populate, add, remove, replace) of a Schema over a
// Store, with Sails' realtime side effects through sailsbridge.Sockets:
// the requesting socket subscribes (autoSubscribe, autoWatch and the deep
// subscription to associated records), and every change is published to
// the other sockets with the events Sails sends, reverse-association
// messages included (see the package doc for the routes and messages).
//
// Concurrency: handlers may run concurrently; Mount before serving.
type Blueprints struct {
	schema Schema
	store  Store
	ps     pubsub
	opts   BlueprintOptions
	log    *slog.Logger
}

// NewBlueprints returns the blueprints of schema over store, publishing
// through socks.
func NewBlueprints(schema Schema, store Store, socks *sailsbridge.Sockets, opts *BlueprintOptions) *Blueprints {
	b := &Blueprints{schema: schema, store: store, ps: pubsub{socks}}
	if opts != nil {
		b.opts = *opts
	}
	b.log = b.opts.Logger
	if b.log == nil {
		b.log = slog.Default()
	}
	return b
}

// Mount adds the blueprint shadow routes of every model to rt, after (in
// precedence) all its custom routes, as Sails binds them:
//
//	GET    /<model>                            find
//	GET    /<model>/:id                        findOne
//	POST   /<model>                            create
//	PATCH  /<model>/:id, PUT /<model>/:id      update
//	DELETE /<model>/:id?                       destroy
//	PUT    /<model>/:parentid/<coll>/:childid  add
//	DELETE /<model>/:parentid/<coll>/:childid  remove
//	PUT    /<model>/:parentid/<coll>           replace (body: array of ids)
//	GET    /<model>/:parentid/<assoc>          populate
func (b *Blueprints) Mount(rt *Router) {
	for i := range b.schema {
		m := &b.schema[i]
		id := m.Identity
		route := func(address, action string) {
			rt.HandleRoute(address, b.Action(id, action), Route{tier: 1})
		}
		route("GET /"+id, "find")
		route("GET /"+id+"/:id", "findOne")
		route("POST /"+id, "create")
		route("PATCH /"+id+"/:id", "update")
		route("PUT /"+id+"/:id", "update")
		route("DELETE /"+id+"/:id?", "destroy")
		for _, a := range m.Associations {
			if a.Collection != "" {
				route("PUT /"+id+"/:parentid/"+a.Name+"/:childid", "add")
				route("DELETE /"+id+"/:parentid/"+a.Name+"/:childid", "remove")
				route("PUT /"+id+"/:parentid/"+a.Name, "replace")
			}
			route("GET /"+id+"/:parentid/"+a.Name, "populate")
		}
	}
}

// Action returns the handler of one blueprint action of model identity,
// with the action's policies, to mount on a custom route (Sails'
// 'GET /users-alias': 'user/find'). For add, remove, replace and populate
// the route must have :parentid, :childid (add, remove) and end in the
// association's name. It panics on an unknown model or action.
func (b *Blueprints) Action(identity, action string) http.Handler {
	m := b.schema.model(identity)
	if m == nil {
		panic(fmt.Sprintf("kit: unknown model %q", identity))
	}
	var h func(w http.ResponseWriter, r *http.Request, m *Model)
	switch action {
	case "find":
		h = b.find
	case "findOne":
		h = b.findOne
	case "create":
		h = b.create
	case "update":
		h = b.update
	case "destroy":
		h = b.destroy
	case "add":
		h = b.add
	case "remove":
		h = b.remove
	case "replace":
		h = b.replace
	case "populate":
		h = b.populateAction
	default:
		panic(fmt.Sprintf("kit: unknown blueprint action %q", action))
	}
	var handler http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(w, r, m) })
	pol := b.policies(identity, action)
	for i := len(pol) - 1; i >= 0; i-- {
		handler = pol[i](handler)
	}
	return handler
}

func (b *Blueprints) policies(identity, action string) []Policy {
	for _, k := range []string{identity + "/" + action, identity + "/*", "*"} {
		if p, ok := b.opts.Policies[k]; ok {
			return p
		}
	}
	return nil
}

// paramsError answers 400 with Sails' blueprint error shape.
func paramsError(w http.ResponseWriter, r *http.Request, code string, details string) {
	JSON(w, r, http.StatusBadRequest, map[string]any{
		"code":    code,
		"details": details,
		"message": "The server could not fulfill this request (`" + r.Method + " " + r.URL.Path + "`) due to a problem with the parameters that were sent.  See the `details` for more info.",
	})
}

func (b *Blueprints) fail(w http.ResponseWriter, r *http.Request, err error) {
	b.log.Error("kit: blueprint", "method", r.Method, "path", r.URL.Path, "err", err)
	ServerError(w, r, err)
}

// storeError answers a write's error: 400 code for a ValidationError,
// else 500.
func (b *Blueprints) storeError(w http.ResponseWriter, r *http.Request, code string, err error) {
	var ve *ValidationError
	if errors.As(err, &ve) {
		paramsError(w, r, code, ve.Msg)
		return
	}
	b.fail(w, r, err)
}

// logPub logs a publication's error.
func (b *Blueprints) logPub(err error) {
	if err != nil {
		b.log.Warn("kit: blueprint publication", "err", err)
	}
}

func (b *Blueprints) autoWatch() bool { return !b.opts.NoAutoWatch }

// pathID returns the normalized path parameter name, answering 400 when
// it is not an id.
func pathID(w http.ResponseWriter, r *http.Request, name string) (any, bool) {
	raw := PathParam(r, name)
	id, ok := NormalizeID(raw)
	if !ok || id == nil {
		paramsError(w, r, "E_INVALID_CRITERIA", "Invalid primary key value "+strconv.Quote(raw)+": expected a number")
		return nil, false
	}
	return id, true
}

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
		if b.autoWatch() {
			b.logPub(b.ps.watch(ctx, sid, m.Identity))
		}
		for _, rec := range out {
			b.deep(ctx, sid, m, rec)
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
		b.deep(ctx, sid, m, pop)
	}
	JSON(w, r, http.StatusOK, pop)
}

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
	return Record(params), true
}

func (b *Blueprints) create(w http.ResponseWriter, r *http.Request, m *Model) {
	vals, ok := b.values(w, r, m, "E_INVALID_NEW_RECORD")
	if !ok {
		return
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
		if a.Collection == "" || len(ids) == 0 {
			continue
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
				b.logPub(b.ps.toRecord(ctx, a.Model, v, addedMsg{v, "addedTo", inv.Name, id}, omit))
			}
			continue
		}
		ids, _ := vals[a.Name].([]any)
		for _, c := range ids {
			b.logPub(b.reverseSet(ctx, a, inv, c, id, omit))
		}
	}
	// (2) created, (3) introduce.
	b.logPub(b.ps.created(ctx, m.Identity, id, pop, omit))
	// (4) the previous owners of moved children.
	for _, mv := range moves {
		b.logPub(b.ps.toRecord(ctx, m.Identity, mv.oldOwner, removedMsg{mv.oldOwner, "removedFrom", mv.a.Name, mv.child}, omit))
	}
	if omit != "" {
		b.logPub(b.ps.subscribe(ctx, omit, m.Identity, id))
	}
	JSON(w, r, http.StatusOK, pop)
}

// reverseSet tells the subscribers of child c (of collection a) that it
// now belongs to parent (nil: to none): updated {via: parent} for a
// one-to-many association, addedTo/removedFrom on the child for a
// many-to-many one.
func (b *Blueprints) reverseSet(ctx context.Context, a, inv *Association, c, parent any, omit string) error {
	if inv == nil {
		return nil
	}
	if inv.Collection != "" {
		return nil // many-to-many: not supported by this kit yet
	}
	return b.ps.toRecord(ctx, a.Collection, c, updatedMsg{Verb: "updated", Data: map[string]any{inv.Name: parent}, ID: c}, omit)
}

func (b *Blueprints) update(w http.ResponseWriter, r *http.Request, m *Model) {
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	vals, ok := b.values(w, r, m, "E_INVALID_VALUES")
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
			b.logPub(b.ps.toRecord(ctx, a.Model, old, removedMsg{old, "removedFrom", inv.Name, id}, omit))
		}
		if nv != nil {
			b.logPub(b.ps.toRecord(ctx, a.Model, nv, addedMsg{nv, "addedTo", inv.Name, id}, omit))
		}
	}
	rec, err := b.store.Update(ctx, m.Identity, id, vals)
	if err != nil {
		b.storeError(w, r, "E_INVALID_VALUES", err)
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
	b.logPub(b.ps.toRecord(ctx, m.Identity, id, updatedMsg{"updated", data, id, prev}, omit))
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
	omit := sailsbridge.GetID(r)
	// (1) destroyed, (2) retire, (3) reverse.
	b.logPub(b.ps.toRecord(ctx, m.Identity, id, destroyedMsg{"destroyed", id, prev}, omit))
	b.logPub(b.ps.retire(ctx, m.Identity, id))
	for i := range m.Associations {
		a := &m.Associations[i]
		inv := b.schema.inverse(m, a)
		if a.Collection == "" {
			if v := prevRaw[a.Name]; v != nil && inv != nil && inv.Collection != "" {
				b.logPub(b.ps.toRecord(ctx, a.Model, v, removedMsg{v, "removedFrom", inv.Name, id}, omit))
			}
			continue
		}
		ids, _ := prevRaw[a.Name].([]any)
		for _, c := range ids {
			b.logPub(b.reverseSet(ctx, a, inv, c, nil, omit))
		}
	}
	if omit != "" {
		b.logPub(b.ps.unsubscribe(ctx, omit, m.Identity, id))
	}
	JSON(w, r, http.StatusOK, prev)
}

// parentAndChild resolves the association of the route (the path segment
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
	b.logPub(b.ps.toRecord(ctx, m.Identity, pid, addedMsg{pid, "addedTo", a.Name, cid}, omit))
	b.logPub(b.reverseSet(ctx, a, inv, cid, pid, omit))
	if oldOwner != nil {
		b.logPub(b.ps.toRecord(ctx, m.Identity, oldOwner, removedMsg{oldOwner, "removedFrom", a.Name, cid}, omit))
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
	omit := sailsbridge.GetID(r)
	b.logPub(b.ps.toRecord(ctx, m.Identity, pid, removedMsg{pid, "removedFrom", a.Name, cid}, omit))
	b.logPub(b.reverseSet(ctx, a, b.schema.inverse(m, a), cid, nil, omit))
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
		b.logPub(b.ps.toRecord(ctx, m.Identity, pid, addedMsg{pid, "addedTo", a.Name, c}, omit))
		b.logPub(b.reverseSet(ctx, a, inv, c, pid, omit))
	}
	for _, mv := range moves {
		b.logPub(b.ps.toRecord(ctx, m.Identity, mv.oldOwner, removedMsg{mv.oldOwner, "removedFrom", a.Name, mv.child}, omit))
	}
	for _, c := range current {
		if !in(ids, c) {
			b.logPub(b.ps.toRecord(ctx, m.Identity, pid, removedMsg{pid, "removedFrom", a.Name, c}, omit))
			b.logPub(b.reverseSet(ctx, a, inv, c, nil, omit))
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
		b.deep(ctx, sid, m, pop)
	}
	JSON(w, r, http.StatusOK, pop[a.Name])
}

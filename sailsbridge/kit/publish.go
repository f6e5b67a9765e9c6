package kit

import (
	"context"

	"github.com/pierhq/pier/sailsbridge"
)

// This file holds every call the kit makes into sailsbridge's Sockets and
// Model pub/sub (whose messages keep Sails' key order on the wire), so
// that a change of their signatures touches one place.

// pubsub is the kit's view of sails.sockets; without Sockets (nil)
// every call does nothing.
type pubsub struct{ k *sailsbridge.Sockets }

// created tells the watchers of model about record id, then subscribes
// them to it (Sails' _publishCreate and _introduce).
func (p pubsub) created(ctx context.Context, model string, id, record any, omit string) error {
	if p.k == nil {
		return nil
	}
	return p.k.Model(model).PublishCreate(ctx, id, record, omit)
}

// updated tells the subscribers of record id of model of its changes.
func (p pubsub) updated(ctx context.Context, model string, id, changes, previous any, omit string) error {
	if p.k == nil {
		return nil
	}
	return p.k.Model(model).PublishUpdate(ctx, id, changes, previous, omit)
}

// destroyed tells the subscribers of record id of model that it is gone,
// then unsubscribes the watchers of model from it; other subscribers stay
// (Sails' _retire).
func (p pubsub) destroyed(ctx context.Context, model string, id, previous any, omit string) error {
	if p.k == nil {
		return nil
	}
	return p.k.Model(model).PublishDestroy(ctx, id, previous, omit)
}

// added and removed tell the subscribers of record id of model that a
// record joined or left its collection attribute.
func (p pubsub) added(ctx context.Context, model string, id any, attribute string, child any, omit string) error {
	if p.k == nil {
		return nil
	}
	return p.k.Model(model).PublishAdd(ctx, id, attribute, child, omit)
}

func (p pubsub) removed(ctx context.Context, model string, id any, attribute string, child any, omit string) error {
	if p.k == nil {
		return nil
	}
	return p.k.Model(model).PublishRemove(ctx, id, attribute, child, omit)
}

func (p pubsub) subscribe(ctx context.Context, socketID, model string, ids ...any) error {
	if p.k == nil {
		return nil
	}
	return p.k.Model(model).Subscribe(ctx, socketID, ids...)
}

func (p pubsub) unsubscribe(ctx context.Context, socketID, model string, ids ...any) error {
	if p.k == nil {
		return nil
	}
	return p.k.Model(model).Unsubscribe(ctx, socketID, ids...)
}

func (p pubsub) watch(ctx context.Context, socketID, model string) error {
	if p.k == nil {
		return nil
	}
	return p.k.Model(model).Watch(ctx, socketID)
}

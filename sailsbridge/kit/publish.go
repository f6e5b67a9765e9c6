package kit

import (
	"context"

	"github.com/pierhq/pier/sailsbridge"
)

// This file holds every call the kit makes into sailsbridge's Sockets and
// Model pub/sub, so that a change of their signatures touches one place.
// The message structs keep Sails' key order on the wire.

type createdMsg struct {
	Verb string `json:"verb"`
	Data any    `json:"data"`
	ID   any    `json:"id"`
}

type updatedMsg struct {
	Verb     string `json:"verb"`
	Data     any    `json:"data"`
	ID       any    `json:"id"`
	Previous any    `json:"previous,omitempty"`
}

type destroyedMsg struct {
	Verb     string `json:"verb"`
	ID       any    `json:"id"`
	Previous any    `json:"previous,omitempty"`
}

type addedMsg struct {
	ID        any    `json:"id"`
	Verb      string `json:"verb"`
	Attribute string `json:"attribute"`
	AddedID   any    `json:"addedId"`
}

type removedMsg struct {
	ID        any    `json:"id"`
	Verb      string `json:"verb"`
	Attribute string `json:"attribute"`
	RemovedID any    `json:"removedId"`
}

// pubsub is the kit's view of sails.sockets; without Sockets (nil)
// every call does nothing.
type pubsub struct{ k *sailsbridge.Sockets }

// toRecord sends msg to the subscribers of record id of model, except
// omit.
func (p pubsub) toRecord(ctx context.Context, model string, id, msg any, omit string) error {
	if p.k == nil {
		return nil
	}
	return p.k.Model(model).Publish(ctx, []any{id}, msg, omit)
}

// created tells the watchers of model about record id, then subscribes
// them to it (Sails' _publishCreate and _introduce).
func (p pubsub) created(ctx context.Context, model string, id, record any, omit string) error {
	if p.k == nil {
		return nil
	}
	m := p.k.Model(model)
	if err := p.k.Broadcast(ctx, []string{m.ClassRoom()}, model, createdMsg{"created", record, id}, omit); err != nil {
		return err
	}
	return p.k.AddRoomMembersToRooms(ctx, m.ClassRoom(), m.Room(id))
}

// retire unsubscribes the watchers of model from record id; other
// subscribers stay (Sails' _retire).
func (p pubsub) retire(ctx context.Context, model string, id any) error {
	if p.k == nil {
		return nil
	}
	m := p.k.Model(model)
	return p.k.RemoveRoomMembersFromRooms(ctx, m.ClassRoom(), m.Room(id))
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

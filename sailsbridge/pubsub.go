package sailsbridge

import (
	"context"
	"errors"
	"fmt"
)

// Model publishes the events of one model as Sails' resourceful pub/sub
// does (blueprints, Model.subscribe, Model.publish and the _publish*
// helpers): the event name is the model identity, instance rooms are
// "sails_model_<identity>_<id>:<identity>" and the class room, which
// watchers of new records join, "sails_model_create_<identity>". The
// payloads have the shapes and key order Sails sends. omit is the id of
// the socket that made the change ("" for none): it does not get the
// event. Every method takes a context first: with a cluster adapter, each
// may reach other servers.
//
// Concurrency: all methods may be called concurrently.
type Model struct {
	k        *Sockets
	identity string
}

// Model returns the pub/sub helpers of the model identity (lower case, as
// Sails names models).
func (k *Sockets) Model(identity string) *Model { return &Model{k: k, identity: identity} }

// Room returns the instance room of the record id.
func (m *Model) Room(id any) string {
	return fmt.Sprintf("sails_model_%s_%v:%s", m.identity, id, m.identity)
}

// ClassRoom returns the room of the sockets watching for new records.
func (m *Model) ClassRoom() string { return "sails_model_create_" + m.identity }

// Subscribe makes the socket id join the rooms of the records ids
// (Model.subscribe).
func (m *Model) Subscribe(ctx context.Context, socketID string, ids ...any) error {
	var errs []error
	for _, id := range ids {
		errs = append(errs, m.k.Join(ctx, socketID, m.Room(id)))
	}
	return errors.Join(errs...)
}

// Unsubscribe makes the socket id leave the rooms of the records ids
// (Model.unsubscribe).
func (m *Model) Unsubscribe(ctx context.Context, socketID string, ids ...any) error {
	var errs []error
	for _, id := range ids {
		errs = append(errs, m.k.Leave(ctx, socketID, m.Room(id)))
	}
	return errors.Join(errs...)
}

// Watch makes the socket id join the class room, to hear of new records
// (Model._watch, what the find blueprint does).
func (m *Model) Watch(ctx context.Context, socketID string) error {
	return m.k.Join(ctx, socketID, m.ClassRoom())
}

// Unwatch makes the socket id leave the class room.
func (m *Model) Unwatch(ctx context.Context, socketID string) error {
	return m.k.Leave(ctx, socketID, m.ClassRoom())
}

// Publish sends data as is to the subscribers of the records ids
// (Model.publish); a subscriber of several of them gets it once.
func (m *Model) Publish(ctx context.Context, ids []any, data any, omit string) error {
	if len(ids) == 0 {
		return nil
	}
	rooms := make([]string, len(ids))
	for i, id := range ids {
		rooms[i] = m.Room(id)
	}
	return m.k.Broadcast(ctx, rooms, m.identity, data, omit)
}

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

// PublishCreate tells the watchers of the class room that record id was
// created ({"verb":"created","data":record,"id":id}), then subscribes them
// to it (Sails' _publishCreate and _introduce).
func (m *Model) PublishCreate(ctx context.Context, id, record any, omit string) error {
	if err := m.k.Broadcast(ctx, []string{m.ClassRoom()}, m.identity, createdMsg{"created", record, id}, omit); err != nil {
		return err
	}
	return m.k.AddRoomMembersToRooms(ctx, m.ClassRoom(), m.Room(id))
}

// PublishUpdate tells the subscribers of record id of changes
// ({"verb":"updated","data":changes,"id":id,"previous":previous}; previous
// left out when nil).
func (m *Model) PublishUpdate(ctx context.Context, id, changes, previous any, omit string) error {
	return m.k.Broadcast(ctx, []string{m.Room(id)}, m.identity, updatedMsg{"updated", changes, id, previous}, omit)
}

// PublishDestroy tells the subscribers of record id that it was destroyed
// ({"verb":"destroyed","id":id,"previous":previous}), then retires the
// record as Sails' _retire does: the members of the class room (the
// watchers) leave its room, on every server. A socket subscribed to the
// record without watching the model stays in the room, as in Sails.
func (m *Model) PublishDestroy(ctx context.Context, id, previous any, omit string) error {
	if err := m.k.Broadcast(ctx, []string{m.Room(id)}, m.identity, destroyedMsg{"destroyed", id, previous}, omit); err != nil {
		return err
	}
	return m.k.RemoveRoomMembersFromRooms(ctx, m.ClassRoom(), m.Room(id))
}

// PublishAdd tells the subscribers of record id that addedID was added to
// its collection attribute
// ({"id":id,"verb":"addedTo","attribute":attribute,"addedId":addedID}).
func (m *Model) PublishAdd(ctx context.Context, id any, attribute string, addedID any, omit string) error {
	return m.k.Broadcast(ctx, []string{m.Room(id)}, m.identity, addedMsg{id, "addedTo", attribute, addedID}, omit)
}

// PublishRemove tells the subscribers of record id that removedID was
// removed from its collection attribute
// ({"id":id,"verb":"removedFrom","attribute":attribute,"removedId":removedID}).
func (m *Model) PublishRemove(ctx context.Context, id any, attribute string, removedID any, omit string) error {
	return m.k.Broadcast(ctx, []string{m.Room(id)}, m.identity, removedMsg{id, "removedFrom", attribute, removedID}, omit)
}

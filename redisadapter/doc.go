// Package redisadapter runs the namespaces of many Socket.IO servers as one
// cluster over Redis pub/sub, wire-compatible with Node's
// @socket.io/redis-adapter 8.3.0 (its classic createAdapter protocol) and
// @socket.io/redis-emitter 5.1.0: Go and Node.js servers can serve one
// cluster side by side, and Node jobs using the emitter reach the clients of
// Go servers.
//
// [New] returns the socketio.AdapterFactory to put in
// socketio.Options.Adapter:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	srv, _ := socketio.NewServer(&socketio.Options{Adapter: redisadapter.New(rdb, nil)})
//
// Broadcasts, room changes (SocketsJoin, SocketsLeave, DisconnectSockets),
// FetchSockets, ServerSideEmit (with or without acknowledgements) and
// EmitWithAck then reach every server. The namespace's *[Adapter] (from
// Namespace.Adapter) also offers AllRooms, Sockets and ServerCount.
//
// [NewEmitter] publishes events and room operations from processes that are
// not servers, with the bytes @socket.io/redis-emitter publishes.
// Options.LegacyPeers keeps every request and response JSON for clusters
// that still hold socket.io-redis 6 (Sails) nodes. The sharded protocol
// (createShardedAdapter) is not implemented.
//
// Wire format (channels {key}#{nsp}#[room#], {key}-request#{nsp}#,
// {key}-response#{nsp}#[uid#]; msgpack broadcasts [uid, packet, opts];
// JSON requests and responses, msgpack for acknowledged broadcasts) and the
// Node behaviours it mirrors are described in the shared redis-adapter
// spec. Servers are counted with PUBSUB NUMSUB of the request channel
// (summed over every node of a Redis Cluster); each server answers every
// counted request, so Node callers never wait for a timeout.
//
// Rooms are strings in Go. A Node room that is a number (io.to(123)) is
// seen as its decimal text; a Go server cannot address a numeric Node room.
//
// Namespace names must not contain glob characters (* ? [ ]), as with
// Node, whose PSUBSCRIBE patterns do not escape them.
package redisadapter

// Package redisadapter runs the namespaces of many Socket.IO servers as one
// cluster over Redis pub/sub, wire-compatible with Node's
// @socket.io/redis-adapter 8.3.0 (both its classic createAdapter protocol
// and its sharded createShardedAdapter one) and @socket.io/redis-emitter
// 5.1.0: Go and Node.js servers can serve one cluster side by side, and
// Node jobs using the emitter reach the clients of Go servers.
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
// that still hold socket.io-redis 6 (Sails) nodes.
//
// # Sharded pub/sub
//
// Options.Protocol = Sharded speaks createShardedAdapter's protocol
// instead: Redis 7 sharded pub/sub (SPUBLISH, SSUBSCRIBE), which a Redis
// Cluster spreads over its shards where classic PUBLISH goes to every
// node. Every node of the cluster must use it (and the same Key, Node's
// channelPrefix, and SubscriptionMode); emitters cannot reach it.
// Messages are socket.io-adapter's ClusterAdapter messages {type, data,
// uid, nsp} (types 3 to 12), JSON unless they hold binary, then msgpack,
// on {Key}#{nsp}# (requests) and {Key}#{nsp}#{uid}# (answers to node uid).
// With SubscriptionDynamic (the default, as in Node) a broadcast to one
// room that is not a socket id travels on {Key}#{nsp}#{room}#, which a
// server subscribes to while it has sockets in the room;
// SubscriptionStatic keeps everything on the main channel and
// SubscriptionDynamicPrivate gives socket ids their channel too. Servers
// are counted with PUBSUB SHARDNUMSUB of the main channel. The protocol
// has no allRooms request: AllRooms and Sockets are answered with
// FetchSockets. LegacyPeers and PublishOnSpecificResponseChannel do not
// apply.
//
// # Redis Cluster
//
// Pass a *redis.ClusterClient. Classic: one subscriber connection, server
// counts summed over every node (go-redis alone asks one node). Sharded:
// one subscriber connection per hash slot in use (SSUBSCRIBE takes the
// channels of one slot only), so a dynamic mode costs one connection per
// slot of the rooms this server has; a Key holding a {hashtag} puts every
// channel in one slot, on one shard.
//
// Classic wire format (channels {key}#{nsp}#[room#], {key}-request#{nsp}#,
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
// # Failures
//
// A broadcast reaches this server's clients before it is published, and
// publishing waits for nobody: each namespace queues what it publishes
// (Options.PublishQueueBytes) and a goroutine of its own publishes it in
// order, retrying (for RequestsTimeout) what Redis refused for want of a
// connection, and nothing else, so that no message goes out twice.
// Messages of other nodes wait for their namespace in a queue of their own
// (Options.InboundQueueBytes), so that one namespace's slow handlers never
// stall the subscriber connection the namespaces share. What a full queue
// refuses, and every malformed message, is dropped with a warning naming
// the channel and the reason, at most once per reason every 10 seconds.
// Requests that wait for other servers return what arrived with an error
// wrapping ErrTimeout. Pub/sub keeps nothing: a message published while a
// server has no subscription (after a Redis crash, until OnRedisReconnect)
// never reaches it.
//
// Namespace names must not contain glob characters (* ? [ ]), as with
// Node, whose PSUBSCRIBE patterns do not escape them.
package redisadapter

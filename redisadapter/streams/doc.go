// Package streams is a Socket.IO adapter over Redis streams, wire
// compatible with Node's @socket.io/redis-streams-adapter 0.3.x: Go and
// Node servers can share one cluster, on a standalone Redis or a Redis
// Cluster.
//
// Broadcasts (rooms, except, volatile, binary) and room changes
// (SocketsJoin, SocketsLeave, DisconnectSockets) of a namespace are XADDed
// to its stream as entries with the fields uid, nsp, type and data (JSON,
// or base64 of msgpack when binary), and every server reads the streams
// with one blocking XREAD loop per stream, resuming from the last id it
// read after a Redis error. A malformed entry is logged and skipped: it
// never stops the reader (it stops Node's).
//
// FetchSockets, ServerSideEmit, broadcasts waiting for acknowledgements
// and their answers travel as msgpack over pub/sub, on the channels
// {ChannelPrefix}#{nsp}# and {ChannelPrefix}#{nsp}#{uid}#; the server
// count is the number of subscribers of the first (PUBSUB NUMSUB, summed
// over the shards of a Cluster), as 0.3.1 counts it.
//
// With socketio.Options.ConnectionStateRecovery set, each broadcast event
// that is not volatile carries its entry id as last argument (the
// client's offset), the state of a socket that lost its connection is
// kept in Redis under Options.SessionKeyPrefix + pid, and a client
// reconnecting to any server of the cluster, Go or Node, gets its id,
// rooms and data back, followed by the events it missed, read from the
// stream. Unlike Node, missed events are sent after the CONNECT reply,
// and the events delivered while a socket is being restored are kept for
// it and sent after them, neither lost nor reordered.
//
// Not implemented: Node's useShardedPubSub and onlyPlaintext options.
package streams

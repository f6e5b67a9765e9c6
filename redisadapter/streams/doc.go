// Package streams is a Socket.IO adapter over Redis streams, wire
// compatible with Node's @socket.io/redis-streams-adapter 0.3.x: Go and
// Node servers can share one cluster.
//
// Broadcasts (rooms, except, volatile) and room changes (SocketsJoin,
// SocketsLeave, DisconnectSockets) of a namespace are XADDed to its stream
// as entries with the fields uid, nsp, type and data (JSON, or base64 of
// msgpack when binary), and every server reads the streams with one
// blocking XREAD loop per stream, resuming from the last id it read after
// a Redis error. A malformed entry is logged and skipped: it never stops
// the reader.
//
// With socketio.Options.ConnectionStateRecovery set, each broadcast event
// carries its entry id as last argument (the client's offset), the state
// of a socket that lost its connection is kept in Redis under
// Options.SessionKeyPrefix + pid, and a client reconnecting to any server
// of the cluster gets its id, rooms and data back, followed by the events
// it missed, read from the stream. Missed events are sent after the
// CONNECT reply (Node sends them before it).
//
// Not implemented yet: the pub/sub half of the Node adapter (FetchSockets,
// ServerSideEmit, broadcasts with acknowledgements and the server count
// act on this server only), and its sharded pub/sub option.
package streams

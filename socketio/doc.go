// Package socketio implements a Socket.IO server: protocol v5 for
// socket.io-client 3 and 4, and protocol v4 for socket.io-client 2 and
// sails.io.js (over Engine.IO v3), on one path. It stands on package
// engineio and knows nothing of Redis, Sails or sessions.
//
// The entry points:
//
//   - NewServer returns a Server, an http.Handler; Options nil means Node's
//     defaults.
//   - Server.Of returns a Namespace ("/" is the main one); OfMatch and
//     OfRegexp declare dynamic namespaces.
//   - Namespace.Use adds connection Middleware (refuse with a
//     *ConnectError); Namespace.OnConnection receives each Socket.
//   - Socket.On adds an EventHandler, as Node's socket.on: several per
//     event run in order; Socket.Once, Socket.Off, Socket.OnAny,
//     Socket.OnAnyOutgoing and Socket.Use (per-event middleware, errors to
//     Socket.OnError) follow Node too. Event.Decode reads the arguments and
//     Event.Ack answers; Handle adds a typed handler. Socket.Emit and
//     EmitWithAck send; Socket.Compress(false) sends uncompressed.
//   - FetchSockets returns RemoteSocket values, reachable across a cluster
//     (RemoteSocket.EmitWithAck waits for the socket's answer).
//   - Options.CleanupEmptyChildNamespaces removes dynamic namespaces once
//     empty.
//   - Rooms: Socket.Join and Leave; broadcasts go through a
//     BroadcastOperator (Namespace.To, Socket.Broadcast, ...), an immutable
//     value.
//   - Adapter carries rooms and broadcasts; LocalAdapter is the in-memory
//     one, and package redisadapter spreads a namespace over many servers.
//
// Events of one client are handled in order, one at a time, on a goroutine
// that exists only while the client has events waiting. A broadcast is
// encoded once and the same bytes are queued on every recipient; sending
// never blocks on a slow client.
//
// Protocol specification: https://socket.io/docs/v4/socket-io-protocol/.
package socketio

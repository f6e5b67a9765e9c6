// Package engineio implements the server side of Engine.IO, the transport
// layer under Socket.IO: protocol v4 (socket.io-client 3 and 4) and v3
// (socket.io-client 1 and 2, the client sails.io.js bundles) on one path,
// over HTTP long-polling and WebSocket, with the polling-to-websocket
// upgrade, heartbeats, payload limits and the Engine.IO HTTP error
// contract. It knows nothing of Socket.IO.
//
// The entry points:
//
//   - NewServer builds a Server, an http.Handler, from a Handler and
//     *Options (nil means Node's defaults).
//   - Handler receives each Session's OnOpen, OnMessage and OnClose, one at
//     a time and in order. HandlerFunc adapts a function that runs per
//     session on its own goroutine and reads with Session.Read.
//   - Session.Send queues messages without blocking; Session.Close ends the
//     session after what is queued; Session.Context ends with it, with a
//     *CloseError as cause (see CloseReason).
//
// Messages are never copied on their way out: a Message's Data may be
// shared by many sessions (encode a broadcast once), and websocket frames
// are written from it with writev. Each session's outbox is bounded
// (Options.MaxBufferedPackets, MaxBufferedBytes); a client that does not
// keep up is closed with ReasonSlowClient instead of blocking the sender.
//
// Goroutines: a websocket session has one, reading, while messages arrive;
// after Options.ParkIdleAfter of silence it is parked (on Linux): its socket
// joins one epoll set shared by the process and the goroutine ends, until
// data arrives. Writes are made by a flusher goroutine that exists only
// while the outbox has data. A polling session has none of its own: its
// requests' handler goroutines serve it.
//
// Protocol specifications: https://socket.io/docs/v4/engine-io-protocol/.
package engineio

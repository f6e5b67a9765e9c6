// Package admin lets the official Socket.IO Admin UI (the
// @socket.io/admin-ui dashboard, hosted at https://admin.socket.io or
// served by [UIHandler]) watch and steer a Pier [socketio.Server], as
// Node's instrument() does for a Node server.
//
// [Instrument] adds the admin namespace ("/admin" by default) and follows
// the server through a [socketio.Observer]. Dashboards that connect get:
//
//   - "config": the features this server offers (none of the commands in
//     read-only mode);
//   - "all_sockets": every socket of every namespace, cluster-wide
//     (development mode only, the default);
//   - "server_stats" every two seconds: server ID, host, pid, uptime,
//     connection counts, sockets per namespace, and per-second counts of
//     connections, disconnections (by reason), packets and bytes in and out;
//   - in development mode, live "socket_connected", "socket_disconnected",
//     "socket_updated" (transport upgrades, seen within a quarter of a
//     second), "room_joined", "room_left", "event_received" and "event_sent".
//
// The dashboard's commands ("join", "leave", "_disconnect", "emit") act
// through the namespaces' adapters, so on every server of a cluster; read-
// only mode drops them. Dashboards log in with a user name and a bcrypt
// password hash ([BasicAuth]); a login earns a session ID, sent as the
// "session" event once connected, which the dashboard presents instead of
// the password when it reconnects.
//
// Differences from Node: the "session" event comes right after the CONNECT
// reply (Node sends it before, where the dashboard misses it and so
// forgets the session on reload); socket data changes made with SetData
// are not pushed ("socket_updated" carries transports only); remote
// sockets of a cluster show "websocket" as transport and no client ID
// unless their server put {_admin: {clientId, transport}} in their data.
package admin

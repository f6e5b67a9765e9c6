// Remote-controlled legacy Node side of Pier's redisadapter legacy tests: a
// Sails-style server, wired up the way sails-hook-sockets 3.0.2 (Sails 1.5)
// wires it, and socket.io-client clients, driven by JSON commands on stdin,
// one per line (the protocol of testdata/redis/cluster.js):
//
//   {"id":1,"cmd":"server","name":"S","redis":"redis://…","key":"…"}
//       → {"id":1,"result":{"port":…,"uid":"…"}}
//   {"id":2,"cmd":"client","name":"c1","url":"http://127.0.0.1:…","nsp":"/","auth":{…},"v2":true}
//       → {"id":2,"result":{"sid":"…"}}
//   {"id":3,"cmd":"eval","code":"return await io.S.fetchSockets()…"}
//       → {"id":3,"result":…} or {"id":3,"error":"…"}
//
// A server is socket.io 4.8.1 with the options of sails-hook-sockets 3.0.2
// lib/initialize.js:66-70 (allowEIO3, so that sails.io.js's socket.io-client
// 2 connects). Nothing of the hook is re-implemented: the script hands a
// stub of the Sails app to the hook's own modules, which then do what they
// do in a Sails app:
//   - lib/prepare-adapter.js:21-142 requires @sailshq/socket.io-redis 6.1.2
//     from this folder's node_modules, makes its Redis connections with
//     machinepack-redis (lib/prepare-driver.js), attaches it with
//     app.io.adapter(...) and its error listener, and connects the admin bus;
//   - lib/connect-to-admin-bus.js:43-154 subscribes to the admin channel
//     (adapterOptions.key when set, as here) and sets
//     app.hooks.sockets.broadcastAdminMessage, which publishes
//     {"uid","event","payload"};
//   - lib/sails.sockets/index.js builds sails.sockets (join, leave,
//     addRoomMembersToRooms, removeRoomMembersFromRooms, leaveAll, …), which
//     publish on the admin bus and query the cluster with allSockets().
// eval gets sails[name] (the stub app: sails.S.sockets.join(id, room), …).
//
// Clients: "v2": true is socket.io-client 2.0.3 (what sails.io.js 1.2.1
// bundles; Engine.IO 3, no auth: auth.rooms and auth.data travel in the
// query string), otherwise socket.io-client 4.8.1 with auth. A server joins
// a client to auth.rooms and sets socket.data from auth.data.
//
// Events are printed as they happen: {"event":"recv","client":…,"ev":…,"args":[…]},
// {"event":"disconnect","client":…}, {"event":"admin","server":…,"msg":…} (the
// hook's hook:sockets:adminMessage), {"event":"sails-log","server":…,"level":…,"msg":…}.
// Binary values are printed as {"$bin":"<hex>"}. Clients ack events that ask
// for it with {"client":<name>,"x":<first argument>}.
"use strict";

const http = require("http");
const util = require("util");
const { ser, out, serve } = require("../redis/lines");
const EventEmitter = require("events");
const { Server } = require("socket.io");
const { io: connectV4 } = require("socket.io-client");
const connectV2 = require("socket.io-client-v2");

const io = {}; // name -> socket.io Server
const sails = {}; // name -> stub Sails app
const clients = {}; // name -> client socket

// stubApp is the part of the Sails app object the hook's modules use.
function stubApp(name, httpServer, server, redis, key) {
  const app = new EventEmitter();
  const log = (level) => (...args) =>
    out({ event: "sails-log", server: name, level, msg: args.map((a) => (typeof a === "string" ? a : util.inspect(a))).join(" ") });
  app.log = { error: log("error"), warn: log("warn"), verbose: log("verbose"), info: () => {}, debug: () => {}, silly: () => {} };
  app.config = {
    appPath: __dirname,
    sockets: { adapter: "@sailshq/socket.io-redis", adapterOptions: { url: redis, key }, adminAdapterOptions: {} },
  };
  app.hooks = { http: { server: httpServer }, sockets: {} };
  app.io = server;
  app.sockets = require("sails-hook-sockets/lib/sails.sockets")(app);
  app.on("hook:sockets:adminMessage", (msg) => out({ event: "admin", server: name, msg }));
  return app;
}

async function startServer({ name, redis, key }) {
  const httpServer = http.createServer();
  const server = new Server(httpServer, { allowEIO3: true, wsEngine: require("ws").Server });
  const app = stubApp(name, httpServer, server, redis, key);
  await new Promise((resolve, reject) =>
    require("sails-hook-sockets/lib/prepare-adapter")(app)((err) => (err ? reject(err) : resolve())),
  );
  for (const nsp of [server.of("/"), server.of("/chat")]) {
    nsp.on("connection", (socket) => {
      let auth = socket.handshake.auth || {};
      const q = socket.handshake.query || {};
      if (q.rooms !== undefined || q.data !== undefined) {
        auth = { rooms: q.rooms ? q.rooms.split(",") : [], data: q.data ? JSON.parse(q.data) : undefined };
      }
      for (const r of auth.rooms || []) socket.join(r);
      if (auth.data) socket.data = auth.data;
      socket.data.server = name;
      socket.on("echo", (...args) => {
        const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
        if (cb) cb(...args);
      });
    });
  }
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  io[name] = server;
  sails[name] = app;
  return { port: httpServer.address().port, uid: server.of("/").adapter.uid };
}

function recv(name, ev, args, ack) {
  out({ event: "recv", client: name, ev, args: ser(args) });
  if (ack) ack({ client: name, x: args[0] });
}

async function startClient({ name, url, nsp, auth, v2 }) {
  const target = url + (nsp && nsp !== "/" ? nsp : "");
  let socket;
  if (v2) {
    const query = {};
    if (auth && auth.rooms) query.rooms = auth.rooms.join(",");
    if (auth && auth.data) query.data = JSON.stringify(auth.data);
    socket = connectV2(target, { transports: ["websocket"], query, reconnection: false, forceNew: true });
    // socket.io-client 2 has no onAny: see every event where it is dispatched.
    socket.onevent = function (packet) {
      const args = (packet.data || []).slice();
      const ev = args.shift();
      recv(name, ev, args, packet.id != null ? this.ack(packet.id) : null);
    };
  } else {
    socket = connectV4(target, { transports: ["websocket"], auth: auth || {}, reconnection: false, forceNew: true });
    socket.onAny((ev, ...args) => {
      const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
      recv(name, ev, args, cb);
    });
  }
  socket.on("disconnect", (reason) => out({ event: "disconnect", client: name, reason }));
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  clients[name] = socket;
  return { sid: socket.id };
}

const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;

async function handle(msg) {
  switch (msg.cmd) {
    case "server":
      return startServer(msg);
    case "client":
      return startClient(msg);
    case "eval": {
      const f = new AsyncFunction("io", "clients", "sails", "Buffer", "sleep", msg.code);
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      return ser(await f(io, clients, sails, Buffer, sleep));
    }
    case "exit":
      for (const c of Object.values(clients)) c.close();
      // Closing the HTTP server ends the hook's Redis connections
      // (lib/prepare-driver.js:93-95).
      for (const s of Object.values(io)) s.close();
      setTimeout(() => process.exit(0), 100);
      return {};
  }
  throw new Error("unknown command " + msg.cmd);
}

serve(handle);

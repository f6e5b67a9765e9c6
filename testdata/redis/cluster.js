// Remote-controlled Node side of Pier's mixed-cluster tests (redisadapter):
// Socket.IO servers with @socket.io/redis-adapter 8.3.0, socket.io-client
// clients and an @socket.io/redis-emitter 5.1.0, driven by JSON commands on
// stdin, one per line:
//
//   {"id":1,"cmd":"server","name":"A","redis":"redis://…","key":"…","specific":false}
//       → {"id":1,"result":{"port":…,"uid":"…"}}
//   ("sharded":true uses createShardedAdapter, with "subscriptionMode" when
//   given, instead of createAdapter)
//   {"id":2,"cmd":"client","name":"c1","url":"http://127.0.0.1:…","nsp":"/","auth":{…}}
//       → {"id":2,"result":{"sid":"…"}}
//   {"id":3,"cmd":"eval","code":"return await io.A.fetchSockets()…"}
//       → {"id":3,"result":…} or {"id":3,"error":"…"}
//
// Events are printed as they happen: {"event":"recv","client":"c1","ev":…,"args":[…]},
// {"event":"s2s","server":"A","args":[…]}, {"event":"disconnect","client":…}.
// Binary values are printed as {"$bin":"<hex>"}. Clients ack events that ask
// for it with {"client":<name>,"x":<second argument>}; servers answer
// serverSideEmit with ack with {"from":<name>,"got":<first argument>}.
"use strict";

const http = require("http");
const { ser, out, serve } = require("./lines");
const { Server } = require("socket.io");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
const { Emitter } = require("@socket.io/redis-emitter");
const { createClient } = require("redis");
const { io: connect } = require("socket.io-client");

const io = {}; // name -> Server
const clients = {}; // name -> client socket
const redisClients = [];
const emitters = {};

async function redisPair(url) {
  const pub = createClient({ url });
  const sub = pub.duplicate();
  pub.on("error", () => {});
  sub.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  redisClients.push(pub, sub);
  return [pub, sub];
}

async function startServer({ name, redis, key, specific, sharded, subscriptionMode }) {
  const [pub, sub] = await redisPair(redis);
  const httpServer = http.createServer();
  const adapter = sharded
    ? createShardedAdapter(pub, sub, { channelPrefix: key, ...(subscriptionMode ? { subscriptionMode } : {}) })
    : createAdapter(pub, sub, { key, publishOnSpecificResponseChannel: !!specific });
  const server = new Server(httpServer, { adapter });
  for (const nsp of [server.of("/"), server.of("/chat")]) {
    nsp.on("connection", (socket) => {
      const auth = socket.handshake.auth || {};
      for (const r of auth.rooms || []) socket.join(r);
      if (auth.data) socket.data = auth.data;
      socket.data.server = name;
      socket.on("echo", (...args) => {
        const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
        if (cb) cb(...args);
      });
    });
    nsp.on("s2s", (...args) => {
      const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
      out({ event: "s2s", server: name, nsp: nsp.name, args: ser(args) });
      if (cb) cb({ from: name, got: args[0] });
    });
  }
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  io[name] = server;
  return { port: httpServer.address().port, uid: server.of("/").adapter.uid };
}

async function startClient({ name, url, nsp, auth }) {
  const socket = connect(url + (nsp && nsp !== "/" ? nsp : ""), {
    transports: ["websocket"],
    auth: auth || {},
    reconnection: false,
    forceNew: true,
  });
  socket.onAny((ev, ...args) => {
    const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
    out({ event: "recv", client: name, ev, args: ser(args) });
    if (cb) cb({ client: name, x: args[0] });
  });
  socket.on("disconnect", (reason) => out({ event: "disconnect", client: name, reason }));
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  clients[name] = socket;
  return { sid: socket.id };
}

async function emitter(redis, key) {
  const k = redis + "|" + key;
  if (!emitters[k]) {
    const c = createClient({ url: redis });
    c.on("error", () => {});
    await c.connect();
    redisClients.push(c);
    emitters[k] = new Emitter(c, { key });
  }
  return emitters[k];
}

const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;

async function handle(msg) {
  switch (msg.cmd) {
    case "server":
      return startServer(msg);
    case "client":
      return startClient(msg);
    case "eval": {
      const f = new AsyncFunction("io", "clients", "emitter", "Buffer", "sleep", msg.code);
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      return ser(await f(io, clients, emitter, Buffer, sleep));
    }
    case "exit":
      for (const c of Object.values(clients)) c.close();
      for (const s of Object.values(io)) s.close();
      await Promise.allSettled(redisClients.map((c) => c.quit()));
      setTimeout(() => process.exit(0), 50);
      return {};
  }
  throw new Error("unknown command " + msg.cmd);
}

serve(handle);

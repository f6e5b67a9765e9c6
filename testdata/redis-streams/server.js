// A Socket.IO 4.8 server with @socket.io/redis-streams-adapter 0.3.1, for
// Pier's redisadapter/streams interop tests, driven over stdin/stdout.
// Usage: node server.js --redis redis://127.0.0.1:PORT[,redis://… for a Cluster] [--csr 1] [--stream NAME] [--sessions PREFIX]
// Prints {"event":"ready","port":N}, then answers each stdin line
// {"id":n,"op":"emit","nsp":"/","rooms":[],"except":[],"args":[...],"bin":false}
// with {"id":n,"result":...}; other ops: fetch (fetchSockets), count
// (serverCount), ask (timeout(t).emitWithAck), join/leave/disconnect
// (in(target).socketsJoin/socketsLeave/disconnectSockets), sse (serverSideEmitWithAck), sockets (local sockets). A
// server-side event "ping-s2s" is printed and acknowledged. Clients may send auth {"rooms":[...],"data":...}.
const { createServer } = require("http");
const { Server } = require("socket.io");
const { createClient, createCluster } = require("redis");
const { createAdapter } = require("@socket.io/redis-streams-adapter");
const readline = require("readline");

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const out = (o) => console.log(JSON.stringify(o));

(async () => {
  // --redis a,b,c (several URLs): a Redis Cluster.
  const urls = args.redis.split(",");
  const redis = urls.length > 1 ? createCluster({ rootNodes: urls.map((url) => ({ url })) }) : createClient({ url: args.redis });
  redis.on("error", (e) => process.stderr.write("redis: " + e + "\n"));
  await redis.connect();
  const opts = {};
  if (args.stream) opts.streamName = args.stream;
  if (args.sessions) opts.sessionKeyPrefix = args.sessions;
  const io = new Server({
    adapter: createAdapter(redis, opts),
    connectionStateRecovery: args.csr ? { maxDisconnectionDuration: 60000 } : undefined,
  });
  io.on("ping-s2s", (arg, cb) => { out({ event: "s2s", arg }); if (cb) cb({ from: "node", got: arg }); });
  for (const name of ["/", "/chat"]) {
    io.of(name).on("connection", (socket) => {
      const auth = socket.handshake.auth || {};
      if (!socket.recovered) {
        for (const r of auth.rooms || []) socket.join(r);
        if (auth.data !== undefined) socket.data = auth.data;
      }
    });
  }
  const httpServer = createServer();
  io.attach(httpServer);
  httpServer.listen(0, "127.0.0.1", () => out({ event: "ready", port: httpServer.address().port }));
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", async (line) => {
    const cmd = JSON.parse(line);
    try {
      let result = null;
      const nsp = io.of(cmd.nsp || "/");
      if (cmd.op === "emit") {
        let op = nsp.to(cmd.rooms || []).except(cmd.except || []);
        if (cmd.volatile) op = op.volatile;
        const a = cmd.args.slice();
        if (cmd.bin) a.push(Buffer.from([1, 2, 3]));
        op.emit(...a);
      } else if (cmd.op === "fetch") {
        result = (await nsp.fetchSockets()).map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data, address: s.handshake.address }));
      } else if (cmd.op === "ask") {
        result = await nsp.timeout(cmd.timeout || 3000).emitWithAck(...cmd.args);
      } else if (cmd.op === "join") {
        nsp.in(cmd.target).socketsJoin(cmd.rooms);
      } else if (cmd.op === "leave") {
        nsp.in(cmd.target).socketsLeave(cmd.rooms);
      } else if (cmd.op === "disconnect") {
        nsp.in(cmd.target).disconnectSockets(!!cmd.close);
      } else if (cmd.op === "count") {
        result = await nsp.adapter.serverCount();
      } else if (cmd.op === "sse") {
        result = await nsp.serverSideEmitWithAck(...cmd.args);
      } else if (cmd.op === "sockets") {
        result = (await nsp.local.fetchSockets()).map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data }));
      }
      out({ id: cmd.id, result });
    } catch (e) {
      out({ id: cmd.id, error: String(e) });
    }
  });
  rl.on("close", () => process.exit(0));
})().catch((e) => { process.stderr.write(String(e.stack || e) + "\n"); process.exit(1); });

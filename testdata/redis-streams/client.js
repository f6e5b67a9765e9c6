// A socket.io-client 4.8 client for Pier's redisadapter/streams tests.
// Usage: node client.js --url http://127.0.0.1:PORT [--auth JSON]
// Prints {"event":"connect","id":...,"recovered":bool} at each connection
// and {"event":"msg","args":[name,...]} for each event (binary as
// {"bin":hex}); a stdin line "close" closes the engine under the client,
// as a network failure would.
const { io } = require("socket.io-client");
const readline = require("readline");

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const out = (o) => console.log(JSON.stringify(o));
const conv = (v) => (v instanceof ArrayBuffer || ArrayBuffer.isView(v) ? { bin: Buffer.from(v).toString("hex") } : v);

const socket = io(args.url, {
  transports: ["websocket"],
  auth: args.auth ? JSON.parse(args.auth) : {},
  reconnectionDelay: 100,
  reconnectionDelayMax: 200,
});
socket.on("connect", () => out({ event: "connect", id: socket.id, recovered: socket.recovered }));
socket.on("disconnect", (reason) => out({ event: "disconnect", reason }));
socket.on("connect_error", (e) => out({ event: "connect_error", message: e.message }));
socket.onAny((...a) => out({ event: "msg", args: a.map(conv) }));
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (line === "close") socket.io.engine.close();
});

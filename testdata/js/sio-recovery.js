// Connection state recovery with the official socket.io-client 4.x:
// connect, receive an event, lose the transport (engine closed under the
// client, as a network failure would), let the server broadcast while the
// client is away, and check that the reconnected socket is "recovered"
// with the same id and got the missed event.
// Usage: node sio-recovery.js --url http://127.0.0.1:PORT --transports websocket|polling
const { io } = require("socket.io-client");
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const out = (o) => console.log(JSON.stringify(o));
const fail = (e) => { out({ event: "done", ok: false, error: String(e) }); process.exit(1); };
setTimeout(() => fail("timeout"), 10000);

const socket = io(args.url, { transports: args.transports.split(","), reconnectionDelay: 50, reconnectionDelayMax: 100 });
let firstId, phase = 0;
socket.on("connect", () => {
  out({ event: "connect", id: socket.id, recovered: socket.recovered });
  if (phase === 0) {
    firstId = socket.id;
    socket.emit("ready");
  } else {
    if (!socket.recovered) fail("not recovered");
    if (socket.id !== firstId) fail(`id changed: ${firstId} -> ${socket.id}`);
  }
});
socket.on("news", (n) => {
  out({ event: "news", n });
  if (n === 1) {
    phase = 1;
    socket.emit("going-away", () => socket.io.engine.close()); // server broadcasts news 2 once we are gone
  }
  if (n === 2) {
    if (!socket.recovered) fail("news 2 before recovery");
    out({ event: "done", ok: true });
    process.exit(0);
  }
});
socket.on("connect_error", (e) => fail(e.message));

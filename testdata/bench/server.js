'use strict';
// Node reference server of Pier's benchmark (cmd/pier-bench). The runner
// starts it pinned to one core, as it starts Pier, and measures its CPU and
// RSS from /proc. It prints one JSON line {"event":"listening",...} once it
// accepts connections.
//
//   node server.js --port 0 --mode eio      engine.io on /engine.io/: echo every message
//   node server.js --port 0 --mode sio      socket.io on /socket.io/: the Socket.IO fixture below
//
// Both accept Engine.IO v3 clients (allowEIO3) and use pingInterval 25 s,
// pingTimeout 20 s (the defaults), as the Pier side does.
const http = require('http');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

const port = Number(arg('port', '0')); // 0: any free port, printed in the listening line
const host = arg('host', '127.0.0.1');
const mode = arg('mode', 'eio');
const httpServer = http.createServer();

if (mode === 'eio') {
  const engine = require('engine.io');
  const eio = engine.attach(httpServer, {
    path: '/engine.io',
    pingInterval: 25000,
    pingTimeout: 20000,
    allowEIO3: true,
  });
  eio.on('connection', (socket) => {
    socket.on('message', (data) => socket.send(data));
  });
} else if (mode === 'sio') {
  // The Socket.IO fixture, to be matched by `pier-bench serve-pier -mode sio`:
  //   "echo" (data, ack)      acks with data (or emits "echo" back without an ack)
  //   "join" (room, ack)      joins room, then acks with no arguments
  //   "broadcast" (room, x)   emits "broadcast" x to every socket in room
  const { Server } = require('socket.io');
  const io = new Server(httpServer, {
    path: '/socket.io/',
    serveClient: false,
    pingInterval: 25000,
    pingTimeout: 20000,
    allowEIO3: true,
  });
  io.on('connection', (socket) => {
    socket.on('echo', (data, ack) => {
      if (typeof ack === 'function') ack(data);
      else socket.emit('echo', data);
    });
    socket.on('join', (room, ack) => {
      socket.join(room);
      if (typeof ack === 'function') ack();
    });
    socket.on('broadcast', (room, data) => {
      io.to(room).emit('broadcast', data);
    });
  });
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}

// Versions as installed (the packages do not export package.json).
function version(pkg) {
  const fs = require('fs');
  const path = require('path');
  const p = path.join(__dirname, 'node_modules', pkg, 'package.json');
  return JSON.parse(fs.readFileSync(p, 'utf8')).version;
}

httpServer.listen(port, host, () => {
  process.stdout.write(JSON.stringify({ event: 'listening', addr: `${host}:${httpServer.address().port}`, mode, pid: process.pid,
    versions: { node: process.version,
      'engine.io': version('engine.io'), 'socket.io': version('socket.io') } }) + '\n');
});

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

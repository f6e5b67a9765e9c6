#!/usr/bin/env node
// Event listener semantics (on, once, off, onAny, prependAny, use,
// onAnyOutgoing, offAnyOutgoing, compress) checked against Node's own
// socket.io 4.8 server: the same client run talks either to a Pier server
// set up by socketio/listeners_interop_test.go, or, with --node-server, to
// a socket.io server started here with the same handlers. Each server
// keeps a log of the handler calls, which the client fetches at the end
// ("getlog") and prints; the Go test compares the two logs.
//
//   node sio-api.js --url http://127.0.0.1:PORT --client 4|2 --transports T
//   node sio-api.js --node-server --client 4|2 --transports T
//
// Output: {"event":"log","log":[...]} then {"event":"done","ok":true}.
'use strict';

const { out, cli } = require('./lib/harness');

const args = cli({
  url: { type: 'string' },
  'node-server': { type: 'boolean', default: false },
  client: { type: 'string', default: '4' },
  transports: { type: 'string', default: 'websocket' },
});
const fail = (e) => {
  out({ event: 'done', ok: false, error: String(e && e.stack ? e.stack : e) });
  process.exit(1);
};
setTimeout(() => fail('timeout'), 15000).unref();

// startNodeServer is the reference: the handlers Pier's test registers, in
// Node's words.
function startNodeServer() {
  const { Server } = require('socket.io');
  const http = require('http');
  const httpServer = http.createServer();
  const io = new Server(httpServer, { allowEIO3: true });
  io.on('connection', (socket) => {
    const log = [];
    const pre = (ev) => log.push('pre:' + ev);
    socket.prependAny(pre);
    socket.onAny((ev, ...a) => {
      log.push('any:' + ev);
      const cb = a[a.length - 1];
      if (ev !== 'getlog' && typeof cb === 'function') cb('ok');
    });
    socket.use(([ev], next) => {
      log.push('mw1:' + ev);
      next();
    });
    socket.use(([ev], next) => {
      log.push('mw2:' + ev);
      next(ev === 'forbidden' ? new Error('not allowed') : undefined);
    });
    socket.on('error', (err) => log.push('error:' + err.message));
    const x1 = (a) => log.push('x1:' + a);
    socket.on('x', x1);
    socket.on('x', (a) => log.push('x2:' + a));
    socket.once('y', (a) => log.push('y:' + a));
    socket.onAnyOutgoing((ev, a) => log.push('out:' + ev + ':' + a));
    socket.on('dropx1', () => {
      socket.off('x', x1);
      socket.offAny(pre);
    });
    socket.on('dropx', () => socket.removeAllListeners('x'));
    socket.on('dropout', () => socket.offAnyOutgoing());
    socket.on('poke', () => {
      socket.emit('reply', 1);
      io.emit('bcast', 2);
      socket.broadcast.emit('others', 3);
      socket.compress(false).emit('small', 4);
    });
    socket.on('getlog', (cb) => cb(log));
  });
  return new Promise((resolve) => {
    httpServer.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${httpServer.address().port}`));
  });
}

async function main() {
  const url = args['node-server'] ? await startNodeServer() : args.url;
  if (!url) fail('--url or --node-server is required');
  const transports = args.transports.split(',');
  const v2 = args.client === '2';
  const socket = v2
    ? require('socket.io-client-v2')(url, { transports, reconnection: false })
    : require('socket.io-client').io(url, { transports, reconnection: false });
  socket.on('connect_error', (e) => fail('connect_error: ' + (e && e.message)));
  await new Promise((resolve) => socket.once('connect', resolve));

  // emit sends an event and waits for its ack, so that the server has
  // handled it before the next one is sent (the log order is then fixed).
  const emit = (...a) => new Promise((resolve) => socket.emit(...a, resolve));
  // events resolves once each of names arrived.
  const events = (names) =>
    Promise.all(names.map((n) => new Promise((resolve) => socket.once(n, resolve))));

  await emit('x', 'a');
  await emit('y', 'b');
  await emit('y', 'c');
  await emit('forbidden', 'd');
  await emit('dropx1');
  await emit('x', 'e');
  await emit('dropx');
  await emit('x', 'f');
  let got = events(['reply', 'bcast', 'small']);
  await emit('poke');
  await got;
  await emit('dropout');
  got = events(['reply', 'bcast', 'small']);
  await emit('poke');
  await got;
  const log = await emit('getlog');
  out({ event: 'log', log });
  out({ event: 'done', ok: true });
  socket.close();
  process.exit(0);
}

main().catch(fail);

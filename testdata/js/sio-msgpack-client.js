#!/usr/bin/env node
// Drives the OFFICIAL socket.io-client 4.8.4 with the npm
// socket.io-msgpack-parser against a Pier Socket.IO server using
// socketio.MsgpackParser, set up by socketio/msgpack_interop_test.go, and
// reports what it saw as JSON lines on stdout. Used through internal/jstest.
//
//   node sio-msgpack-client.js --url http://127.0.0.1:PORT --transports polling|websocket
//
// Clients (index c):
//   0: auth {token: "good", user: "ann"}: is let in; gets "welcome"; emits
//      "mixed" (string, ints, float, nested object with a Buffer, Buffers
//      of 3 and 70000 bytes, a Uint8Array, a Date, an object with an
//      undefined member) with an ack; gets "mixed-back" (the server's
//      echo); answers the server's "ask" with binary data; gets
//      "ask-result".
//   1: auth {token: "bad"}: refused with data {code: 401}.
//   2: auth {token: "other"}: refused by a plain error.
//   3: no auth (the CONNECT data is undefined): refused.
//
// Output lines:
//   {"event":"connect","c":0,"id":"…","transport":"websocket"}
//   {"event":"connect_error","c":1,"message":"…","data":…}
//   {"event":NAME,"c":0,"args":[…]} for welcome, mixed-ack, mixed-back,
//     ask (the arguments of the server's ask), ask-result
//   {"event":"done","ok":true} or {"event":"done","ok":false,"error":"…"}
// Binary data in args becomes {"$bin":"hex"} (up to 64 bytes) or
// {"$binlen":n,"$sha256":"hex"}. The exit code is 0 only when every step
// completed.
'use strict';

const crypto = require('crypto');
const { io } = require('socket.io-client');
const parser = require('socket.io-msgpack-parser');
const { out, cli } = require('./lib/harness');

const GLOBAL_TIMEOUT_MS = 15000;
const STEP_TIMEOUT_MS = 5000;

const args = cli({
  url: { type: 'string' },
  transports: { type: 'string', default: 'websocket' },
});
if (!args.url || !['polling', 'websocket'].includes(args.transports)) {
  out({ event: 'done', ok: false, error: '--url and --transports polling|websocket are required' });
  process.exit(2);
}

function toBuffer(data) {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

// enc turns received values into plain JSON (see the top).
function enc(v) {
  const b = toBuffer(v);
  if (b) {
    if (b.length <= 64) return { $bin: b.toString('hex') };
    return { $binlen: b.length, $sha256: crypto.createHash('sha256').update(b).digest('hex') };
  }
  if (Array.isArray(v)) return v.map(enc);
  if (typeof v === 'function') return { $fn: true };
  if (v === undefined) return { $undefined: true };
  if (v !== null && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v)) o[k] = enc(v[k]);
    return o;
  }
  return v;
}

function bigBinary(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

function within(p, what, ms = STEP_TIMEOUT_MS) {
  let t;
  return Promise.race([
    p,
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`timeout (${ms} ms) waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

const sockets = [];
let finished = false;

function finish(ok, error) {
  if (finished) return;
  finished = true;
  clearTimeout(globalTimer);
  const ev = { event: 'done', ok };
  if (!ok) ev.error = error || 'failed';
  out(ev);
  process.exitCode = ok ? 0 : 1;
  for (const s of sockets) {
    try {
      s.disconnect();
    } catch (e) {
      // ignore
    }
  }
  setTimeout(() => process.exit(ok ? 0 : 1), 300).unref();
}

const globalTimer = setTimeout(() => finish(false, `timeout: not complete after ${GLOBAL_TIMEOUT_MS} ms`), GLOBAL_TIMEOUT_MS);

// client opens a socket (its own connection) and resolves the outcome of
// its namespace connection: "connect" or "connect_error".
function client(c, auth) {
  const opts = {
    parser,
    transports: [args.transports],
    upgrade: false,
    reconnection: false,
    forceNew: true,
    timeout: STEP_TIMEOUT_MS,
  };
  if (auth !== undefined) opts.auth = auth;
  const sock = io(args.url, opts);
  sockets.push(sock);
  const outcome = new Promise((resolve) => {
    sock.on('connect', () => {
      out({ event: 'connect', c, id: sock.id, transport: sock.io.engine.transport.name });
      resolve('connect');
    });
    sock.on('connect_error', (err) => {
      const ev = { event: 'connect_error', c, message: String((err && err.message) || err) };
      if (err && err.data !== undefined) ev.data = enc(err.data);
      out(ev);
      resolve('connect_error');
    });
  });
  return { sock, outcome: within(outcome, `client ${c}'s connection`) };
}

// next resolves with the arguments of the next ev on sock.
function next(sock, c, ev) {
  return within(
    new Promise((resolve) =>
      sock.once(ev, (...a) => {
        out({ event: ev, c, args: enc(a) });
        resolve(a);
      }),
    ),
    ev,
  );
}

async function main() {
  const { sock, outcome } = client(0, { token: 'good', user: 'ann' });
  // Listeners first: the server emits as soon as the socket connects.
  const welcome = next(sock, 0, 'welcome');
  const back = next(sock, 0, 'mixed-back');
  const askResult = next(sock, 0, 'ask-result');
  const ask = within(
    new Promise((resolve) =>
      sock.once('ask', (...a) => {
        const ack = a.pop();
        out({ event: 'ask', c: 0, args: enc(a) });
        ack(Buffer.from('hi'), { inner: Buffer.from([1, 2]), n: 1 });
        resolve();
      }),
    ),
    'ask',
  );
  if ((await outcome) !== 'connect') throw new Error('client 0 was refused');
  const mixedAck = within(
    new Promise((resolve) =>
      sock.emit(
        'mixed',
        'str',
        42,
        1.5,
        -7,
        { nested: { a: [1, 'two', null, true] }, bin: Buffer.from([1, 2]) },
        Buffer.from([1, 2, 3]),
        bigBinary(70000),
        new Uint8Array([5, 6, 7]),
        new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789)),
        { a: undefined, b: 1 },
        (...r) => {
          out({ event: 'mixed-ack', c: 0, args: enc(r) });
          resolve();
        },
      ),
    ),
    'the ack of mixed',
  );
  await Promise.all([welcome, back, askResult, ask, mixedAck]);

  const refused = [client(1, { token: 'bad' }), client(2, { token: 'other' }), client(3, undefined)];
  for (const [i, r] of refused.entries()) {
    if ((await r.outcome) !== 'connect_error') throw new Error(`client ${i + 1} was let in`);
  }
}

main().then(
  () => finish(true),
  (e) => finish(false, String((e && e.stack) || e)),
);

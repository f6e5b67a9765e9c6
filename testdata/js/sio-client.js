#!/usr/bin/env node
// Drives the OFFICIAL socket.io-client (4.8.4, protocol v5 over EIO4, or
// 2.0.3, protocol v4 over EIO3) against a Pier Socket.IO server set up by
// socketio/interop_test.go for the same scenario, and reports what it saw as
// JSON lines on stdout. Used through internal/jstest.
//
//   node sio-client.js --url http://127.0.0.1:PORT --client 4|2 \
//        --transports polling|websocket|polling,websocket --scenario NAME
//
// Scenarios (v2 runs only basic, custom, ack, binary, rooms, volatile): see
// SCENARIOS below; each one's server side is described in interop_test.go.
//
// Every client of a scenario has an index c (0, 1, ...). Output lines:
//   {"event":"connect","c":0,"nsp":"/","id":"…"}
//   {"event":"connect_error","c":0,"message":"…","data":…}   (v4)
//   {"event":"error","c":0,"error":…}                         (v2 refusals)
//   {"event":"disconnect","c":0,"reason":"io server disconnect"}
//   scenario-specific events, whose values are encoded by enc() below:
//   binary data becomes {"$bin":"hex"} (up to 64 bytes) or
//   {"$binlen":n,"$sha256":"hex"}, a function {"$fn":true}, undefined
//   {"$undefined":true}.
//   {"event":"final","c":0,"transport":"websocket","args":[…]}: a last ack
//   round trip ("__final") made by every client still connected at the end,
//   after the polling→websocket upgrade when both transports are allowed.
//   {"event":"done","ok":true} or {"event":"done","ok":false,"error":"…"}
// The exit code is 0 only when the scenario ran to its end.
'use strict';

const crypto = require('crypto');
const { out, cli } = require('./lib/harness');

const GLOBAL_TIMEOUT_MS = 15000;
const STEP_TIMEOUT_MS = 5000;
const UPGRADE_TIMEOUT_MS = 5000;


const args = cli({
  url: { type: 'string' },
  client: { type: 'string', default: '4' },
  transports: { type: 'string', default: 'polling,websocket' },
  scenario: { type: 'string' },
});

const V2_SCENARIOS = ['basic', 'custom', 'ack', 'binary', 'rooms', 'volatile'];
const V4_SCENARIOS = ['basic', 'ack', 'binary', 'auth', 'namespaces', 'rooms', 'broadcast-ack', 'disconnect', 'volatile', 'fetch'];
const v2 = args.client === '2';
const transports = String(args.transports).split(',').map((s) => s.trim()).filter(Boolean);
{
  let err = null;
  if (!args.url) err = '--url is required';
  else if (args.client !== '2' && args.client !== '4') err = '--client must be 2 or 4';
  else if (!(v2 ? V2_SCENARIOS : V4_SCENARIOS).includes(args.scenario)) {
    err = `--scenario must be one of ${(v2 ? V2_SCENARIOS : V4_SCENARIOS).join(', ')} for client ${args.client}`;
  } else if (transports.length === 0 || transports.some((t) => t !== 'polling' && t !== 'websocket')) {
    err = '--transports must be polling, websocket or polling,websocket';
  }
  if (err) {
    out({ event: 'done', ok: false, error: err });
    process.exit(2);
  }
}
const upgrading = transports.length > 1;

const ioV4 = v2 ? null : require('socket.io-client');
const ioV2 = v2 ? require('socket.io-client-v2') : null;

// ---------------------------------------------------------------------------
// Helpers.

function toBuffer(data) {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

function sha256(b) {
  return crypto.createHash('sha256').update(b).digest('hex');
}

// enc turns what a client library handed over into plain JSON (see the top).
function enc(v) {
  const b = toBuffer(v);
  if (b) return b.length <= 64 ? { $bin: b.toString('hex') } : { $binlen: b.length, $sha256: sha256(b) };
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

const nonASCII = 'héllo ✓ 😀';

let finished = false;
const sockets = []; // every socket made, for the final round and the close

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
  // Let the disconnects go out; force the exit if some handle lingers.
  setTimeout(() => process.exit(ok ? 0 : 1), 300).unref();
}

function fail(error) {
  finish(false, error);
}

const globalTimer = setTimeout(
  () => fail(`timeout: scenario ${args.scenario} not complete after ${GLOBAL_TIMEOUT_MS} ms`),
  GLOBAL_TIMEOUT_MS,
);

// within rejects when p has not settled after ms.
function within(p, what, ms = STEP_TIMEOUT_MS) {
  let t;
  return Promise.race([
    p,
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`timeout (${ms} ms) waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

// once resolves with the arguments of the next ev on sock. Call it before
// the event can arrive.
function once(sock, ev) {
  return new Promise((resolve) => sock.once(ev, (...a) => resolve(a)));
}

// emitAck emits with an ack callback and resolves with the ack's arguments.
function emitAck(sock, name, ...a) {
  return within(new Promise((resolve) => sock.emit(name, ...a, (...r) => resolve(r))), `the ack of ${name}`);
}

const baseOpts = {
  transports,
  upgrade: upgrading,
  reconnection: false,
  timeout: STEP_TIMEOUT_MS,
};

// Connection states, per socket, for awaiting the first connect.
const connected = new Map();

// watch reports a socket's lifecycle events and records it.
function watch(sock, c, nsp) {
  sockets.push(sock);
  let resolveConnect;
  let rejectConnect;
  const p = new Promise((resolve, reject) => {
    resolveConnect = resolve;
    rejectConnect = reject;
  });
  p.catch(() => {}); // refusals are expected in some scenarios
  connected.set(sock, p);
  sock.on('connect', () => {
    out({ event: 'connect', c, nsp, id: sock.id });
    resolveConnect();
  });
  sock.on('connect_error', (err) => {
    const ev = { event: 'connect_error', c, nsp, message: String((err && err.message) || err) };
    if (err && err.data !== undefined) ev.data = enc(err.data);
    out(ev);
    rejectConnect(new Error(`connect_error on ${nsp}: ${ev.message}`));
  });
  if (v2) {
    // socket.io-client 2 reports refused namespace connections as 'error'.
    sock.on('error', (err) => {
      out({ event: 'error', c, nsp, error: enc(err) });
      rejectConnect(new Error(`error on ${nsp}: ${JSON.stringify(enc(err))}`));
    });
  }
  sock.on('disconnect', (reason) => out({ event: 'disconnect', c, nsp, reason: String(reason) }));
  return sock;
}

// client opens a new connection (its own Engine.IO session) to nsp.
function client(c, nsp = '/', opts = {}) {
  const o = { ...baseOpts, forceNew: true, ...opts };
  const sock = v2 ? ioV2(args.url + nsp, o) : ioV4.io(args.url + nsp, o);
  return watch(sock, c, nsp.split('?')[0]);
}

function whenConnected(sock, what = 'connect') {
  return within(connected.get(sock), what);
}

// record makes every `name` event on sock an output line.
function record(sock, c, name, extra = {}) {
  sock.on(name, (...a) => out({ event: name, c, ...extra, args: enc(a) }));
}

function engineOf(sock) {
  return sock.io.engine;
}

// finalRound waits for the upgrade when both transports are allowed, then
// makes one ack round trip on every socket still connected.
async function finalRound() {
  const live = sockets.filter((s) => s.connected);
  if (upgrading) {
    const engines = [...new Set(live.map(engineOf))];
    await Promise.all(
      engines.map((e) =>
        e.transport.name === 'websocket'
          ? null
          : within(new Promise((resolve) => e.once('upgrade', resolve)), 'the upgrade to websocket', UPGRADE_TIMEOUT_MS),
      ),
    );
  }
  await Promise.all(
    live.map(async (s) => {
      const c = sockets.indexOf(s);
      const r = await emitAck(s, '__final', c);
      out({ event: 'final', c, nsp: s.nsp, transport: engineOf(s).transport.name, args: enc(r) });
    }),
  );
}

// ---------------------------------------------------------------------------
// Scenarios. Each resolves when its client side is complete.

const SCENARIOS = {
  // Server: OnConnection emits welcome(id, 42, {...}); echo → echo-back with
  // e.Values().
  async basic() {
    const s = client(0);
    const welcome = once(s, 'welcome');
    await whenConnected(s);
    out({ event: 'welcome', args: enc(await within(welcome, 'welcome')) });
    const echoArgs = ['str', 1.5, { x: [1, 2, 'three'], y: null, z: { deep: [[]] } }, null, true, nonASCII, -7, [], {}];
    const back = once(s, 'echo-back');
    s.emit('echo', ...echoArgs);
    out({ event: 'echo-back', args: enc(await within(back, 'echo-back')) });
  },

  // Server (v2): the namespace /custom reads its query as the auth.
  // and refuses the token "bad".
  async custom() {
    const s = client(0, '/custom?token=abc');
    const refused = client(1, '/custom?token=bad');
    const auth = once(s, 'auth');
    await whenConnected(s);
    out({ event: 'auth', id: s.id, args: enc(await within(auth, 'auth')) });
    try {
      await whenConnected(refused, 'error');
      return fail('client 1 connected with the token bad');
    } catch (e) {
      if (e.message.startsWith('timeout')) throw e;
    }
  },

  // Acks both ways.
  async ack() {
    const s = client(0);
    s.on('ask', (n, cb) => {
      out({ event: 'ask', args: enc([n]) });
      cb(n + 1, 'pong');
    });
    s.on('ignore', () => out({ event: 'ignore' })); // never calls back
    const askResult = once(s, 'ask-result');
    const ignoreResult = once(s, 'ignore-result');
    await whenConnected(s);
    out({ event: 'ack', name: 'sum', args: enc(await emitAck(s, 'sum', 1, 2)) });
    out({ event: 'ack', name: 'noargs', args: enc(await emitAck(s, 'noargs')) });
    if (!v2) {
      out({ event: 'ack', name: 'sum-promise', args: enc([await within(s.emitWithAck('sum', 2, 3), 'emitWithAck')]) });
      const t0 = Date.now();
      try {
        const r = await within(s.timeout(200).emitWithAck('never', 'x'), 'timeout of emitWithAck');
        out({ event: 'never-acked', args: enc([r]) });
      } catch (e) {
        out({ event: 'ack-timeout', message: e.message, ms: Date.now() - t0 });
      }
    }
    out({ event: 'ask-result', args: enc(await within(askResult, 'ask-result')) });
    out({ event: 'ignore-result', args: enc(await within(ignoreResult, 'ignore-result')) });
  },

  // Binary data both ways, in events and acks.
  async binary() {
    const s = client(0);
    s.on('bin-ask', (buf, cb) => {
      out({ event: 'bin-ask', args: enc([buf]) });
      cb(Buffer.concat([toBuffer(buf), Buffer.from([0xbe, 0xef])]), { inner: Buffer.from('hi'), n: 1 });
    });
    const back = once(s, 'bin-back');
    const echo = once(s, 'bin-echo');
    const askResult = once(s, 'bin-ask-result');
    await whenConnected(s);
    const big = bigBinary(100 * 1024);
    const r = await emitAck(
      s,
      'bin',
      Buffer.from([1, 2, 3]),
      { name: 'obj', data: Buffer.from([4, 5, 6]), list: [Buffer.from([7]), 's'], empty: Buffer.alloc(0) },
      big,
    );
    out({ event: 'bin-ack', args: enc(r) });
    out({ event: 'bin-back', args: enc(await within(back, 'bin-back')) });
    out({ event: 'bin-echo', args: enc(await within(echo, 'bin-echo')) });
    out({ event: 'bin-ask-result', args: enc(await within(askResult, 'bin-ask-result')) });
  },

  // Middleware reading the auth payload.
  async auth() {
    const good = client(0, '/', { auth: { token: 'good', user: 'ann' } });
    const bad = client(1, '/', { auth: { token: 'bad' } });
    const plain = client(2, '/', { auth: { token: 'other' } });
    const whoami = once(good, 'whoami');
    await whenConnected(good);
    out({ event: 'whoami', args: enc(await within(whoami, 'whoami')) });
    for (const s of [bad, plain]) {
      try {
        await whenConnected(s, 'connect_error');
        return fail(`client ${sockets.indexOf(s)} connected, want a connect_error`);
      } catch (e) {
        if (e.message.startsWith('timeout')) throw e;
      }
    }
  },

  // Static and dynamic namespaces over one connection (a shared Manager).
  async namespaces() {
    const m = new ioV4.Manager(args.url, { ...baseOpts });
    const admin = watch(m.socket('/admin'), 0, '/admin');
    const dyn = watch(m.socket('/dyn-42'), 1, '/dyn-42');
    const nope = watch(m.socket('/nope'), 2, '/nope'); // Manager sockets connect at once (autoConnect)
    const hellos = [admin, dyn].map((s) => once(s, 'hello'));
    for (const [i, s] of [admin, dyn].entries()) {
      await whenConnected(s);
      out({ event: 'hello', c: i, args: enc(await within(hellos[i], 'hello')) });
      out({ event: 'which', c: i, args: enc(await emitAck(s, 'which')) });
    }
    try {
      await whenConnected(nope, 'connect_error');
      return fail('connected to /nope');
    } catch (e) {
      if (e.message.startsWith('timeout')) throw e;
    }
  },

  // Rooms and broadcasts: 5 clients; client 0 triggers the broadcasts, and
  // a last "end" to everyone closes the series.
  async rooms() {
    const roomsOf = [['room-a'], ['room-a'], ['room-b'], ['room-a', 'room-b'], []];
    const names = ['to-a', 'except-a', 'to-ab', 'b-not-a', 'bcast', 'sender-to-a', 'direct', 'after-leave', 'end'];
    const socks = roomsOf.map((_, i) => client(i));
    const ends = socks.map((s, i) => {
      const got = [];
      for (const n of names) s.on(n, (...a) => got.push([n, ...enc(a)]));
      return new Promise((resolve) => s.on('end', () => resolve(got)));
    });
    await Promise.all(socks.map((s) => whenConnected(s)));
    await Promise.all(
      socks.map(async (s, i) => out({ event: 'joined', c: i, args: enc(await emitAck(s, 'join', roomsOf[i])) })),
    );
    socks[0].emit('go', { direct: socks[2].id });
    const lists = await within(Promise.all(ends), 'end on every client');
    lists.forEach((got, i) => out({ event: 'received', c: i, list: got }));
  },

  // A broadcast with acks to 3 clients; then one where client 2 is silent.
  async 'broadcast-ack'() {
    const socks = [0, 1, 2].map((i) => client(i));
    socks.forEach((s, i) => {
      s.on('poll', (q, cb) => cb({ c: i, q }));
      s.on('poll2', (q, cb) => {
        if (i !== 2) cb({ c: i, q });
      });
    });
    await Promise.all(socks.map((s) => whenConnected(s)));
    out({ event: 'polled', args: enc(await emitAck(socks[0], 'start-poll')) });
  },

  // Server-side and client-side disconnects.
  async disconnect() {
    const kicked = client(0);
    const leaving = client(1);
    const closed = client(2);
    await Promise.all([kicked, leaving, closed].map((s) => whenConnected(s)));
    const d0 = once(kicked, 'disconnect');
    const d2 = once(closed, 'disconnect');
    kicked.emit('kick-me', false);
    closed.emit('kick-me', true);
    await within(Promise.all([d0, d2]), 'the server disconnects');
    // Make sure the server knows client 1 before it leaves.
    await emitAck(leaving, 'hello');
    leaving.disconnect();
  },

  // Volatile emits, then a normal one.
  async volatile() {
    const s = client(0);
    const vols = [];
    s.on('vol', (...a) => vols.push(enc(a)));
    const after = once(s, 'after');
    await whenConnected(s);
    s.emit('go');
    out({ event: 'after', args: enc(await within(after, 'after')) });
    out({ event: 'vols', list: vols });
  },

  // FetchSockets, SocketsJoin, DisconnectSockets on the namespace.
  async fetch() {
    const socks = [0, 1, 2].map((i) => client(i));
    const inX = socks.map((s) => once(s, 'in-x'));
    const gone = socks.map((s) => once(s, 'disconnect'));
    await Promise.all(socks.map((s) => whenConnected(s)));
    out({ event: 'admin', args: enc(await emitAck(socks[0], 'admin')) });
    const got = await within(Promise.all(inX), 'in-x on every client');
    got.forEach((a, i) => out({ event: 'in-x', c: i, args: enc(a) }));
    await within(Promise.all(gone), 'the disconnect of every client');
  },
};

(async () => {
  await SCENARIOS[args.scenario]();
  if (finished) return;
  await finalRound();
  finish(true);
})().catch((e) => fail(String((e && e.stack) || e)));

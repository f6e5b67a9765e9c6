#!/usr/bin/env node
// Drives the REAL sails.io.js 1.2.1 (over socket.io-client 2.0.3, Socket.IO
// protocol v4 over EIO3) against a Pier server running sailsbridge, set up
// by sailsbridge/e2e_test.go, and reports what it saw as JSON lines on
// stdout. Used through internal/jstest.
//
//   node sails-client.js --url http://127.0.0.1:PORT --scenario NAME
//        [--origin O] [--cookie C] [--nosession-header] [--query Q]
//
// Output lines (values encoded by enc(): binary → {"$bin":"hex"},
// undefined → {"$undefined":true}):
//   {"event":"res","name":…,"body":…,"jwr":{"statusCode":…,"headers":…,"error":…}}
//   {"event":"ack","name":…,"args":[…]}            (raw socket.io acks)
//   {"event":"msg","c":0,"name":…,"data":…}         (server events)
//   {"event":"connect","c":0} / {"event":"connect_failed","c":0,"error":…}
//   {"event":"disconnect","c":0,"reason":…}
//   {"event":"done","ok":true} or {"event":"done","ok":false,"error":"…"}
// The exit code is 0 only when the scenario ran to its end.
'use strict';

const { parseArgs } = require('util');

const GLOBAL_TIMEOUT_MS = 20000;
const STEP_TIMEOUT_MS = 5000;

let doneWritten = false;
function out(obj) {
  if (doneWritten) return;
  if (obj.event === 'done') doneWritten = true;
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function enc(v) {
  if (v === undefined) return { $undefined: true };
  if (Buffer.isBuffer(v)) return { $bin: v.toString('hex') };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString('hex') };
  if (Array.isArray(v)) return v.map(enc);
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v)) o[k] = enc(v[k]);
    return o;
  }
  return v;
}

let args;
try {
  args = parseArgs({
    options: {
      url: { type: 'string' },
      scenario: { type: 'string' },
      origin: { type: 'string' },
      cookie: { type: 'string' },
      'nosession-header': { type: 'boolean', default: false },
      query: { type: 'string' },
    },
    strict: true,
  }).values;
} catch (e) {
  out({ event: 'done', ok: false, error: 'bad arguments: ' + e.message });
  process.exit(2);
}

const sioV2 = require('socket.io-client-v2');
const io = require('sails.io.js')(sioV2);
io.sails.autoConnect = false;
io.sails.environment = 'production'; // no console logs on stdout
io.sails.reconnection = false;
io.sails.transports = ['websocket'];

function fail(err) {
  out({ event: 'done', ok: false, error: String(err && err.stack || err) });
  process.exit(1);
}
process.on('uncaughtException', fail);
setTimeout(() => fail('global timeout'), GLOBAL_TIMEOUT_MS).unref();

function withTimeout(p, what, ms = STEP_TIMEOUT_MS) {
  let t;
  return Promise.race([
    p,
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error('timeout: ' + what)), ms); }),
  ]).finally(() => clearTimeout(t));
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// connect opens a SailsSocket and resolves once it is connected (or
// rejects with the connection error). Every server event is reported.
function connect(c, opts = {}) {
  const headers = {};
  if (args.origin) headers.origin = args.origin;
  if (args.cookie) headers.cookie = args.cookie;
  if (args['nosession-header']) headers.nosession = 'true';
  const o = Object.assign({ transports: ['websocket'], reconnection: false }, opts);
  if (Object.keys(headers).length && !o.initialConnectionHeaders) o.initialConnectionHeaders = headers;
  if (args.query && o.query === undefined) o.query = args.query;
  const onCreate = o.onCreate;
  delete o.onCreate;
  const socket = io.sails.connect(args.url, o);
  if (onCreate) onCreate(socket);
  socket.c = c;
  socket.inbox = [];
  socket.waiters = [];
  return new Promise((resolve, reject) => {
    socket.on('connect', () => {
      out({ event: 'connect', c, id: socket._raw.id });
      resolve(socket);
    });
    const failed = (what) => (err) => {
      out({ event: 'connect_failed', c, kind: what, error: String(err && err.message || err) });
      reject(new Error(what + ': ' + (err && err.message || err)));
    };
    socket.on('connect_error', failed('connect_error'));
    socket.on('error', failed('error'));
    socket.on('disconnect', (reason) => out({ event: 'disconnect', c, reason }));
  });
}

// connectWatched is connect, with socket.disconnected resolved by a
// listener registered before the socket connects: a DISCONNECT read with
// the CONNECT is not missed.
async function connectWatched(c, opts) {
  let disconnected;
  const p = new Promise((r) => { disconnected = r; });
  const s = await connect(c, Object.assign({}, opts, { onCreate: (raw) => raw.on('disconnect', disconnected) }));
  s.disconnected = p;
  return s;
}

// listen reports the events named in names and keeps them for waitFor.
function listen(socket, names) {
  for (const name of names) {
    socket.on(name, (data) => {
      out({ event: 'msg', c: socket.c, name, data: enc(data) });
      socket.inbox.push({ name, data });
      socket.waiters = socket.waiters.filter((w) => !w());
    });
  }
}

function waitFor(socket, n, what) {
  return withTimeout(new Promise((resolve) => {
    const check = () => {
      if (socket.inbox.length >= n) { resolve(socket.inbox.slice()); return true; }
      return false;
    };
    if (!check()) socket.waiters.push(check);
  }), what);
}

function req(socket, name, options) {
  return withTimeout(new Promise((resolve) => {
    socket.request(options, (body, jwr) => {
      const r = {
        event: 'res', c: socket.c, name, body: enc(body),
        jwr: { statusCode: jwr.statusCode, headers: enc(jwr.headers), error: jwr.error ? jwr.error.message : null },
      };
      out(r);
      resolve({ body, jwr });
    });
  }), name);
}

function rawAck(socket, name, event, ...payload) {
  return withTimeout(new Promise((resolve) => {
    socket._raw.emit(event, ...payload, (...a) => {
      out({ event: 'ack', name, args: enc(a) });
      resolve(a);
    });
  }), name);
}

const SCENARIOS = {
  // One client, every kind of request and response.
  async requests() {
    const s = await connect(0, { headers: { 'x-global': 'g' } });
    await req(s, 'json-obj', { method: 'get', url: '/json-obj' });
    await req(s, 'echo', { method: 'get', url: '/echo?a=1&b=x%20y&c[]=1&c[]=2', params: { d: 1 }, headers: { 'X-Foo': 'Bar', origin: 'http://x', cookie: 'evil=1' } });
    await req(s, 'post', { method: 'post', url: '/echo', data: { name: 'alice', n: 2 } });
    await req(s, 'put', { method: 'put', url: '/echo/put', params: { a: [1, 2] } });
    await req(s, 'patch', { method: 'patch', url: '/echo/patch', data: { p: true } });
    await req(s, 'delete', { method: 'delete', url: '/echo/delete', data: { d: null } });
    await req(s, 'head', { method: 'head', url: '/echo/head' });
    await req(s, 'options', { method: 'options', url: '/echo/options' });
    await req(s, 'binary-upload', { method: 'post', url: '/echo', data: { file: Buffer.from('xyz') } });
    await req(s, 'headers', { method: 'get', url: '/headers' });
    await req(s, 'status-418', { method: 'get', url: '/status-418-json' });
    await req(s, 'notfound', { method: 'get', url: '/no/such/route' });
    await req(s, 'relative', { method: 'get', url: 'json-obj' });
    await req(s, 'panic', { method: 'get', url: '/panic' });
    await req(s, 'redirect', { method: 'get', url: '/redirect' });
    await req(s, 'send-buffer', { method: 'get', url: '/send-buffer' });
    await req(s, 'json-string', { method: 'get', url: '/json-string' });
    await req(s, 'empty', { method: 'get', url: '/empty' });
    await req(s, 'set-cookie', { method: 'get', url: '/set-cookie-header' });
    await req(s, 'after-set-cookie', { method: 'get', url: '/echo/cookie', headers: { cookie: 'evil=2' } });
    await req(s, 'getcookie', { method: 'get', url: '/__getcookie' });
    await req(s, 'whoami', { method: 'get', url: '/whoami' });
    s.disconnect();
  },

  // /delayed answers after /json-obj, sent after it.
  async order() {
    const s = await connect(0);
    const slow = req(s, 'delayed', { method: 'get', url: '/delayed?ms=300' });
    await sleep(20);
    const fast = req(s, 'fast', { method: 'get', url: '/json-obj' });
    await Promise.all([slow, fast]);
    s.disconnect();
  },

  // The server closes the connection while /never is pending.
  async pending() {
    const s = await connect(0);
    const disconnected = new Promise((r) => s.on('disconnect', r));
    const cb = new Promise((resolve) => {
      s.request({ method: 'get', url: '/never' }, (body, jwr) => {
        out({ event: 'pending_cb', body: enc(body), isError: body instanceof Error, message: body && body.message, jwr: enc(jwr) });
        resolve();
      });
    });
    await withTimeout(Promise.all([cb, disconnected]), 'disconnect');
  },

  // Requests only; the server checks what its handlers saw.
  async connect() {
    const s = await connect(0);
    await req(s, 'echo', { method: 'get', url: '/echo', headers: { origin: 'http://x', nosession: 'per-request' } });
    await req(s, 'echo2', { method: 'get', url: '/echo' });
    s.disconnect();
  },

  // Connecting must fail.
  async refused() {
    try {
      await withTimeout(connect(0), 'refusal');
    } catch (e) {
      return;
    }
    throw new Error('connected');
  },

  // Raw socket.io emits: parse errors, ignored events.
  async raw() {
    const s = await connect(0);
    const parseErrors = [];
    s._raw.on('sails:parseError', (e) => { out({ event: 'parse_error_event', data: enc(e) }); parseErrors.push(e); });
    await rawAck(s, 'no-url', 'get', { method: 'get' });
    await rawAck(s, 'bad-url', 'post', { method: 'post', url: 42 });
    await rawAck(s, 'string-payload', 'get', 'abc');
    s._raw.emit('get', { method: 'get' }); // no ack: sails:parseError
    await withTimeout(new Promise((r) => { const t = setInterval(() => { if (parseErrors.length) { clearInterval(t); r(); } }, 10); }), 'parseError event');
    // Ignored: upper case, unknown event, no ack on a valid request.
    let replies = 0;
    s._raw.emit('GET', { url: '/json-obj' }, () => { replies++; out({ event: 'unexpected_reply', name: 'GET' }); });
    s._raw.emit('copy', { url: '/json-obj' }, () => { replies++; out({ event: 'unexpected_reply', name: 'copy' }); });
    s._raw.emit('get', { url: '/count' });
    await sleep(300);
    await rawAck(s, 'after', 'get', { method: 'get', url: '/count', headers: {}, data: {} });
    out({ event: 'ignored', replies });
    s.disconnect();
  },

  // A raw socket.io-client 2.0.3 with the given query (no sails.io.js, so
  // the SDK version is whatever --query says).
  async sdk() {
    const opts = { transports: ['websocket'], reconnection: false, forceNew: true };
    if (args.query) opts.query = args.query;
    const raw = sioV2(args.url, opts);
    await withTimeout(new Promise((r, j) => { raw.on('connect', r); raw.on('connect_error', j); }), 'connect');
    out({ event: 'connect', c: 0 });
    const a = await withTimeout(new Promise((r) => raw.emit('get', { method: 'get', url: '/json-obj', headers: {}, data: {} }, (...x) => r(x))), 'ack');
    out({ event: 'ack', name: 'sdk', args: enc(a) });
    raw.close();
  },

  // sails.sockets API: A, B, C.
  async rooms() {
    const names = ['evt', 'message', 'multi'];
    const A = await connect(0); listen(A, names);
    const B = await connect(1); listen(B, names);
    const C = await connect(2); listen(C, names);
    const id = async (s) => (await req(s, 'whoami', { method: 'get', url: '/whoami' })).body.id;
    const idB = await id(B);
    await req(A, 'join', { method: 'post', url: '/rooms/join', data: { room: 'r1' } });
    await req(A, 'join-b', { method: 'post', url: '/rooms/join', data: { id: idB, room: 'r1' } });
    await req(A, 'bc1', { method: 'post', url: '/rooms/broadcast', data: { rooms: ['r1'], event: 'evt', data: { n: 1 } } });
    await waitFor(A, 1, 'A n1'); await waitFor(B, 1, 'B n1');
    await req(A, 'bc2', { method: 'post', url: '/rooms/broadcast', data: { rooms: ['r1'], event: 'evt', data: { n: 2 }, omitSelf: true } });
    await waitFor(B, 2, 'B n2');
    await req(A, 'bc3', { method: 'post', url: '/rooms/broadcast', data: { rooms: ['r1'], data: { n: 3 }, omitSelf: true } });
    await waitFor(B, 3, 'B n3');
    await req(C, 'blast', { method: 'post', url: '/rooms/blast', data: { event: 'evt', data: { n: 4 }, omitSelf: true } });
    await waitFor(A, 2, 'A n4'); await waitFor(B, 4, 'B n4');
    await req(A, 'add', { method: 'post', url: '/rooms/add', data: { src: 'r1', dests: ['r2', 'r3'] } });
    await req(A, 'rooms-a', { method: 'get', url: '/rooms/mine' });
    await req(A, 'leave-all', { method: 'post', url: '/rooms/leave-all', data: { src: 'r2' } });
    await req(A, 'rooms-a2', { method: 'get', url: '/rooms/mine' });
    await req(B, 'rooms-b2', { method: 'get', url: '/rooms/mine' });
    await req(A, 'join-m', { method: 'post', url: '/rooms/join', data: { room: 'm1' } });
    await req(A, 'join-m2', { method: 'post', url: '/rooms/join', data: { room: 'm2' } });
    await req(A, 'multi', { method: 'post', url: '/rooms/broadcast', data: { rooms: ['m1', 'm2'], event: 'multi', data: { n: 5 } } });
    await waitFor(A, 3, 'A multi');
    await req(A, 'rooms-a3', { method: 'get', url: '/rooms/mine' });
    await req(A, 'remove', { method: 'post', url: '/rooms/remove', data: { src: 'm1', dests: ['m2'] } });
    await req(A, 'rooms-a4', { method: 'get', url: '/rooms/mine' });
    await req(A, 'leave', { method: 'post', url: '/rooms/leave', data: { room: 'm1' } });
    await req(A, 'rooms-a5', { method: 'get', url: '/rooms/mine' });
    await sleep(200); // let a duplicate "multi" show up, if any
    out({ event: 'inbox', c: 0, n: A.inbox.length });
    out({ event: 'inbox', c: 1, n: B.inbox.length });
    out({ event: 'inbox', c: 2, n: C.inbox.length });
    for (const s of [A, B, C]) s.disconnect();
  },

  // Resourceful pub/sub: B watches users, A changes them.
  async pubsub() {
    const A = await connect(0); listen(A, ['user']);
    const B = await connect(1); listen(B, ['user']);
    await req(B, 'find', { method: 'get', url: '/user' });
    await req(A, 'create', { method: 'post', url: '/user', data: { name: 'alice' } });
    await waitFor(B, 1, 'created');
    await req(A, 'update', { method: 'patch', url: '/user/1', data: { name: 'alice2' } });
    await waitFor(B, 2, 'updated');
    await req(A, 'add', { method: 'put', url: '/user/1/pets/7' });
    await waitFor(B, 3, 'addedTo');
    await req(A, 'remove', { method: 'delete', url: '/user/1/pets/7' });
    await waitFor(B, 4, 'removedFrom');
    await req(A, 'destroy', { method: 'delete', url: '/user/1' });
    await waitFor(B, 5, 'destroyed');
    await req(A, 'update-after-destroy', { method: 'patch', url: '/user/1', data: { name: 'ghost' } });
    await sleep(200);
    out({ event: 'inbox', c: 0, n: A.inbox.length });
    out({ event: 'inbox', c: 1, n: B.inbox.length });
    A.disconnect(); B.disconnect();
  },

  // Options.OmitStatusCode / OmitHeaders.
  async omit() {
    const s = await connect(0);
    await req(s, 'notfound', { method: 'get', url: '/no/such/route' });
    await rawAck(s, 'raw-notfound', 'get', { method: 'get', url: '/no/such/route', headers: {}, data: {} });
    s.disconnect();
  },

  // Sessions: the Go handler counts visits in the session, which the
  // socket names with --cookie (a session made over HTTP) or with the
  // cookie the server made when it connected.
  async session() {
    const s = await connect(0);
    await req(s, 'v1', { method: 'get', url: '/session/visit' });
    await req(s, 'v2', { method: 'get', url: '/session/visit' });
    s.disconnect();
  },

  // Stays connected until the server disconnects it (DisconnectUser).
  async kicked() {
    const s = await connectWatched(0);
    await s.disconnected;
    out({ event: 'kicked' });
  },

  // Options.Timeout.
  async timeout() {
    const s = await connect(0);
    await req(s, 'slow', { method: 'get', url: '/never' });
    await req(s, 'after', { method: 'get', url: '/json-obj' });
    s.disconnect();
  },
};

const run = SCENARIOS[args.scenario];
if (!args.url || !run) {
  out({ event: 'done', ok: false, error: 'need --url and --scenario in ' + Object.keys(SCENARIOS).join(', ') });
  process.exit(2);
}
run().then(() => {
  out({ event: 'done', ok: true });
  // Let the websocket close frames go out.
  setTimeout(() => process.exit(0), 50);
}, fail);

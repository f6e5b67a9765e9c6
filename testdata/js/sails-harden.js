#!/usr/bin/env node
// Drives the REAL sails.io.js 1.2.1 (over socket.io-client 2.0.3) against
// a Pier server running sailsbridge, for the hardening tests of
// sailsbridge/harden_test.go: size limits, concurrent requests, the
// in-flight byte bound, cookies and sessions. Output as sails-client.js:
// JSON lines read through internal/jstest.
//
//   node sails-harden.js --url http://127.0.0.1:PORT --scenario NAME
//        [--cookie C] [--n N] [--admit K] [--size BYTES]
//
//   {"event":"res","name":…,"status":…,"body":…,"ms":…}
//   {"event":"done","ok":true} or {"event":"done","ok":false,"error":"…"}
'use strict';

const { out, cli } = require('./lib/harness');

const args = cli({
  url: { type: 'string' },
  scenario: { type: 'string' },
  cookie: { type: 'string' },
  n: { type: 'string', default: '40' },
  admit: { type: 'string', default: '0' },
  size: { type: 'string', default: '0' },
});

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
setTimeout(() => fail('global timeout'), 80000).unref();

function withTimeout(p, what, ms = 30000) {
  let t;
  return Promise.race([
    p,
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error('timeout: ' + what)), ms); }),
  ]).finally(() => clearTimeout(t));
}

function connect() {
  const o = { transports: ['websocket'], reconnection: false };
  if (args.cookie) o.initialConnectionHeaders = { cookie: args.cookie };
  const socket = io.sails.connect(args.url, o);
  return withTimeout(new Promise((resolve, reject) => {
    socket.on('connect', () => resolve(socket));
    socket.on('connect_error', reject);
    socket.on('error', reject);
  }), 'connect');
}

// req sends a request and resolves with a summary, reported as a "res"
// line (bodies longer than 200 characters are cut).
function req(socket, name, options, report = true) {
  const start = Date.now();
  return new Promise((resolve) => {
    socket.request(options, (body, jwr) => {
      let b = body;
      if (typeof b === 'string' && b.length > 200) b = b.slice(0, 200);
      const r = { event: 'res', name, status: jwr.statusCode, body: b, ms: Date.now() - start };
      if (report) out(r);
      resolve(r);
    });
  });
}

const pad = (n) => 'a'.repeat(n);

const SCENARIOS = {
  // Virtual request size limits; the socket stays usable.
  async limits() {
    const s = await connect();
    const get = (name, url, headers = {}) => withTimeout(req(s, name, { method: 'get', url, headers }), name);
    await get('url-900k', '/echo?' + pad(900 * 1024));
    const many = {};
    for (let i = 0; i < 10000; i++) many['x-h' + i] = '1';
    await get('headers-10000', '/echo', many);
    await get('value-900k', '/echo', { 'x-big': pad(900 * 1024) });
    // At the bound as Node counts it: url + names + values < 16384.
    await get('url-16383', '/echo?' + pad(16383 - 6));
    await get('url-16384', '/echo?' + pad(16384 - 6));
    await get('total-16383', '/echo?' + pad(16000 - 6), { 'x-a': pad(380) });
    await get('total-16384', '/echo?' + pad(16000 - 6), { 'x-a': pad(381) });
    await get('after', '/json-obj');
    s.disconnect();
  },

  // n slow requests pending, then a quick one.
  async concurrent() {
    const s = await connect();
    const n = Number(args.n);
    const held = [];
    for (let i = 0; i < n; i++) held.push(req(s, 'hold' + i, { method: 'get', url: '/hold' }, false));
    const quick = await withTimeout(req(s, 'quick', { method: 'get', url: '/quick' }), 'quick while ' + n + ' are pending');
    const rs = await withTimeout(Promise.all(held), 'held requests');
    out({ event: 'held', statuses: rs.map((r) => r.status), quickMs: quick.ms });
    s.disconnect();
  },

  // n requests of size bytes each to a handler that holds them; admit of
  // them fit the socket's in-flight bound, the others are refused at once.
  // Then /measure (small) while the admitted ones are held.
  async inflight() {
    const s = await connect();
    const n = Number(args.n);
    const admit = Number(args.admit);
    const blob = pad(Number(args.size));
    const statuses = [];
    let refused;
    const allRefused = new Promise((r) => { refused = r; });
    const pending = [];
    for (let i = 0; i < n; i++) {
      pending.push(req(s, 'big' + i, { method: 'post', url: '/hold', data: { blob } }, false).then((r) => {
        statuses.push(r.status);
        if (statuses.length === n - admit) refused();
        return r;
      }));
    }
    await withTimeout(allRefused, 'refusals');
    out({ event: 'refused', statuses: statuses.slice() });
    await withTimeout(req(s, 'measure', { method: 'get', url: '/measure' }), 'measure');
    const rs = await withTimeout(Promise.all(pending), 'held requests');
    out({ event: 'all', statuses: rs.map((r) => r.status) });
    s.disconnect();
  },

  // Two visits counted in the socket's session.
  async visits() {
    const s = await connect();
    await withTimeout(req(s, 'v1', { method: 'get', url: '/session/visit' }), 'v1');
    await withTimeout(req(s, 'v2', { method: 'get', url: '/session/visit' }), 'v2');
    s.disconnect();
  },

  // Two requests; the handler answers what it saw.
  async echo() {
    const s = await connect();
    await withTimeout(req(s, 'echo1', { method: 'get', url: '/echo' }), 'echo1');
    await withTimeout(req(s, 'echo2', { method: 'get', url: '/echo' }), 'echo2');
    await withTimeout(req(s, 'getcookie', { method: 'get', url: '/__getcookie' }), 'getcookie');
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
  setTimeout(() => process.exit(0), 50);
}, fail);

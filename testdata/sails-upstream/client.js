#!/usr/bin/env node
// Drives the REAL sails.io.js 1.2.1 (over socket.io-client 2.0.3) against
// the Sails app of app.js, either directly or through Pier in upstream
// mode (upstream/sails_test.go runs both and compares), and reports what
// it saw as JSON lines on stdout:
//   {"event":"connect","id":…}
//   {"event":"res","name":…,"body":…,"jwr":{"statusCode":…,"headers":…}}
//   {"event":"connect_failed","kind":"connect_error"|"error","error":…}
//   {"event":"news","data":…,"tries":N}
//   {"event":"done","ok":true|false,"error":…}
//
//   node client.js --url http://127.0.0.1:PORT --scenario NAME [--cookie C]
'use strict';

const { out, cli } = require('../js/lib/harness');
function fail(err) {
  out({ event: 'done', ok: false, error: String(err && err.stack || err) });
  process.exit(1);
}
process.on('uncaughtException', fail);
setTimeout(() => fail('global timeout'), 90000).unref();

const args = cli({ url: { type: 'string' }, scenario: { type: 'string' }, cookie: { type: 'string' } });

const io = require('sails.io.js')(require('socket.io-client'));
io.sails.autoConnect = false;
io.sails.environment = 'production'; // no console logs on stdout
io.sails.reconnection = false;
io.sails.transports = ['websocket'];

function withTimeout(p, what, ms = 15000) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error('timeout: ' + what)), ms); })])
    .finally(() => clearTimeout(t));
}

function open() {
  const o = { transports: ['websocket'], reconnection: false };
  if (args.cookie) o.initialConnectionHeaders = { cookie: args.cookie };
  return io.sails.connect(args.url, o);
}

function connect() {
  const socket = open();
  return withTimeout(new Promise((resolve, reject) => {
    socket.on('connect', () => { out({ event: 'connect', id: socket._raw.id }); resolve(socket); });
    socket.on('connect_error', reject);
    socket.on('error', reject);
  }), 'connect');
}

function req(socket, name, options) {
  return withTimeout(new Promise((resolve) => {
    socket.request(options, (body, jwr) => {
      out({ event: 'res', name, body: body === undefined ? null : body, jwr: { statusCode: jwr.statusCode, headers: jwr.headers } });
      resolve(body);
    });
  }), name);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const SCENARIOS = {
  // The same requests, in the same order, direct and through Pier.
  async compare() {
    const s = await connect();
    await req(s, 'hello', { method: 'get', url: '/hello?a=1&b=two' });
    await req(s, 'hello-data', { method: 'get', url: '/hello', data: { c: 3 } });
    await req(s, 'post', { method: 'post', url: '/echo', data: { n: 1, s: 'x', arr: [1, 2], o: { k: null } } });
    await req(s, 'put', { method: 'put', url: '/echo', data: { a: true } });
    await req(s, 'patch', { method: 'patch', url: '/echo', data: { p: 1.5 } });
    await req(s, 'delete', { method: 'delete', url: '/echo', data: { d: 'x' } });
    await req(s, 'post-empty', { method: 'post', url: '/echo' });
    await req(s, 'status-201', { method: 'get', url: '/status/201' });
    await req(s, 'status-418', { method: 'get', url: '/status/418' });
    await req(s, 'status-503', { method: 'get', url: '/status/503' });
    await req(s, 'headers', { method: 'get', url: '/headers', headers: { 'x-custom': 'from-client' } });
    await req(s, 'text', { method: 'get', url: '/text' });
    await req(s, 'count-1', { method: 'get', url: '/count' });
    await req(s, 'count-2', { method: 'get', url: '/count' });
    await req(s, 'whoami-before', { method: 'get', url: '/whoami' });
    await req(s, 'login', { method: 'post', url: '/login', data: { user: 'alice' } });
    await req(s, 'whoami-after', { method: 'get', url: '/whoami' });
    await req(s, 'setcookie', { method: 'get', url: '/setcookie' });
    await req(s, 'getcookie', { method: 'get', url: '/getcookie' });
    await req(s, 'redirect', { method: 'get', url: '/redirect' });
    await req(s, 'notfound', { method: 'get', url: '/notfound' });
    await req(s, 'no-route', { method: 'get', url: '/no/such/route' });
    await req(s, 'badrequest', { method: 'get', url: '/badrequest' });
    await req(s, 'forbidden', { method: 'get', url: '/forbidden' });
    await req(s, 'servererror', { method: 'get', url: '/servererror' });
    await req(s, 'throw', { method: 'get', url: '/throw' });
    s.disconnect();
  },
  // A handshake the app (or Pier's connect hook) refuses.
  async refused() {
    const socket = open();
    await withTimeout(new Promise((resolve) => {
      socket.on('connect', () => { out({ event: 'connect', id: socket._raw.id }); resolve(); });
      const failed = (kind) => (err) => { out({ event: 'connect_failed', kind, error: String(err && err.message || err) }); resolve(); };
      socket.on('connect_error', failed('connect_error'));
      socket.on('error', failed('error'));
    }), 'refused');
    if (socket.isConnected()) socket.disconnect();
  },
  // The app joins this socket to a room and broadcasts to it; publishes
  // until the event arrives (the join travels over Redis when the app
  // runs behind Pier).
  async broadcast() {
    const s = await connect();
    let got = null;
    s.on('news', (data) => { got = data; });
    await req(s, 'subscribe', { method: 'post', url: '/subscribe', data: { room: 'lobby' } });
    let tries = 0;
    while (!got && tries < 100) {
      tries++;
      await req(s, 'publish', { method: 'post', url: '/publish', data: { room: 'lobby', data: { n: tries, text: 'hi' } } });
      for (let i = 0; i < 10 && !got; i++) await sleep(20);
    }
    if (!got) throw new Error('no news after ' + tries + ' publishes');
    out({ event: 'news', data: got, tries });
    s.disconnect();
  },
};

const run = SCENARIOS[args.scenario];
if (!args.url || !run) fail('need --url and --scenario in ' + Object.keys(SCENARIOS).join(', '));
run().then(() => { out({ event: 'done', ok: true }); setTimeout(() => process.exit(0), 50); }, fail);

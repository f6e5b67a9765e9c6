#!/usr/bin/env node
// Drives the REAL sails.io.js 1.2.1 (over socket.io-client 2.0.3) against a
// Pier server whose Sails bridge sends virtual requests to a backend
// (upstream/e2e_test.go), and reports each response as a JSON line:
//   {"event":"res","name":…,"body":…,"jwr":{"statusCode":…,"headers":…}}
//   {"event":"done","ok":true|false,"error":…}
//
//   node upstream-client.js --url http://127.0.0.1:PORT --scenario NAME [--cookie C]
'use strict';

const { out, cli } = require('./lib/harness');
function fail(err) {
  out({ event: 'done', ok: false, error: String(err && err.stack || err) });
  process.exit(1);
}
process.on('uncaughtException', fail);
setTimeout(() => fail('global timeout'), 120000).unref();

const args = cli({
  url: { type: 'string' }, scenario: { type: 'string' }, cookie: { type: 'string' },
  backend: { type: 'string' }, n: { type: 'string' }, concurrency: { type: 'string' },
});

const sioV2 = require('socket.io-client-v2');
const io = require('sails.io.js')(sioV2);
io.sails.autoConnect = false;
io.sails.environment = 'production';
io.sails.reconnection = false;
io.sails.transports = ['websocket'];

function withTimeout(p, what, ms = 10000) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error('timeout: ' + what)), ms); })])
    .finally(() => clearTimeout(t));
}

function connect() {
  const o = { transports: ['websocket'], reconnection: false };
  if (args.cookie) o.initialConnectionHeaders = { cookie: args.cookie };
  const socket = io.sails.connect(args.url, o);
  return withTimeout(new Promise((resolve, reject) => {
    socket.on('connect', () => { out({ event: 'connect', id: socket._raw.id }); resolve(socket); });
    socket.on('connect_error', reject);
  }), 'connect');
}

function req(socket, name, options) {
  return withTimeout(new Promise((resolve) => {
    socket.request(options, (body, jwr) => {
      out({ event: 'res', name, body: body === undefined ? null : body, jwr: { statusCode: jwr.statusCode, headers: jwr.headers } });
      resolve();
    });
  }), name);
}

const SCENARIOS = {
  // The must-show: login, cookie, 404, redirect, text, logout.
  async mustshow() {
    const s = await connect();
    await req(s, 'login', { method: 'post', url: '/login?x=1', data: { user: 'alice' }, headers: { 'X-Client': 'c1', 'X-Socket-Id': 'forged' } });
    await req(s, 'whoami', { method: 'get', url: '/whoami' });
    await req(s, 'notfound', { method: 'get', url: '/no/such/route' });
    await req(s, 'redirect', { method: 'get', url: '/redirect' });
    await req(s, 'text', { method: 'get', url: '/text' });
    await req(s, 'put', { method: 'put', url: '/echo/put', data: { a: [1, 2] } });
    await req(s, 'logout', { method: 'post', url: '/logout' });
    await req(s, 'whoami2', { method: 'get', url: '/whoami' });
    s.disconnect();
  },
  // Bad answers from the backend; the socket keeps working after each.
  async bad() {
    const s = await connect();
    await req(s, 'bad-json', { method: 'get', url: '/bad-json' });
    await req(s, 'huge', { method: 'get', url: '/huge' });
    await req(s, 'slow', { method: 'get', url: '/slow' });
    await req(s, 'reset', { method: 'get', url: '/reset' });
    await req(s, 'huge-announced', { method: 'get', url: '/huge-announced' });
    await req(s, 'slow-body', { method: 'get', url: '/slow-body' });
    await req(s, 'cut', { method: 'get', url: '/cut' });
    await req(s, 'after', { method: 'get', url: '/whoami' });
    s.disconnect();
  },
  // Leaves while a request to /slow is pending.
  async leave() {
    const s = await connect();
    s.request({ method: 'get', url: '/slow' }, () => out({ event: 'unexpected_answer' }));
    await new Promise((r) => setTimeout(r, 300));
    s.disconnect();
  },
  // A socket whose requests all go to an unreachable backend.
  async down() {
    const s = await connect();
    await req(s, 'down', { method: 'get', url: '/whoami' });
    s.disconnect();
  },
  // The backend joins this socket to a room and broadcasts there.
  async subscribe() {
    const s = await connect();
    const news = withTimeout(new Promise((resolve) => s.on('news', (data) => {
      out({ event: 'res', name: 'news', body: data, jwr: {} });
      resolve();
    })), 'news event');
    await req(s, 'subscribe', { method: 'post', url: '/subscribe' });
    await news;
    s.disconnect();
  },
  // Throughput: n GET /whoami as virtual requests through Pier, then as
  // plain HTTP requests straight to --backend (keep-alive), each with
  // --concurrency in flight. Reports {"event":"bench",...}.
  async bench() {
    const n = Number(args.n || 2000);
    const conc = Number(args.concurrency || 16);
    const s = await connect();
    const run = async (one) => {
      let next = 0; let ok = 0;
      const t0 = process.hrtime.bigint();
      await Promise.all(Array.from({ length: conc }, async () => {
        while (next < n) { next++; if (await one()) ok++; }
      }));
      return { ok, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
    };
    const viaPier = await run(() => new Promise((resolve) => {
      s.request({ method: 'get', url: '/whoami' }, (body, jwr) => resolve(jwr.statusCode === 200));
    }));
    const http = require('http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
    const direct = await run(() => new Promise((resolve) => {
      http.get(args.backend + '/whoami', { agent }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode === 200)); })
        .on('error', () => resolve(false));
    }));
    agent.destroy();
    out({ event: 'bench', n, concurrency: conc, pier: viaPier, direct });
    s.disconnect();
  },
  // Go routes and the backend mixed (Fallback).
  async mixed() {
    const s = await connect();
    await req(s, 'go', { method: 'get', url: '/go/hello' });
    await req(s, 'go-post', { method: 'post', url: '/go/echo', data: { n: 1 } });
    await req(s, 'backend', { method: 'get', url: '/whoami' });
    await req(s, 'backend-post', { method: 'post', url: '/login', data: { user: 'bob' } });
    s.disconnect();
  },
};

const run = SCENARIOS[args.scenario];
if (!args.url || !run) fail('need --url and --scenario in ' + Object.keys(SCENARIOS).join(', '));
run().then(() => { out({ event: 'done', ok: true }); setTimeout(() => process.exit(0), 50); }, fail);

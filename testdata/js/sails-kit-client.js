#!/usr/bin/env node
// Drives the REAL sails.io.js 1.2.1 (over socket.io-client 2.0.3) through
// a list of steps given by a Go test of sailsbridge/kit or cmd/pier, and
// reports what it saw as JSON lines on stdout. Used through
// internal/jstest.
//
//   node sails-kit-client.js --url URL --sockets N --events a,b
//        --steps '[{"c":0,"name":"list","method":"get","url":"/message"},…]'
//        [--cookie C]
//
// A step is a request {"c", "name", "method", "url", "data"?, "headers"?}
// of socket c, or {"c", "wait": n}: wait until socket c has received n
// events (of those named by --events) in all. Steps run one after the
// other. {"http": true, "name", "method", "url", "data"?} is the same
// request over HTTP (fetch, JSON body), answered as a "res" line too.
// Output lines:
//   {"event":"res","c":…,"name":…,"body":…,"statusCode":…,"headers":…}
//   {"event":"msg","c":…,"name":…,"data":…}
//   {"event":"done","ok":true} or {"event":"done","ok":false,"error":"…"}
'use strict';

const { parseArgs } = require('util');

const sioV2 = require('socket.io-client-v2');
const io = require('sails.io.js')(sioV2);
io.sails.autoConnect = false;
io.sails.environment = 'production';
io.sails.reconnection = false;
io.sails.transports = ['websocket'];

function out(o) { process.stdout.write(JSON.stringify(o) + '\n'); }
function fail(e) {
  out({ event: 'done', ok: false, error: String(e && e.stack || e) });
  process.exit(1);
}
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
setTimeout(() => fail('global timeout'), 90000).unref();

let args;
try {
  args = parseArgs({
    options: {
      url: { type: 'string' },
      sockets: { type: 'string', default: '1' },
      events: { type: 'string', default: '' },
      steps: { type: 'string' },
      cookie: { type: 'string' },
    },
  }).values;
} catch (e) { fail(e); }

function withTimeout(p, what, ms = 30000) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error('timeout: ' + what)), ms); })])
    .finally(() => clearTimeout(t));
}

function connect(c) {
  const o = { transports: ['websocket'], reconnection: false };
  if (args.cookie) o.initialConnectionHeaders = { cookie: args.cookie };
  const s = io.sails.connect(args.url, o);
  s.inbox = 0;
  s.waiters = [];
  for (const name of args.events.split(',').filter(Boolean)) {
    s.on(name, (data) => {
      out({ event: 'msg', c, name, data });
      s.inbox++;
      s.waiters = s.waiters.filter((w) => !w());
    });
  }
  return withTimeout(new Promise((resolve, reject) => {
    s.on('connect', () => resolve(s));
    s.on('connect_error', reject);
  }), 'connect ' + c);
}

async function main() {
  const socks = [];
  for (let c = 0; c < Number(args.sockets); c++) socks.push(await connect(c));
  for (const st of JSON.parse(args.steps)) {
    const s = socks[st.c || 0];
    if (st.wait !== undefined) {
      await withTimeout(new Promise((resolve) => {
        const check = () => { if (s.inbox >= st.wait) { resolve(); return true; } return false; };
        if (!check()) s.waiters.push(check);
      }), 'wait ' + st.wait + ' on ' + st.c);
      continue;
    }
    if (st.http) {
      const init = { method: st.method.toUpperCase(), headers: {} };
      if (st.data !== undefined) {
        init.body = JSON.stringify(st.data);
        init.headers['content-type'] = 'application/json';
      }
      const r = await withTimeout(fetch(args.url + st.url, init), st.name);
      const text = await r.text();
      let body = text;
      try { body = JSON.parse(text); } catch (e) { /* text */ }
      out({ event: 'res', c: -1, name: st.name, body, statusCode: r.status, headers: {} });
      continue;
    }
    await withTimeout(new Promise((resolve) => {
      s.request({ method: st.method, url: st.url, data: st.data, headers: st.headers }, (body, jwr) => {
        out({ event: 'res', c: st.c || 0, name: st.name, body: body === undefined ? { $undefined: true } : body, statusCode: jwr.statusCode, headers: jwr.headers });
        resolve();
      });
    }), st.name);
  }
  for (const s of socks) s.disconnect();
  out({ event: 'done', ok: true });
}
main().catch(fail);
